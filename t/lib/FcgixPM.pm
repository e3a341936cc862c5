package FcgixPM;

# Helpers of the process-manager tests (t/20-static.t, t/21-lifecycle.t,
# t/22-dynamic.t, t/23-wrapper.t): what runs under this test's fcgix-pm, as
# /proc shows it, and HTTP clients that never die (one request, a request in
# the background, a bounded load).
#
# The test's fcgix-pm is the child of the httpd parent (PidFile) with comm
# "fcgix-pm"; an app's processes are the PM's children. Functions that need
# the harness take it (a FcgixTest) as their first argument, as FcgixRaw's do.
# show() here formats an http_once() result (FcgixRaw has its own show()).

use strict;
use warnings;
use Exporter 'import';
use POSIX ();
use Time::HiRes qw(time sleep);
use File::Path ();
use File::Temp ();
use FcgixTest qw(slurp);

our @EXPORT = qw(
    pstat alive all_pids children pm_pids pm_pid any_pms is_app app_pids instances
    wait_pids start_secs fd0_inode sock_path test_procs proc_env proc_uid
    http_once ok200 show bg_get bg_done bg_wait bg_kill load_start load_finish
    suexec_missing suexec_app $SUEXEC_MOD
);

my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

# ---------------------------------------------------------------- /proc

# [pid, comm, state, ppid, ...]: index N-1 is field N of /proc/PID/stat
sub pstat {
    my ($pid) = @_;
    my $s = slurp("/proc/$pid/stat");
    return undef unless $s =~ /^(\d+) \((.*)\) (\S) (.*)$/s;
    return [$1, $2, $3, split(' ', $4)];
}

sub alive { my $f = pstat($_[0]); return $f && $f->[2] ne 'Z' }

sub all_pids {
    opendir my $dh, '/proc' or return ();
    my @p = grep { /^\d+$/ } readdir $dh;
    closedir $dh;
    return @p;
}

# live (not zombie) children of $ppid
sub children {
    my ($ppid) = @_;
    return grep { my $f = pstat($_); $f && $f->[3] == $ppid && $f->[2] ne 'Z' } all_pids();
}

# the PM: child of the httpd parent named fcgix-pm
sub pm_pids {
    my ($t) = @_;
    my $hp = $t->httpd_pid or return ();
    return () unless kill 0, $hp;
    return grep { my $f = pstat($_); $f && $f->[1] eq 'fcgix-pm' } children($hp);
}

sub pm_pid { (pm_pids($_[0]))[0] }

# any fcgix-pm of this test, whoever its parent is now (argv names our conf)
sub any_pms {
    my ($t) = @_;
    my $conf = $t->conf_file;
    return grep {
        my $f = pstat($_);
        $f && $f->[1] eq 'fcgix-pm' && $f->[2] ne 'Z' && grep { $_ eq $conf } split /\0/, slurp("/proc/$_/cmdline")
    } all_pids();
}

# $pid runs $path: its executable, or (a script) a word of its argv
sub is_app {
    my ($pid, $path) = @_;
    my $exe = readlink("/proc/$pid/exe") // '';
    return 1 if $exe eq $path;
    return scalar grep { $_ eq $path } split /\0/, slurp("/proc/$pid/cmdline");
}

# the app's processes: children of our fcgix-pm running $path, sorted
sub app_pids {
    my ($t, $path) = @_;
    my $pm = pm_pid($t) or return ();
    return sort { $a <=> $b } grep { is_app($_, $path) } children($pm);
}

# Children of our fcgix-pm whose command line (words joined by spaces) or
# executable matches $re, sorted; their number in scalar context.
sub instances {
    my ($t, $re) = @_;
    my $pm = pm_pid($t) or return ();
    my @s = sort { $a <=> $b } grep {
        (my $cl = slurp("/proc/$_/cmdline")) =~ tr/\0/ /;
        $cl =~ $re || (readlink("/proc/$_/exe") // '') =~ $re
    } children($pm);
    return wantarray ? @s : scalar @s;
}

# Waits (<= $timeout s) until $path has $n processes; returns those seen last.
sub wait_pids {
    my ($t, $path, $n, $timeout) = @_;
    my @p;
    $t->wait_for(sub { @p = app_pids($t, $path); @p == $n }, $timeout);
    return @p;
}

# when the process started, in seconds since boot
sub start_secs { my $f = pstat($_[0]); return $f ? $f->[21] / $TCK : undef }

# the inode of the socket on the process's fd 0
sub fd0_inode {
    my ($pid) = @_;
    my $l = readlink("/proc/$pid/fd/0") // '';
    return $l =~ /^socket:\[(\d+)\]$/ ? $1 : undef;
}

# The Unix socket path an app process listens on (its fd 0). The PM binds
# a socket under its name with a dot in front and renames it into place
# once it listens; the socket's address (/proc/net/unix) stays the dotted
# name, which is mapped back here.
sub sock_path {
    my ($pid) = @_;
    my $ino = fd0_inode($pid) // return undef;
    for my $l (split /\n/, slurp('/proc/net/unix')) {
        my @f = split ' ', $l;
        return $f[7] =~ s{/\.([^/]+)$}{/$1}r if @f >= 8 && $f[6] eq $ino;
    }
    return undef;
}

# Processes (not this one, not zombies) running a file of this test, any
# parent: their executable lies below $exe_dir (default: the test dir) or
# their argv names a file below htdocs/.
sub test_procs {
    my ($t, $exe_dir) = @_;
    $exe_dir = ($exe_dir // $t->dir) . '/';
    my $h = $t->dir . '/htdocs/';
    my @r;
    for my $p (all_pids()) {
        next if $p == $$;
        my $f = pstat($p) or next;
        next if $f->[2] eq 'Z';
        my $exe = readlink("/proc/$p/exe") // '';
        push @r, $p if index($exe, $exe_dir) == 0 || index(slurp("/proc/$p/cmdline"), $h) >= 0;
    }
    return @r;
}

# the process environment as a hashref
sub proc_env {
    my ($pid) = @_;
    my %e;
    for my $kv (split /\0/, slurp("/proc/$pid/environ")) {
        my ($k, $v) = $kv =~ /^([^=]*)=(.*)$/s or next;
        $e{$k} = $v;
    }
    return \%e;
}

# the real uid, -1 when unknown
sub proc_uid {
    my ($pid) = @_;
    return slurp("/proc/$pid/status") =~ /^Uid:\s+(\d+)/m ? $1 : -1;
}

# ---------------------------------------------------------------- HTTP

# One GET on a fresh connection (HTTP/1.1, Connection: close, so a cut
# response shows as incomplete chunking), extra header lines @hdr ("Name:
# value"). Never dies. Returns { code (0: no response), complete, body, t0, t1 }.
sub http_once {
    my ($t, $path, $timeout, @hdr) = @_;
    my $t0 = time;
    my $req = "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . join('', map { "$_\r\n" } @hdr) . "\r\n";
    my $raw = eval { scalar $t->raw($req, timeout => $timeout // 10) } // '';
    my $r = FcgixTest::parse_response($raw);
    return { code => $r ? $r->{code} + 0 : 0, complete => $r ? $r->{complete} : 0,
        body => $r ? $r->{content} : '', t0 => $t0, t1 => time };
}

sub ok200 { my $r = $_[0]; return $r->{code} == 200 && $r->{complete} }

sub show { my $r = $_[0]; return "code $r->{code} complete $r->{complete} in "
        . sprintf('%.2f s', $r->{t1} - $r->{t0}) . " body: " . substr($r->{body}, 0, 200) }

# background http_once: a forked client writes its result to a file in the
# test dir; bg_wait reads it
my $bgseq = 0;
sub bg_get {
    my ($t, $path, $timeout) = @_;
    my $file = $t->dir . '/bg.' . ++$bgseq;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = http_once($t, $path, $timeout);
        if (open my $fh, '>', "$file.tmp") {
            print $fh join("\t", $r->{code}, $r->{complete} ? 1 : 0, $r->{t0}, $r->{t1}, unpack('H*', $r->{body}));
            close $fh;
            rename "$file.tmp", $file;
        }
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $file };
}

sub bg_done { -e $_[0]{file} }

# Waits (<= $timeout s) for a bg_get result; undef when there is none by then
# (the client is then killed with kill => 1, else left running).
sub bg_wait {
    my ($b, $timeout, %o) = @_;
    my $end = time + $timeout;
    sleep 0.05 while !-e $b->{file} && time < $end;
    if (!-e $b->{file}) {
        bg_kill($b) if $o{kill};
        return undef;
    }
    waitpid($b->{pid}, 0);
    my ($code, $c, $t0, $t1, $body) = split /\t/, slurp($b->{file});
    return { code => $code, complete => $c, t0 => $t0, t1 => $t1, body => pack('H*', $body // '') };
}

sub bg_kill {
    my ($b) = @_;
    kill 'KILL', $b->{pid};
    waitpid($b->{pid}, 0);
}

# Bounded load: $n client processes, each doing GETs one after another on
# fresh connections for $secs seconds. Returns a handle for load_finish.
sub load_start {
    my ($t, $path, $n, $secs) = @_;
    my $end = time + $secs;
    my @kids;
    for my $i (1 .. $n) {
        my $file = $t->dir . "/load.$i." . ++$bgseq;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open my $fh, '>', $file or POSIX::_exit(1);
            select((select($fh), $| = 1)[0]);
            while (time < $end) {
                my $r = http_once($t, $path, 15);
                printf $fh "%d\t%d\t%.4f\t%.4f\n", $r->{code}, $r->{complete} ? 1 : 0, $r->{t0}, $r->{t1};
            }
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, { pid => $pid, file => $file };
    }
    return \@kids;
}

# Waits for the load's clients; returns every request's { code, complete, t0, t1 }.
sub load_finish {
    my ($kids) = @_;
    my @res;
    for my $k (@$kids) {
        waitpid($k->{pid}, 0);
        for my $l (split /\n/, slurp($k->{file})) {
            my ($code, $c, $t0, $t1) = split /\t/, $l;
            push @res, { code => $code, complete => $c, t0 => $t0, t1 => $t1 };
        }
    }
    return @res;
}

# ---------------------------------------------------------------- suexec

our $SUEXEC     = '/usr/lib/apache2/suexec';
our $SUEXEC_MOD = '/usr/lib/apache2/modules/mod_suexec.so';
my @suexec_dirs;

# Why httpd's suexec (FastCgiWrapper On) cannot run an app as nobody here,
# or undef when it can.
sub suexec_missing {
    my @st = stat $SUEXEC;
    return "$SUEXEC missing (install apache2-suexec-pristine)" unless @st;
    return "$SUEXEC is not set-uid root" unless $st[4] == 0 && ($st[2] & 04000);
    return 'FastCgiWrapper On needs root (suexec, chown)' unless $> == 0;
    return "$SUEXEC_MOD missing" unless -f $SUEXEC_MOD;
    return 'no user nobody' unless defined getpwnam('nobody');
    return undef;
}

# The hello app as $name in a new directory suexec accepts: below its
# docroot /var/www, owned by nobody (as the app is) and writable by nobody
# else. Returns (directory, app path); the directory goes at exit.
sub suexec_app {
    my ($t, $name) = @_;
    my (undef, undef, $uid, $gid) = getpwnam('nobody');
    my $dir = File::Temp::tempdir('fcgix-t-XXXXXX', DIR => '/var/www', CLEANUP => 0);
    push @suexec_dirs, $dir;
    chmod 0755, $dir;
    chown $uid, $gid, $dir;
    my $app = $t->install_app('hello', "$dir/$name");
    chown $uid, $gid, $app;
    return ($dir, $app);
}

END { File::Path::remove_tree($_) for grep { -d } @suexec_dirs }

1;
