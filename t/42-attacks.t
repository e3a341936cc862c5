# 42-attacks.t - attacks on the issue-11 hardening by someone holding
# www-data (code in an httpd child: it can write the shared scoreboard, the
# doorbell and files in the IPC dir), each run as www-data and bounded in
# time.
#
#   forged spool entries: a process running as www-data, writing through a
#     worker's mapping of the shared scoreboard (/proc/W/map_files, opened
#     before it drops root, as a child's own mapping is), puts in two
#     entries for spooled request bodies that no httpd child owns: one with
#     the pid of the httpd parent (always alive), one with pid 0xffffffff
#     (kill(-1, 0) succeeds), each holding 2 GiB, and exits:
#       - right after, a chunked upload gets 503 (the limit is taken);
#       - once the server has done its rounds (httpd children come and go:
#         MaxConnectionsPerChild 2), the entries no httpd child owns are
#         freed: FcgixSpooledKiB is 0 again, a chunked upload gets 200,
#         and one FCGIX0140 (or, from the monitor hook, FCGIX0141) warning
#         says how much was given back.
#     Before the fix the parent kept every entry whose pid kill(pid, 0)
#     found alive: the lockout outlived the attacker for good.
#   the PM's open files: httpd started with a soft limit of 300 open files
#     (hard 1000) and a static app of 300 processes, each with its own
#     stdout/stderr pipe in the PM (processes a www-data user can also leave
#     behind, through apps that exit while something they started holds the
#     pipe): the PM raises its own soft limit and keeps pipes below what
#     listen sockets need, so a dynamic app still gets its socket and
#     answers, and the apps keep the limit they were started with. Before,
#     the PM ran out of descriptors and the dynamic app got no socket.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my (undef, undef, $www_uid, $www_gid) = getpwnam('www-data');
plan skip_all => 'needs root (opens a worker\'s mappings through /proc, drops to www-data)'
    unless $> == 0 && defined $www_uid;

my $up = $t->install_app('upload', "$h/u/up.fcgi");

$t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiSpoolLimit 1048576
FastCgiServer $up -processes 2
MaxConnectionsPerChild 2
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF

# ------------------------------------------------------------ helpers

# Runs $code->() in a child process as www-data (no group of root's), with
# whatever was opened before; returns its exit status. Bounded: killed
# after $secs.
sub as_www_data {
    my ($secs, $code) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $) = "$www_gid $www_gid";
        POSIX::setgid($www_gid);
        POSIX::setuid($www_uid);
        POSIX::_exit(90) if $> == 0 || $< == 0 || grep { $_ == 0 } split ' ', $);
        my $rc = eval { $code->() } // 91;
        POSIX::_exit($rc);
    }
    my $end = time + $secs;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (time > $end) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            return -1;
        }
        sleep 0.05;
    }
    return $? >> 8;
}

sub status_auto {
    my $raw = eval { scalar $t->raw("GET /fcgi-status?auto HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout => 5) } // '';
    my $r = FcgixTest::parse_response($raw);
    my %s = ($r ? $r->{content} : '') =~ /^(\w+): (\S+)$/mg;
    return \%s;
}

sub spooled { status_auto()->{FcgixSpooledKiB} // -1 }

# A small chunked upload on a fresh connection: its status code (0: none).
sub chunked_post {
    my $req = "POST /u/up.fcgi HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\nContent-Type: application/octet-stream\r\n\r\n"
        . "5\r\nhello\r\n0\r\n\r\n";
    my $raw = eval { scalar $t->raw($req, timeout => 10) } // '';
    my $r = FcgixTest::parse_response($raw);
    return $r ? $r->{code} + 0 : 0;
}

# The mod_fcgix scoreboard as a worker maps it: [worker pid, map_files
# path, offset of the scoreboard in it, its size], found by its magic
# ("FCGX", after APR's size word) in the worker's shared mappings.
sub find_scoreboard {
    my $hp = $t->httpd_pid or return;
    for my $w (grep { (pstat($_) // [])->[1] eq 'apache2' } children($hp)) {
        for my $l (split /\n/, slurp("/proc/$w/maps")) {
            my ($lo, $hi, $perm) = $l =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
            next unless $perm =~ /^rw.s$/;
            my $f = "/proc/$w/map_files/$lo-$hi";
            open my $fh, '<', $f or next;
            binmode $fh;
            my $n = sysread($fh, my $head, 32);
            close $fh;
            next unless $n && $n >= 20;
            my ($magic, undef, $size) = unpack('x8 L3', $head);
            return [$w, $f, 8, $size] if $magic == 0x58474346;
        }
    }
    return;
}

# ------------------------------------------- forged spool entries

is(chunked_post(), 200, 'a chunked upload: 200');
SKIP: {
    my $sb = find_scoreboard();
    skip 'no scoreboard mapping found in a worker', 6 unless $sb;
    my ($w, $file, $base, $size) = @$sb;
    # fcgix_sb_spool_t spool[4096] ({pid, kib}), then (layout 7) the
    # backend sets fcgix_sb_bset_t bsets[512] of 2576 bytes each and the
    # metrics blocks fcgix_sb_metrics_t metrics[512] of 328 bytes each end
    # the scoreboard
    my $spool = $base + $size - 512 * 328 - 512 * 2576 - 4096 * 8;
    open my $fh, '+<', $file or die "open $file: $!";
    binmode $fh;
    my $hp = $t->httpd_pid;
    my $rc = as_www_data(10, sub {
        my $n = 0;
        for ([4094, $hp], [4095, 0xffffffff]) {
            sysseek($fh, $spool + $_->[0] * 8, 0) or return 2;
            $n += syswrite($fh, pack('L2', $_->[1], 2 * 1024 * 1024)) // 0;
        }
        return $n == 16 ? 0 : 3;
    });
    close $fh;
    is($rc, 0, 'as www-data, two spool entries no httpd child owns were written');
    cmp_ok(spooled(), '>=', 4 * 1024 * 1024, 'FcgixSpooledKiB shows the forged 4 GiB');
    is(chunked_post(), 503, 'right after: a chunked upload gets 503');
    # Children come and go (MaxConnectionsPerChild 2): the parent sees
    # them exit and goes over the entries; the monitor hook too.
    my $freed = $t->wait_for(sub { chunked_post() == 200 && spooled() == 0 }, 25);
    ok($freed, 'the entries no httpd child owns are freed: a chunked upload gets 200 again')
        or diag 'FcgixSpooledKiB: ' . spooled();
    $t->log_like(qr/FCGIX014[01]: 4194304 KiB of spooled request bodies were counted for processes that are no httpd child/,
        'one warning says what was given back');
    ok(alive($hp), 'the httpd parent runs');
}

# ------------------------------------------------ the PM's open files
$t->stop_httpd;
SKIP: {
    skip 'no prlimit', 4 unless system('prlimit --version >/dev/null 2>&1') == 0;
    my $hello = $t->install_app('hello', "$h/many/many.fcgi");
    $t->install_app('hello', "$h/dyn/dyn.fcgi");
    my $old = `prlimit --pid $$ --nofile --output SOFT,HARD --noheadings`;
    my ($soft, $hard) = $old =~ /(\S+)\s+(\S+)/;
    skip "open-file hard limit " . ($hard // "?") . ": too low to test", 4 unless ($hard // '') =~ /^\d+$/ && $hard > 400;
    # only the soft limit changes: lowering the hard one could not be undone
    # without CAP_SYS_RESOURCE, which a CI container's root may lack
    system("prlimit --pid $$ --nofile=300:$hard") == 0 or die "prlimit: $?";
    my $ok = eval {
        $t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiServer $hello -processes 300 -init-start-delay 0
AddHandler fastcgi-script .fcgi
<Directory $h/dyn>
    Options +ExecCGI
</Directory>
EOF
        1;
    };
    # the test's own limit back (the harness's later steps and children)
    system("prlimit --pid $$ --nofile=$soft:$hard") if defined $hard;
    die $@ unless $ok;
    my @p = wait_pids($t, $hello, 300, 60);
    is(scalar(@p), 300, '300 processes of the static app run');
    my $r = $t->get('/dyn/dyn.fcgi');
    is($r->code, 200, 'a dynamic app started after them still gets its socket and answers')
        or diag $t->error_log;
    my ($lim) = slurp("/proc/$p[0]/limits") =~ /^Max open files\s+(\d+)/m;
    is($lim, 300, 'the apps keep the soft limit httpd was started with');
    my ($pmlim) = slurp('/proc/' . pm_pid($t) . '/limits') =~ /^Max open files\s+(\d+)/m;
    is($pmlim, $hard, 'the process manager raised its own to the hard limit');
    $t->stop_httpd;
}

$t->done;
done_testing;
