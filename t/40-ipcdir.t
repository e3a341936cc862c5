# 40-ipcdir.t - root never acts on a path that www-data can change.
#
# FastCgiIpcDir belongs to httpd's User (www-data), so a process running as
# www-data (any PHP or CGI script) controls everything in it; with
# FastCgiWrapper set the process manager keeps root. Each attack below runs
# as www-data (a forked Perl that drops to www-data first), for a bounded
# time, against the real apache2, and checks that nothing outside the IPC
# dir changed owner or mode:
#
# - Attack 1, a symlink at PM start: <ipc>/dynamic planted as a symlink to a
#   root-owned directory holding a root-owned d-victim.sock. After the start
#   the victim directory keeps its owner and mode, d-victim.sock is still
#   there, the PM says it replaced the link (FCGIX0442), and a static and a
#   dynamic application answer, the dynamic one with its socket in a real
#   <ipc>/dynamic directory.
# - Attack 2, the bind/chmod race: for 8 s the attacker deletes a static
#   app's socket, waits for the PM to create it again and at once swaps a
#   symlink to a root-owned file (mode 0644, outside the IPC dir) in for it
#   (renameat2 RENAME_EXCHANGE, tried in a tight loop). The file
#   keeps owner and mode; once the attacker stops the app answers again
#   (whatever it left at the name, the PM replaces).
# - Attack 3, the parent creating FastCgiIpcDir: the IPC dir's parent is
#   www-data's; across several starts the attacker keeps removing what is at
#   the IPC dir's name and putting a symlink to a root-owned directory
#   there. The directory keeps owner and mode; each start either fails
#   naming the dir (FCGIX0002: a link; FCGIX0001/FCGIX0009: it could not be
#   made, or vanished) or serves; after the attack a start creates a real
#   directory (www-data, 0700).
# - On the way to FastCgiIpcDir, a link in a directory only root can write
#   is followed; one in www-data's directory is not (FCGIX0006), and
#   nothing is made behind it.
# - Without FastCgiIpcDir the sockets live in "fcgix" under httpd's runtime
#   dir (the harness sets DefaultRuntimeDir to the test's logs/), which is
#   created www-data, 0700; nothing goes to /tmp.
# - FastCgiServer -port listens on 127.0.0.1 only (/proc/net/tcp).
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;

plan skip_all => 'the attacks need root (a root httpd, a www-data attacker)' unless $> == 0;

my $t = FcgixTest->new;
my $d = $t->dir;
my $HELLO = "Hello, World\n";
my (undef, undef, $wuid, $wgid) = getpwnam('www-data');

# Runs Perl $code as www-data in a process the harness tracks (and kills at
# cleanup), with @ARGV = @args and $END = the time it must stop by.
sub attacker {
    my ($name, $secs, $code, @args) = @_;
    my $prog = <<'EOF' . $code;
use strict; use warnings;
use POSIX ();
use Time::HiRes qw(time);
my ($uid, $gid, $secs) = splice @ARGV, 0, 3;
$) = "$gid $gid";
POSIX::setgid($gid) or die "setgid: $!\n";
POSIX::setuid($uid) or die "setuid: $!\n";
die "still root\n" if $> == 0 || $< == 0;
our $END = time + $secs;
EOF
    return $t->spawn([$^X, '-e', $prog, $wuid, $wgid, $secs, @args], name => $name);
}

# Waits for an attacker to end by itself; it is killed after its time + 10 s.
sub attacker_wait {
    my ($a, $secs) = @_;
    my $pid = $a->{pids}[0];
    my $ok = $t->wait_for(sub { !alive($pid) }, $secs + 10);
    $t->stop_app($a, 'KILL');
    return $ok;
}

# owner, group and permission bits, as one string
sub ident {
    my @st = lstat $_[0] or return 'missing';
    return sprintf('%d:%d %04o%s', $st[4], $st[5], $st[2] & 07777, -l _ ? ' symlink' : '');
}

# A root-owned directory (0755) outside the IPC dir, holding a root-owned
# file (0644) named $file.
sub victim_dir {
    my ($name, $file) = @_;
    my $v = "$d/$name";
    mkdir $v, 0755 or die "mkdir $v: $!";
    chmod 0755, $v;
    $t->write_file("$v/$file", "root's\n", 0644);
    return $v;
}

# An IPC dir as httpd would create it: www-data, 0700.
sub ipc_dir {
    my ($dir) = @_;
    mkdir $dir, 0700 or die "mkdir $dir: $!";
    chown $wuid, $wgid, $dir;
    chmod 0700, $dir;
    return $dir;
}

# The wrapper keeps the PM root (t/23-wrapper.t's, without its log).
mkdir "$d/wrap", 0755;
my $wrapper = $t->write_file('wrap/wrapper.sh', "#!/bin/sh\nexec \"\$3\"\n", 0755);
my $static = $t->install_app('hello', 'htdocs/static.fcgi');
my $dyn = $t->install_app('hello', 'htdocs/dyn/dyn.fcgi');
my $conf = sub {
    my ($ipc) = @_;
    return <<"EOF";
FastCgiIpcDir $ipc
FastCgiWrapper $wrapper
FastCgiServer $static -restart-delay 1
AddHandler fastcgi-script .fcgi
<Directory $d/htdocs/dyn>
    Options +ExecCGI
</Directory>
EOF
};

# ------------------------------------------------ attack 1: <ipc>/dynamic
{
    my $ipc = ipc_dir("$d/ipc1");
    my $victim = victim_dir('victim1', 'd-victim.sock');
    my $before = ident($victim);
    my $a = attacker('plant', 5, <<'EOF', "$ipc/dynamic", $victim);
symlink $ARGV[1], $ARGV[0] or die "symlink: $!\n";
EOF
    attacker_wait($a, 5);
    ok(-l "$ipc/dynamic", 'attack 1: www-data planted <ipc>/dynamic as a symlink');
    $t->start_httpd($conf->($ipc));
    my $r = http_once($t, '/static.fcgi');
    ok(ok200($r) && $r->{body} eq $HELLO, 'attack 1: the static app answers') or diag show($r);
    $r = http_once($t, '/dyn/dyn.fcgi');
    ok(ok200($r) && $r->{body} eq $HELLO, 'attack 1: a dynamic app answers') or diag show($r);
    is(ident($victim), $before, 'attack 1: the victim directory keeps owner and mode');
    ok(-e "$victim/d-victim.sock", 'attack 1: the victim d-victim.sock still exists');
    ok(!-l "$ipc/dynamic" && -d _, 'attack 1: <ipc>/dynamic is a real directory now');
    ok(scalar(glob("$ipc/dynamic/d-*.sock")), 'attack 1: the dynamic socket is in it');
    $t->log_like(qr/FCGIX0442: \Q$ipc\E\/dynamic/, 'attack 1: the PM says it replaced the link');
    $t->stop_httpd;
}

# ------------------------------------------------ attack 2: bind vs chmod
{
    my $ipc = "$d/ipc2";
    my $victim = victim_dir('victim2', 'file');
    my $before = ident("$victim/file");
    $t->start_httpd($conf->($ipc));
    my ($sock) = glob("$ipc/s-*.sock");
    ok($sock && -S $sock, "attack 2: the static app's socket is there") or diag `ls -la $ipc`;
    my $a = attacker('race', 8, <<'EOF', $sock, "$victim/file");
my ($sock, $victim) = @ARGV;
my $tmp = "$sock.x";
# renameat2(RENAME_EXCHANGE) swaps two names, and fails while one is free
my $nr = eval { require 'syscall.ph'; &SYS_renameat2 } // 316;
while (time < $END) {
    unlink $sock, $tmp;    # the PM notices within a tick and makes it again
    symlink $victim, $tmp;
    # swap the link in the moment the name is there again
    my ($until, $won) = (time + 0.6, 0);
    while (!$won && time < $until) {
        for (1 .. 1000) {
            $won = syscall($nr, -100, $tmp, -100, $sock, 2) == 0 and last;
        }
    }
    # leave the link there while whoever made the socket may still use
    # the name (removed at once, it could make that fail instead)
    select(undef, undef, undef, 0.05) if $won;
}
EOF
    ok(attacker_wait($a, 8), 'attack 2: the attacker ran its 8 s');
    is(ident("$victim/file"), $before, 'attack 2: the victim file keeps owner and mode');
    # the attacker may have left a symlink at the name: the PM replaces it
    my $r;
    $t->wait_for(sub { $r = http_once($t, '/static.fcgi', 5); ok200($r) }, 10);
    ok(ok200($r) && $r->{body} eq $HELLO, 'attack 2: the app answers once the attacker stopped')
        or diag show($r), `ls -la $ipc`;
    $t->stop_httpd;
}

# ------------------------------------------------ attack 3: creating the IPC dir
{
    my $w = "$d/w";
    mkdir $w, 0755;
    chown $wuid, $wgid, $w;
    my $ipc = "$w/ipc";
    my $victim = victim_dir('victim3', 'file');
    my $before = ident($victim);
    my $frag = "FastCgiIpcDir $ipc\n";
    my $a = attacker('swap', 40, <<'EOF', $ipc, $victim);
my ($path, $victim) = @ARGV;
while (time < $END) {
    rmdir $path;                # httpd's fresh (empty) directory
    symlink $victim, $path;     # a link where it just made one
    unlink $path;               # and nothing again for its next look
}
EOF
    my ($starts, $served, $bad) = (0, 0, '');
    my $end = time + 30;
    while ($starts < 20 && time < $end && ident($victim) eq $before) {
        $starts++;
        my $log0 = length $t->error_log;
        my ($ok, $out) = $t->try_start_httpd($frag, wait => 5);
        my $log = substr($t->error_log, $log0);
        if ($ok) {
            $served++;
        }
        elsif (($out . $log) !~ /FCGIX000[129]: FastCgiIpcDir \Q$ipc\E/) {
            $bad .= "start $starts: neither served nor refused with FCGIX0001/2/9:\n$out\n$log\n";
        }
        $t->stop_httpd if $t->httpd_running;
    }
    $t->stop_app($a, 'KILL');
    is(ident($victim), $before, "attack 3: the victim directory keeps owner and mode ($starts starts, $served served)");
    is($bad, '', 'attack 3: every start served or refused (FCGIX0001, FCGIX0002, FCGIX0009)');
    # the attacker is gone: whatever it left (nothing, or httpd's own
    # directory), a start now has a real directory
    rmdir $ipc if -d $ipc && !-l $ipc;
    unlink $ipc if -l $ipc;
    $t->start_httpd($frag);
    is(ident($ipc), "$wuid:$wgid 0700", 'attack 3: after the attack httpd creates a real directory, www-data, 0700');
    $t->stop_httpd;
}

# ------------------------------------------------ links on the way to it
{
    # in the test dir (root's, 0755) only root can put a link: followed
    mkdir "$d/real", 0755;
    symlink "$d/real", "$d/rootlink" or die "symlink: $!";
    my ($ok, $out) = $t->try_start_httpd("FastCgiIpcDir $d/rootlink/ipc\n");
    ok($ok, "a link in a directory only root can write is followed") or diag $out, $t->error_log;
    is(ident("$d/real/ipc"), "$wuid:$wgid 0700", '... and the IPC dir is made behind it, www-data, 0700');
    $t->stop_httpd;
    # in www-data's directory a link is www-data's: not followed
    my $a = attacker('link', 5, <<'EOF', "$d/w/wlink", "$d/real");
symlink $ARGV[1], $ARGV[0] or die "symlink: $!\n";
EOF
    attacker_wait($a, 5);
    my $log0 = length $t->error_log;
    ($ok, $out) = $t->try_start_httpd("FastCgiIpcDir $d/w/wlink/ipc2\n", wait => 3);
    ok(!$ok, 'a link in a directory www-data can write: httpd does not start');
    like($out . substr($t->error_log, $log0), qr/FCGIX0006: FastCgiIpcDir \Q$d\E\/w\/wlink\/ipc2: wlink is a symbolic link/,
        '... FCGIX0006 names the dir and the link');
    ok(!-e "$d/real/ipc2", '... and nothing was made behind the link');
    $t->stop_httpd if $t->httpd_running;
}

# ------------------------------------------------ the default IPC dir
{
    my $run = "$d/logs/fcgix";
    ok(!-e $run, 'no fcgix directory in the runtime dir before the start');
    $t->start_httpd("FastCgiServer $static\n");
    my $r = http_once($t, '/static.fcgi');
    ok(ok200($r) && $r->{body} eq $HELLO, 'default IPC dir: the static app answers') or diag show($r);
    is(ident($run), "$wuid:$wgid 0700", 'default IPC dir: <DefaultRuntimeDir>/fcgix, www-data, 0700');
    my ($p) = app_pids($t, $static);
    my $sp = $p ? sock_path($p) // '' : '';
    like($sp, qr{^\Q$run\E/s-[0-9a-f]+\.sock$}, 'default IPC dir: the app listens on a socket in it, not in /tmp');
    $t->stop_httpd;
}

# ------------------------------------------------ -port: loopback only
{
    my $port = $t->free_port;
    $t->start_httpd("FastCgiIpcDir $d/ipc5\nFastCgiServer $static -port $port\n");
    my $r = http_once($t, '/static.fcgi');
    ok(ok200($r) && $r->{body} eq $HELLO, '-port: the app answers') or diag show($r);
    my $hex = sprintf('%04X', $port);
    my @l = grep { /^\s*\d+:\s+[0-9A-F]{8}:$hex\s+0{8}:0000\s+0A\s/ } split /\n/, slurp('/proc/net/tcp');
    my @addr = map { (split ' ', $_)[1] } @l;
    is("@addr", "0100007F:$hex", "-port $port: one listener, on 127.0.0.1") or diag slurp('/proc/net/tcp');
    $t->stop_httpd;
}

$t->done;
done_testing;
