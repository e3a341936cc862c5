# 45-keep-conn.t - persistent application connections (FCGI_KEEP_CONN,
# option -keep-conn; issue 13), seen from the client and from the apps.
#
# The apps tell which FastCGI connection served a request: t/apps/connid.c
# (libfcgi; body pid=, ino= (the connection socket's inode), n= (the n-th
# request on that connection), id= (request id), keep=) and t/apps/badapp.c
# (headers X-Conn (pid of the child serving the connection), X-Conn-Req,
# X-Req-Id, X-Keep; its event log BADAPP_LOG has a line per request begun,
# per ABORT_REQUEST seen, per connection it closes and ends).
#
#   config: -keep-conn x / -1 / 10001 / (no value) make apache2 -t fail
#     naming the directive and the option, on FastCgiServer, FastCgiConfig
#     and FastCgiExternalServer; 0 and 10000 pass.
#   off: FastCgiExternalServer without -keep-conn, and FastCgiServer
#     -keep-conn 0: every request on a fresh connection, no KEEP_CONN flag.
#   1./2. reuse: sequential requests over one HTTP keep-alive connection
#     reach a FastCgiServer -processes 1 app (default), a dynamic app
#     (FastCgiConfig, default) and an external badapp (-keep-conn 2) on one
#     FastCGI connection, with the KEEP_CONN flag, and each use has another
#     request id than the one before.
#   3. an app that ignores KEEP_CONN and closes after each response: GET,
#     a small POST and a streamed POST all 200, no FCGIX01xx line, also 20
#     streamed POSTs back to back (a body that streams never takes a kept
#     connection, so it never meets one the app is about to close).
#   4. stale kept connection (badapp stale_next: closes when the next
#     BEGIN_REQUEST arrives): a GET is retried on a fresh connection (200),
#     a small (read-ahead) PUT too, body intact, and a 200 KB one (spooled
#     to a file); a POST (it may not run twice) and a streamed body
#     (-spool-body 0, it cannot be sent twice) are not sent on the kept
#     connection at all: 200 on a fresh one, body intact.
#     An app that closes a kept connection while it is idle (close_idle):
#     the next request, a streamed POST, 200 on a fresh connection.
#   HEAD (small and 300 KB body), 304, a local redirect: the next request
#     on the kept connection gets its own answer; a local redirect to the
#     same -processes 1 app works (no connection held across it).
#   -idle-timeout 1 expires (504) while the app answers later: the next
#     requests get their own answers, never on that connection, which
#     httpd closes. A libfcgi app that answers without reading the body
#     (100 B, 300 KB): the next request gets its own answer.
#   5. client abort mid-response on a kept connection: the app receives
#     ABORT_REQUEST for that request id, and that connection is closed
#     by httpd (the app's child ends), never used again.
#   6. data after END_REQUEST on a kept connection (badapp garbage, as
#     afterend_after in t/18): the request is cut as in t/18, the
#     connection is closed by httpd and never used again.
#   7. no starvation with one connection: 24 concurrent keep-alive clients x
#     5 requests against a FastCgiServer -processes 1 and an external
#     single-process libfcgi app with -keep-conn 1: every request 200
#     (-idle-timeout 10: starvation would show as 504, not as a hang).
#   an access checker (FastCgiServer -processes 1) in front of a
#     -processes 1 app: grants and denials over one client connection, and
#     12 keep-alive clients x 5: every answer right.
#   8. graceful restart under a keep-alive load on kept-connection apps
#     (managed and external): no failed request.
#   9. a managed app's process SIGKILLed while its connection is held
#     idle: the requests after it all 200.
#  10. the status page (?auto): ClassNReuses > 0 where connections are
#     reused, 0 where -keep-conn is off; ClassNIdleKept never above the cap
#     (min(N, processes)) during and after bursts, and after one request
#     each from six client connections open at once (-processes 3 with
#     -keep-conn 1 and with the default); an external app sees at most N
#     open connections once a burst is over.
#  11. php-fpm (pm static, 2 children) as an external app with -keep-conn
#     2: 30 concurrent clients x 5 requests, all 200 (skipped without
#     php-fpm8.2).
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;
use FcgixRaw;    # raw_req, hdr1, show, log_since_like
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(time sleep);

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $FCGI_ERR = qr/FCGIX01\d\d:/;
my $FCGI_ERR_LINE = qr/^.*\[fcgix:(?:warn|error|crit|alert|emerg)\].*FCGIX01\d\d:.*$/m;

# ------------------------------------------------------------ config

{
    my $app = $t->install_app('connid', "$h/cfg/cfg.fcgi");
    my %frag = (
        FastCgiServer         => sub { "FastCgiServer $app -keep-conn $_[0]" },
        FastCgiConfig         => sub { "FastCgiConfig -keep-conn $_[0]" },
        FastCgiExternalServer => sub { "FastCgiExternalServer $h/x.fcgi -socket x.sock -keep-conn $_[0]" },
    );
    for my $dir (sort keys %frag) {
        for my $v ('x', '-1', '10001', '') {
            my ($ok, $out) = $t->config_test("FastCgiIpcDir $d/ipc\n" . $frag{$dir}->($v) . "\n");
            my $name = "$dir -keep-conn '$v'";
            ok(!$ok, "$name: apache2 -t fails") or diag $out;
            like($out, qr/\Q$dir\E/, "$name: the message names the directive") or diag $out;
            like($out, qr/(?<![\w-])-keep-conn(?![\w-])/, "$name: the message names -keep-conn") or diag $out;
        }
        for my $v (0, 10000) {
            my ($ok, $out) = $t->config_test("FastCgiIpcDir $d/ipc\n" . $frag{$dir}->($v) . "\n");
            ok($ok, "$dir -keep-conn $v: apache2 -t passes") or diag $out;
        }
    }
}

# ------------------------------------------------------------ apps

my %A;    # managed connid apps, each its own class
$A{conn}   = $t->install_app('connid', "$h/c/conn.fcgi");        # default: on, cap 1
$A{off}    = $t->install_app('connid', "$h/off/off.fcgi");       # -keep-conn 0
$A{cap}    = $t->install_app('connid', "$h/cap/cap.fcgi");       # -processes 3 -keep-conn 2
$A{capone} = $t->install_app('connid', "$h/cap1/capone.fcgi");   # -processes 3 -keep-conn 1
$A{capdef} = $t->install_app('connid', "$h/capd/capdef.fcgi");   # -processes 3 (cap 3)
$A{starve} = $t->install_app('connid', "$h/s/starve.fcgi");      # -processes 1, load
$A{grace}  = $t->install_app('connid', "$h/g/grace.fcgi");       # graceful restart
$A{kill}   = $t->install_app('connid', "$h/k/kill.fcgi");        # SIGKILL while idle
my $DYN = $t->install_app('connid', "$h/dyn/dyn.fcgi");         # dynamic (FastCgiConfig)
my $RESP = $t->install_app('respond', "$h/r/resp.fcgi");        # local redirects
my $AUTHZ = $t->install_app('authz', "$d/auth/authz");          # access checker
my $GUARD = $t->install_app('connid', "$h/guard/g.fcgi");       # behind it

my $evlog = "$d/logs/badapp-events.log";
my $bad = $t->start_app(prog => 'badapp', name => 'badapp', env => { BADAPP_LOG => $evlog });
my $capbad = $t->start_app(prog => 'badapp', name => 'capbad');
my $nkevlog = "$d/logs/nokeep-events.log";
my $nokeep = $t->start_app(prog => 'badapp', name => 'nokeep', env => { BADAPP_NOKEEP => 1, BADAPP_LOG => $nkevlog });
my $one = $t->start_app(prog => 'connid', name => 'one');    # one libfcgi process

my $to = '-idle-timeout 10 -appConnTimeout 10';
my $conf = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiConfig $to
<Directory $h/dyn>
    Options +ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>
FastCgiServer $A{conn} -processes 1 $to
FastCgiServer $A{off} -processes 1 -keep-conn 0 $to
FastCgiServer $A{cap} -processes 3 -keep-conn 2 -init-start-delay 0 $to
FastCgiServer $A{capone} -processes 3 -keep-conn 1 -init-start-delay 0 $to
FastCgiServer $A{capdef} -processes 3 -init-start-delay 0 $to
FastCgiServer $A{starve} -processes 1 $to
FastCgiServer $A{grace} -processes 1 $to
FastCgiServer $A{kill} -processes 1 $to
FastCgiServer $RESP -processes 1 $to
FastCgiServer $AUTHZ -processes 1 $to
FastCgiServer $GUARD -processes 1 $to
<Directory $h/guard>
    FastCgiAccessChecker $AUTHZ
</Directory>
FastCgiExternalServer $h/bad.fcgi $bad->{spec} -keep-conn 2 $to
FastCgiExternalServer $h/badoff.fcgi $bad->{spec} $to
FastCgiExternalServer $h/stale.fcgi $bad->{spec} -keep-conn 1 $to
FastCgiExternalServer $h/stalepost.fcgi $bad->{spec} -keep-conn 1 $to
FastCgiExternalServer $h/stalefile.fcgi $bad->{spec} -keep-conn 1 $to
FastCgiExternalServer $h/idle.fcgi $bad->{spec} -keep-conn 1 -spool-body 0 $to
FastCgiExternalServer $h/disc.fcgi $bad->{spec} -keep-conn 1 $to
FastCgiExternalServer $h/late.fcgi $bad->{spec} -keep-conn 1 -idle-timeout 1
FastCgiExternalServer $h/stalestream.fcgi $bad->{spec} -keep-conn 1 -spool-body 0 $to
FastCgiExternalServer $h/abort.fcgi $bad->{spec} -keep-conn 1 -flush $to
FastCgiExternalServer $h/garbage.fcgi $bad->{spec} -keep-conn 1 $to
FastCgiExternalServer $h/capbad.fcgi $capbad->{spec} -keep-conn 2 $to
FastCgiExternalServer $h/nokeep.fcgi $nokeep->{spec} -keep-conn 2 $to
FastCgiExternalServer $h/nokeepstream.fcgi $nokeep->{spec} -keep-conn 2 -spool-body 0 $to
FastCgiExternalServer $h/one.fcgi $one->{spec} -keep-conn 1 $to
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF
$t->start_httpd($conf);
for my $k (sort keys %A) {
    my $n = $k =~ /^cap/ ? 3 : 1;
    is(scalar(wait_pids($t, $A{$k}, $n, 15)), $n, "setup: $k runs $n process(es)");
}

# ------------------------------------------------------------ helpers

sub url { my ($path) = @_; (my $u = $path) =~ s/^\Q$h\E//; return $u }

# connid's body as a hash (pid, ino, n, id, keep); {} when it is not one
sub cid {
    my ($r) = @_;
    return {} unless $r && ($r->{code} // 0) == 200;
    my %v = ($r->{content} // '') =~ /^(pid|ino|n|id|keep)=(\d+)$/mg;
    return \%v;
}

# badapp's connection headers of a FcgixHttp response hash
sub bid {
    my ($r) = @_;
    my $hd = $r->{headers} || {};
    return { pid => $hd->{'x-conn'}, n => $hd->{'x-conn-req'}, id => $hd->{'x-req-id'},
        keep => $hd->{'x-keep'} };
}

# $n requests over one HTTP keep-alive connection (fewer when the server
# closes it); the responses, { code => 0, err => ... } for one that failed
# at the HTTP level
sub over_one {
    my ($method, $path, $n, %o) = @_;
    my $c = $t->conn;
    my @r;
    for (1 .. $n) {
        my $r = eval { $c->request($method, $path, %o) };
        push @r, $r // { code => 0, err => $@ };
        last unless $r && $c->{sock};
    }
    $c->close;
    return @r;
}

sub brief {
    my ($r) = @_;
    return "code $r->{code}" . ($r->{err} ? " ($r->{err})" : '') . " body: "
        . substr($r->{content} // '', 0, 200);
}

# The status page's ?auto lines of the class for $path: { Name => value }
sub class_stat {
    my ($path) = @_;
    my $txt = $t->get('/fcgi-status?auto')->content;
    my %n;
    while ($txt =~ /^Class(\d+): (.*)$/mg) { $n{$2} = $1 }
    my $i = $n{$path};
    if (!defined $i) {
        diag "class $path is not on the status page";
        return {};
    }
    my %v = $txt =~ /^Class${i}(\w+): (.*)$/mg;
    return \%v;
}

# Keep-alive load: $clients forked clients, each doing $reqs GETs of $path
# (headers => {...}), 5 per connection, or (stop => FILE) looping until FILE
# exists (60 s at most). A connection the server closed without a byte of
# response, after it had served one, is reopened and the request sent again
# (what HTTP clients do; the server may close an idle keep-alive connection
# at any time). Everything else counts. ka_finish returns every request's
# { code, complete, what }.
sub ka_load {
    my ($path, $clients, %o) = @_;
    my @kids;
    for my $i (1 .. $clients) {
        my $file = "$d/ka.$i." . int(rand(1e9));
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open my $fh, '>', $file or POSIX::_exit(1);
            select((select($fh), $| = 1)[0]);
            my ($c, $used, $done) = (undef, 0, 0);
            my $end = time + 60;
            while ($o{stop} ? !-e $o{stop} && time < $end : $done < $o{reqs}) {
                if (!$c || !$c->{sock} || $used >= 5) {
                    $c->close if $c;
                    $c = eval { $t->conn(timeout => 30) };
                    $used = 0;
                    if (!$c) { (my $e = $@) =~ s/\s+/ /g; print $fh "0\t0\tconnect: $e\n"; $done++; next }
                }
                my $r = eval { $c->request('GET', $path, headers => $o{headers}) };
                my $err = $@;
                if (!$r && $used > 0 && $err =~ /closed by server/ && $c->{buf} eq '') {
                    $c->close;
                    $c = undef;
                    next;    # a keep-alive race, not a failure: retry on a new connection
                }
                $used++;
                $done++;
                $err =~ s/\s+/ /g;
                printf $fh "%d\t%d\t%s\n", $r ? $r->{code} : 0, $r && $r->{complete} ? 1 : 0,
                    $r ? substr($r->{content}, 0, 60) =~ s/\s+/ /gr : $err;
                $c = undef unless $r;
            }
            close $fh;
            POSIX::_exit(0);
        }
        push @kids, { pid => $pid, file => $file };
    }
    return \@kids;
}

sub ka_finish {
    my ($kids) = @_;
    my @res;
    for my $k (@$kids) {
        waitpid($k->{pid}, 0);
        for my $l (split /\n/, slurp($k->{file})) {
            my ($code, $complete, $what) = split /\t/, $l, 3;
            push @res, { code => $code, complete => $complete, what => $what };
        }
    }
    return @res;
}

# checks a load's results: all 200 and complete
sub all_ok {
    my ($name, $min, @res) = @_;
    my @bad = grep { $_->{code} != 200 || !$_->{complete} } @res;
    cmp_ok(scalar @res, '>=', $min, "$name: $min or more requests made");
    is(scalar @bad, 0, "$name: all " . scalar(@res) . " requests 200 and complete")
        or diag join("\n", map { "$_->{code} complete=$_->{complete} $_->{what}" } @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
}

sub events { slurp($evlog) }

# live children of a badapp (one per open connection)
sub app_conns { my ($app) = @_; return FcgixPM::children($app->{pids}[0]) }

# ------------------------------------------------------------ off

{
    my @r = over_one('GET', '/badoff.fcgi?mode=good', 4);
    my @b = map { bid($_) } @r;
    ok((!grep { $_->{code} != 200 } @r) && @r == 4, 'external, no -keep-conn: 4 x 200')
        or diag join "\n", map { brief($_) } @r;
    is(join(',', map { $_->{keep} // '-' } @b), '0,0,0,0', 'external, no -keep-conn: no KEEP_CONN flag');
    is(join(',', map { $_->{n} // '-' } @b), '1,1,1,1', 'external, no -keep-conn: each request on a fresh connection');

    @r = over_one('GET', url($A{off}), 4);
    my @c = map { cid($_) } @r;
    is(join(',', map { $_->{keep} // '-' } @c), '0,0,0,0', 'FastCgiServer -keep-conn 0: no KEEP_CONN flag');
    is(join(',', map { $_->{n} // '-' } @c), '1,1,1,1', 'FastCgiServer -keep-conn 0: each request on a fresh connection');
}

# ------------------------------------------------------------ 1./2. reuse

# the requests of @v (each { pid, ino|-, n, id, keep }) arrived on one
# connection, one after another, with fresh request ids
sub one_connection {
    my ($name, $idkey, @v) = @_;
    my %conns = map { (($_->{pid} // '?') . '/' . ($_->{$idkey} // '?')) => 1 } @v;
    is(scalar keys %conns, 1, "$name: all requests on one FastCGI connection")
        or diag join(' ', sort keys %conns);
    is(join(',', map { $_->{keep} // '-' } @v), join(',', (1) x @v), "$name: every BEGIN_REQUEST has KEEP_CONN");
    my $n0 = $v[0]{n} // 0;
    is(join(',', map { $_->{n} // '-' } @v), join(',', map { $n0 + $_ } 0 .. $#v),
        "$name: the app counts them as consecutive requests on that connection");
    my @same = grep { ($v[$_]{id} // -1) == ($v[$_ - 1]{id} // -1) } 1 .. $#v;
    is(scalar @same, 0, "$name: each use of the kept connection has a new request id")
        or diag 'ids: ' . join(',', map { $_->{id} // '-' } @v);
}

{
    my @r = over_one('GET', url($A{conn}), 6);
    ok(@r == 6 && !grep({ $_->{code} != 200 } @r), 'FastCgiServer -processes 1: 6 x 200')
        or diag join "\n", map { brief($_) } @r;
    one_connection('FastCgiServer -processes 1 (default -keep-conn)', 'ino', map { cid($_) } @r);

    # (the first request starts the app, on the same client connection, so
    # no other httpd process holds the one connection the cap allows; the
    # status page then counts its process: the cap is the processes running)
    my $c = $t->conn;
    my $r0 = eval { $c->request('GET', url($DYN)) } // { code => 0, err => $@ };
    is($r0->{code}, 200, 'dynamic app: started') or diag brief($r0);
    ok($t->wait_for(sub { (class_stat($DYN)->{Processes} // 0) >= 1 }, 10), 'dynamic app: its process is counted');
    @r = ();
    for (1 .. 6) {
        push @r, eval { $c->request('GET', url($DYN)) } // { code => 0, err => $@ };
        last unless $c->{sock};
    }
    $c->close;
    ok(@r == 6 && !grep({ $_->{code} != 200 } @r), 'dynamic app: 6 x 200')
        or diag join "\n", map { brief($_) } @r;
    one_connection('dynamic app (FastCgiConfig, default -keep-conn)', 'ino', map { cid($_) } @r);

    @r = over_one('GET', '/bad.fcgi?mode=good', 6);
    ok(@r == 6 && !grep({ $_->{code} != 200 || $_->{content} ne "hello from badapp\n" } @r),
        'external badapp -keep-conn 2: 6 x 200, body intact') or diag join "\n", map { brief($_) } @r;
    one_connection('external badapp -keep-conn 2', 'pid', map { bid($_) } @r);

    # other requests (env, echo with a body in a PUT: a POST never takes a
    # kept connection) on the kept connection
    $c = $t->conn;
    my @v;
    for my $q ('mode=env', 'mode=echo', 'mode=good', 'mode=echo') {
        my $body = $q eq 'mode=echo' ? FcgixTest::pattern(5000 + scalar @v) : undef;
        my $r = eval { $c->request(defined $body ? 'PUT' : 'GET', "/bad.fcgi?$q", body => $body) }
            // { code => 0, err => $@ };
        ok($r->{code} == 200 && (!defined $body || $r->{content} eq $body), "badapp $q on the kept connection: 200, right body")
            or diag brief($r);
        like($r->{content}, qr/^QUERY_STRING=mode=env$/m, 'env: its own params, not the previous request\'s')
            if $q eq 'mode=env';
        push @v, bid($r);
    }
    $c->close;
    one_connection('external badapp, env/echo/good mixed', 'pid', @v);
}

# ------------------------------------------------------------ 10. status

{
    my $s = class_stat($A{conn});
    ok(defined $s->{Reuses} && $s->{Reuses} > 0, "?auto: ClassNReuses > 0 for the managed app (" . ($s->{Reuses} // 'missing') . ')');
    ok(defined $s->{IdleKept} && $s->{IdleKept} <= 1, "?auto: ClassNIdleKept <= 1 (processes 1) (" . ($s->{IdleKept} // 'missing') . ')');
    $s = class_stat("$h/bad.fcgi");
    ok(defined $s->{Reuses} && $s->{Reuses} > 0, "?auto: ClassNReuses > 0 for the external app (" . ($s->{Reuses} // 'missing') . ')');
    ok(defined $s->{IdleKept} && $s->{IdleKept} <= 2, "?auto: ClassNIdleKept <= 2 for -keep-conn 2 (" . ($s->{IdleKept} // 'missing') . ')');
    for my $p ($A{off}, "$h/badoff.fcgi") {
        $s = class_stat($p);
        is($s->{Reuses}, 0, "?auto: ClassNReuses 0 with keep-conn off (" . url($p) . ')');
        is($s->{IdleKept}, 0, "?auto: ClassNIdleKept 0 with keep-conn off (" . url($p) . ')');
    }

    # caps under bursts: -processes 3 -keep-conn 2 -> 2; external -keep-conn 2 -> 2
    for my $case ([url($A{cap}), $A{cap}, 2], ['/capbad.fcgi?mode=good', "$h/capbad.fcgi", 2]) {
        my ($u, $p, $cap) = @$case;
        my ($max, $missing) = (0, 0);
        for my $round (1 .. 3) {
            my $k = ka_load($u, 12, reqs => 4);
            my $polls = 0;
            while (grep { FcgixPM::alive($_->{pid}) } @$k) {    # sample while it runs
                my $v = class_stat($p)->{IdleKept};
                $missing++ unless defined $v;
                $max = $v if ($v // 0) > $max;
                last if ++$polls > 200;
            }
            all_ok("burst $round on $u", 48, ka_finish($k));
            my $v = class_stat($p)->{IdleKept};
            $missing++ unless defined $v;
            $max = $v if ($v // 0) > $max;
        }
        ok(!$missing && $max <= $cap, "$u: ClassNIdleKept never seen above $cap (max $max, missing $missing times)");
        my $s = class_stat($p);
        ok(($s->{Reuses} // 0) > 0, "$u: connections were reused under the bursts (" . ($s->{Reuses} // 'missing') . ')');
    }
    # six client connections open at once (under prefork: six httpd
    # children), one request each, twice: the idle connections held stay
    # within min(N, processes)
    for my $case ([$A{capone}, 1], [$A{capdef}, 3]) {
        my ($p, $cap) = @$case;
        my @c = map { $t->conn } 1 .. 6;
        my (@r, @idle);
        for my $round (1, 2) {
            for my $c (@c) {
                push @r, eval { $c->request('GET', url($p)) } // { code => 0, err => $@ };
            }
            push @idle, class_stat($p)->{IdleKept} // 'missing';
        }
        $_->close for @c;
        ok(!grep({ $_->{code} != 200 } @r), url($p) . ': 12 requests from 6 client connections, all 200');
        ok(!grep({ !/^\d+$/ || $_ > $cap } @idle), url($p) . ": ClassNIdleKept <= $cap after each round (@idle)");
    }

    my $n;
    ok($t->wait_for(sub { $n = () = app_conns($capbad); $n <= 2 }, 5),
        "external -keep-conn 2: the app has at most 2 connections open once the bursts are over ($n)");
}

# ------------------------------------------------------------ 3. app ignores KEEP_CONN

{
    my $off = length $t->error_log;
    my @r = over_one('GET', '/nokeep.fcgi?mode=good', 8);
    ok(@r == 8 && !grep({ $_->{code} != 200 || $_->{content} ne "hello from badapp\n" } @r),
        'app closing after each response: 8 GETs over one client connection, all 200') or diag join "\n", map { brief($_) } @r;
    is(join(',', map { bid($_)->{n} // '-' } @r), join(',', (1) x 8), 'app closing after each response: each request on a fresh connection');
    my $body = FcgixTest::pattern(3000);
    @r = over_one('POST', '/nokeep.fcgi?mode=echo', 4, body => $body);
    ok(@r == 4 && !grep({ $_->{code} != 200 || $_->{content} ne $body } @r),
        'app closing after each response: 4 read-ahead POSTs, all 200 with the body') or diag join "\n", map { brief($_) } @r;
    # A streamed body cannot be sent again: once the app has closed the
    # connection (its "end" event, logged after its FIN), httpd must see that
    # and not use it. (Before the FIN arrives nobody can know: see the top.)
    my $c = $t->conn;
    @r = ();
    for (1 .. 4) {
        my $r = eval { $c->request('POST', '/nokeepstream.fcgi?mode=echo', body => $body) } // { code => 0, err => $@ };
        push @r, $r;
        my $p = bid($r)->{pid} // 0;
        $t->wait_for(sub { slurp($nkevlog) =~ /^end pid=$p /m }, 10);
        $c = $t->conn unless $c->{sock};
    }
    $c->close;
    ok(!grep({ $_->{code} != 200 || $_->{content} ne $body } @r),
        'app closing after each response: 4 streamed POSTs, each after the app closed, all 200 with the body')
        or diag join "\n", map { brief($_) } @r;
    unlike(substr($t->error_log, $off), $FCGI_ERR_LINE, 'app closing after each response: no FCGIX01xx line');
    # Back to back, the next streamed POST can reach httpd before the app's
    # FIN does: it must not take the connection the app is closing (a body
    # that streams cannot be sent twice, so it always gets a fresh one).
    {
        my @r = over_one('POST', '/nokeepstream.fcgi?mode=echo', 20, body => $body);
        my @bad = grep { $_->{code} != 200 || $_->{content} ne $body } @r;
        is(scalar @bad, 0, 'app closing after each response: 20 streamed POSTs back to back, all 200')
            or diag scalar(@bad) . ' of ' . scalar(@r) . ' failed, first: ' . brief($bad[0]);
    }

}

# ------------------------------------------------------------ 4. stale kept connection

# On one client connection: a stale_next request (the app keeps the
# connection, to close it at the next BEGIN_REQUEST), then $method $path.
# Returns (first response, second response, pid of the stale connection).
sub after_stale {
    my ($file, $method, $q, $body) = @_;
    my $c = $t->conn;
    my $r1 = eval { $c->request('GET', "/$file?mode=stale_next") } // { code => 0, err => $@ };
    my $r2 = eval { $c->request($method, "/$file?$q", body => $body) } // { code => 0, err => $@ };
    $c->close;
    return ($r1, $r2, bid($r1)->{pid} // 0);
}

{
    my ($r1, $r2, $p) = after_stale('stale.fcgi', 'GET', 'mode=good');
    is($r1->{code}, 200, 'stale: stale_next answered 200') or diag brief($r1);
    is($r2->{code}, 200, 'stale: the next GET 200 (retried on a fresh connection)') or diag brief($r2);
    is($r2->{content}, "hello from badapp\n", 'stale: with the right body');
    like(events(), qr/^stale pid=$p /m, 'stale: httpd did send the GET on the kept connection first');
    isnt(bid($r2)->{pid} // 0, $p, 'stale: the GET was answered on another connection');

    my $body = FcgixTest::pattern(4000);
    ($r1, $r2, $p) = after_stale('stalepost.fcgi', 'PUT', 'mode=echo', $body);
    is($r2->{code}, 200, 'stale: the next small (read-ahead) PUT 200') or diag brief($r2);
    ok($r2->{content} eq $body, 'stale: with the request body intact')
        or diag 'got ' . length($r2->{content}) . ' bytes';
    like(events(), qr/^stale pid=$p /m, 'stale: httpd did send the PUT on the kept connection first');
    # a POST may not run twice (the app may have begun on it before it
    # dropped the connection): it never takes a kept connection
    ($r1, $r2, $p) = after_stale('stalepost.fcgi', 'POST', 'mode=echo', $body);
    is($r2->{code}, 200, 'stale: a small POST 200') or diag brief($r2);
    ok($r2->{content} eq $body, 'stale: the POST with its body intact');
    unlike(events(), qr/^stale pid=$p /m, 'stale: the POST was not sent on the kept connection');

    my $off = length $t->error_log;
    ($r1, $r2, $p) = after_stale('stalestream.fcgi', 'POST', 'mode=echo', $body);
    is($r1->{code}, 200, 'stale, streamed body: stale_next answered 200') or diag brief($r1);
    unlike(events(), qr/^stale pid=$p /m, 'stale, streamed body: httpd did not send the POST on the kept connection');
    is($r2->{code}, 200, 'stale, streamed body (-spool-body 0): the POST 200 on a fresh connection') or diag brief($r2);
    ok($r2->{content} eq $body, 'stale, streamed body: with the request body intact')
        or diag 'got ' . length($r2->{content}) . ' bytes';
    isnt(bid($r2)->{pid} // 0, $p, 'stale, streamed body: answered on another connection');
    unlike(substr($t->error_log, $off), $FCGI_ERR_LINE, 'stale, streamed body: no FCGIX01xx line');
    my @r = over_one('GET', '/stalestream.fcgi?mode=good', 2);
    ok(@r == 2 && !grep({ $_->{code} != 200 } @r), 'stale, streamed body: the app is served again afterwards');

    # a read-ahead body above 64 KiB (spooled to a temporary file)
    my $big = FcgixTest::pattern(200_000);
    ($r1, $r2, $p) = after_stale('stalefile.fcgi', 'PUT', 'mode=echo', $big);
    like(events(), qr/^stale pid=$p /m, 'stale, 200 KB read-ahead body: httpd sent the PUT on the kept connection');
    is($r2->{code}, 200, 'stale, 200 KB read-ahead body: the PUT 200') or diag brief($r2);
    ok($r2->{content} eq $big, 'stale, 200 KB read-ahead body: body intact')
        or diag 'got ' . length($r2->{content}) . ' bytes';
}

# the app closes a kept connection while it is idle (as apps with an idle
# timeout do): the next request, even with a streamed body, gets a fresh
# connection and its answer
{
    my $c = $t->conn;
    my $r1 = eval { $c->request('GET', '/idle.fcgi?mode=close_idle&ms=200') } // { code => 0, err => $@ };
    my $p = bid($r1)->{pid} // 0;
    is($r1->{code}, 200, 'idle close: close_idle answered 200') or diag brief($r1);
    ok($t->wait_for(sub { events() =~ /^idleclose pid=$p /m }, 10), 'idle close: the app closed the idle connection');
    my $body = FcgixTest::pattern(3000);
    my $r2 = eval { $c->request('POST', '/idle.fcgi?mode=echo', body => $body) } // { code => 0, err => $@ };
    is($r2->{code}, 200, 'idle close: the next POST (streamed body) 200') or diag brief($r2);
    ok(($r2->{content} // '') eq $body, 'idle close: body intact');
    $c->close;
}

# ------------------------------------------------------------ bodies httpd discards

# HEAD, 304 and a local redirect: the app's response is not passed on, yet
# the next request on the same kept connection must get its own answer
{
    my $c = $t->conn;
    my @seq = (
        [HEAD => '/disc.fcgi?mode=good&size=100', 200],
        [GET  => '/disc.fcgi?mode=good', 200, "hello from badapp\n"],
        [HEAD => '/disc.fcgi?mode=good&size=300000', 200],
        [GET  => '/disc.fcgi?mode=good', 200, "hello from badapp\n"],
        [GET  => '/disc.fcgi?mode=lastmod', 304, '', 'If-Modified-Since' => 'Sat, 01 Jan 2000 00:00:00 GMT'],
        [GET  => '/disc.fcgi?mode=good', 200, "hello from badapp\n"],
        [GET  => '/disc.fcgi?mode=location&to=%2Fdisc.fcgi%3Fmode%3Dgood', 200, "hello from badapp\n"],
        [GET  => '/disc.fcgi?mode=good', 200, "hello from badapp\n"],
    );
    my @n;
    for my $s (@seq) {
        my ($m, $u, $code, $want, %hd) = @$s;
        $c = $t->conn unless $c->{sock};
        my $r = eval { $c->request($m, $u, headers => \%hd) } // { code => 0, err => $@ };
        ok($r->{code} == $code && (!defined $want || $r->{content} eq $want), "kept connection after a discarded body: $m $u: $code")
            or diag brief($r);
        push @n, bid($r)->{n} // '-';
    }
    $c->close;
    ok((grep { /^\d+$/ && $_ > 1 } @n), 'discarded bodies: the sequence did use kept connections')
        or diag "X-Conn-Req: @n";
    note "X-Conn-Req in the sequence: @n";
    # a local redirect to the same one-process app: the connection of the
    # first response must not be held while the redirect is served
    my @r = over_one('GET', url($RESP) . '?location=' . url($RESP) . '%3Fsize%3D10', 3);
    ok(@r == 3 && !grep({ $_->{code} != 200 || $_->{content} ne FcgixTest::pattern(10) } @r),
        'local redirect to the same -processes 1 app: 3 x 200 with the redirect target\'s body')
        or diag join "\n", map { brief($_) } @r;
}

# ------------------------------------------------------------ a late answer

# -idle-timeout 1 expires (504) on a kept connection whose app answers
# later: that connection is closed, never used for the next request (which
# would read the late answer as its own)
{
    my $off = length events();
    my $c = $t->conn;
    my $r1 = eval { $c->request('GET', '/late.fcgi?mode=good') } // { code => 0, err => $@ };
    is($r1->{code}, 200, 'late answer: a first request keeps a connection') or diag brief($r1);
    my $r2 = eval { $c->request('GET', '/late.fcgi?mode=good&wait=2500&late=1') } // { code => 0, err => $@ };
    is($r2->{code}, 504, 'late answer: -idle-timeout 1 expired: 504') or diag brief($r2);
    my ($pid, $keep) = substr(events(), $off) =~ /^begin pid=(\d+) .* keep=(\d) q=mode=good&wait=2500&late=1$/m;
    ok($pid, 'late answer: the app got the request') or diag substr(events(), $off);
    is($keep, 1, 'late answer: the request was sent with KEEP_CONN');
    $pid //= 0;
    my @r;
    for (1 .. 4) {
        $c = $t->conn unless $c->{sock};
        push @r, eval { $c->request('GET', '/late.fcgi?mode=good&size=100') } // { code => 0, err => $@ };
    }
    $c->close;
    ok(!grep({ $_->{code} != 200 || $_->{content} ne FcgixTest::pattern(100) } @r),
        'late answer: the next requests 200 with their own body') or diag join "\n", map { brief($_) } @r;
    ok(!grep({ (bid($_)->{pid} // 0) == $pid } @r), 'late answer: none of them on the timed-out connection');
    ok($t->wait_for(sub { events() =~ /^end pid=$pid /m || !FcgixPM::alive($pid) }, 10),
        'late answer: httpd closed the timed-out connection');
}

# an app that answers without reading the request body (libfcgi, one
# process): the next request on the kept connection gets its own answer
{
    my $c = $t->conn;
    my @r;
    for my $size (100, 300_000) {
        $c = $t->conn unless $c->{sock};
        my $r = eval { $c->request('POST', url($RESP) . '?readbody=0', body => FcgixTest::pattern($size)) }
            // { code => 0, err => $@ };
        is($r->{code}, 200, "body not read by the app ($size bytes): 200") or diag brief($r);
        $c = $t->conn unless $c->{sock};
        $r = eval { $c->request('GET', url($RESP) . '?size=50') } // { code => 0, err => $@ };
        ok($r->{code} == 200 && $r->{content} eq FcgixTest::pattern(50),
            "body not read by the app ($size bytes): the next request 200 with its own body") or diag brief($r);
    }
    $c->close;
}

# ------------------------------------------------------------ 5. client abort

{
    my $off = length events();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
        or die "connect: $!";
    binmode $s;
    print $s "GET /abort.fcgi?mode=abortwatch&n=100&ms=100 HTTP/1.1\r\nHost: x\r\n\r\n";
    my $raw = '';
    my $sel = IO::Select->new($s);
    my $end = time + 10;
    while (time < $end && $raw !~ /chunk 1\n/) {
        last unless $sel->can_read($end - time);
        last unless sysread($s, $raw, 65536, length $raw);
    }
    my ($pid) = $raw =~ /^X-Conn: (\d+)/mi;
    my ($id) = $raw =~ /^X-Req-Id: (\d+)/mi;
    ok($pid && $id && $raw =~ /chunk 1/, 'abort: the first bytes of a slow response arrived')
        or diag $raw;
    like($raw, qr/^X-Keep: 1\r?$/mi, 'abort: the request was sent with KEEP_CONN');
    close $s;
    $pid //= 0;
    $id //= -1;
    my $ev = '';
    ok($t->wait_for(sub { ($ev = substr(events(), $off)) =~ /^(abort|eof) pid=$pid /m }, 15),
        'abort: the app saw the end of the request') or diag $ev;
    like($ev, qr/^abort pid=$pid n=\d+ id=$id$/m, "abort: the app received ABORT_REQUEST for request id $id");
    ok($t->wait_for(sub { !FcgixPM::alive($pid) }, 10),
        'abort: httpd closed that connection (the app child serving it ended)');
    my @r = map { over_one('GET', '/abort.fcgi?mode=good', 3) } 1 .. 4;
    ok(!grep({ $_->{code} != 200 } @r), 'abort: later requests 200');
    ok(!grep({ (bid($_)->{pid} // 0) == $pid } @r), 'abort: none of them on the aborted connection');
}

# ------------------------------------------------------------ 6. data after END_REQUEST

{
    my $off = length events();
    my $r = raw_req($t, 'GET', '/garbage.fcgi?mode=garbage&g=1', timeout => 20);
    is($r->{code}, 200, 'garbage after END_REQUEST: the 200 headers were already out (as in t/18)') or diag show($r);
    ok(!$r->{complete}, 'garbage after END_REQUEST: the client does not see a complete response (as in t/18)')
        or diag show($r);
    my ($pid, $keep) = substr(events(), $off) =~ /^begin pid=(\d+) .* keep=(\d) q=mode=garbage&g=1$/m;
    ok($pid, 'garbage: the app served it') or diag substr(events(), $off);
    is($keep, 1, 'garbage: the request was sent with KEEP_CONN');
    $pid //= 0;
    ok($t->wait_for(sub { !FcgixPM::alive($pid) }, 10),
        'garbage: httpd closed that connection (the app child serving it ended)');
    my @r = map { over_one('GET', '/garbage.fcgi?mode=good', 3) } 1 .. 4;
    ok(!grep({ $_->{code} != 200 || $_->{content} ne "hello from badapp\n" } @r),
        'garbage: later requests 200 with their own body') or diag join "\n", map { brief($_) } @r;
    ok(!grep({ (bid($_)->{pid} // 0) == $pid } @r), 'garbage: none of them on that connection');
}

# ------------------------------------------------------------ 9. SIGKILL while held idle

{
    my $c = $t->conn;
    my $r = eval { $c->request('GET', url($A{kill})) } // { code => 0, err => $@ };
    my $pid = cid($r)->{pid} // 0;
    my @mine = app_pids($t, $A{kill});
    ok($pid && grep({ $_ == $pid } @mine), 'kill: the app answered, its pid is the class\'s process')
        or diag brief($r);
    my $idle = class_stat($A{kill})->{IdleKept};
    ok(($idle // 0) >= 1, 'kill: a connection to it is held idle (ClassNIdleKept ' . ($idle // 'missing') . ')');
    if ($pid && grep { $_ == $pid } @mine) {
        $t->allow_log(qr/\b$pid\b.*(exit signal|Killed)/);
        kill 'KILL', $pid;
        ok($t->wait_for(sub { !FcgixPM::alive($pid) }, 5), 'kill: the process is gone');
    }
    my @r;
    for (1 .. 5) {
        my $x = eval { $c->request('GET', url($A{kill})) } // { code => 0, err => $@ };
        push @r, $x;
        last unless $c->{sock};
    }
    $c->close;
    push @r, map { over_one('GET', url($A{kill}), 3) } 1 .. 3;
    ok(!grep({ $_->{code} != 200 } @r), 'kill: the ' . scalar(@r) . ' requests after it all 200')
        or diag join "\n", map { brief($_) } @r;
    ok(!grep({ (cid($_)->{pid} // 0) == $pid } @r), 'kill: none answered by the killed process');
}

# ------------------------------------------------------------ 7. no starvation

for my $path (url($A{starve}), '/one.fcgi') {
    my $off = length $t->error_log;
    my $k = ka_load($path, 24, reqs => 5);
    all_ok("24 keep-alive clients x 5 on $path (one process, one kept connection)", 120, ka_finish($k));
    unlike(substr($t->error_log, $off), $FCGI_ERR_LINE, "$path: no FCGIX01xx line under the load");
}
{
    my $s = class_stat($A{starve});
    ok(defined $s->{IdleKept} && $s->{IdleKept} <= 1, "after the load: ClassNIdleKept <= 1 (" . ($s->{IdleKept} // 'missing') . ')');
    $s = class_stat("$h/one.fcgi");
    ok(defined $s->{IdleKept} && $s->{IdleKept} <= 1, "after the load: ClassNIdleKept <= 1 for -keep-conn 1 (" . ($s->{IdleKept} // 'missing') . ')');
}

# ------------------------------------------------------------ access checker

# an access checker (FastCgiServer -processes 1, kept connections by
# default) in front of a -processes 1 responder: grants and denials over
# one client connection, then a keep-alive load: every answer right
{
    my $c = $t->conn;
    my @bad;
    for my $i (1 .. 8) {
        my $yes = $i % 2;
        $c = $t->conn unless $c->{sock};
        my $r = eval { $c->request('GET', url($GUARD), headers => { $yes ? ('X-Let-Me-In' => 'yes') : () }) }
            // { code => 0, err => $@ };
        push @bad, "request $i: " . brief($r) if $r->{code} != ($yes ? 200 : 403) || ($yes && !cid($r)->{pid});
    }
    $c->close;
    is(scalar @bad, 0, 'access checker: 8 alternating grants and denials over one client connection')
        or diag join "\n", @bad;
    my @res = ka_finish(ka_load(url($GUARD), 12, reqs => 5, headers => { 'X-Let-Me-In' => 'yes' }));
    all_ok('access checker: 12 keep-alive clients x 5 (checker and app one process each)', 60, @res);
    note 'access checker: ClassNReuses ' . (class_stat($AUTHZ)->{Reuses} // 'missing');
}

# ------------------------------------------------------------ 8. graceful restart

{
    my $stop = "$d/ka.stop";
    my $k1 = ka_load(url($A{grace}), 6, stop => $stop);
    my $k2 = ka_load('/bad.fcgi?mode=good', 6, stop => $stop);
    my @kids = (@$k1, @$k2);
    my $made = sub { my $n = 0; $n += () = slurp($_->{file}) =~ /\n/g for @kids; $n };
    ok($t->wait_for(sub { !grep { slurp($_->{file}) !~ /\n/ } @kids }, 15),
        'graceful: every load client has made requests');
    my $ok = eval { $t->restart_httpd(undef); $t->restart_httpd(undef); 1 };
    ok($ok, 'graceful: two graceful restarts under the load') or diag $@;
    my $n0 = $made->();
    ok($t->wait_for(sub { $made->() >= $n0 + 100 }, 20), 'graceful: the load went on after them');
    $t->write_file($stop, '');
    all_ok('graceful restarts under load, managed app', 20, ka_finish($k1));
    all_ok('graceful restarts under load, external app', 20, ka_finish($k2));
    my @r = over_one('GET', url($A{grace}), 3);
    ok(@r == 3 && !grep({ $_->{code} != 200 } @r), 'graceful: served afterwards')
        or diag join "\n", map { brief($_) } @r;
}

# ------------------------------------------------------------ 11. php-fpm

SKIP: {
    my $FPM = '/usr/sbin/php-fpm8.2';
    skip "php-fpm8.2 not installed ($FPM missing)", 3 unless -x $FPM;
    my $sock = "$d/sock/php.sock";
    my $fpm_conf = $t->write_file('php-fpm.conf', <<"EOF");
[global]
pid = $d/php-fpm.pid
error_log = $d/logs/php-fpm.log
daemonize = no
[pool]
@{[ $> == 0 ? "user = www-data\ngroup = www-data\nlisten.owner = www-data\nlisten.group = www-data\n" : '' ]}listen = $sock
listen.mode = 0660
pm = static
pm.max_children = 2
EOF
    $t->write_file('htdocs/fpm/pid.php', "<?php header('Content-Type: text/plain'); echo 'pid=', getmypid(), \"\\n\";\n");
    $t->spawn([$FPM, '-F', '-R', '-y', $fpm_conf], name => 'php-fpm');
    ok($t->wait_for(sub { -S $sock }, 15), 'php-fpm listens') or skip 'php-fpm did not start', 2;
    if (!eval { $t->restart_httpd($conf . "FastCgiExternalServer $h/fpm/pid.php -socket $sock -keep-conn 2 $to\n"); 1 }) {
        fail('php-fpm: httpd restarted with it') or diag $@;
        $t->conf($conf);    # so that the cleanup can stop httpd
        skip 'no httpd for php-fpm', 1;
    }
    my $off = length $t->error_log;
    my $k = ka_load('/fpm/pid.php', 30, reqs => 5);
    all_ok('php-fpm (2 children) -keep-conn 2, 30 keep-alive clients x 5', 150, ka_finish($k));
    my $s = class_stat("$h/fpm/pid.php");
    ok(($s->{Reuses} // 0) > 0, 'php-fpm: kept connections were reused (' . ($s->{Reuses} // 'missing') . ')');
}

$t->done;
done_testing;
