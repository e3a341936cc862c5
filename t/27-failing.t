# 27-failing.t - a static application that cannot run shows as failing on
# the status page, with the reason and its back-off, and recovers once it
# can run.
#
#   a FastCgiServer file whose interpreter is missing (execve fails): state "failing" (not
#     "active" with 0/1 processes), LastError "cannot execute: ...",
#     StartFailures counts the failed starts, NextStartIn the back-off;
#     the HTML page says the same.
#   a FastCgiServer program that exits at once: "failing", LastError
#     "exited with status 3 after N ms without serving".
#   a healthy app next to them: "active", nothing in a row, no error.
#   the broken file replaced by a working app: after its back-off the
#     class serves 200 and is "active" again with the error cleared.
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

my $good  = $t->install_app('hello', "$h/g/good.fcgi");
# executable, but its interpreter does not exist: execve fails
my $noexec = $t->write_file("$h/n/noexec.fcgi", "#!/nonexistent/interpreter\n", 0755);
my $quits = $t->write_file("$h/q/quits.fcgi", "#!/bin/sh\nexit 3\n", 0755);

$t->start_httpd(<<"EOF");
FastCgiIpcDir $ipc
FastCgiServer $good
FastCgiServer $noexec -restart-delay 1
FastCgiServer $quits -restart-delay 1
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
<Location /metrics>
    SetHandler fastcgi-metrics
</Location>
EOF

# The ?auto keys of the class whose path is $path.
sub class_of {
    my ($path) = @_;
    my $txt = $t->get('/fcgi-status?auto')->content;
    my %n;
    while ($txt =~ /^Class(\d+): (.*)$/mg) { $n{$2} = $1 }
    my $i = $n{$path};
    return {} unless defined $i;
    my %v = $txt =~ /^Class${i}(\w+): (.*)$/mg;
    return \%v;
}

my $c;
ok($t->wait_for(sub { $c = class_of($noexec); ($c->{StartFailures} // 0) >= 2 }, 10),
    'a program that cannot be executed: its starts fail again and again') or diag explain $c;
is($c->{State}, 'failing', '... its state is "failing"');
like($c->{LastError}, qr/^cannot execute: .*No such file/, '... LastError says it cannot be executed')
    or diag explain $c;
cmp_ok($c->{FailedInARow}, '>=', 1, "... $c->{FailedInARow} in a row");
is($c->{Processes}, 0, '... no process runs');
ok(defined $c->{NextStartIn} && $c->{NextStartIn} =~ /^\d+$/, "... next start in $c->{NextStartIn} s");

ok($t->wait_for(sub { $c = class_of($quits); ($c->{FailedInARow} // 0) >= 2 }, 10),
    'a program that exits at once: failing in a row') or diag explain $c;
is($c->{State}, 'failing', '... its state is "failing"');
like($c->{LastError}, qr/^exited with status 3 after \d+ ms without serving$/, '... LastError says how it ended')
    or diag explain $c;

$c = class_of($good);
is($c->{State}, 'active', 'a healthy app: "active"');
is($c->{FailedInARow}, 0, '... nothing in a row');
is($c->{LastError}, '', '... no error');

# the same in the metrics and their JSON form
my $m = $t->get('/metrics')->content;
my ($sf) = $m =~ /^fcgix_process_start_failures_total\{app="\Q$noexec\E"[^}]*\} (\d+)$/m;
cmp_ok($sf // 0, '>=', 2, "metrics: fcgix_process_start_failures_total of the app that cannot run ($sf)");
my ($fp) = $m =~ /^fcgix_failing_processes\{app="\Q$quits\E"[^}]*\} (\d+)$/m;
cmp_ok($fp // 0, '>=', 1, "metrics: fcgix_failing_processes of the app that exits at once ($fp)");
my ($gp) = $m =~ /^fcgix_failing_processes\{app="\Q$good\E"[^}]*\} (\d+)$/m;
is($gp, 0, 'metrics: 0 for the healthy app');
like($m, qr/^fcgix_app_info\{app="\Q$quits\E",[^}]*state="failing"\} 1$/m, 'metrics: fcgix_app_info state="failing"');
like($m, qr/^fcgix_app_info\{app="\Q$good\E",[^}]*state="active"\} 1$/m, '... and "active" for the healthy app');
my $json = $t->get('/fcgi-status?json')->content;
require JSON::PP;
my $doc = eval { JSON::PP::decode_json($json) };
my @apps = $doc ? @{ $doc->{apps} // $doc->{classes} // [] } : ();
my ($jq) = grep { ($_->{app} // '') eq $quits } @apps;
is($jq && $jq->{state}, 'failing', '?json: state "failing"') or diag substr($json, 0, 400);
like($jq ? $jq->{last_error} : '', qr/^exited with status 3/, '?json: last_error');

my $html = $t->get('/fcgi-status')->content;
like($html, qr/failing: cannot execute: [^<]*\(\d+ in a row, next start in \d+ s\)/,
    'the HTML page says why the app is failing and when it retries');

# ------------------------------------------------------------- recovery
{
    my $r = http_once($t, '/q/quits.fcgi', 10);
    ok($r->{code} >= 500, "a request to the failing app fails ($r->{code})");
    # a working program in place of the broken one (same name, new file)
    my $tmp = "$h/q/.quits.new";
    system('cp', $t->apps_dir . '/hello', $tmp) == 0 or die "cp: $!";
    chmod 0755, $tmp;
    rename $tmp, $quits or die "rename: $!";
    my $ok = $t->wait_for(sub { $r = http_once($t, '/q/quits.fcgi', 10); ok200($r) }, 40);
    ok($ok, 'the program replaced by a working one: it serves 200 after its back-off') or diag show($r);
    ok($t->wait_for(sub { $c = class_of($quits); ($c->{State} // '') eq 'active' }, 10),
        '... and its state is "active" again') or diag explain $c;
    is($c->{FailedInARow}, 0, '... nothing in a row');
    is($c->{LastError}, '', '... the error cleared');
}

$t->allow_log(qr/FCGIX04(?:10|11|20|32)/);
$t->done;
done_testing;
