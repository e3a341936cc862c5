# 20-static.t - FastCgiServer (static applications run by the process
# manager, fcgix-pm): every option is observable on the real processes, and
# the restart rules hold.
#
# Apps are real test apps (t/apps/bin/*) copied into the test dir, each in its
# own directory under htdocs/ (so cwd and /proc/PID/exe tell them apart). The
# test's fcgix-pm is the child of the httpd parent (PidFile) with comm
# "fcgix-pm"; an app's processes are the PM's children whose exe (or, for a
# script, whose argv) is the app file.
#
#   100 static apps: their sockets exist and accept before the first request;
#     the very first request (to the 100th app) is a 200, then all 100 are.
#   -processes 3: three processes; -init-start-delay: 1 s apart by default,
#     3 s apart with -init-start-delay 3.
#   -initial-env NAME=v / NAME= / NAME (httpd's value, or empty when httpd has
#     none): /proc/PID/environ holds exactly these, nothing else (no PATH).
#   cwd = the app's directory; SIGPIPE ignored (SigIgn bit 13, seen on a
#     Perl app: libfcgi apps install their own SIGPIPE handler);
#   -priority 5: nice 5 (/proc/PID/stat field 19).
#   -port: requests work; the app's fd 0 is the TCP listener on that port, on
#     127.0.0.1; -listen-queue-depth 9 is its backlog (ss -lt Send-Q).
#   -socket NAME: FastCgiIpcDir/NAME, a socket, mode 0600, owner www-data; it
#     is the app's fd 0; -listen-queue-depth 2 shows in ss -lx Send-Q. (The
#     listener's address is FastCgiIpcDir/.NAME: the PM binds it under that
#     name and renames it into place once it listens.)
#   -pass-header Authorization reaches the app (as Authorization and
#     HTTP_AUTHORIZATION); an app without it does not see it.
#   -idle-timeout 2: a silent app gives 504 in about 2 s (FCGIX0103).
#   -flush: parts of the body reach the client as the app flushes them.
#   -header-max-lines 5: 502; -request-timeout 2 cuts a trickling app;
#     -stderr-max-bytes 100: the rest of a 1000-byte stderr is one FCGIX0301.
#   -appConnTimeout 2: with the app stopped and its backlog (2) full, extra
#     requests get 504 after about 2 s (FCGIX0101); the queued ones get 200
#     once the app continues.
#   Restart rules:
#     SIGKILL of one of 2 processes under load (10 clients, 3 s): only the
#       request in flight on it may fail; 2 processes again within 2 s;
#       FCGIX0410 names the app.
#     a process that served and then exited is replaced at once (< 1 s):
#       respond exit=1 on a long-lived process, and on a fresh one that has
#       just served a complete request; a max-requests-1 app exiting 0.
#     an app that exits 1 at once backs off: FCGIX0411 lines announce
#       -restart-delay doubled per failure (1, 2, 4, 8 ...), observed gaps
#       match, and the cap is 30 s (-restart-delay 16: 16, then 30); a
#       request to it gets 503 quickly, not a hang.
#     deleting an app's socket file: recreated within ~1 s (FCGIX0438) and
#       served again.
#     SIGSTOP of the only process: a request waits; SIGCONT: it completes.
#   After stop: no app process of this test is left.
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;
use POSIX ();
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);

my $t   = FcgixTest->new;
my $d   = $t->dir;
my $h   = "$d/htdocs";
my $ipc = "$d/ipc";
my (undef, undef, $www_uid) = getpwnam('www-data');

# ---------------------------------------------------------------- apps

my %app;
$app{procs} = $t->install_app('hello', "$h/procs/procs.fcgi");
$app{isd}   = $t->install_app('hello', "$h/isd/isd.fcgi");
$app{env}   = $t->install_app('printenv', "$h/e/env.fcgi");
$app{noauth} = $t->install_app('printenv', "$h/na/noauth.fcgi");
$app{prio}  = $t->install_app('hello', "$h/prio/prio.fcgi");
$app{port}  = $t->install_app('hello', "$h/p/port.fcgi");
$app{sock}  = $t->install_app('hello', "$h/s/sock.fcgi");
$app{lqd}   = $t->install_app('hello', "$h/l/lqd.fcgi");
$app{kill}  = $t->install_app('respond', "$h/k/kill.fcgi");
$app{clean} = $t->install_app('respond', "$h/c/clean.fcgi");
$app{idle}  = $t->install_app('respond', "$h/i/idle.fcgi");
$app{flush} = $t->install_app('respond', "$h/f/flush.fcgi");
$app{lim}   = $t->install_app('respond', "$h/lim/lim.fcgi");
$app{stop}  = $t->install_app('hello', "$h/st/st.fcgi");
$app{done}  = $t->install_app('respond', "$h/dn/done.fcgi");
$app{del}   = $t->install_app('hello', "$h/del/del.fcgi");
$app{broken}  = $t->write_file("$h/b/broken.fcgi", "#!/bin/sh\nexit 1\n", 0755);
$app{broken2} = $t->write_file("$h/b2/broken2.fcgi", "#!/bin/sh\nexit 1\n", 0755);
# runs 2 s without serving anything, then fails
my $linger = "#!/usr/bin/perl\nselect(undef, undef, undef, 2);\nexit 1;\n";
$app{life1}  = $t->write_file("$h/l1/life1.fcgi", $linger, 0755);
$app{life30} = $t->write_file("$h/l30/life30.fcgi", $linger, 0755);
# PHP_FCGI_MAX_REQUESTS=1-like: serves one request, then exits 0
$app{maxreq} = $t->write_file("$h/mr/maxreq.fcgi", <<'EOF', 0755);
#!/usr/bin/perl
use strict;
use warnings;
use FCGI;
my $req = FCGI::Request();
my $n = 0;
while ($req->Accept() >= 0) {
    print "Content-Type: text/plain\r\n\r\npid=$$\n";
    $req->Finish();
    last if ++$n >= 1;
}
exit 0;
EOF
# leaves signal dispositions as the PM set them (see the SIGPIPE check)
$app{sig} = $t->write_file("$h/sig/sig.fcgi", "#!/usr/bin/perl\nsleep 300;\n", 0755);
my @many = map { $t->install_app('hello', sprintf("$h/m/h%03d.fcgi", $_)) } 1 .. 100;

my $tcp_port = $t->free_port;
$ENV{FCGIX_T_HTTPD_VAR} = 'from-httpd';
delete $ENV{FCGIX_T_UNSET_VAR};

my $conf = <<"EOF";
FastCgiIpcDir $ipc
FastCgiServer $app{procs} -processes 3
FastCgiServer $app{isd} -processes 2 -init-start-delay 3
FastCgiServer $app{env} -initial-env FOO=bar -initial-env EMPTY= -initial-env FCGIX_T_HTTPD_VAR -initial-env FCGIX_T_UNSET_VAR -pass-header Authorization
FastCgiServer $app{noauth}
FastCgiServer $app{sig}
FastCgiServer $app{prio} -priority 5
FastCgiServer $app{port} -port $tcp_port -listen-queue-depth 9
FastCgiServer $app{sock} -socket named.sock
FastCgiServer $app{lqd} -socket lqd.sock -listen-queue-depth 2 -appConnTimeout 2
FastCgiServer $app{kill} -processes 2
FastCgiServer $app{clean} -init-start-delay 0
FastCgiServer $app{maxreq} -init-start-delay 0
FastCgiServer $app{done} -init-start-delay 0
FastCgiServer $app{idle} -idle-timeout 2
FastCgiServer $app{flush} -flush
FastCgiServer $app{lim} -header-max-lines 5 -request-timeout 2 -stderr-max-bytes 100
FastCgiServer $app{stop}
FastCgiServer $app{del} -socket del.sock
FastCgiServer $app{broken} -restart-delay 1
FastCgiServer $app{broken2} -restart-delay 16
FastCgiServer $app{life1} -min-server-life 1 -restart-delay 7
FastCgiServer $app{life30} -restart-delay 7
EOF
$conf .= "FastCgiServer $_\n" for @many;

# Watches the error log from before the start: the time each FCGIX0410/0411
# line appears, at 50 ms resolution (the PM's own timestamps have 1 s).
my $watch_file = "$d/logwatch";
my $watcher = fork // die "fork: $!";
if (!$watcher) {
    my $log = $t->error_log_file;
    my ($off, $part) = (0, '');
    my $end = time + 85;
    open my $out, '>', $watch_file or POSIX::_exit(1);
    select((select($out), $| = 1)[0]);
    while (time < $end && getppid() > 1) {
        if (open my $fh, '<', $log) {
            seek $fh, $off, 0;
            local $/;
            my $new = <$fh> // '';
            $off += length $new;
            close $fh;
            $part .= $new;
            while ($part =~ s/^([^\n]*)\n//) {
                my $l = $1;
                printf $out "%.3f\t%s\n", time, $l if $l =~ /FCGIX041[01]/;
            }
        }
        sleep 0.05;
    }
    POSIX::_exit(0);
}

sub watched {
    my ($path) = @_;
    my @r;
    for my $l (split /\n/, slurp($watch_file)) {
        my ($tm, $line) = split /\t/, $l, 2;
        next unless index($line, "$path (pid") >= 0;
        my ($delay) = $line =~ /restarting in (\d+) s/;
        push @r, { t => $tm, line => $line, delay => $delay };
    }
    return @r;
}

my $t_start = time;
$t->start_httpd($conf);

# ------------------------------------------------ 100 apps, first request
{
    my @socks = glob("$ipc/s-*.sock");
    cmp_ok(scalar @socks, '>=', 100, 'generated sockets of the static apps exist as soon as httpd answers')
        or diag "found: @socks";
    my $accepting = 0;
    for my $s (@socks) {
        my $c = IO::Socket::UNIX->new(Peer => $s, Type => SOCK_STREAM);
        $accepting++ if $c;
    }
    is($accepting, scalar @socks, 'every generated socket accepts connections before the first request');
    my $r = http_once($t, '/m/h100.fcgi', 10);
    ok(ok200($r) && $r->{body} eq "Hello, World\n", 'first request after start (100th of 100 apps): 200')
        or diag show($r);
    cmp_ok($r->{t1} - $r->{t0}, '<', 3, 'first request answered within 3 s');
    my @bad;
    for my $i (1 .. 100) {
        my $p = sprintf('/m/h%03d.fcgi', $i);
        my $x = http_once($t, $p, 10);
        push @bad, "$p: " . show($x) unless ok200($x) && $x->{body} eq "Hello, World\n";
    }
    is(scalar @bad, 0, 'all 100 static apps answer 200') or diag join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
    $t->log_unlike(qr/FCGIX01\d\d/, 'no request error logged for the 100 apps');
}

my @pm = pm_pids($t);
is(scalar @pm, 1, 'one fcgix-pm, a child of the httpd parent') or diag "pm pids: @pm";

# ------------------------------------------------ -processes, -init-start-delay
{
    my @p = wait_pids($t, $app{procs}, 3, 5);
    is(scalar @p, 3, '-processes 3: three processes of the app under fcgix-pm') or diag "pids: @p";
    my @st = sort { $a <=> $b } map { start_secs($_) } @p;
    if (@st == 3) {
        cmp_ok($st[1] - $st[0], '>=', 0.9, 'default -init-start-delay 1: 2nd process ~1 s after the 1st');
        cmp_ok($st[2] - $st[1], '>=', 0.9, 'default -init-start-delay 1: 3rd process ~1 s after the 2nd');
    }
    my $r = http_once($t, '/procs/procs.fcgi');
    ok(ok200($r), '-processes 3 app answers') or diag show($r);
}

# ------------------------------------------------ -initial-env, cwd, SIGPIPE, -pass-header
{
    my ($p) = wait_pids($t, $app{env}, 1, 3);
    ok($p, 'env app runs') or diag $t->error_log;
    my @env = sort grep { length } split /\0/, slurp("/proc/$p/environ");
    is_deeply(\@env, [sort('FOO=bar', 'EMPTY=', 'FCGIX_T_HTTPD_VAR=from-httpd', 'FCGIX_T_UNSET_VAR=')],
        '-initial-env NAME=v, NAME=, NAME (httpd value / unset): exactly these in the process environment, no PATH')
        or diag explain \@env;
    is(readlink("/proc/$p/cwd"), "$h/e", 'cwd is the application\'s directory');
    # libfcgi installs its own SIGPIPE handler at start (even over an
    # inherited SIG_IGN), so the disposition the PM gives is observed on an
    # app that leaves signals alone (a Perl script that only sleeps)
    my ($sp) = wait_pids($t, $app{sig}, 1, 3);
    my ($ign) = $sp ? slurp("/proc/$sp/status") =~ /^SigIgn:\s*([0-9a-f]+)/m : ();
    ok(defined $ign && (hex($ign) & (1 << 12)), 'SIGPIPE (13) is ignored (SigIgn) in an app process')
        or diag "SigIgn: " . ($ign // '?');
    my $r = http_once($t, '/e/env.fcgi', 10, 'Authorization: Basic Zm9vOmJhcg==');
    ok(ok200($r), 'env app answers') or diag show($r);
    like($r->{body}, qr/^HTTP_AUTHORIZATION=Basic Zm9vOmJhcg==$/m, '-pass-header Authorization: HTTP_AUTHORIZATION');
    like($r->{body}, qr/^Authorization=Basic Zm9vOmJhcg==$/m, '-pass-header Authorization: Authorization');
    my $r2 = http_once($t, '/na/noauth.fcgi', 10, 'Authorization: Basic Zm9vOmJhcg==');
    ok(ok200($r2) && $r2->{body} !~ /Zm9vOmJhcg/, 'without -pass-header the app does not see Authorization')
        or diag show($r2);
    my ($q) = app_pids($t, $app{noauth});
    if ($q) {
        my @e2 = grep { length } split /\0/, slurp("/proc/$q/environ");
        is_deeply(\@e2, [], 'no -initial-env: an empty process environment') or diag explain \@e2;
    }
}

# ------------------------------------------------ -priority
{
    my ($p) = wait_pids($t, $app{prio}, 1, 3);
    my $f = $p ? pstat($p) : undef;
    is($f ? $f->[18] : undef, 5, '-priority 5: nice value 5 (/proc/PID/stat field 19)');
    my ($q) = app_pids($t, $app{procs});
    my $g = $q ? pstat($q) : undef;
    is($g ? $g->[18] : undef, 0, 'default -priority 0: nice value 0');
}

# ------------------------------------------------ -port
{
    my $r = http_once($t, '/p/port.fcgi');
    ok(ok200($r) && $r->{body} eq "Hello, World\n", "-port $tcp_port: request answered") or diag show($r);
    my ($p) = app_pids($t, $app{port});
    my $ino = $p ? fd0_inode($p) : undef;
    ok($ino, '-port app: fd 0 is a socket');
    my $hexport = sprintf('%04X', $tcp_port);
    my ($line) = grep { /^\s*\d+:\s+[0-9A-F]+:$hexport\s+0+:0000\s+0A\s/ } split /\n/, slurp('/proc/net/tcp');
    ok($line, "a TCP listener on port $tcp_port") or diag slurp('/proc/net/tcp');
    if ($line) {
        my @f = split ' ', $line;
        is($f[1], "0100007F:$hexport", '-port listens on 127.0.0.1 only');
        is($f[9], $ino, "the app's fd 0 is that listener");
    }
    my ($ss) = grep { /:$tcp_port\s/ } split /\n/, `ss -ltnH 2>/dev/null`;
    my @c = split ' ', $ss // '';
    is($c[2], 9, '-listen-queue-depth 9: Send-Q (backlog) of the TCP listener is 9') or diag $ss;
}

# ------------------------------------------------ -socket, -listen-queue-depth
{
    my $s = "$ipc/named.sock";
    ok(-S $s, '-socket named.sock: a socket in FastCgiIpcDir');
    my @st = stat $s;
    is(sprintf('%04o', ($st[2] // 0) & 07777), '0600', 'its mode is 0600');
    is($st[4], $www_uid, 'its owner is www-data');
    my $r = http_once($t, '/s/sock.fcgi');
    ok(ok200($r), '-socket app answers') or diag show($r);
    my ($p) = app_pids($t, $app{sock});
    my $ino = $p ? fd0_inode($p) : undef;
    # the listener's line (flags __SO_ACCEPTCON): a connection it accepted
    # shows the same path, and the last request's may not be closed yet
    my ($u) = grep { / \Q$ipc\/.named.sock\E$/ && (split ' ')[3] eq '00010000' }
        split /\n/, slurp('/proc/net/unix');
    my @uf = split ' ', $u // '';
    ok($ino && @uf && $uf[6] eq $ino, "the app's fd 0 is the socket named.sock") or diag "fd0 $ino, unix: " . ($u // '');

    my ($ss) = grep { /\Q$ipc\/.lqd.sock\E\s/ } split /\n/, `ss -lxnH 2>/dev/null`;
    my ($sendq) = ($ss // '') =~ /^\S+\s+LISTEN\s+\d+\s+(\d+)\s/;
    is($sendq, 2, '-listen-queue-depth 2: Send-Q (backlog) of the Unix listener is 2') or diag $ss;
    my ($ss2) = grep { /\Q$ipc\/.named.sock\E\s/ } split /\n/, `ss -lxnH 2>/dev/null`;
    my ($sendq2) = ($ss2 // '') =~ /^\S+\s+LISTEN\s+\d+\s+(\d+)\s/;
    is($sendq2, 100, 'default -listen-queue-depth is 100') or diag $ss2;
}

# ------------------------------------------------ back-off: a request to it
my ($bg_broken, $t_broken);
{
    $t->wait_for(sub { scalar watched($app{broken}) }, 5);
    ok(scalar(watched($app{broken})), 'an app that exits at once: FCGIX0411 names it')
        or diag $t->error_log;
    # now backing off (the next start is >= 1 s away): a request should fail fast
    $t_broken = time;
    $bg_broken = bg_get($t, '/b/broken.fcgi', 8);
}

# ------------------------------------------------ SIGKILL under load
{
    my @before = wait_pids($t, $app{kill}, 2, 4);
    is(scalar @before, 2, 'kill app: 2 processes') or diag "pids @before";
    my $load = load_start($t, '/k/kill.fcgi?sleep_ms=20', 10, 3);
    sleep 1;
    my $victim = $before[0];
    my $tk = time;
    kill 'KILL', $victim;
    my @after;
    my $back = $t->wait_for(sub {
        @after = app_pids($t, $app{kill});
        @after == 2 && !grep { $_ == $victim } @after;
    }, 4);
    my $took = time - $tk;
    ok($back, 'after SIGKILL of one process the class has 2 processes again') or diag "pids now @after";
    cmp_ok($took, '<', 2, 'replaced within 2 s');
    my @res = load_finish($load);
    my @fail = grep { !($_->{code} == 200 && $_->{complete}) } @res;
    cmp_ok(scalar @res, '>', 50, 'the load ran (' . scalar(@res) . ' requests)');
    cmp_ok(scalar @fail, '<=', 1, 'at most the one request in flight on the killed process failed')
        or diag join "\n", map { "code $_->{code} complete $_->{complete} t0 " . sprintf('%.3f', $_->{t0} - $tk)
            . " t1 " . sprintf('%.3f', $_->{t1} - $tk) } @fail;
    my @outside = grep { $_->{t0} > $tk + 0.05 || $_->{t1} < $tk - 0.05 } @fail;
    is(scalar @outside, 0, 'no request failed that was not in flight at the kill');
    $t->log_like(qr/FCGIX0410: \Q$app{kill}\E \(pid $victim\) was killed by signal 9/,
        'FCGIX0410 names the app and the killed pid');
}

# ------------------------------------------------ served, then exited
{
    my ($c1) = wait_pids($t, $app{clean}, 1, 3);
    my $r = http_once($t, '/c/clean.fcgi');
    ok(ok200($r), 'clean app answers') or diag show($r);
    # long-lived (started with httpd): exit(1) after a request
    my $age = time - $t_start;
    my $te = time;
    my $x = http_once($t, '/c/clean.fcgi?exit=1', 10);
    ok(!ok200($x), 'exit=1: the response is not a complete 200') or diag show($x);
    my @n;
    my $ok = $t->wait_for(sub { @n = app_pids($t, $app{clean}); @n == 1 && $n[0] != $c1 }, 3);
    my $took = time - $te;
    ok($ok, "a process that served and exited 1 (lived ${\ sprintf('%.1f', $age)} s) is replaced");
    cmp_ok($took, '<', 1, '... at once (< 1 s)');
    $t->log_like(qr/FCGIX0411: \Q$app{clean}\E \(pid $c1\) exited with status 1; restarting in 0 s/,
        'FCGIX0411 names the app, the pid and the status');
    my $r2 = http_once($t, '/c/clean.fcgi');
    ok(ok200($r2), 'the replacement answers') or diag show($r2);

    # fresh process (well under 1 s old) that served a complete request,
    # then exited 1: the rule is "served, then died: replaced at once"
    my ($c2) = $ok ? @n : ();
    my $ok2 = 0;
    my $took2 = 99;
    if ($c2) {
        my $born = start_secs_abs($c2);
        my $y = http_once($t, '/c/clean.fcgi');
        my $te2 = time;
        http_once($t, '/c/clean.fcgi?exit=1', 10);
        my $life = time - $born;
        $ok2 = $t->wait_for(sub { my @m = app_pids($t, $app{clean}); @m == 1 && $m[0] != $c2 }, 8);
        $took2 = time - $te2;
        ok(ok200($y), 'fresh process served a complete request first') or diag show($y);
        cmp_ok($life, '<', 1, sprintf('(the fresh process pid %d lived %.2f s, under 1 s)', $c2, $life));
    }
    ok($ok2, 'a fresh process that served a complete request and then exited 1 is replaced');
    cmp_ok($took2, '<', 1, '... at once (< 1 s), though it lived under 1 s')
        or diag join "\n", grep { /FCGIX041.*clean\.fcgi/ } split /\n/, $t->error_log;

    # max-requests 1, exit 0
    my (@pids, @bad, $worst);
    $worst = 0;
    for my $i (1 .. 4) {
        my $y = http_once($t, '/mr/maxreq.fcgi', 10);
        my $dt = $y->{t1} - $y->{t0};
        $worst = $dt if $dt > $worst;
        push @bad, show($y) unless ok200($y);
        push @pids, $y->{body} =~ /pid=(\d+)/ ? $1 : 0;
    }
    is(scalar @bad, 0, 'max-requests-1 app (exits 0 after each request): 4 requests, all 200') or diag join "\n", @bad;
    my %u = map { $_ => 1 } grep { $_ } @pids;
    is(scalar keys %u, 4, '... each by a new process') or diag "pids @pids";
    cmp_ok($worst, '<', 1, '... each replacement at once (every request < 1 s)');
    $t->log_like(qr/FCGIX0411: \Q$app{maxreq}\E \(pid \d+\) exited with status 0; restarting in 0 s/,
        'FCGIX0411: clean exit, restarting in 0 s');

    # exit 0 at once after ending the request, without a lingering close,
    # the connection held 200 ms by a child the app left behind: the PM
    # reaps the app before the handler (waiting for the close) has counted
    # the request, and must wait for that count, not take it for an app
    # that died without serving.
    my ($bad_done, $worst_done) = (0, 0);
    for my $i (1 .. 4) {
        my $y = http_once($t, '/dn/done.fcgi?exit=done&linger_ms=200', 10);
        my $dt = $y->{t1} - $y->{t0};
        $worst_done = $dt if $dt > $worst_done;
        $bad_done++ unless ok200($y);
        diag show($y) unless ok200($y);
    }
    is($bad_done, 0, 'app exiting at once after its answer, connection held by its child: 4 requests, all 200');
    $t->wait_for(sub { watched($app{done}) >= 4 }, 3);
    my @dn = watched($app{done});
    my %dpid = map { $_->{line} =~ /\(pid (\d+)\)/ ? ($1 => 1) : () } @dn;
    ok(@dn == 4 && keys %dpid == @dn && !grep({ ($_->{delay} // -1) != 0 } @dn),
        '... each exit judged a served one: restarting in 0 s (no back-off)')
        or diag join "\n", map { $_->{line} } @dn;
    cmp_ok($worst_done, '<', 1, '... and no request waited for a replacement (each < 1 s)');
}

sub start_secs_abs {
    my ($pid) = @_;
    my $st = start_secs($pid) // return time;
    my ($up) = slurp('/proc/uptime') =~ /^([\d.]+)/;
    return time - ($up - $st);
}

# ------------------------------------------------ -idle-timeout, -flush, limits
{
    my $r = http_once($t, '/i/idle.fcgi?sleep_ms=5000', 15);
    my $dt = $r->{t1} - $r->{t0};
    is($r->{code}, 504, '-idle-timeout 2: a silent app gives 504') or diag show($r);
    ok($dt > 1.7 && $dt < 4.5, sprintf('... after about 2 s (%.2f s)', $dt));
    $t->log_like(qr/FCGIX0103: .*\Q$app{idle}\E|FCGIX0103:.*idle/, 'FCGIX0103 logged');

    # -flush: three parts 0.7 s apart reach the client as they are flushed
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5);
    my $t0 = time;
    print $s "GET /f/flush.fcgi?size=300&chunks=3&sleep_ms=700 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my ($buf, $t_first, $t_end) = ('', undef, undef);
    my $sel = IO::Select->new($s);
    while (time - $t0 < 10) {
        last unless $sel->can_read(10 - (time - $t0));
        my $n = sysread($s, my $b, 65536);
        last unless $n;
        $buf .= $b;
        $t_first //= time if length FcgixHttp::parse($buf)->{content};    # the first body bytes
    }
    $t_end = time;
    my $p = FcgixTest::parse_response($buf);
    ok($p && $p->{code} == 200 && $p->{complete} && $p->{content} eq FcgixTest::pattern(300),
        '-flush app: full response');
    ok(defined $t_first && $t_end - $t_first >= 1.0,
        sprintf('-flush: the first part arrives well before the end (first %.2f s, end %.2f s)',
            ($t_first // $t_end) - $t0, $t_end - $t0));

    my $l = http_once($t, '/lim/lim.fcgi?cookie=10', 10);
    is($l->{code}, 502, '-header-max-lines 5: 11 header lines give 502') or diag show($l);
    my $se = http_once($t, '/lim/lim.fcgi?stderr=1000', 10);
    ok(ok200($se), 'app writing 1000 bytes of stderr answers 200') or diag show($se);
    $t->log_like(qr/FCGIX0301: \Q$app{lim}\E: 900 further bytes of stderr suppressed.*-stderr-max-bytes 100/,
        '-stderr-max-bytes 100: the rest (900 bytes) is counted in one warning');
    my $tr = http_once($t, '/lim/lim.fcgi?size=800&chunks=8&sleep_ms=600', 15);
    my $tdt = $tr->{t1} - $tr->{t0};
    ok($tr->{code} == 504 || ($tr->{code} == 200 && !$tr->{complete}),
        '-request-timeout 2: a trickling app is cut (504 or truncated)') or diag show($tr);
    cmp_ok($tdt, '<', 4, sprintf('... within about 2 s (%.2f s), not after 4.8 s', $tdt));
}

# ------------------------------------------------ -appConnTimeout (backlog full)
{
    my ($p) = wait_pids($t, $app{lqd}, 1, 3);
    my $r = http_once($t, '/l/lqd.fcgi');
    ok(ok200($r), 'lqd app answers') or diag show($r);
    kill 'STOP', $p;
    my @bg = map { bg_get($t, '/l/lqd.fcgi', 20) } 1 .. 6;
    sleep 4.5;
    kill 'CONT', $p;
    my @res = map { bg_wait($_, 15) } @bg;
    my @c504 = grep { $_ && $_->{code} == 504 } @res;
    my @c200 = grep { $_ && $_->{code} == 200 && $_->{complete} } @res;
    cmp_ok(scalar @c504, '>=', 1, '-appConnTimeout 2 with the backlog (2) full: 504');
    ok(!grep({ my $dt = $_->{t1} - $_->{t0}; $dt < 1.7 || $dt > 4.4 } @c504),
        '... after about 2 s') or diag join ' ', map { sprintf '%.2f', $_->{t1} - $_->{t0} } @c504;
    cmp_ok(scalar @c200, '>=', 3, 'the queued requests complete (200) once the app continues');
    is(scalar(@c504) + scalar(@c200), 6, 'no other outcome')
        or diag join "\n", map { $_ ? show($_) : 'no result' } @res;
    $t->log_like(qr/FCGIX0101: \Q$app{lqd}\E/, 'FCGIX0101 names the app');
}

# ------------------------------------------------ SIGSTOP / SIGCONT
{
    my @p = wait_pids($t, $app{stop}, 1, 3);
    my $p = $p[0];
    kill 'STOP', $p;
    my $b = bg_get($t, '/st/st.fcgi', 20);
    sleep 2;
    ok(!bg_done($b), 'SIGSTOP of the only process: the request waits');
    kill 'CONT', $p;
    my $r = bg_wait($b, 8);
    ok($r && ok200($r) && $r->{body} eq "Hello, World\n", 'SIGCONT: the request completes with 200')
        or diag $r ? show($r) : 'no result';
    is_deeply([app_pids($t, $app{stop})], [$p], 'same process, no restart');
}

# ------------------------------------------------ socket file deleted
{
    my $s = "$ipc/del.sock";
    my $r0 = http_once($t, '/del/del.fcgi');
    ok(ok200($r0), 'del app answers') or diag show($r0);
    ok(unlink($s), 'socket file deleted');
    my $tu = time;
    my $back = $t->wait_for(sub { -S $s }, 4);
    my $took = time - $tu;
    ok($back, 'the socket file is recreated');
    cmp_ok($took, '<', 1.5, sprintf('... within ~1 s (%.2f s)', $took));
    $t->log_like(qr/FCGIX0438: \Q$app{del}\E/, 'FCGIX0438 names the app');
    my $r = http_once($t, '/del/del.fcgi', 10);
    ok(ok200($r) && $r->{body} eq "Hello, World\n", 'requests are served again') or diag show($r);
}

# ------------------------------------------------ -init-start-delay 3
{
    my @p = wait_pids($t, $app{isd}, 2, 3);
    is(scalar @p, 2, '-processes 2 -init-start-delay 3: two processes');
    my @st = sort { $a <=> $b } map { start_secs($_) } @p;
    ok(@st == 2 && $st[1] - $st[0] >= 2.9, '-init-start-delay 3: started 3 s apart')
        or diag "start times @st";
}

# ------------------------------------------------ back-off
{
    my $r = bg_wait($bg_broken, 10);
    $r //= { code => 0, complete => 0, t0 => $t_broken, t1 => time, body => '' };
    bg_kill($bg_broken) unless -e $bg_broken->{file};
    is($r->{code}, 503, 'a request to a backing-off app gets 503') or diag show($r);
    cmp_ok($r->{t1} - $r->{t0}, '<', 3, '... quickly (not a hang)');

    # broken2 (-restart-delay 16): second failure at ~16 s says 30 (the cap)
    my $left = $t_start + 22 - time;
    $t->wait_for(sub { watched($app{broken2}) >= 2 }, $left > 0 ? $left : 0);
    my @w2 = watched($app{broken2});
    is_deeply([map { $_->{delay} } @w2[0 .. 1]], [16, 30], '-restart-delay 16: 16 s, then 30 s (capped, not 32)')
        or diag join "\n", map { $_->{line} } @w2;
    if (@w2 >= 2) {
        my $gap = $w2[1]{t} - $w2[0]{t};
        ok($gap >= 15.7 && $gap <= 17.5, sprintf('... the second start came %.1f s after the first failure', $gap));
    }

    my @w = watched($app{broken});
    cmp_ok(scalar @w, '>=', 4, 'exit-at-once app: at least 4 failures logged by now') or diag join "\n", map { $_->{line} } @w;
    my @want = (1, 2, 4, 8, 16, 30, 30, 30);
    is_deeply([map { $_->{delay} } @w], [@want[0 .. $#w]], 'announced delays double per failure (1, 2, 4, 8, ...) and stop at 30')
        or diag join "\n", map { $_->{line} } @w;
    my @gaps = map { $w[$_]{t} - $w[$_ - 1]{t} } 1 .. $#w;
    my @badgap = grep { $gaps[$_] < ($w[$_]{delay} // 0) - 0.3 || $gaps[$_] > ($w[$_]{delay} // 0) + 1.2 } 0 .. $#gaps;
    is(scalar @badgap, 0, 'observed gaps between failures match the announced delays (growing, none > 30 s)')
        or diag 'gaps: ' . join(' ', map { sprintf '%.2f', $_ } @gaps);
    ok(!grep({ $_ > 31 } @gaps), 'no gap over 30 s');

    # -min-server-life: 2 s of life is a good start with 1, not with the
    # default 30 (then -restart-delay 7 applies)
    my @l1 = watched($app{life1});
    cmp_ok(scalar @l1, '>=', 3, '-min-server-life 1: the 2-s app ended at least 3 times')
        or diag join "\n", map { $_->{line} } @l1;
    is_deeply([map { $_->{delay} } @l1[0 .. 2]], [0, 0, 0], '... each time restarted at once (restarting in 0 s)')
        or diag join "\n", map { $_->{line} } @l1;
    my @l30 = watched($app{life30});
    is($l30[0]{delay}, 7, 'default -min-server-life 30: the 2-s app waits -restart-delay 7')
        or diag join "\n", map { $_->{line} } @l30;
    is($l30[1]{delay}, 14, '... then 14 (doubled: still failing)')
        or diag join "\n", map { $_->{line} } @l30;
}

# ------------------------------------------------ stop: nothing left
{
    my @apps_before = test_procs($t);
    cmp_ok(scalar @apps_before, '>', 100, 'apps running before stop (' . scalar(@apps_before) . ')');
    my $hp = $t->httpd_pid;
    ok($t->stop_httpd, 'apache2 -k stop returns and httpd exits');
    my @left;
    $t->wait_for(sub { @left = test_procs($t); !@left }, 2);
    is(scalar @left, 0, 'no app process of this test is left 1-2 s after stop')
        or diag join "\n", map { "$_: " . slurp("/proc/$_/cmdline") } @left;
    kill 'KILL', $_ for @left;    # ours: they run files of this test's directory
}

kill 'TERM', $watcher;
waitpid($watcher, 0);
$t->done;
done_testing;
