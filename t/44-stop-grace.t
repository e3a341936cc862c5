# 44-stop-grace.t - a process the process manager tells to stop (SIGTERM)
# but that ignores SIGTERM, as an application's owner can write one
# (t/apps/noterm.pl), is killed once the grace period is over.
#
#   a static app of such processes, changed at a graceful restart (its
#   -initial-env): its old process, idle, is told to stop while the new
#   one serves; the old one is gone within 10 s (SIGKILL after 3 s, one
#   FCGIX0413 line naming the app and the pid), the status page then
#   shows no draining class, and the new process answers.
#   Before, the old process lived on until httpd stopped, and its class
#   stayed draining for as long: a class slot and a process slot held for
#   good, per change, by whoever writes the app.
use strict;
use warnings;
use Test::More;
use FcgixTest;
use FcgixPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $app = $t->install_app('noterm.pl', "$h/n/noterm.fcgi");

sub conf_for {
    my ($v) = @_;
    return <<"EOF2";
FastCgiIpcDir $d/ipc
FastCgiServer $app -processes 1 -initial-env V=$v
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF2
}

# pid and V of the process that answers, or () when none does
sub who {
    my $r = $t->get('/n/noterm.fcgi');
    return $r->code == 200 && $r->content =~ /^pid=(\d+)\nv=(\w*)$/m ? ($1, $2) : ();
}

$t->start_httpd(conf_for(1));
my ($old, $v) = who();
ok($old && $v eq '1', 'the app answers') or diag $t->error_log;

$t->restart_httpd(conf_for(2));
my ($new, $v2);
$t->wait_for(sub { ($new, $v2) = who(); $new && $v2 eq '2' }, 10);
ok($new && $new != $old, 'after the change a new process answers');

my $gone = $t->wait_for(sub { !alive($old) }, 10);
ok($gone, "the old process, which ignores SIGTERM, is gone (pid $old)")
    or diag "still there; error log:\n" . $t->error_log;
$t->log_like(qr/FCGIX0413: \Q$app\E \(pid $old\) did not stop within 3000 ms of SIGTERM; sending SIGKILL/,
    '... killed after the grace period, one FCGIX0413 line says so');
my $st = '';
$t->wait_for(sub { $st = $t->get('/fcgi-status?auto')->content; $st !~ /State: draining/ }, 5);
unlike($st, qr/State: draining/, '... and no class is left draining');
my ($now) = who();
is($now, $new, '... the new process still answers');
kill 'KILL', $old if alive($old);    # ours: it runs a file of this test's directory

$t->done;
done_testing;
