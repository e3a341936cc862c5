# 47-backends.t - several backends per FastCgiExternalServer (issue 14):
# balancing and failover, seen from outside. Real backends: t/apps/whoami
# (libfcgi, answers with BACKEND_NAME and the address it accepted on) on
# 127.0.0.2, 127.0.0.3, ::1 (when available) and Unix sockets; t/apps/badapp
# for FCGI_OVERLOADED; t/apps/printenv for -docroot; t/apps/authz as an
# authorizer; php-fpm8.2 pools on 127.0.0.2:P and 127.0.0.3:P.
#
#  1. config errors: apache2 -t fails naming the directive and the option
#     (-weight first / 0 / 1001 / x, -disable-time -1 / 3601, -probe x,
#     -probe-timeout 0, -resolve -1, -retry-methods '' and bad tokens,
#     -docroot relative, 17 backends); a config using them all passes;
#  2. balancing: sequential and concurrent requests spread over two and
#     three backends (each gets some, roughly even); -weight 3 vs 1 under
#     concurrency: the heavier one gets clearly more; php-fpm pools on two
#     addresses both serve;
#  3. a stopped backend is skipped (every request 200), FCGIX0130 names the
#     app and the address, ?auto says `down`; started again on the same
#     address it gets requests again after -disable-time (2 s); both
#     stopped: 503; one started again: served at once; -disable-time 0:
#     a refusing backend is tried every time and stays up; a connect that
#     times out (a full backlog-0 listener, -appConnTimeout 4: 2 s each of
#     two): skipped,
#     FCGIX0130 timed out, ?auto down, Timeouts > 0;
#  4. a backend answering FCGI_OVERLOADED is skipped (FCGIX0130 overloaded),
#     the other one serves;
#  5. a backend killed (SIGKILL) while it holds a request: GET is sent again
#     to the other one (200, FCGIX0131); a POST whose body was spooled whole
#     too when -retry-methods has POST; a POST with a streamed body
#     (-spool-body 0) is not (502); with -retry-methods none a GET is not
#     (502), nor with -retry-methods HEAD,OPTIONS (GET is not HEAD); the
#     other backend never saw the requests that were not retried;
#  6. -docroot: DOCUMENT_ROOT, SCRIPT_FILENAME, PATH_TRANSLATED under DIR;
#  7. FastCgiAuthenticator + FastCgiAuthorizer on two backends, one stopped:
#     grant (200), the authorizer's denial (401 with its X-Denied-Because),
#     a bad password (401);
#  8. ?auto lists every backend with the contract's keys, the HTML page a
#     row per backend.
use strict;
use warnings;
use Test::More;
use IO::Socket::IP;
use IO::Socket::INET;
use IO::Select;
use Socket ();
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixBackends;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $ipc = "$d/ipc";
my $V6 = $t->have_ipv6;

# ------------------------------------------------------------ 1. config errors
sub bad_config {
    my ($name, $args, @must) = @_;
    my $app = "$h/bad.fcgi";
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiExternalServer $app $args\n");
    ok(!$ok, "config: $name: apache2 -t fails") or diag $out;
    like($out, qr/FastCgiExternalServer/, "config: $name: output names the directive") or diag $out;
    for my $m (@must) {
        like($out, qr/(?<![\w-])\Q$m\E(?![\w-])/, "config: $name: output names $m") or diag $out;
    }
}

my $two = '-host 127.0.0.2:9000 -host 127.0.0.3:9000';
bad_config('-weight before any backend', "-weight 2 $two", '-weight');
bad_config("-weight $_", "$two -weight $_", '-weight') for qw(0 1001 x);
bad_config("-disable-time $_", "$two -disable-time $_", '-disable-time') for qw(-1 3601);
bad_config('-probe x', "$two -probe x", '-probe');
bad_config('-probe-timeout 0', "$two -probe-timeout 0", '-probe-timeout');
bad_config('-resolve -1', "$two -resolve -1", '-resolve');
bad_config("-retry-methods $_", "$two -retry-methods $_", '-retry-methods')
    for ('""', 'GET;POST', 'G(T', 'FROB', 'none,GET');
bad_config('-docroot relative', "$two -docroot rel/dir", '-docroot');
bad_config('17 backends', join(' ', map { "-host 127.0.0.2:" . (9000 + $_) } 1 .. 17), '-host');
{
    my $good = "FastCgiIpcDir $ipc\nFastCgiExternalServer $h/good.fcgi -host 127.0.0.2:9000 -weight 1000 "
        . "-socket $d/sock/x.sock -weight 1 -host [::1]:9001 -disable-time 3600 -probe 3600 "
        . "-probe-timeout 60 -resolve 86400 -retry-methods GET,HEAD,OPTIONS,POST -docroot /srv/app\n"
        . "FastCgiExternalServer $h/good0.fcgi -host 127.0.0.2:9000 -disable-time 0 -probe 0 -resolve 0 "
        . "-retry-methods none\n"
        . "FastCgiExternalServer $h/good16.fcgi " . join(' ', map { "-host 127.0.0.2:" . (9000 + $_) } 1 .. 16)
        . "\n";
    my ($ok, $out) = $t->config_test($good);
    ok($ok, 'config: every new option at its bounds, 16 backends: apache2 -t passes') or diag $out;
}

# A listener with backlog 0 that never accepts, its queue filled with our
# own connections: further SYNs go unanswered, a connect() hangs (as in
# t/19-connect.t). Returns (listener, fillers); the listener's port in
# $black->{port}.
sub blackhole {
    my ($ip) = @_;
    socket(my $l, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die "socket: $!";
    bind($l, Socket::pack_sockaddr_in(0, Socket::inet_aton($ip))) or die "bind: $!";
    listen($l, 0) or die "listen: $!";
    my ($port) = Socket::unpack_sockaddr_in(getsockname($l));
    my $addr = Socket::pack_sockaddr_in($port, Socket::inet_aton($ip));
    my @f;
    for (1 .. 8) {
        my $s = IO::Socket::INET->new(Proto => 'tcp', Blocking => 0) or die "socket: $!";
        push @f, $s;
        next if connect($s, $addr);
        my $w = '';
        vec($w, fileno($s), 1) = 1;
        last if !select(undef, $w, undef, 1);    # this one hangs: the queue is full
    }
    return ({ sock => $l, port => $port, hostport => "$ip:$port" }, @f);
}

# ------------------------------------------------------------ backends
my $P = $t->free_port;           # the balancing set: A, B (TCP), C (::1 or Unix), U (Unix)
my $P6 = $V6 ? $t->free_port('inet6') : undef;
my %be;
$be{A} = backend($t, 'A', '127.0.0.2', $P, count => 8);
$be{B} = backend($t, 'B', '127.0.0.3', $P, count => 8);
$be{C} = $V6 ? backend($t, 'C', '::1', $P6, count => 8) : backend($t, 'C', 'unix', "$d/sock/c.sock", count => 8);
$be{U} = backend($t, 'U', 'unix', "$d/sock/u.sock", count => 8);

my $PF = $t->free_port;          # failover on stop: FA, FB
$be{FA} = backend($t, 'FA', '127.0.0.2', $PF);
$be{FB} = backend($t, 'FB', '127.0.0.3', $PF);

my $P0 = $t->free_port;          # -disable-time 0: ZA, nothing on 127.0.0.3
$be{ZA} = backend($t, 'ZA', '127.0.0.2', $P0);

my $PT = $t->free_port;          # connect timeout: TA, a full backlog-0 listener on 127.0.0.3
$be{TA} = backend($t, 'TA', '127.0.0.2', $PT);
my ($black, @fillers) = blackhole('127.0.0.3');

my $PO = $t->free_port;          # overloaded: OA (whoami), OB (badapp)
$be{OA} = backend($t, 'OA', '127.0.0.2', $PO);
my $ovlog = $t->write_file('logs/badapp-ov.events', '', 0666);
my $ob = $t->start_app(prog => 'badapp', name => 'badapp-ov', host => '127.0.0.3', port => $PO,
    env => { BADAPP_LOG => $ovlog });

my $PK = $t->free_port;          # killed mid-request: KA, KB
$be{KA} = backend($t, 'KA', '127.0.0.2', $PK, count => 2);
$be{KB} = backend($t, 'KB', '127.0.0.3', $PK, count => 2);

my $PD = $t->free_port;          # -docroot: printenv on two addresses
my @pe = map { $t->start_app(prog => 'printenv', name => "printenv-$_", host => $_, port => $PD) }
    qw(127.0.0.2 127.0.0.3);

my $PZ = $t->free_port;          # authorizer on two addresses, one to be stopped
my $authz_log = $t->write_file('logs/authz-calls.log', '', 0666);
my @az = map { $t->start_app(prog => 'authz', name => "authz-$_", host => $_, port => $PZ,
    env => { AUTHZ_LOG => $authz_log, AUTHZ_NAME => "authz-$_" }) } qw(127.0.0.2 127.0.0.3);

# php-fpm: one pool per address, same port
my $FPM = '/usr/sbin/php-fpm8.2';
my ($fpm, $PP);
if (-x $FPM) {
    $PP = $t->free_port;
    my $conf = "[global]\npid = $d/php-fpm.pid\nerror_log = $d/logs/php-fpm.log\ndaemonize = no\n";
    for my $ip (qw(127.0.0.2 127.0.0.3)) {
        $conf .= "[pool-$ip]\n" . ($> == 0 ? "user = www-data\ngroup = www-data\n" : '')
            . "listen = $ip:$PP\npm = static\npm.max_children = 2\nenv[FCGIX_POOL] = $ip\n";
    }
    my $cf = $t->write_file('php-fpm.conf', $conf);
    $fpm = $t->spawn([$FPM, '-F', '-R', '-y', $cf], name => 'php-fpm');
    $t->write_file('htdocs/fpm/page.php', "<?php header('Content-Type: text/plain'); "
        . "echo 'name=', getenv('FCGIX_POOL'), \"\\n\";\n");
}

# ------------------------------------------------------------ httpd
my $aa = $be{A}{hostport};
my $ab = $be{B}{hostport};
my $cspec = $V6 ? "-host $be{C}{hostport}" : "-socket $be{C}{socket}";
my $mpm_conf = $t->mpm eq 'prefork'
    ? "StartServers 30\nMinSpareServers 5\nMaxSpareServers 40\nServerLimit 40\nMaxRequestWorkers 40\n"
    : "ServerLimit 4\nStartServers 3\nThreadsPerChild 16\nThreadLimit 16\nMinSpareThreads 16\n"
    . "MaxSpareThreads 64\nMaxRequestWorkers 64\n";
my $ka = $be{KA}{hostport};
my $kb = $be{KB}{hostport};
my $kill_pair = "-host $ka -host $kb";
my $conf = <<"EOF";
FastCgiIpcDir $ipc
FastCgiExternalServer $h/bal2.fcgi -host $aa -host $ab
FastCgiExternalServer $h/bal3.fcgi -host $aa -host $ab $cspec
FastCgiExternalServer $h/w.fcgi -host $aa -weight 3 -socket $be{U}{socket} -weight 1
FastCgiExternalServer $h/fo.fcgi -host $be{FA}{hostport} -host $be{FB}{hostport} -disable-time 2
FastCgiExternalServer $h/z.fcgi -host $be{ZA}{hostport} -host 127.0.0.3:$P0 -disable-time 0
FastCgiExternalServer $h/to.fcgi -host $be{TA}{hostport} -host $black->{hostport} -appConnTimeout 4 -disable-time 30
FastCgiExternalServer $h/ov.fcgi -host $be{OA}{hostport} -host $ob->{hostport} -disable-time 1
FastCgiExternalServer $h/k.fcgi $kill_pair
FastCgiExternalServer $h/kn.fcgi $kill_pair -retry-methods none
FastCgiExternalServer $h/kh.fcgi $kill_pair -retry-methods HEAD,OPTIONS
FastCgiExternalServer $h/ks.fcgi $kill_pair -retry-methods GET,POST
FastCgiExternalServer $h/kp.fcgi $kill_pair -retry-methods GET,POST -spool-body 0
FastCgiExternalServer $h/dr.fcgi -host $pe[0]{hostport} -host $pe[1]{hostport} -docroot $d/appdocs
FastCgiExternalServer $d/auth/authz -host $az[0]{hostport} -host $az[1]{hostport}
<Directory $h/prot>
    AuthType Basic
    AuthName "prot"
    FastCgiAuthenticator $d/auth/authz
    FastCgiAuthorizer $d/auth/authz
    Require valid-user
</Directory>
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF
$conf .= "FastCgiExternalServer $h/fpm/page.php -host 127.0.0.2:$PP -host 127.0.0.3:$PP\n" if $fpm;
$t->write_file('htdocs/prot/index.html', "secret page\n");
mkdir "$d/appdocs", 0755;
$t->start_httpd($conf, mpm_conf => $mpm_conf, modules => [qw(auth_basic authn_core authz_user)]);

sub names { my $n = shift; join ', ', map { "$_=$n->{$_}" } sort keys %$n }

# ------------------------------------------------------------ 2. balancing
{
    my $n = tally(map { fetch($t, '/bal2.fcgi') } 1 .. 20);
    is(($n->{A} // 0) + ($n->{B} // 0), 20, 'two backends, sequential: all 20 requests 200 from A or B (' . names($n) . ')');
    ok(($n->{A} // 0) >= 5 && ($n->{B} // 0) >= 5, 'two backends, sequential: both get a fair share (>= 5 of 20)');

    $n = tally(burst($t, '/bal2.fcgi?sleep_ms=300', 20));
    is(($n->{A} // 0) + ($n->{B} // 0), 20, 'two backends, 20 concurrent: all 200 from A or B (' . names($n) . ')');
    ok(($n->{A} // 0) >= 5 && ($n->{B} // 0) >= 5, 'two backends, concurrent: both get a fair share (>= 5 of 20)');

    $n = tally(map { fetch($t, '/bal3.fcgi') } 1 .. 30);
    is(($n->{A} // 0) + ($n->{B} // 0) + ($n->{C} // 0), 30, 'three backends, sequential: all 30 requests 200 (' . names($n) . ')');
    ok(!grep({ ($n->{$_} // 0) < 5 } qw(A B C)), 'three backends, sequential: each gets >= 5 of 30'
        . ($V6 ? ' (C on [::1])' : ' (C on a Unix socket)'));

    $n = tally(burst($t, '/bal3.fcgi?sleep_ms=300', 30));
    is(($n->{A} // 0) + ($n->{B} // 0) + ($n->{C} // 0), 30, 'three backends, 30 concurrent: all 200 (' . names($n) . ')');
    ok(!grep({ ($n->{$_} // 0) < 5 } qw(A B C)), 'three backends, concurrent: each gets >= 5 of 30');

    # the weight counts where requests overlap: 32 at once, twice
    my %w;
    for (1 .. 2) {
        my $r = tally(burst($t, '/w.fcgi?sleep_ms=500', 32));
        $w{$_} += $r->{$_} for keys %$r;
    }
    is(($w{A} // 0) + ($w{U} // 0), 64, '-weight 3 vs 1, 2 x 32 concurrent: all 200 (' . names(\%w) . ')');
    ok(($w{U} // 0) > 0, '-weight 1 (Unix socket) still gets requests');
    ok(($w{A} // 0) >= 1.5 * ($w{U} // 0), '-weight 3 gets clearly more than -weight 1 (at least 1.5 x)');

    SKIP: {
        skip 'php-fpm8.2 not installed', 2 unless $fpm;
        my $up = $t->wait_for(sub {
            !grep { !IO::Socket::IP->new(PeerHost => $_, PeerPort => $PP, Timeout => 1) } qw(127.0.0.2 127.0.0.3)
        }, 15);
        ok($up, 'php-fpm pools listen on 127.0.0.2 and 127.0.0.3') or diag slurp("$d/logs/php-fpm.log");
        my $n = tally(map { fetch($t, '/fpm/page.php') } 1 .. 12);
        ok(($n->{'127.0.0.2'} // 0) >= 3 && ($n->{'127.0.0.3'} // 0) >= 3,
            'php-fpm: both pools serve (' . names($n) . ')');
    }
}

# ------------------------------------------------------------ 3. a stopped backend
{
    my $fb = $be{FB}{hostport};
    $t->stop_app($be{FB});
    my $off = length $t->error_log;
    my $n = tally(map { fetch($t, '/fo.fcgi') } 1 .. 10);
    is($n->{FA} // 0, 10, 'FB stopped: all 10 requests 200, from FA (' . names($n) . ')');
    my $log = sub { substr($t->error_log, $off) };
    ok($t->wait_for(sub { $log->() =~ /FCGIX0130: .*\Q$h\/fo.fcgi\E.*backend \Q$fb\E refused/ }, 5),
        'FCGIX0130 names the app and the refused address') or diag $log->();
    my $st = backends($t, "$h/fo.fcgi");
    my $sb = $st && $st->{by_addr}{$fb};
    is($sb && $sb->{State}, 'down', '?auto: the stopped backend is down') or diag $st ? $st->{raw} : 'no class';
    ok($sb && ($sb->{Refused} // 0) >= 1, '?auto: its Refused count > 0');
    ok($sb && defined $sb->{DownFor} && $sb->{DownFor} >= 0 && $sb->{DownFor} <= 2,
        '?auto: DownFor within -disable-time 2 (' . ($sb ? $sb->{DownFor} // 'missing' : '-') . ')');
    is($st && $st->{by_addr}{ $be{FA}{hostport} }{State}, 'up', '?auto: the other one is up');

    # started again on the same address: requests reach it once its 2 s are over
    $be{FB} = backend($t, 'FB', '127.0.0.3', $PF);
    my %seen;
    my $back = $t->wait_for(sub { my $r = fetch($t, '/fo.fcgi'); $seen{ $r->[0] }++; $r->[1]{name} && $r->[1]{name} eq 'FB' }, 10);
    ok($back, 'FB started again: it gets requests again after -disable-time');
    is_deeply([ keys %seen ], [200], 'every request in between was 200');
    $st = backends($t, "$h/fo.fcgi");
    is($st && $st->{by_addr}{$fb}{State}, 'up', '?auto: FB up again');

    # both stopped: no backend left -> 503; one back: served at once
    $t->stop_app($_) for @be{qw(FA FB)};
    my $r = fetch($t, '/fo.fcgi');
    is($r->[0], 503, 'both backends stopped: 503');
    $r = fetch($t, '/fo.fcgi');
    is($r->[0], 503, 'both backends stopped and disabled: still tried, 503');
    $t->log_like(qr/FCGIX0100: .*\Q$h\/fo.fcgi\E/, 'FCGIX0100 names the app');
    $be{FA} = backend($t, 'FA', '127.0.0.2', $PF);
    $r = fetch($t, '/fo.fcgi');
    is($r->[0] . ' ' . ($r->[1]{name} // ''), '200 FA',
        'every backend disabled: requests still try them, FA started again serves at once');
}

# -disable-time 0: a refusing backend is never skipped, yet every request
# is served (by the next one), and it stays up
{
    my $n = tally(map { fetch($t, '/z.fcgi') } 1 .. 10);
    is($n->{ZA} // 0, 10, '-disable-time 0, one backend refusing: all 10 requests 200 (' . names($n) . ')');
    my $st = backends($t, "$h/z.fcgi");
    my $z = $st ? $st->{by_addr}{"127.0.0.3:$P0"} : {};
    is(($z->{State} // '') . ' ' . ($z->{DownFor} // ''), 'up 0', '-disable-time 0: the refusing backend stays up');
    ok(($z->{Refused} // 0) >= 3, "-disable-time 0: it is tried again and again (Refused " . ($z->{Refused} // "missing") . ")");
}

# a connect that times out (-appConnTimeout 4: with two backends 2 s for
# each): skipped like a refusal
{
    my $off = length $t->error_log;
    my $n = tally(map { fetch($t, '/to.fcgi') } 1 .. 4);
    is($n->{TA} // 0, 4, 'a backend whose connect times out: all 4 requests 200 from the other (' . names($n) . ')');
    my $ba = $black->{hostport};
    ok($t->wait_for(sub { substr($t->error_log, $off) =~ /FCGIX0130: .*\Q$h\/to.fcgi\E.*backend \Q$ba\E timed out/ }, 5),
        'FCGIX0130 timed out names the app and the address') or diag substr($t->error_log, $off);
    my $st = backends($t, "$h/to.fcgi");
    my $bb = $st ? $st->{by_addr}{$ba} : {};
    is($bb->{State} // '', 'down', '?auto: it is down (disabled for 30 s)');
    ok(($bb->{Timeouts} // 0) >= 1, '?auto: its Timeouts count > 0 (' . ($bb->{Timeouts} // 'missing') . ')');
}

# ------------------------------------------------------------ 4. FCGI_OVERLOADED
{
    my $off = length $t->error_log;
    my $n = tally(map { fetch($t, '/ov.fcgi?mode=overloaded') } 1 .. 6);
    is($n->{OA} // 0, 6, 'overloaded backend skipped: all 6 requests 200 from the other (' . names($n) . ')');
    ok(slurp($ovlog) =~ /^begin /m, 'the overloaded backend was asked (and answered FCGI_OVERLOADED)');
    my $ovaddr = $ob->{hostport};
    ok($t->wait_for(sub { substr($t->error_log, $off) =~ /FCGIX0130: .*\Q$h\/ov.fcgi\E.*backend \Q$ovaddr\E (?:is )?overloaded/ }, 5),
        'FCGIX0130 overloaded names the app and the address') or diag substr($t->error_log, $off);
    my $st = backends($t, "$h/ov.fcgi");
    ok($st && ($st->{by_addr}{$ovaddr}{Overloaded} // 0) >= 1, '?auto: its Overloaded count > 0');
}

# ------------------------------------------------------------ 5. killed mid-request
# Sends the request (its own token in the query; every whoami sleeps 1.5 s
# before answering), waits until one of KA/KB logged it, SIGKILLs that one
# (its processes: the harness started them), reads the answer, then starts
# the victim again on its address. Returns (response hash, victim, other).
my $seq = 0;
sub kill_mid {
    my ($path, $method, $body) = @_;
    my $tok = 'tok' . ++$seq . "x$$";
    my $req = "$method $path?sleep_ms=1500&$tok HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    local $SIG{PIPE} = 'IGNORE';
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $t->port, Timeout => 5) or die "connect: $@";
    binmode $s;
    $s->blocking(0);
    my ($off, $data) = (0, '');
    my $pump = sub {    # write what fits, read what came
        if ($off < length $req) {
            my $k = syswrite($s, $req, 65536, $off);
            $off += $k if $k;
        }
        my $k = sysread($s, my $buf, 65536);
        $data .= $buf if $k;
        return defined $k && $k == 0;    # closed
    };
    my $victim;
    $t->wait_for(sub { $pump->(); $victim = (grep { begun($be{$_}, $tok) } qw(KA KB))[0] }, 10);
    my $other = !$victim ? undef : $victim eq 'KA' ? 'KB' : 'KA';
    $t->stop_app($be{$victim}, 'KILL') if $victim;
    my $closed = $t->wait_for(sub { $pump->() }, 15);
    close $s;
    if ($victim) {
        my ($host) = $victim eq 'KA' ? '127.0.0.2' : '127.0.0.3';
        $be{$victim} = backend($t, $victim, $host, $PK, count => 2);
    }
    my $r = FcgixTest::parse_response($data) // { code => 0, content => '' };
    $r->{who} = who($r->{content});
    $r->{tok} = $tok;
    diag "kill_mid $method $path: no answer (closed=$closed)" unless $r->{code};
    return ($r, $victim, $other);
}

{
    my $off = length $t->error_log;
    my ($r, $v, $o) = kill_mid('/k.fcgi', 'GET');
    ok($v, 'GET: a backend took the request before the kill');
    is($r->{code}, 200, 'GET, its backend killed mid-request: 200');
    is($r->{who}{name}, $o, 'GET: answered by the other backend') if $v;
    my ($va, $oa) = $v ? ($be{$v}{hostport}, $be{$o}{hostport}) : ('?', '?');
    ok($t->wait_for(sub { substr($t->error_log, $off) =~
        /FCGIX0131: .*\Q$h\/k.fcgi\E.*backend \Q$va\E closed the connection before answering; GET sent again to \Q$oa\E/ }, 5),
        'FCGIX0131 names the app, both addresses and the method') or diag substr($t->error_log, $off);

    ($r, $v, $o) = kill_mid('/ks.fcgi', 'POST', 'p' x 1000);
    ok($v, 'spooled POST: a backend took the request');
    is($r->{code}, 200, 'POST with a spooled body, -retry-methods GET,POST: sent again, 200');
    is($r->{who}{method} . ' ' . $r->{who}{body}, 'POST 1000', 'the other backend got the whole body')
        if $r->{code} == 200;

    $off = length $t->error_log;
    ($r, $v, $o) = kill_mid('/kp.fcgi', 'POST', 'p' x 200_000);
    ok($v, 'streamed POST: a backend took the request');
    is($r->{code}, 502, 'POST with a streamed body (-spool-body 0): not sent again, 502');
    ok($v && !begun($be{$o}, $r->{tok}), 'streamed POST: the other backend never saw it');
    ok($t->wait_for(sub { substr($t->error_log, $off) =~ /FCGIX01(?:09|32): .*\Q$h\/kp.fcgi\E/ }, 5),
        'streamed POST: FCGIX0109 (or 0132) names the app')
        or diag substr($t->error_log, $off);

    $off = length $t->error_log;
    ($r, $v, $o) = kill_mid('/kn.fcgi', 'GET');
    ok($v, '-retry-methods none: a backend took the request');
    is($r->{code}, 502, '-retry-methods none: GET not sent again, 502');
    ok($v && !begun($be{$o}, $r->{tok}), '-retry-methods none: the other backend never saw it');
    ok($t->wait_for(sub { substr($t->error_log, $off) =~ /FCGIX01(?:09|32): .*\Q$h\/kn.fcgi\E/ }, 5),
        '-retry-methods none: FCGIX0109 (or 0132) names the app') or diag substr($t->error_log, $off);

    ($r, $v, $o) = kill_mid('/kh.fcgi', 'GET');
    ok($v, '-retry-methods HEAD,OPTIONS: a backend took the GET');
    is($r->{code}, 502, '-retry-methods HEAD,OPTIONS: GET is not in the list, not sent again, 502');
}

# ------------------------------------------------------------ 6. -docroot
{
    my %got;
    for (1 .. 4) {
        my $r = $t->get('/dr.fcgi/extra/info?x=1');
        my %e = $r->content =~ /^(DOCUMENT_ROOT|SCRIPT_FILENAME|PATH_TRANSLATED|SERVER_PORT)=(.*)$/mg;
        $got{$r->code . " $e{DOCUMENT_ROOT} | $e{SCRIPT_FILENAME} | " . ($e{PATH_TRANSLATED} // '')}++
            if $r->code == 200;
        $got{ 'status ' . $r->code }++ if $r->code != 200;
    }
    is_deeply([ keys %got ], ["200 $d/appdocs | $d/appdocs/dr.fcgi | $d/appdocs/extra/info"],
        '-docroot: DOCUMENT_ROOT, SCRIPT_FILENAME and PATH_TRANSLATED under DIR on every request')
        or diag explain \%got;
}

# ------------------------------------------------------------ 7. authorizer, one backend down
{
    $t->stop_app($az[1]);
    my @codes = map { $t->get('/prot/', Authorization => basic('alice', 'secret'))->code } 1 .. 4;
    is("@codes", '200 200 200 200', 'authorizer with one backend stopped: alice granted every time');
    my $r = $t->get('/prot/', Authorization => basic('alice', 'secret'));
    is($r->content, "secret page\n", 'the protected page arrives');
    $r = $t->get('/prot/', Authorization => basic('bob', 'builder'));
    is($r->code, 401, 'the authorizer denies bob: 401 (as t/30-auth.t: a denial by the authorizer role)');
    is($r->header('X-Denied-Because') // '', 'user bob is not on the list', 'the denial is the authorizer app\'s');
    is($t->get('/prot/', Authorization => basic('alice', 'wrong'))->code, 401,
        'the authenticator refuses a bad password: 401');
    my $calls = slurp($authz_log);
    like($calls, qr/role=AUTHORIZER .*user=bob/, 'the authorizer app was asked about bob');
    unlike($calls, qr/app=authz-127\.0\.0\.3 .*user=bob/, 'not by the stopped backend');
}

sub basic {
    require MIME::Base64;
    return 'Basic ' . MIME::Base64::encode_base64("$_[0]:$_[1]", '');
}

# ------------------------------------------------------------ 8. status page
{
    my $st = backends($t, "$h/bal3.fcgi");
    ok($st, '?auto: bal3.fcgi is on the status page');
    is($st && $st->{Backends}, 3, '?auto: ClassNBackends: 3');
    my $caddr = $V6 ? $be{C}{hostport} : "unix:$be{C}{socket}";
    is_deeply([ sort map { $_->{Address} // '' } @{ $st ? $st->{list} : [] } ], [ sort $aa, $ab, $caddr ],
        '?auto: ClassNBackendM: the three addresses');
    my @keys = qw(State DownFor InFlight Requests Weight Refused Timeouts Overloaded Resets Probe ProbeAge);
    for my $be (@{ $st ? $st->{list} : [] }) {
        my @miss = grep { !defined $be->{$_} } @keys;
        ok(!@miss, "?auto: $be->{Address}: every key present") or diag "missing: @miss";
        is(join(' ', map { $be->{$_} // '' } qw(State DownFor Weight Refused Timeouts Overloaded Resets Probe ProbeAge)),
            'up 0 1 0 0 0 0 none -1', "?auto: $be->{Address}: up, weight 1, no failures, no probe");
        ok(($be->{Requests} // 0) >= 10, "?auto: $be->{Address}: Requests counts what it served ($be->{Requests})");
        like($be->{InFlight} // '', qr/^\d+$/, "?auto: $be->{Address}: InFlight a number");
    }
    my $w = backends($t, "$h/w.fcgi");
    is(join(' ', map { $w->{by_addr}{$_}{Weight} // '-' } $aa, "unix:$be{U}{socket}"), '3 1',
        '?auto: ClassNBackendMWeight 3 and 1');
    my $html = $t->get('/fcgi-status')->content;
    ok(!grep({ index($html, $_) < 0 } $aa, $ab, $caddr =~ s/^unix://r), 'HTML status page: a row per backend address');
}

$t->stop_httpd;
close $_ for @fillers, $black->{sock};
$t->done;
done_testing;
