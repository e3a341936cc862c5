# 26-module-leaves.t - mod_fcgix leaves with its configuration: a new
# configuration generation without the LoadModule line ends the process
# manager and every application it started, and loading the module again
# starts afresh.
#
#   graceful to a configuration without mod_fcgix, while a request to a
#     static app is in flight: the request completes (200), then within a
#     few seconds the PM, the static app's processes and a dynamic app's
#     process are gone, their sockets too; FCGIX0470 says why; httpd goes
#     on serving its static files.
#   graceful back to a configuration with mod_fcgix: a new PM (FCGIX0408),
#     new processes, every app answers 200.
#   graceful with mod_fcgix but without the FastCgiServer line: the static
#     app goes, the PM stays (it serves dynamic apps on demand).
#   hard restart (-k restart) without mod_fcgix: the PM and its apps are
#     gone; a hard restart with it again starts afresh.
#   a graceful restart with the module kept never ends the PM (same PID
#     after several), however long the old generation's requests run.
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

my $S = $t->install_app('respond', "$h/s/s.fcgi");
my $D = $t->install_app('hello', "$h/dyn/d.fcgi");
$t->write_file('htdocs/plain.txt', "plain file\n", 0644);

sub conf_with {
    my (%o) = @_;
    my $c = "FastCgiIpcDir $ipc\nAddHandler fastcgi-script .fcgi\n"
        . "<Directory $h/dyn>\n    Options +ExecCGI\n</Directory>\n";
    $c .= "FastCgiServer $S -processes 2 -init-start-delay 0\n" unless $o{no_static};
    return $c;
}

sub lifecycle_log {
    return join "\n", grep { /FCGIX04|AH0049[34]|AH00169|resuming normal|long lost/ } split /\n/, $t->error_log;
}

sub get200 {
    my ($path, $body) = @_;
    my $r = http_once($t, $path, 10);
    return ok200($r) && (!defined $body || $r->{body} =~ $body);
}

# Every process of this test's PMs and apps that is still alive.
sub survivors {
    my (@pids) = @_;
    return grep { alive($_) } @pids;
}

# Starts the module's processes: the static app's two, the dynamic app's one.
sub all_up {
    my @s = wait_pids($t, $S, 2, 10);
    ok(get200('/dyn/d.fcgi', qr/Hello/), 'the dynamic app answers');
    my @d = wait_pids($t, $D, 1, 10);
    return (pm_pid($t), @s, @d);
}

# ---------------------------------------------------------------- start
$t->start_httpd(conf_with());
my ($pm0, @apps0) = all_up();
ok($pm0, "fcgix-pm runs (pid $pm0)");
is(scalar @apps0, 3, 'three application processes (2 static, 1 dynamic)');
ok(get200('/s/s.fcgi', qr/respond ok/), 'the static app answers');
my @socks = glob("$ipc/*");
ok(scalar(grep { -S $_ } @socks), 'sockets in FastCgiIpcDir') or diag "ipc: @socks";

# ------------------------------------------ graceful, same configuration
for my $i (1 .. 2) {
    $t->restart_httpd(conf_with());
    sleep 0.5;
}
ok($t->wait_for(sub { (pm_pid($t) // 0) == $pm0 }, 5), 'graceful restarts with the module keep the same PM');
is_deeply([survivors(@apps0)], [@apps0], '... and every app process') or diag lifecycle_log();

# ------------------------------------- graceful without the LoadModule line
{
    my $b = bg_get($t, '/s/s.fcgi?sleep_ms=1500', 20);
    $t->wait_for(sub { 0 }, 0.3);    # the request reaches the app
    my $t0 = time;
    $t->restart_httpd('', module => 0);
    my $r = bg_wait($b, 15, kill => 1);
    ok($r && ok200($r) && $r->{body} eq "respond ok\n",
        'graceful without mod_fcgix: the request in flight completes with 200')
        or diag $r ? show($r) : 'no result';
    my @left;
    my $gone = $t->wait_for(sub { @left = survivors($pm0, @apps0); !@left }, 15);
    ok($gone, '... then the PM and every app process are gone')
        or diag "left: @left\n" . lifecycle_log();
    my $secs = time - $t0;
    cmp_ok($secs, '<', 12, sprintf('... within a few seconds of the restart (%.1f s)', $secs));
    $t->log_like(qr/FCGIX0470: httpd's new configuration does not load mod_fcgix/, '... FCGIX0470 says why');
    my @s = grep { -S $_ } glob("$ipc/*"), glob("$ipc/dynamic/*");
    is(scalar @s, 0, '... their sockets are gone') or diag "sockets: @s";
    ok(get200('/plain.txt', qr/plain file/), '... and httpd serves its files');
    is(scalar(any_pms($t)), 0, '... no fcgix-pm of this test is left');
}

# --------------------------------------------- graceful with the module again
my ($pm1, @apps1);
{
    $t->restart_httpd(conf_with());
    ($pm1, @apps1) = all_up();
    ok($pm1 && $pm1 != $pm0, "graceful with mod_fcgix again: a new PM ($pm1)");
    is(scalar @apps1, 3, '... with new app processes');
    ok(get200('/s/s.fcgi', qr/respond ok/), '... the static app answers');
    $t->log_like(qr/FCGIX0408: the process manager \(pid $pm0\) had ended/, '... FCGIX0408 notes the old one');
}

# ------------------------------- graceful with the module but no static app
{
    my @s = grep { is_app($_, $S) } @apps1;
    $t->restart_httpd(conf_with(no_static => 1));
    my @left;
    ok($t->wait_for(sub { @left = survivors(@s); !@left }, 10),
        'graceful without the FastCgiServer line: the static app goes') or diag "left: @left";
    sleep 3;    # FCGIX_GEN_GRACE_MS and more: nothing may end the PM now
    is(pm_pid($t), $pm1, '... the PM stays (dynamic apps)');
    ok(get200('/dyn/d.fcgi', qr/Hello/), '... and the dynamic app answers');
}

# ------------------------------------------- hard restart without the module
{
    my @all = ($pm1, grep { alive($_) } @apps1, app_pids($t, $D));
    $t->restart_httpd('', module => 0, graceful => 0);
    my @left;
    ok($t->wait_for(sub { @left = survivors(@all); !@left }, 10),
        'hard restart without mod_fcgix: the PM and its apps are gone') or diag "left: @left\n" . lifecycle_log();
    is(scalar(any_pms($t)), 0, '... no fcgix-pm of this test is left');
    ok(get200('/plain.txt', qr/plain file/), '... httpd serves its files');

    $t->restart_httpd(conf_with(), graceful => 0);
    my ($pm2, @apps2) = all_up();
    ok($pm2 && $pm2 != $pm1, 'hard restart with mod_fcgix again: a new PM');
    is(scalar @apps2, 3, '... and new app processes');
    ok(get200('/s/s.fcgi', qr/respond ok/), '... that answer');
}

$t->allow_log(qr/FCGIX0470|FCGIX0408|long lost child/);
$t->done;
done_testing;
