# 21-lifecycle.t - static applications (FastCgiServer) across httpd's
# lifecycle: graceful restarts keep them, a hard restart and every kind of
# stop end them, and the process manager (fcgix-pm) is supervised.
#
# The test's fcgix-pm is the child of the httpd parent (PidFile) with comm
# "fcgix-pm"; an app's processes are the PM's children whose exe is the app
# file (real test apps from t/apps/bin copied into the test dir).
#
#   -k graceful, same config: same PM, same app PIDs, same socket files
#     (inodes) and listen sockets.
#   -k graceful with one app's options changed: only that app's processes
#     are replaced (its new processes have the new -initial-env).
#   -k graceful with an app's options changed while a request to it is in
#     flight and a load runs on it: the old process finishes what it has
#     (the request and the load: all complete 200s), the new process gets
#     what comes after, then the old one goes; its socket file stays.
#   an app removed and declared again while its request runs: the request
#     completes in full, the old process goes after it, the new one keeps
#     the socket.
#   -k graceful with an app removed while a request to it is in flight: its
#     socket file goes at once, the request completes (200), then its
#     processes go; the other apps keep their PIDs. An app removed in the
#     same graceful whose process then exits by itself mid-request (while it
#     drains) is not restarted and leaves the PM running.
#   a -port app removed by a graceful restart after every httpd child was
#     killed (SIGKILL) while a request of it ran, so that the request's
#     in-flight count was never given back: its process still goes within
#     a few seconds, not after the 30-s drain limit; removed while its
#     request runs, the request completes, then its process goes.
#   a bounded load (4 clients, one request per connection, 5 s) through 3
#     graceful restarts: every request is a complete 200; app PIDs kept.
#   -k restart: new PM, new app PIDs (old ones gone), requests 200.
#   SIGKILL of fcgix-pm: a new PM within 2 s (FCGIX0404), the old app PIDs
#     are gone (no orphan), new ones serve 200.
#   -k stop, -k graceful-stop: when httpd's pid is gone, within ~1 s no app
#     and no fcgix-pm of this test is left.
#   SIGKILL of the httpd parent: within 5 s no fcgix-pm and no app of this
#     test is left (the orphaned httpd children are then cleaned up here).
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;
use Time::HiRes qw(time sleep);

my $t   = FcgixTest->new;
my $d   = $t->dir;
my $h   = "$d/htdocs";
my $ipc = "$d/ipc";

# ---------------------------------------------------------------- helpers

sub inode_of { my @s = stat $_[0]; return $s[1] }

# the lifecycle lines of the error log, shown when a PID check fails
sub pm_log {
    return join "\n", grep { /FCGIX04|AH0049[34]|AH00169|resuming normal|exit signal/ } split /\n/, $t->error_log;
}

# ---------------------------------------------------------------- apps

my $A = $t->install_app('hello', "$h/a/a.fcgi");
my $B = $t->install_app('printenv', "$h/b/b.fcgi");
my $C = $t->install_app('respond', "$h/c/c.fcgi");
my $D = $t->install_app('respond', "$h/d/d.fcgi");
my $E = $t->install_app('respond', "$h/e/e.fcgi");
my $eport = $t->free_port;

sub conf_for {
    my (%o) = @_;
    my $c = "FastCgiIpcDir $ipc\n";
    $c .= "FastCgiServer $A -processes 2 -init-start-delay 0\n";
    $c .= "FastCgiServer $B" . ($o{b_changed} ? ' -initial-env CHANGED=1' : '') . "\n";
    $c .= "FastCgiServer $C" . ($o{c_changed} ? ' -initial-env CHANGED=2' : '')
        . "\nFastCgiServer $D\n" unless $o{no_c};
    $c .= "FastCgiServer $E -port $eport\n" if $o{e};
    return $c;
}

sub all_up {
    my (%o) = @_;
    my %p;
    $p{A} = [wait_pids($t, $A, 2, 5)];
    $p{B} = [wait_pids($t, $B, 1, 5)];
    $p{C} = [wait_pids($t, $C, 1, 5)] unless $o{no_c};
    return \%p;
}

sub serves {
    my ($name) = @_;
    my @bad;
    for my $p ('/a/a.fcgi', '/b/b.fcgi', '/c/c.fcgi') {
        my $r = http_once($t, $p, 10);
        push @bad, "$p: " . show($r) unless ok200($r);
    }
    is(scalar @bad, 0, "$name: every app answers 200") or diag join "\n", @bad;
}

# Waits (<= $timeout) until none of @pids is alive; returns those left.
sub gone {
    my ($timeout, @pids) = @_;
    my @left;
    $t->wait_for(sub { @left = grep { alive($_) } @pids; !@left }, $timeout);
    return @left;
}

sub pids_of { my $p = shift; return (@{ $p->{A} }, @{ $p->{B} }, @{ $p->{C} || [] }) }

# ------------------------------------------------ start
$t->start_httpd(conf_for());
my $p0 = all_up();
is(scalar @{ $p0->{A} }, 2, 'A: 2 processes');
is(scalar @{ $p0->{B} }, 1, 'B: 1 process');
is(scalar @{ $p0->{C} }, 1, 'C: 1 process');
serves('after start');
my $pm0 = pm_pid($t);
ok($pm0, "fcgix-pm runs (pid $pm0)");
my %sock = map { $_ => sock_path($p0->{$_}[0]) } qw(A B C);
ok(defined $sock{$_} && -S $sock{$_}, "$_ listens on a socket file in FastCgiIpcDir") for qw(A B C);
my %ino = map { $_ => inode_of($sock{$_}) } qw(A B C);
my %fd0 = map { $_ => fd0_inode($p0->{$_}[0]) } qw(A B C);

# ------------------------------------------------ graceful, same config
{
    $t->restart_httpd(conf_for());
    my $p = all_up();
    is(pm_pid($t), $pm0, 'graceful: same fcgix-pm');
    is_deeply($p, $p0, 'graceful (unchanged): every app keeps its PIDs') or diag explain([$p0, $p]), pm_log();
    is(inode_of($sock{$_}), $ino{$_}, "graceful: $_ keeps its socket file") for qw(A B C);
    is(fd0_inode($p->{$_}[0]), $fd0{$_}, "graceful: $_ keeps its listen socket") for qw(A B C);
    serves('after graceful');
}

# ------------------------------------------------ graceful, B changed
my $p1;
{
    $t->restart_httpd(conf_for(b_changed => 1));
    my @newb;
    my $ok = $t->wait_for(sub { @newb = app_pids($t, $B); @newb == 1 && $newb[0] != $p0->{B}[0] }, 5);
    ok($ok, 'graceful with B\'s options changed: B has a new process') or diag "B pids: @newb";
    my @left = gone(3, @{ $p0->{B} });
    is(scalar @left, 0, '... and its old process is gone');
    my $env = @newb ? slurp("/proc/$newb[0]/environ") : '';
    is($env, "CHANGED=1\0", '... the new process has the new -initial-env');
    $p1 = all_up();
    is_deeply($p1->{A}, $p0->{A}, '... A keeps its PIDs');
    is_deeply($p1->{C}, $p0->{C}, '... C keeps its PIDs');
    is(pm_pid($t), $pm0, '... same fcgix-pm');
    serves('after graceful with B changed');
}

# ------------------------------------------------ graceful, C changed under load
{
    my @oldc = @{ $p1->{C} };
    my $b = bg_get($t, '/c/c.fcgi?sleep_ms=1500', 20);
    my $ls = time;
    my $load = load_start($t, '/c/c.fcgi', 3, 3);
    sleep 0.05 while time < $ls + 0.5;
    $t->restart_httpd(conf_for(b_changed => 1, c_changed => 1));
    my @newc;
    my $ok = $t->wait_for(sub { @newc = grep { my $p = $_; !grep { $_ == $p } @oldc } app_pids($t, $C); @newc == 1 }, 5);
    ok($ok, 'graceful with C changed during a request and a load: a new process starts')
        or diag "C pids: @{[ app_pids($t, $C) ]}\n" . pm_log();
    is(@newc ? slurp("/proc/$newc[0]/environ") : '', "CHANGED=2\0", '... with the new -initial-env');
    my @res = load_finish($load);
    my $r = bg_wait($b, 15, kill => 1);
    ok($r && ok200($r) && $r->{body} eq "respond ok\n", '... the request in flight to the old process completes with 200')
        or diag $r ? show($r) : 'no result';
    my @bad = grep { !ok200($_) } @res;
    cmp_ok(scalar @res, '>', 10, '... the load ran (' . scalar(@res) . ' requests)');
    is(scalar @bad, 0, '... every request of the load is a complete 200')
        or diag join "\n", map { "code $_->{code} complete $_->{complete}" } @bad[0 .. ($#bad < 9 ? $#bad : 9)];
    my @left = gone(4, @oldc);
    is(scalar @left, 0, '... then the old process goes');
    ok(-S $sock{C}, '... and the socket file (the new process\'s) stays')
        or diag pm_log();
    my $rc = http_once($t, '/c/c.fcgi', 10);
    ok(ok200($rc) && $rc->{body} eq "respond ok\n", '... which answers after it') or diag show($rc);
    $t->log_unlike(qr/FCGIX041[01]: \Q$C\E/, '... C logged no death of its own');
    my $p = all_up();
    is_deeply($p->{A}, $p1->{A}, '... A keeps its PIDs');
    is_deeply($p->{B}, $p1->{B}, '... B keeps its PIDs');
    $p1 = $p;
}

# ------------------------------------------------ graceful, C removed while in flight
my $p2;
{
    my $cp = $p1->{C}[0];
    my ($dp) = wait_pids($t, $D, 1, 5);
    my $b = bg_get($t, '/c/c.fcgi?sleep_ms=6000', 20);
    # D: exits with status 1 half-way through its answer, 2.5 s from now
    my $bd = bg_get($t, '/d/d.fcgi?sleep_ms=2500&size=1000&exit=body', 20);
    $t->wait_for(sub { 0 }, 0.5);    # the request reaches C
    my $tg = time;
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1));
    my $sock_gone = $t->wait_for(sub { !-e $sock{C} }, 2);
    ok($sock_gone, 'graceful with C removed: its socket file goes');
    ok(!bg_done($b) && alive($cp), '... while its request is in flight, C\'s process still runs')
        or diag 'bg done: ' . (bg_done($b) ? 1 : 0) . ' alive: ' . (alive($cp) ? 1 : 0)
        . sprintf(' graceful took %.2f s', time - $tg) . "\n" . pm_log();
    my $r = bg_wait($b, 15, kill => 1);
    ok($r && ok200($r) && $r->{body} eq "respond ok\n", '... the in-flight request completes with 200')
        or diag $r ? show($r) : 'no result';
    my $tdone = time;
    my @left = gone(4, $cp);
    is(scalar @left, 0, '... then C\'s process goes');
    diag sprintf('C gone %.2f s after its request ended', time - $tdone) unless @left;
    $p2 = all_up(no_c => 1);
    is_deeply($p2->{A}, $p1->{A}, '... A keeps its PIDs') or diag pm_log();
    is_deeply($p2->{B}, $p1->{B}, '... B keeps its PIDs');
    is(pm_pid($t), $pm0, '... same fcgix-pm') or diag pm_log();
    my $rd = bg_wait($bd, 10, kill => 1);
    ok($rd && !$rd->{complete}, 'D, removed too, exited mid-answer while draining: its request is cut short')
        or diag $rd ? show($rd) : 'no result';
    ok($dp && !alive($dp) && !app_pids($t, $D), '... its process is gone and not restarted')
        or diag "D pid $dp, now: @{[ app_pids($t, $D) ]}\n" . pm_log();
    $t->log_unlike(qr/FCGIX0404|\Q$D\E \(pid \d+\) .*restarting/, '... and the PM went on (no PM restart, no restart of D)');
    # (the file stays on disk; without the declaration it is a plain file)
    my $rc = http_once($t, '/c/c.fcgi', 10);
    ok($rc->{body} ne "respond ok\n", '... C is no longer served by the app') or diag show($rc);
}

# ------------------------------------------------ C removed, then back while draining
{
    $t->restart_httpd(conf_for(b_changed => 1, c_changed => 1));
    my ($c1) = wait_pids($t, $C, 1, 5);
    my $b = bg_get($t, '/c/c.fcgi?sleep_ms=2000', 20);
    $t->wait_for(sub { 0 }, 0.4);    # the request reaches C
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1));
    $t->restart_httpd(conf_for(b_changed => 1, c_changed => 1));
    my $r = bg_wait($b, 15, kill => 1);
    ok($r && ok200($r) && $r->{t1} - $r->{t0} >= 1.9,
        'C removed and declared again while its request runs: the request completes in full (not cut by a stop)')
        or diag $r ? show($r) : 'no result';
    my @left = gone(4, $c1);
    is(scalar @left, 0, '... then the draining process goes');
    my $rc = http_once($t, '/c/c.fcgi', 10);
    ok(-S $sock{C} && ok200($rc), '... and the declared-again C answers on its socket after that') or diag show($rc) . "\n" . pm_log();
    $t->log_unlike(qr/FCGIX0438/, '... which was never lost (no FCGIX0438)');
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1));
    ok(!gone(4, app_pids($t, $C)), '(C removed again)');
}

# ------------------------------------------------ -port app removed after a lost count
{
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1, e => 1));
    my ($e) = wait_pids($t, $E, 1, 5);
    ok($e, "E (-port $eport) runs");
    my $b  = bg_get($t, '/e/e.fcgi?sleep_ms=1500', 10);
    my $t0 = time;
    $t->wait_for(sub { 0 }, 0.7);    # the request reaches E
    my $pm   = pm_pid($t);
    my @kids = grep { $_ != $pm } children($t->httpd_pid);
    $t->allow_log(qr/child pid $_ exit signal Killed/) for @kids;
    kill 'KILL', @kids;
    bg_wait($b, 10);
    $t->wait_for(sub { 0 }, $t0 + 2.0 - time);    # E ends its request (1.5 s)
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1));
    my $tg   = time;
    my @left = gone(10, $e);
    is(scalar @left, 0, 'a -port app whose in-flight count was lost with its httpd child: removed, its process goes')
        or diag pm_log();
    diag sprintf('E gone %.1f s after the graceful restart', time - $tg) unless @left;
    cmp_ok(time - $tg, '<', 5, '... within 5 s, not at the 30-s drain limit');
    kill 'KILL', @left if @left;    # ours: it runs a file of this test's directory

    # and with its request still running, the drain waits for it
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1, e => 1));
    ($e) = wait_pids($t, $E, 1, 5);
    $b = bg_get($t, '/e/e.fcgi?sleep_ms=2000', 10);
    $t->wait_for(sub { 0 }, 0.5);    # the request reaches E
    $t->restart_httpd(conf_for(b_changed => 1, no_c => 1));
    $t->wait_for(sub { 0 }, 0.5);    # the PM drains E
    ok($e && alive($e), '-port app removed while its request runs: its process still runs');
    my $r = bg_wait($b, 10, kill => 1);
    ok($r && ok200($r) && $r->{body} eq "respond ok\n", '... and the request completes with 200')
        or diag $r ? show($r) : 'no result';
    @left = gone(5, $e);
    is(scalar @left, 0, '... then the process goes') or diag pm_log();
    kill 'KILL', @left if @left;
}

# ------------------------------------------------ load through 3 graceful restarts
{
    my $ls = time;
    my $load = load_start($t, '/a/a.fcgi', 4, 5);
    my @g;
    for my $at (1, 2.5, 4) {
        sleep 0.05 while time < $ls + $at;
        push @g, eval { $t->restart_httpd(conf_for(b_changed => 1, no_c => 1)); 1 } ? 1 : 0;
    }
    my @res = load_finish($load);
    is_deeply(\@g, [1, 1, 1], '3 graceful restarts under load');
    my @bad = grep { !ok200($_) } @res;
    cmp_ok(scalar @res, '>', 40, 'the load ran (' . scalar(@res) . ' requests)');
    is(scalar @bad, 0, 'every request through 3 graceful restarts is a complete 200')
        or diag join "\n", map { "code $_->{code} complete $_->{complete}" } @bad[0 .. ($#bad < 9 ? $#bad : 9)];
    my $p = all_up(no_c => 1);
    is_deeply($p, $p2, '... app PIDs kept through them');
    is(pm_pid($t), $pm0, '... same fcgix-pm') or diag pm_log();
    $t->log_unlike(qr/FCGIX041[01]/, 'no app died on its own through all graceful restarts (no FCGIX0410/0411)');
}

# ------------------------------------------------ -k restart
my $p3;
{
    my @old = pids_of($p2);
    $t->restart_httpd(conf_for(), graceful => 0);
    my $pm = pm_pid($t);
    ok($pm && $pm != $pm0, "-k restart: a new fcgix-pm ($pm0 -> " . ($pm // 'none') . ')');
    ok(!alive($pm0), '... the old fcgix-pm is gone');
    my @left = gone(2, @old);
    is(scalar @left, 0, '... the old app processes are gone') or diag "left: @left";
    $p3 = all_up();
    my %old = map { $_ => 1 } @old;
    my @new = pids_of($p3);
    is(scalar(@new), 4, '... all apps run again');
    is(scalar(grep { $old{$_} } @new), 0, '... with new PIDs');
    serves('after -k restart');
}

# ------------------------------------------------ SIGKILL of fcgix-pm
{
    my $pm = pm_pid($t);
    my @old = pids_of($p3);
    kill 'KILL', $pm;
    my $tk = time;
    my $npm;
    my $ok = $t->wait_for(sub { $npm = pm_pid($t); $npm && $npm != $pm }, 5);
    my $took = time - $tk;
    ok($ok, 'SIGKILL of fcgix-pm: a new fcgix-pm starts');
    cmp_ok($took, '<', 2, sprintf('... within 2 s (%.2f s)', $took));
    $t->log_like(qr/FCGIX0404: the process manager \(pid $pm\) died/, '... FCGIX0404 logged');
    my @left = gone(3, @old);
    is(scalar @left, 0, '... the old app processes are gone (no orphan)')
        or diag join "\n", map { "$_: ppid " . (pstat($_) // [0, 0, 0, '?'])->[3] . ' ' . slurp("/proc/$_/cmdline") } @left;
    my $p = all_up();
    my %old = map { $_ => 1 } @old;
    my @new = pids_of($p);
    is(scalar(@new), 4, '... all apps run again under the new PM');
    is(scalar(grep { $old{$_} } @new), 0, '... with new PIDs');
    serves('after SIGKILL of fcgix-pm');
    kill 'KILL', @left if @left;    # ours: they run files of this test's directory
}

# ------------------------------------------------ stop / graceful-stop
sub check_nothing_left {
    my ($name) = @_;
    my (@apps, @pms);
    $t->wait_for(sub { @apps = test_procs($t, $h); @pms = any_pms($t); !@apps && !@pms }, 1.5);
    is(scalar @pms, 0, "$name: no fcgix-pm left") or diag "fcgix-pm: @pms";
    is(scalar @apps, 0, "$name: no app process left")
        or diag join "\n", map { "$_: " . slurp("/proc/$_/cmdline") } @apps;
    kill 'KILL', @pms, @apps if @pms || @apps;    # ours (our conf / our files)
}

{
    my @before = test_procs($t, $h);
    is(scalar @before, 5, 'before stop: 5 app processes (A 2, B, C, D)');
    ok($t->stop_httpd, '-k stop: httpd exits');
    check_nothing_left('-k stop');
}

{
    $t->start_httpd(conf_for());
    my $p = all_up();
    my @n = pids_of($p);
    is(scalar @n, 4, 'started again: 4 app processes');
    my $hp = $t->httpd_pid;
    my ($st, $out) = $t->_run('/usr/sbin/apache2', '-f', $t->conf_file, '-k', 'graceful-stop');
    is($st, 0, 'apache2 -k graceful-stop') or diag $out;
    my $ok = $t->wait_for(sub { !kill 0, $hp }, 15);
    ok($ok, '-k graceful-stop: httpd exits');
    check_nothing_left('-k graceful-stop');
}

# ------------------------------------------------ SIGKILL of the httpd parent
{
    $t->start_httpd(conf_for());
    my $p = all_up();
    my @n = pids_of($p);
    is(scalar @n, 4, 'started again: 4 app processes');
    my $hp = $t->httpd_pid;
    my $pm = pm_pid($t);
    ok($pm, "fcgix-pm $pm runs");
    kill 'KILL', $hp;
    my $tk = time;
    my (@apps, @pms);
    my $ok = $t->wait_for(sub { @apps = test_procs($t, $h); @pms = any_pms($t); !@apps && !@pms }, 5);
    my $took = time - $tk;
    is(scalar @pms, 0, 'SIGKILL of the httpd parent: no fcgix-pm left within 5 s') or diag "fcgix-pm: @pms";
    is(scalar @apps, 0, '... and no app process left') or diag "apps: @apps";
    diag sprintf('everything gone %.2f s after the kill', $took) if $ok;
    # The orphaned httpd children (and anything above, on failure) are ours:
    # their argv names our config file. End them so the harness finds
    # nothing left and the port is free.
    my @orph = grep { $_ != $hp } $t->httpd_pids;
    kill 'TERM', @orph, @apps if @orph || @apps;
    $t->wait_for(sub { !grep { alive($_) } @orph, @apps }, 5);
    kill 'KILL', grep { alive($_) } @orph, @apps;
    $t->wait_for(sub { !$t->httpd_pids }, 3);
}

$t->done;
done_testing;
