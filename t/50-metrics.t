# 50-metrics.t - the metrics (issue 15, "Metrics that show saturation"):
# Prometheus' text format on `SetHandler fastcgi-metrics` and on
# fastcgi-status?metrics, JSON on fastcgi-status?json, the access-log
# notes, FastCgiMetrics. Real apache2, real apps (t/apps respond, whoami).
#
#   Outcomes: 5 x 200, a 404 and a 302 from the app; a 502 (the app dies
#     mid-request), a 504 (-idle-timeout 1, the app sleeps), 503s (an app
#     that exits at once and backs off): fcgix_requests_total counts each
#     under code/source, and nothing else; both histograms' _count equal
#     the requests that reached the app, buckets never decrease, _count is
#     the +Inf bucket.
#   Waiting: 6 requests at once on a one-process app (-listen-queue-depth
#     1, each answer takes 700 ms): fcgix_requests_waiting > 0 while they
#     queue, 0 after; all 6 answered; the wait histogram counts 6 and its
#     sum is at least one answer's time (a request waited for another).
#   Backends: a FastCgiExternalServer with two -socket backends: per
#     backend requests_total adds up to the requests sent; one backend
#     stopped: its refused failures counted, fcgix_backend_up 0 for it.
#   `promtool check metrics` passes on every scrape (when installed: the
#     Debian package prometheus), ?json parses (JSON::PP) and agrees.
#   Access-log notes: %{fcgix-app}n, %{fcgix-backend}n (the socket of a
#     managed app, the backend's address), %{fcgix-wait-us}n,
#     %{fcgix-app-us}n; and fcgix-auth-* for an authorizer (FastCgiAccessChecker).
#   FastCgiMetrics: "Maybe" fails apache2 -t naming the directive; Off
#     (graceful restart): fcgix_metrics_enabled 0, no outcome or histogram
#     families, and requests change nothing of them.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;
use FcgixBackends;
use FcgixMetrics;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my %app;
$app{resp}   = $t->install_app('respond', "$h/resp/resp.fcgi");
$app{die}    = $t->install_app('respond', "$h/die/die.fcgi");
$app{idle}   = $t->install_app('respond', "$h/idle/idle.fcgi");
$app{slow}   = $t->install_app('respond', "$h/slow/slow.fcgi");
$app{authz}  = $t->install_app('authz', "$h/authz/authz.fcgi");
$app{broken} = $t->write_file("$h/broken/broken.fcgi", "#!/bin/sh\nexit 1\n", 0755);
my $be_a = backend($t, 'a', 'unix', "$d/sock/be-a.sock");
my $be_b = backend($t, 'b', 'unix', "$d/sock/be-b.sock");
$t->write_file('htdocs/gated/file.txt', "gated\n");

my $frag = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiServer $app{resp}
FastCgiServer $app{die}
FastCgiServer $app{idle} -idle-timeout 1
FastCgiServer $app{slow} -listen-queue-depth 1
FastCgiServer $app{authz}
FastCgiServer $app{broken} -restart-delay 16
FastCgiExternalServer $h/be.fcgi -socket $be_a->{socket} -socket $be_b->{socket} -disable-time 30
<Location /metrics>
    SetHandler fastcgi-metrics
</Location>
<Location /st>
    SetHandler fastcgi-status
</Location>
<Directory $h/gated>
    FastCgiAccessChecker $app{authz}
</Directory>
LogFormat "%U|%>s|%{fcgix-app}n|%{fcgix-backend}n|%{fcgix-wait-us}n|%{fcgix-app-us}n|%{fcgix-auth-app}n|%{fcgix-auth-wait-us}n|%{fcgix-auth-app-us}n" notes
CustomLog $d/logs/notes.log notes
EOF

# -------------------------------------------------------------- helpers

# One scrape on a fresh connection (not one an old generation's child
# holds after a graceful restart).
sub scrape {
    my ($url) = @_;
    my $r = $t->request('GET', $url // '/metrics', headers => { Connection => 'close' });
    return ($r, [ samples($r->content) ]);
}

# A scrape by this generation's children: fcgix_metrics_enabled is $on.
sub scrape_gen {
    my ($on) = @_;
    my ($r, $s);
    $t->wait_for(sub { ($r, $s) = scrape(); (val($s, 'fcgix_metrics_enabled') // -1) == $on }, 10);
    return ($r, $s);
}

sub promtool_ok {
    my ($txt, $name) = @_;
    SKIP: {
        my ($rc, $out) = promtool($txt) or skip 'promtool not installed (Debian package prometheus)', 1;
        is($rc, 0, "promtool check metrics: $name") or diag $out;
    }
}

# Histogram $h of app $a: buckets never decrease, _count is +Inf's.
sub hist_ok {
    my ($s, $h, $a, $name) = @_;
    my ($mono, $v) = monotonic($s, $h, app => $a);
    ok($mono && @$v == 14, "$name: 14 buckets, cumulative, +Inf last") or diag explain $v;
    is(val($s, "${h}_count", app => $a), $v->[-1], "$name: _count is the +Inf bucket");
    return val($s, "${h}_count", app => $a);
}

sub outcome { my ($s, $a, $code, $src) = @_; return val($s, 'fcgix_requests_total', app => $a, code => $code, source => $src) }

sub total_outcomes {
    my ($s, $a) = @_;
    my $n = 0;
    $n += $_->[2] for grep { $_->[0] eq 'fcgix_requests_total' && $_->[1]{app} eq $a } @$s;
    return $n;
}

# ----------------------------------------------------------- config test
{
    my ($ok, $out) = $t->config_test("FastCgiMetrics Maybe\n");
    ok(!$ok, 'FastCgiMetrics Maybe: apache2 -t fails');
    like($out, qr/FastCgiMetrics/, 'the error names FastCgiMetrics') or diag $out;
    ($ok, $out) = $t->config_test("<VirtualHost 127.0.0.1:1>\nFastCgiMetrics Off\n</VirtualHost>\n");
    ok(!$ok, 'FastCgiMetrics in a virtual host: apache2 -t fails (server-wide)');
}

$t->start_httpd($frag);

# ------------------------------------------------------------- outcomes
my %sent;
{
    my @want = ((['/resp/resp.fcgi', 200]) x 5, ['/resp/resp.fcgi?status=404', 404],
        ['/resp/resp.fcgi?location=http%3A%2F%2Fexample.com%2F', 302]);
    for my $w (@want) {
        my $r = http_once($t, $w->[0], 10);
        is($r->{code}, $w->[1], "GET $w->[0]: $w->[1]");
    }
    my $r = http_once($t, '/die/die.fcgi?exit=1', 10);
    is($r->{code}, 502, 'an app that dies before ending the request: 502');
    $r = http_once($t, '/idle/idle.fcgi?sleep_ms=3000', 10);
    is($r->{code}, 504, 'an app silent past -idle-timeout: 504');
    $t->log_like(qr/FCGIX0411:.*\Q$app{broken}\E/, 'the broken app failed to start once');
    my %codes;
    my $got503 = $t->wait_for(sub { $codes{ http_once($t, '/broken/broken.fcgi', 10)->{code} }++; $codes{503} }, 10);
    ok($got503, 'an app that backs off: 503') or diag explain \%codes;
    $sent{broken} = \%codes;
}
{
    my ($r, $s) = scrape();
    is($r->code, 200, 'fastcgi-metrics: 200');
    is($r->header('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8', 'Content-Type of the text format');
    promtool_ok($r->content, 'after the outcome requests');
    ok(!grep({ $_->[0] eq '!unparsed' } @$s), 'every line parses') or diag $r->content;
    my $a = $app{resp};
    is(outcome($s, $a, '2xx', 'app'), 5, 'resp: 5 x 2xx from the app');
    is(outcome($s, $a, '4xx', 'app'), 1, 'resp: 1 x 4xx from the app');
    is(outcome($s, $a, '3xx', 'app'), 1, 'resp: 1 x 3xx from the app (absolute Location)');
    is(total_outcomes($s, $a), 7, 'resp: nothing else counted');
    is(hist_ok($s, 'fcgix_process_wait_seconds', $a, 'resp wait'), 7, 'resp: 7 waits observed');
    is(hist_ok($s, 'fcgix_app_response_seconds', $a, 'resp app time'), 7, 'resp: 7 app times observed');
    is(outcome($s, $app{die}, '502', 'fcgix'), 1, 'die: 1 x 502 decided by mod_fcgix');
    is(total_outcomes($s, $app{die}), 1, 'die: nothing else');
    is(outcome($s, $app{idle}, '504', 'fcgix'), 1, 'idle: 1 x 504 decided by mod_fcgix');
    is(total_outcomes($s, $app{idle}), 1, 'idle: nothing else');
    is(outcome($s, $app{broken}, '503', 'fcgix'), $sent{broken}{503}, "broken: each 503 counted ($sent{broken}{503})");
    my $n_broken = 0;
    $n_broken += $_ for values %{ $sent{broken} };
    is(total_outcomes($s, $app{broken}), $n_broken, 'broken: every request counted once');
    is(val($s, 'fcgix_app_info', app => $a, kind => 'static', state => 'active'), 1, 'fcgix_app_info of resp');
    is(val($s, 'fcgix_processes', app => $a, state => 'running'), 1, 'resp: 1 process running');
    is(val($s, 'fcgix_processes_target', app => $a), 1, 'resp: target 1');
    is(val($s, 'fcgix_pm_up'), 1, 'fcgix_pm_up 1');
    is(val($s, 'fcgix_metrics_enabled'), 1, 'fcgix_metrics_enabled 1');
    ok(defined val($s, 'fcgix_pm_generation') && defined val($s, 'fcgix_pm_heartbeat_age_seconds'),
        'PM generation and heartbeat age shown');

    my ($r2) = scrape('/st?metrics');
    is($r2->code, 200, 'fastcgi-status?metrics: 200');
    like($r2->content, qr/^fcgix_requests_total\{app="\Q$a\E",code="2xx",source="app"\} 5$/m,
        '?metrics: the same text format');
    my $j = $t->get('/st?json');
    is($j->header('Content-Type'), 'application/json', '?json: Content-Type');
    my $doc = eval { JSON::PP->new->utf8->decode($j->content) };
    ok($doc, '?json parses') or diag "$@\n" . $j->content;
    my ($ja) = grep { $_->{app} eq $a } @{ $doc->{apps} || [] };
    is($ja && $ja->{requests}{app}{'2xx'}, 5, '?json: resp 2xx 5');
    is($ja && $ja->{app_response_seconds}{count}, 7, '?json: resp app time count 7');
    is($ja && scalar @{ $ja->{process_wait_seconds}{buckets} }, 14, '?json: 14 cumulative buckets');
}

# -------------------------------------------------- waiting for a process
{
    my @bg = map { bg_get($t, "/slow/slow.fcgi?sleep_ms=700&n=$_", 30) } 1 .. 6;
    my $max = 0;
    $t->wait_for(sub {
        my (undef, $s) = scrape();
        my $w = val($s, 'fcgix_requests_waiting', app => $app{slow}) // 0;
        $max = $w if $w > $max;
        $max > 0;
    }, 10);
    cmp_ok($max, '>', 0, "6 requests on a one-process app with a backlog of 1: waiting > 0 ($max)");
    my @r = map { bg_wait($_, 30, kill => 1) } @bg;
    is(scalar(grep { $_ && $_->{code} == 200 } @r), 6, 'all 6 answered 200');
    my (undef, $s) = scrape();
    is(val($s, 'fcgix_requests_waiting', app => $app{slow}), 0, 'waiting 0 after');
    is(hist_ok($s, 'fcgix_process_wait_seconds', $app{slow}, 'slow wait'), 6, 'slow: 6 waits observed');
    cmp_ok(val($s, 'fcgix_process_wait_seconds_sum', app => $app{slow}), '>=', 0.7,
        'slow: the waits add up to at least one answer (a request waited for another)');
    is(hist_ok($s, 'fcgix_app_response_seconds', $app{slow}, 'slow app time'), 6, 'slow: 6 app times');
}

# -------------------------------------------------------------- backends
my $be_app = "$h/be.fcgi";
{
    my @r = map { fetch($t, "/be.fcgi?i=$_") } 1 .. 4;
    is(scalar(grep { $_->[0] == 200 } @r), 4, '4 requests to the 2-backend app: 200');
    my ($r, $s) = scrape();
    promtool_ok($r->content, 'with backends');
    my %n = map { $_->{addr} => val($s, 'fcgix_backend_requests_total', app => $be_app, backend => $_->{addr}) } $be_a, $be_b;
    ok(defined $n{ $be_a->{addr} } && defined $n{ $be_b->{addr} }, 'a requests_total series per backend')
        or diag $r->content;
    is(($n{ $be_a->{addr} } // 0) + ($n{ $be_b->{addr} } // 0), 4, 'per backend requests add up to 4');
    is(val($s, 'fcgix_backend_up', app => $be_app, backend => $_->{addr}), 1, "backend $_->{bname} up") for $be_a, $be_b;
    is(outcome($s, $be_app, '2xx', 'app'), 4, 'the external app: 4 x 2xx');

    $t->stop_app($be_b);
    unlink $be_b->{socket};
    my @r2 = map { fetch($t, "/be.fcgi?j=$_") } 1 .. 2;
    is(scalar(grep { $_->[0] == 200 } @r2), 2, 'backend b stopped: requests still 200 (from a)');
    ($r, $s) = scrape();
    promtool_ok($r->content, 'a backend down');
    cmp_ok(val($s, 'fcgix_backend_failures_total', app => $be_app, backend => $be_b->{addr}, kind => 'refused') // 0,
        '>=', 1, 'backend b: refused counted');
    is(val($s, 'fcgix_backend_up', app => $be_app, backend => $be_b->{addr}), 0, 'backend b: up 0');
    is(val($s, 'fcgix_backend_up', app => $be_app, backend => $be_a->{addr}), 1, 'backend a: up 1');
}

# -------------------------------------------------------- access-log notes
{
    my $r = $t->get('/gated/file.txt', 'X-Let-Me-In' => 'yes');
    is($r->code, 200, 'a file behind a FastCgiAccessChecker: 200');
    my %line;
    $t->wait_for(sub {
        %line = ();
        for (split /\n/, slurp("$d/logs/notes.log")) {
            my @f = split /\|/;
            $line{"$f[0]|$f[1]"} = \@f;
        }
        $line{'/gated/file.txt|' . $r->code} && $line{'/be.fcgi|200'} && $line{'/broken/broken.fcgi|503'};
    }, 5);
    my $l = $line{'/resp/resp.fcgi|200'} || [];
    is($l->[2], $app{resp}, 'fcgix-app: the app path');
    like($l->[3] // '', qr{^unix:\Q$d\E/ipc/}, 'fcgix-backend: a managed app\'s socket');
    like($l->[4] // '', qr/^\d+$/, 'fcgix-wait-us: microseconds');
    like($l->[5] // '', qr/^\d+$/, 'fcgix-app-us: microseconds');
    $l = $line{'/be.fcgi|200'} || [];
    is($l->[3], $be_a->{addr}, 'fcgix-backend: the backend that served (b is down)');
    $l = $line{'/broken/broken.fcgi|503'} || [];
    is($l->[2], $app{broken}, '503: fcgix-app set');
    is($l->[5], '-', '503 before any connection: no fcgix-app-us');
    $l = $line{'/gated/file.txt|' . $r->code} || [];
    is($l->[6], $app{authz}, 'fcgix-auth-app: the authorizer');
    like($l->[7] // '', qr/^\d+$/, 'fcgix-auth-wait-us');
    like($l->[8] // '', qr/^\d+$/, 'fcgix-auth-app-us');
    is($l->[2], '-', 'a static file behind the authorizer: no fcgix-app');
}

# ----------------------------------------------------- FastCgiMetrics Off
{
    $t->restart_httpd("$frag\nFastCgiMetrics Off\n");
    my ($r, $s) = scrape_gen(0);
    promtool_ok($r->content, 'FastCgiMetrics Off');
    is(val($s, 'fcgix_metrics_enabled'), 0, 'Off: fcgix_metrics_enabled 0');
    ok(!grep({ $_->[0] =~ /^fcgix_(requests_total|process_wait_seconds|app_response_seconds|requests_waiting)/ } @$s),
        'Off: no outcome, wait or histogram families');
    is(http_once($t, '/resp/resp.fcgi', 10)->{code}, 200, 'Off: requests served');
    $t->restart_httpd($frag);
    (undef, $s) = scrape_gen(1);
    is(outcome($s, $app{resp}, '2xx', 'app'), 5, 'On again: the request made while Off was not counted');
    is(val($s, 'fcgix_metrics_enabled'), 1, 'On again: enabled');
}

$t->done;
done_testing;
