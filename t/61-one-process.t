# 61-one-process.t - httpd's one-process (debug) mode, `apache2 -X`, as an
# administrator uses it under gdb: the single process is both the parent
# and the only child.
#
#   A FastCgiServer app and a dynamic app answer 200 (the child-init of the
#   one process must not close the parent's channel to the process manager:
#   it did, the PM saw the end of its control channel and left, and every
#   request got 503 with FCGIX0102), and the PM keeps running.
#   `apache2 -k stop` stops the process, the PM and the apps, and leaves
#   nothing behind (the harness checks at the end).
#
#   With FastCgiWrapper the PM keeps root. In one-process mode the process
#   that holds its control channel also runs every request's code, which
#   must never reach a root PM: the channel is closed as in any child, the
#   PM stops (it leaves when its channel ends), FCGIX0409 says why, and
#   FastCgiServer requests get 503 at once (no hang).
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;

my $t   = FcgixTest->new;
my $d   = $t->dir;
my $h   = "$d/htdocs";
my $ipc = "$d/ipc";

my $HELLO = $t->install_app('hello', "$h/hello.fcgi");
$t->install_app('printenv', "$h/dyn/env.fcgi");

my $conf = $t->conf(<<"EOF");
FastCgiIpcDir $ipc
FastCgiServer $HELLO -processes 2
<Directory $h/dyn>
    Options +ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>
EOF

sub start_x {
    my ($cf) = @_;
    my ($p, $ok) = $t->start_one_process($cf);
    ok($ok, 'apache2 -X answers')
        or BAIL_OUT('apache2 -X did not start: ' . slurp("$d/logs/stdout.log"));
    is($t->httpd_pid, $p, 'the one process is the one we started');
    return $p;
}

sub stop_x {
    my ($p, $cf, $pm) = @_;
    ok($t->stop_one_process($p, $cf), 'apache2 -k stop ends the one process');
    ok($t->wait_for(sub { !FcgixPM::alive($pm) }, 10), '... and its process manager') if $pm;
}

my $pid = start_x($conf);

my $r = $t->get('/hello.fcgi');
is($r->code, 200, 'FastCgiServer app: 200') or diag $r->as_string;
like($r->content, qr/Hello/, '... with its answer');
$r = $t->get('/dyn/env.fcgi');
is($r->code, 200, 'dynamic app: 200') or diag $r->as_string;
like($r->content, qr/SCRIPT_FILENAME/, '... with its answer');

my ($pm) = FcgixPM::pm_pids($t);
ok($pm, 'the process manager runs');
for (1 .. 20) { $t->get('/hello.fcgi') }
ok($pm && kill(0, $pm), '... and still runs after 20 more requests');
is($t->get('/hello.fcgi')->code, 200, 'the app still answers');
$t->log_unlike(qr/FCGIX0102/, 'no "process manager is not running"');

stop_x($pid, $conf, $pm);

# ---------------------------------------------- with FastCgiWrapper
my $wrapper = $t->write_file('wrapper.sh', "#!/bin/sh\nexec \"\$3\"\n", 0755);
$conf = $t->conf(<<"EOF");
FastCgiIpcDir $ipc
FastCgiWrapper $wrapper
FastCgiServer $HELLO -processes 1
EOF
$pid = start_x($conf);
ok($t->wait_for(sub { $t->error_log =~ /FCGIX0409: FastCgiWrapper is not available in one-process mode/ }, 10),
    'FCGIX0409 says why the process manager stops');
ok($t->wait_for(sub { !FcgixPM::pm_pids($t) }, 10), 'no process manager stays with the request-serving process');
my $t0 = time;
$r = $t->get('/hello.fcgi');
is($r->code, 503, 'a FastCgiServer request gets 503') or diag $r->as_string;
cmp_ok(time - $t0, '<', 10, '... at once, not after a timeout');
stop_x($pid, $conf);
$t->allow_log(qr/FCGIX0409|FCGIX0102|AH01240/);
$t->done;
done_testing;
