# 01-config-pm.t - configuration of the process manager's directives:
# FastCgiServer, FastCgiConfig and FastCgiWrapper.
#
# - apache2 -t rejects a bad line, and its output names the directive, the
#   application (where there is one) and the offending option(s):
#     FastCgiServer: unknown option (also options of other directives:
#       -host, -autoUpdate), repeated option, value out of range / not a
#       number / missing, -port with -socket, a bad -initial-env, a file
#       declared twice, no filename, inside <Directory>;
#     FastCgiConfig: unknown option (also -processes, -socket, -port),
#       repeated option (also through the historic spellings
#       -multiThreshhold / -singleThreshhold), values out of range
#       (-gainValue 1.5, thresholds over 100, ...), given twice;
#     FastCgiWrapper: a missing file (absolute, and relative to
#       ServerRoot), a directory, a file that is not executable, On
#       without httpd's suexec (suexec hidden in a private mount namespace
#       when it is installed).
# - a configuration using every option of each directive (and the
#   historic spellings, and options in other letter case) passes
#   apache2 -t; httpd starts with it (minus the -port application, which
#   would listen on every address) and its static application answers.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use FcgixTest qw(slurp);

my $t = FcgixTest->new;
my $d = $t->dir;
my $ipc = "$d/ipc";
my $app = "$d/htdocs/app.fcgi";

my $hello = slurp($t->app_path('hello'));
$t->write_file($app, $hello, 0755);

# bad_config(name, fragment, directive, app-or-undef, words the output
# must name ...)
sub bad_config {
    my ($name, $frag, $dir, $appname, @must) = @_;
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\n$frag\n");
    ok(!$ok, "$name: apache2 -t fails") or diag $out;
    like($out, qr/\Q$dir\E/, "$name: output names $dir") or diag $out;
    if (defined $appname) {
        like($out, qr/\Q$appname\E/, "$name: output names the app or file") or diag $out;
    }
    for my $m (@must) {
        like($out, qr/(?<![\w-])\Q$m\E(?![\w-])/, "$name: output names $m") or diag $out;
    }
}

# ------------------------------------------------------- FastCgiServer
sub bad_server {
    my ($name, $opts, @must) = @_;
    bad_config("FastCgiServer $name", "FastCgiServer $app $opts", 'FastCgiServer', $app, @must);
}

bad_server('unknown option', '-bogus-option 1', '-bogus-option');
bad_server('-host (FastCgiExternalServer only)', '-host 127.0.0.1:9000', '-host');
bad_server('-autoUpdate (FastCgiConfig only)', '-autoUpdate', '-autoUpdate');
bad_server('repeated -processes', '-processes 2 -processes 3', '-processes');
bad_server('repeated -socket', '-socket a.sock -socket b.sock', '-socket');
bad_server('repeated -port', '-port 9000 -port 9001', '-port');
bad_server('-processes 0', '-processes 0', '-processes');
bad_server('-processes -1', '-processes -1', '-processes');
bad_server('-processes two', '-processes two', '-processes');
bad_server('-processes without value', '-processes', '-processes');
bad_server('-port 0', '-port 0', '-port');
bad_server('-port 70000', '-port 70000', '-port');
bad_server('-priority 99', '-priority 99', '-priority');
bad_server('-listen-queue-depth 0', '-listen-queue-depth 0', '-listen-queue-depth');
bad_server('-init-start-delay -1', '-init-start-delay -1', '-init-start-delay');
bad_server('-restart-delay 1x', '-restart-delay 1x', '-restart-delay');
bad_server('-min-server-life -1', '-min-server-life -1', '-min-server-life');
bad_server('-min-server-life 86401', '-min-server-life 86401', '-min-server-life');
bad_server('-idle-timeout 0', '-idle-timeout 0', '-idle-timeout');
bad_server('-appConnTimeout -1', '-appConnTimeout -1', '-appConnTimeout');
bad_server('-port with -socket', '-port 9000 -socket app.sock', '-port', '-socket');
bad_server('-socket with -port', '-socket app.sock -port 9000', '-port', '-socket');
bad_server('-initial-env =x', '-initial-env =x', '-initial-env');
bad_server('-initial-env without value', '-initial-env', '-initial-env');
bad_config('FastCgiServer declared twice',
    "FastCgiServer $app\nFastCgiServer $app -processes 2", 'FastCgiServer', $app);
bad_config('FastCgiServer and FastCgiExternalServer for one file',
    "FastCgiServer $app\nFastCgiExternalServer $app -socket x.sock", 'FastCgiExternalServer', $app);
bad_config('FastCgiServer without filename', 'FastCgiServer', 'FastCgiServer', undef);
bad_config('FastCgiServer inside <Directory>',
    "<Directory $d/htdocs>\nFastCgiServer $app\n</Directory>", 'FastCgiServer', undef);

# ------------------------------------------------------- FastCgiConfig
sub bad_cfg {
    my ($name, $opts, @must) = @_;
    bad_config("FastCgiConfig $name", "FastCgiConfig $opts", 'FastCgiConfig', undef, @must);
}

bad_cfg('unknown option', '-bogus-option 1', '-bogus-option');
bad_cfg('-processes (FastCgiServer only)', '-processes 3', '-processes');
bad_cfg('-socket (FastCgiServer only)', '-socket x.sock', '-socket');
bad_cfg('-port (FastCgiServer only)', '-port 9000', '-port');
bad_cfg('-host (FastCgiExternalServer only)', '-host 127.0.0.1:9000', '-host');
bad_cfg('repeated -maxProcesses', '-maxProcesses 5 -maxProcesses 6', '-maxProcesses');
bad_cfg('repeated -autoUpdate', '-autoUpdate -autoUpdate', '-autoUpdate');
bad_cfg('-multiThreshold and -multiThreshhold', '-multiThreshold 10 -multiThreshhold 20', '-multiThreshhold');
bad_cfg('-singleThreshhold and -singleThreshold', '-singleThreshhold 10 -singleThreshold 20', '-singleThreshold');
bad_cfg('-gainValue 1.5', '-gainValue 1.5', '-gainValue');
bad_cfg('-gainValue -0.5', '-gainValue -0.5', '-gainValue');
bad_cfg('-gainValue abc', '-gainValue abc', '-gainValue');
bad_cfg('-gainValue without value', '-gainValue', '-gainValue');
bad_cfg('-multiThreshold 101', '-multiThreshold 101', '-multiThreshold');
bad_cfg('-singleThreshhold 150', '-singleThreshhold 150', '-singleThreshhold');
bad_cfg('-singleThreshold -1', '-singleThreshold -1', '-singleThreshold');
bad_cfg('-maxProcesses -1', '-maxProcesses -1', '-maxProcesses');
bad_cfg('-maxClassProcesses 0', '-maxClassProcesses 0', '-maxClassProcesses');
bad_cfg('-minProcesses -1', '-minProcesses -1', '-minProcesses');
bad_cfg('-processSlack x', '-processSlack x', '-processSlack');
bad_cfg('-killInterval abc', '-killInterval abc', '-killInterval');
bad_cfg('-updateInterval -5', '-updateInterval -5', '-updateInterval');
bad_cfg('-startDelay -1', '-startDelay -1', '-startDelay');
bad_cfg('-listen-queue-depth -5', '-listen-queue-depth -5', '-listen-queue-depth');
bad_cfg('-priority 99', '-priority 99', '-priority');
bad_cfg('-restart-delay -1', '-restart-delay -1', '-restart-delay');
bad_cfg('-min-server-life (FastCgiServer only)', '-min-server-life 5', '-min-server-life');
bad_cfg('-nph (not for dynamic applications)', '-nph', '-nph');
bad_server('repeated -nph', '-nph -nph', '-nph');
bad_cfg('-init-start-delay x', '-init-start-delay x', '-init-start-delay');
bad_cfg('-idle-timeout 0', '-idle-timeout 0', '-idle-timeout');
bad_cfg('-appConnTimeout -1', '-appConnTimeout -1', '-appConnTimeout');
bad_cfg('-initial-env 1X=y', '-initial-env 1X=y', '-initial-env');
bad_config('FastCgiConfig given twice', "FastCgiConfig -maxProcesses 5\nFastCgiConfig -restart",
    'FastCgiConfig', undef);
bad_config('FastCgiConfig inside <Directory>',
    "<Directory $d/htdocs>\nFastCgiConfig -restart\n</Directory>", 'FastCgiConfig', undef);

# ------------------------------------------------------- FastCgiWrapper
my $wrapper = $t->write_file('wrap.sh', "#!/bin/sh\nexec \"\$3\"\n", 0755);
my $noexec = $t->write_file('wrap-noexec.sh', "#!/bin/sh\nexec \"\$3\"\n", 0644);
bad_config('FastCgiWrapper missing file', "FastCgiWrapper $d/no-such-wrapper", 'FastCgiWrapper',
    "$d/no-such-wrapper");
bad_config('FastCgiWrapper missing file (relative to ServerRoot)', 'FastCgiWrapper fcgix-no-such-wrapper',
    'FastCgiWrapper', '/etc/apache2/fcgix-no-such-wrapper');
bad_config('FastCgiWrapper a directory', "FastCgiWrapper $d/htdocs", 'FastCgiWrapper', "$d/htdocs");
bad_config('FastCgiWrapper not executable', "FastCgiWrapper $noexec", 'FastCgiWrapper', $noexec);

# FastCgiWrapper On needs httpd's suexec
my $suexec = '/usr/lib/apache2/suexec';
my $suexec_ok = do { my @st = stat $suexec; @st && $st[4] == 0 && ($st[2] & 04000) };
SKIP: {
    if (!-e $suexec) {
        bad_config('FastCgiWrapper On without suexec', 'FastCgiWrapper On', 'FastCgiWrapper', undef, 'On');
        last SKIP;
    }
    # suexec is installed: hide it in a private mount namespace
    skip 'suexec installed and no root to hide it', 3 unless $> == 0;
    my $real = abs_path($suexec);
    my $conf = $t->conf("FastCgiIpcDir $ipc\nFastCgiWrapper On\n");
    # the harness's environment (LD_PRELOAD of the sanitizers for an ASan build)
    my %env = $t->_env_prefix;
    my $envs = join ' ', map { "$_=\"$env{$_}\"" } sort keys %env;
    my $out = `unshare -m sh -c 'mount --bind /dev/null $real && exec env $envs /usr/sbin/apache2 -t -f $conf' 2>&1`;
    my $st = $?;
    skip "cannot hide $real in a mount namespace: $out", 3 if $out =~ /unshare:|mount:/;
    ok($st != 0, 'FastCgiWrapper On without suexec: apache2 -t fails') or diag $out;
    like($out, qr/FastCgiWrapper/, 'FastCgiWrapper On without suexec: output names FastCgiWrapper') or diag $out;
    like($out, qr/suexec/i, 'FastCgiWrapper On without suexec: output says suexec is missing') or diag $out;
}
SKIP: {
    skip "$suexec not installed set-uid root", 1 unless $suexec_ok;
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiWrapper On\n");
    ok($ok, 'FastCgiWrapper On with suexec installed: apache2 -t passes') or diag $out;
}

# ------------------------------------------------------- every option
my $all_server = "FastCgiServer $app -appConnTimeout 3 -idle-timeout 10 -initial-env A=1 "
    . '-initial-env B= -initial-env PATH -init-start-delay 0 -flush -listen-queue-depth 50 '
    . '-pass-header Authorization -pass-header X-Forwarded-For -priority 5 -processes 2 '
    . '-restart-delay 2 -min-server-life 10 -socket all.sock -request-timeout 60 -header-max-bytes 32768 '
    . '-header-max-lines 50 -header-max-line 4096 -stderr-max-line 512 -stderr-max-bytes 8192';
my $port = $t->free_port;
my $port_server = "FastCgiServer $d/htdocs/port.fcgi -port $port -processes 1 -nph";
my $all_config = 'FastCgiConfig -appConnTimeout 3 -autoUpdate -flush -gainValue 0.25 -idle-timeout 10 '
    . '-initial-env A=1 -initial-env B= -initial-env PATH -init-start-delay 2 -killInterval 60 '
    . '-listen-queue-depth 50 -maxClassProcesses 4 -maxProcesses 20 -minProcesses 2 -multiThreshold 40 '
    . '-pass-header Authorization -pass-header X-Forwarded-For -priority 5 -processSlack 3 -restart '
    . '-restart-delay 2 -singleThreshold 10 -startDelay 2 -updateInterval 30 -request-timeout 60 '
    . '-header-max-bytes 32768 -header-max-lines 50 -header-max-line 4096 -stderr-max-line 512 '
    . '-stderr-max-bytes 8192';
$t->write_file("$d/htdocs/port.fcgi", $hello, 0755);
{
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\n$all_server\n$port_server\n$all_config\n"
            . "FastCgiWrapper $wrapper\nAddHandler fastcgi-script .fcgi\n");
    ok($ok, 'every FastCgiServer, FastCgiConfig option and FastCgiWrapper FILE: apache2 -t passes') or diag $out;
    ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiConfig -multiThreshhold 40 -singleThreshhold 10\n");
    ok($ok, 'historic spellings -multiThreshhold / -singleThreshhold pass') or diag $out;
    ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiConfig -AUTOUPDATE -maxprocesses 5 -GainValue 1\n"
            . "FastCgiServer $app -PROCESSES 1 -Init-Start-Delay 0\n");
    ok($ok, 'options are case-insensitive; -gainValue 1 is in range') or diag $out;
    ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiConfig -gainValue 0 -multiThreshold 0 "
            . "-singleThreshold 100 -minProcesses 0\nFastCgiWrapper Off\n");
    ok($ok, 'bounds pass: -gainValue 0, thresholds 0 and 100, -minProcesses 0; FastCgiWrapper Off') or diag $out;

    # and httpd runs with it (without the -port app: it would listen on
    # every address)
    my ($started, $sout) = $t->try_start_httpd("FastCgiIpcDir $ipc\n$all_server\n$all_config\n"
            . "FastCgiWrapper $wrapper\nAddHandler fastcgi-script .fcgi\n");
    ok($started, 'httpd starts with every option') or diag $sout, $t->error_log;
    my $r = $t->get('/app.fcgi');
    is($r->code, 200, 'the static app with every option answers') or diag $r->as_string, $t->error_log;
    is($r->content, "Hello, World\n", 'and sends its body');
    $t->stop_httpd;
}

$t->done;
done_testing;
