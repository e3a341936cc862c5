# 28-watch.t - recycling applications on purpose: -watch FILE (php.ini,
# say) makes a change of that file count as a changed definition.
#
#   FastCgiServer -watch: a graceful restart with the file unchanged keeps
#     the app's processes; after the file changed, the graceful restart
#     replaces them (and only them); a request in flight to the old process
#     completes.
#   FastCgiConfig -watch: a changed file replaces the processes of the
#     dynamic applications at the next graceful restart (FCGIX0471 names the
#     file); the static app keeps its own.
#   FastCgiConfig -autoUpdate -watch: a change is seen without any restart.
#   Configuration errors name the directive, the app and the option: a
#     missing file, -watch on FastCgiExternalServer.
#   A planned exit after serving (exit 0 after a request, as
#     PHP_FCGI_MAX_REQUESTS does) is logged at info, not warn.
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

my $S  = $t->install_app('respond', "$h/s/s.fcgi");
my $D  = $t->install_app('respond', "$h/dyn/d.fcgi");
my $ini  = $t->write_file('conf/php.ini', "memory_limit = 128M\n", 0644);
my $dini = $t->write_file('conf/dyn.ini', "a = 1\n", 0644);

sub conf_for {
    my (%o) = @_;
    my $cfg = $o{auto} ? ' -autoUpdate' : '';
    return <<"EOF";
FastCgiIpcDir $ipc
AddHandler fastcgi-script .fcgi
<Directory $h/dyn>
    Options +ExecCGI
</Directory>
FastCgiServer $S -watch $ini -init-start-delay 0
FastCgiConfig -watch $dini$cfg
EOF
}

sub lifecycle_log { join "\n", grep { /FCGIX04|AH0049[34]/ } split /\n/, $t->error_log }

# rewrites a file with new content (a new size and modification time)
sub edit {
    my ($f, $text) = @_;
    open my $fh, '>', $f or die "$f: $!";
    print $fh $text;
    close $fh;
    my $later = time + 2;
    utime $later, $later, $f;
}

sub dyn_pid {
    my $r = http_once($t, '/dyn/d.fcgi', 10);
    return ok200($r) ? (wait_pids($t, $D, 1, 5))[0] : undef;
}

$t->start_httpd(conf_for());
my ($s0) = wait_pids($t, $S, 1, 10);
my $d0 = dyn_pid();
ok($s0 && $d0, "the static ($s0) and the dynamic app ($d0) run");

# ------------------------------------------------------ unchanged files
$t->restart_httpd(conf_for());
sleep 1;
is_deeply([app_pids($t, $S)], [$s0], 'graceful, files unchanged: the static app keeps its process');
is_deeply([app_pids($t, $D)], [$d0], '... and so does the dynamic app') or diag lifecycle_log();

# ------------------------------------------- FastCgiServer's file changed
{
    my $b = bg_get($t, '/s/s.fcgi?sleep_ms=1500', 20);
    $t->wait_for(sub { 0 }, 0.3);
    edit($ini, "memory_limit = 256M\n");
    $t->restart_httpd(conf_for());
    my @n;
    ok($t->wait_for(sub { @n = app_pids($t, $S); @n == 1 && $n[0] != $s0 }, 10),
        'php.ini (FastCgiServer -watch) changed, then graceful: the static app has a new process')
        or diag "pids @n\n" . lifecycle_log();
    my $r = bg_wait($b, 15, kill => 1);
    ok($r && ok200($r), '... the request in flight to the old one completes with 200') or diag $r ? show($r) : 'none';
    ok($t->wait_for(sub { !alive($s0) }, 10), '... then the old process goes');
    is_deeply([app_pids($t, $D)], [$d0], '... the dynamic app keeps its process');
    $s0 = $n[0];
}

# ------------------------------------------- FastCgiConfig's file changed
{
    edit($dini, "a = 2\n");
    $t->restart_httpd(conf_for());
    ok($t->wait_for(sub { !alive($d0) }, 10),
        'dyn.ini (FastCgiConfig -watch) changed, then graceful: the dynamic process is replaced')
        or diag lifecycle_log();
    $t->log_like(qr/FCGIX0471: \Q$dini\E changed \(FastCgiConfig -watch\)/, '... FCGIX0471 names the file');
    my $d1 = dyn_pid();
    ok($d1 && $d1 != $d0, "... a new one serves ($d1)");
    is_deeply([app_pids($t, $S)], [$s0], '... the static app keeps its process');
    $d0 = $d1;
}

# ------------------------------------------------ -autoUpdate: no restart
{
    $t->restart_httpd(conf_for(auto => 1));
    $d0 = dyn_pid();
    sleep 1.5;    # the PM has looked at the file once
    is_deeply([app_pids($t, $D)], [$d0], '-autoUpdate -watch: nothing changed, the process stays');
    edit($dini, "a = 3 (longer)\n");
    ok($t->wait_for(sub { !alive($d0) }, 10),
        '-autoUpdate -watch: a change replaces the dynamic process without a restart') or diag lifecycle_log();
    my $d1 = dyn_pid();
    ok($d1 && $d1 != $d0, "... a new one serves ($d1)");
}

# ---------------------------------------------------- planned exit: info
{
    my $r = http_once($t, '/s/s.fcgi?exit=done', 10);
    ok(ok200($r), 'a request after which the app exits 0 (planned)');
    ok($t->wait_for(sub { $t->error_log =~ /\[fcgix:info\] [^\n]*FCGIX0411: \Q$S\E \(pid \d+\) exited with status 0/ }, 10),
        '... its exit is logged at info (routine), not warn') or diag lifecycle_log();
}

# ------------------------------------------------------ configuration errors
{
    my $missing = "$d/conf/nope.ini";
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiServer $S -watch $missing\n");
    ok(!$ok, 'a missing -watch file fails apache2 -t');
    like($out, qr/FastCgiServer \Q$S\E: option -watch: '\Q$missing\E': No such file/, '... naming the directive, app, option and file');
    ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiExternalServer $h/x.fcgi -host 127.0.0.1:9 -watch $ini\n");
    ok(!$ok, '-watch on FastCgiExternalServer fails apache2 -t');
    like($out, qr/FastCgiExternalServer \Q$h\E\/x\.fcgi: unknown option '-watch'/, '... as an unknown option') or diag $out;
    $t->conf(conf_for(auto => 1));    # the running server's, for its stop
}

$t->allow_log(qr/FCGIX0471|FCGIX0437/);
$t->done;
done_testing;
