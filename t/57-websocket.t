# 57-websocket.t - Upgrade tunnelling (-upgrade): WebSocket over FastCGI.
#
# A real WebSocket client (t/apps/wsclient.py, on python3-websockets) talks
# to a real WebSocket app on libfcgi (t/apps/wsecho.c, one process) through
# apache2 + mod_fcgix:
#   echo: text and binary messages both ways, 64 KiB messages each way, a
#     fragmented message, ping/pong, the close handshake (1000); the access
#     log says 101.
#   the app ends the tunnel ("bye": END_REQUEST without a close frame): the
#     client's connection is closed; the same process serves the next one.
#   a client that vanishes (TCP closed without a close frame; a client
#     killed with SIGKILL): the app sees its stdin end ("tunnel end: eof"),
#     and its single process serves the next tunnel.
#   -idle-timeout 2: an idle tunnel is closed (client sees the close, app
#     sees eof, FCGIX0160); a tunnel with a message every 0.5 s for 4 s stays
#     up, with mod_reqtimeout's body timeout at 1 s (its filter must leave
#     the tunnel).
#   the same over TLS (mod_ssl, wss://): echo, and a vanishing client.
#   a dynamic app (FastCgiConfig -upgrade): echo.
#   a FastCgiServer app (connections kept between requests): tunnels,
#     plain requests and declined upgrades alternate on one process; an
#     upgrade request's connection is never kept.
#   a WebSocket frame sent with the request, before the 101 (it waits in
#     httpd's input filters, not in the socket): echoed.
#   backpressure: to an app that never reads its stdin, a client cannot
#     push more than the sockets' buffers (well under 32 MiB of 64 MiB);
#     killing that app closes the client's connection.
#   a protocol violation from the app in the middle of a tunnel: the bytes
#     before it arrive, then the connection closes (FCGIX0105); a 101
#     without Upgrade is a 502 (FCGIX0161).
# Without -upgrade: the app does not see HTTP_UPGRADE (wsecho answers 400,
# printenv shows neither HTTP_UPGRADE nor the Connection header's upgrade
# token, which mod_cgi passes as sent); a 101 from it is a 502 (FCGIX0108);
# so is a 101 from an app with -upgrade to a request without Upgrade; the
# Upgrade of an HTTP/1.0 or HTTP/2 (h2c) request, or of one with a body,
# is never passed. An app with -upgrade that declines (any other status)
# gets the end of its stdin after its headers.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use File::Copy qw(copy);
use FcgixTest qw(slurp);
use FcgixPM;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time);

my $PY = '/usr/bin/python3';
plan skip_all => 'python3-websockets not installed'
    unless system($PY, '-c', 'import websockets') == 0;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $client = FcgixTest::root() . '/t/apps/wsclient.py';

my %app;
$app{$_} = $t->start_app(prog => 'wsecho', name => $_) for qw(ws noup idle);
$app{$_} = $t->start_app(prog => 'printenv', name => $_) for qw(env envup);
# with -upgrade, declines: writes its headers, then reads stdin to its end
my $eofapp = $t->write_file("$d/eof.pl", <<'EOF', 0755);
#!/usr/bin/perl
use strict;
use warnings;
use FCGI;
my $req = FCGI::Request();
while ($req->Accept() >= 0) {
    print "Content-Type: text/plain\r\n\r\n";
    $req->Flush();
    my $n = 0;
    $n += length while <STDIN>;
    print "stdin-eof after $n bytes\n";
}
EOF
$app{eof} = $t->start_app(prog => $eofapp, name => 'eof');
$app{stall} = $t->start_app(prog => 'wsecho', name => 'stall');
$app{bad} = $t->start_app(prog => 'badapp', name => 'bad');
# a raw FastCGI app: 101, "hello", then a record with version 2
my $rawapp = $t->write_file("$d/raw101.pl", <<'EOF', 0755);
#!/usr/bin/perl
use strict;
use warnings;
use IO::Handle;
my $l = IO::Handle->new_from_fd(0, 'r') or die "fd 0: $!";
sub readn {
    my ($c, $n) = @_;
    my $b = '';
    while (length $b < $n) {
        my $r = sysread($c, $b, $n - length $b, length $b);
        return undef unless $r;
    }
    return $b;
}
while (accept(my $c, $l)) {
    my $id = 1;
    while (defined(my $h = readn($c, 8))) {
        my ($ver, $type, $rid, $clen, $plen) = unpack('CCnnC', $h);
        readn($c, $clen + $plen) if $clen + $plen;
        $id = $rid;
        last if $type == 4 && $clen == 0;
    }
    my $out = "Status: 101\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello";
    syswrite $c, pack('CCnnCC', 1, 6, $id, length $out, 0, 0) . $out
        . pack('CCnnCC', 2, 6, $id, 1, 0, 0) . 'x';
    my $x;
    1 while sysread($c, $x, 4096);
    close $c;
}
EOF
$app{raw} = $t->start_app(prog => $rawapp, name => 'raw');
my $wsm = $t->install_app('wsecho', "$h/m/wsm.fcgi");
my $wsd = $t->install_app('wsecho', "$h/dyn/wsd.dfcgi");
$t->write_file('htdocs/cgi/.keep', '');
copy($t->app_path('printenv'), "$h/cgi/printenv.cgi") or die "copy: $!";
chmod 0755, "$h/cgi/printenv.cgi";

# TLS: a self-signed certificate for a second, mod_ssl port
my $tls_port = $t->free_port;
system("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
    . "-keyout $d/tls.key -out $d/tls.crt >$d/openssl.log 2>&1") == 0
    or die 'openssl req failed: ' . slurp("$d/openssl.log");

$t->start_httpd(<<"EOF", modules => [qw(reqtimeout socache_shmcb ssl http2)]);
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/ws.fcgi $app{ws}{spec} -upgrade
FastCgiExternalServer $h/noup.fcgi $app{noup}{spec}
FastCgiExternalServer $h/idle.fcgi $app{idle}{spec} -upgrade -idle-timeout 2
FastCgiExternalServer $h/env.fcgi $app{env}{spec}
FastCgiExternalServer $h/envup.fcgi $app{envup}{spec} -upgrade
FastCgiExternalServer $h/eof.fcgi $app{eof}{spec} -upgrade
FastCgiExternalServer $h/stall.fcgi $app{stall}{spec} -upgrade
FastCgiExternalServer $h/bad.fcgi $app{bad}{spec} -upgrade
FastCgiExternalServer $h/raw.fcgi $app{raw}{spec} -upgrade
FastCgiServer $wsm -upgrade
FastCgiConfig -upgrade
<Directory $h/dyn>
    Options +ExecCGI
    AddHandler fastcgi-script .dfcgi
</Directory>
RequestReadTimeout header=10 body=1
Protocols h2c http/1.1
Listen 127.0.0.1:$tls_port
SSLSessionCache shmcb:$d/logs/ssl_scache(512000)
<VirtualHost 127.0.0.1:$tls_port>
    Protocols http/1.1
    SSLEngine on
    SSLCertificateFile $d/tls.crt
    SSLCertificateKeyFile $d/tls.key
</VirtualHost>
<Directory $h/cgi>
    Options +ExecCGI
    AddHandler cgi-script .cgi
</Directory>
EOF
my $port = $t->port;

# Runs the client; its JSON lines. $path may be a whole URL.
sub ws {
    my ($path, $scenario) = @_;
    my $url = $path =~ m{^wss?://} ? $path : "ws://127.0.0.1:$port$path";
    my @out = `timeout 60 $PY $client $url $scenario 2>&1`;
    my @r;
    for (@out) {
        my $j = eval { JSON::PP::decode_json($_) };
        $j ? push(@r, $j) : diag("wsclient: $_");
    }
    return @r;
}

sub ends_in_log {
    my ($app, $what) = @_;
    my @n = slurp($app->{log}) =~ /tunnel end: \Q$what\E$/mg;
    return scalar @n;
}

# the app's log says the tunnel ended $what, once more than before
sub app_saw {
    my ($app, $what, $before, $name) = @_;
    ok $t->wait_for(sub { ends_in_log($app, $what) > $before }, 15), $name
        or diag slurp($app->{log});
}

# ---------------------------------------------------------------- echo
my @r = ws('/ws.fcgi', 'echo');
my @steps = grep { exists $_->{step} } @r;
is scalar(@steps), 14, 'echo: every step ran';
ok $_->{ok}, "echo: $_->{step}" for @steps;
is((grep { exists $_->{closed} } @r)[0]{closed}, 1000, 'echo: close handshake (1000)');
app_saw($app{ws}, 'close', 0, 'echo: the app saw the close frame');
ok $t->wait_for(sub { $t->access_log =~ m{"GET /ws\.fcgi HTTP/1\.1" 101 } }, 5),
    'access log: 101';

# ------------------------------------------------ the app ends the tunnel
@r = ws('/ws.fcgi', 'bye');
ok $r[0]{ok}, 'bye: first echo';
is $r[1]{closed}, 1006, 'bye: the app ended the request: connection closed without a close frame';
app_saw($app{ws}, 'bye', 0, 'bye: the app ended');

# ---------------------------------------------------- a client vanishes
my $pid = $app{ws}{pids}[0];
@r = ws('/ws.fcgi', 'abort');
ok $r[0]{ok} && $r[1]{aborted}, 'abort: client closed TCP without a close frame';
app_saw($app{ws}, 'eof', 0, 'abort: the app saw its stdin end');
@r = ws('/ws.fcgi', 'handshake');
is $r[0]{status}, 101, 'abort: the 1-process app serves the next tunnel';

my $hold = $t->spawn([ $PY, $client, "ws://127.0.0.1:$port/ws.fcgi", 'hold' ], name => 'hold');
ok $t->wait_for(sub { slurp($hold->{log}) =~ /"open"/ }, 15), 'kill: client holds a tunnel';
$t->stop_app($hold, 'KILL');
app_saw($app{ws}, 'eof', 1, 'kill: the app saw its stdin end after the client was killed');
@r = ws('/ws.fcgi', 'echo');
is scalar(grep { $_->{ok} } @r), 14, 'kill: the 1-process app serves the next tunnel';
is $app{ws}{pids}[0], $pid, 'the same app process throughout';
ok kill(0, $pid), 'and it is alive';

# ------------------------------------------------------------------ TLS
@r = ws("wss://127.0.0.1:$tls_port/ws.fcgi", 'echo');
is scalar(grep { $_->{ok} } @r), 14, 'TLS: echo, every step';
is((grep { exists $_->{closed} } @r)[0]{closed}, 1000, 'TLS: close handshake (1000)');
my $eofs = ends_in_log($app{ws}, 'eof');
@r = ws("wss://127.0.0.1:$tls_port/ws.fcgi", 'abort');
ok $r[0]{ok} && $r[1]{aborted}, 'TLS: client closed TCP without a close frame';
app_saw($app{ws}, 'eof', $eofs, 'TLS: the app saw its stdin end');

# ---------------------------------------------------------- idle timeout
@r = ws('/idle.fcgi', 'idle');
ok $r[0]{ok}, 'idle: first echo';
ok defined $r[1]{closed}, 'idle: server closed the idle tunnel (-idle-timeout 2)';
app_saw($app{idle}, 'eof', 0, 'idle: the app saw its stdin end');
$t->log_like(qr/FCGIX0160: \S*idle\.fcgi: tunnel idle for 2 s/, 'idle: FCGIX0160');
@r = ws('/idle.fcgi', 'active');
is $r[0]{echoed}, 8, 'active: a tunnel busy for 4 s outlives -idle-timeout 2 and reqtimeout body=1';

# ------------------------------------------------------- without -upgrade
@r = ws('/noup.fcgi', 'handshake');
is $r[0]{status}, 400, 'no -upgrade: the app does not see the Upgrade header (its 400)';
my $c = $t->conn;
my $res = $c->request('GET', '/noup.fcgi?force101');
is $res->{code}, 502, 'no -upgrade: Status 101 from the app: 502';
$t->log_like(qr/FCGIX0108: .*101 only from an app with -upgrade.*noup\.fcgi/, 'FCGIX0108 names the app');
$c = $t->conn;
$res = $c->request('GET', '/ws.fcgi?force101');
is $res->{code}, 502, '-upgrade, request without Upgrade: Status 101: 502';

my $key = 'dGhlIHNhbXBsZSBub25jZQ==';
sub upgrade_req {
    my ($path, $proto, $conn, $upgrade) = @_;
    $upgrade //= 'websocket';
    my $raw = $t->raw("GET $path $proto\r\nHost: 127.0.0.1\r\nConnection: $conn\r\n"
        . "Upgrade: $upgrade\r\nSec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n\r\n",
        timeout => 15);
    return FcgixTest::parse_response($raw, 'GET');
}
my $r10 = upgrade_req('/ws.fcgi', 'HTTP/1.0', 'Upgrade');
is $r10->{code}, 400, 'HTTP/1.0: the Upgrade header is not passed (the app\'s 400)';
like $r10->{content}, qr/^upgrade=-$/m, 'HTTP/1.0: no HTTP_UPGRADE';

# the environment: mod_cgi's (as sent), without -upgrade, with it
sub env_of {
    my ($path, $proto) = @_;
    my $r = upgrade_req($path, $proto // 'HTTP/1.1', 'keep-alive, Upgrade, close');
    my %e = ($r->{content} // '') =~ /^([A-Z_]+)=(.*)$/mg;
    return ($r->{code}, \%e);
}
my ($code, $e) = env_of('/cgi/printenv.cgi');
is $code, 200, 'mod_cgi printenv';
is $e->{HTTP_UPGRADE}, 'websocket', 'mod_cgi (ap_add_common_vars) passes HTTP_UPGRADE';
is $e->{HTTP_CONNECTION}, 'keep-alive, Upgrade, close', 'and HTTP_CONNECTION as sent';
($code, $e) = env_of('/env.fcgi');
is $code, 200, 'printenv without -upgrade';
ok !exists $e->{HTTP_UPGRADE}, 'without -upgrade: no HTTP_UPGRADE';
is $e->{HTTP_CONNECTION}, 'keep-alive, close', 'without -upgrade: HTTP_CONNECTION without its upgrade token';
($code, $e) = env_of('/envup.fcgi');
is $code, 200, 'printenv with -upgrade declines (200)';
is $e->{HTTP_UPGRADE}, 'websocket', 'with -upgrade: HTTP_UPGRADE as sent';
is $e->{HTTP_CONNECTION}, 'keep-alive, Upgrade, close', 'with -upgrade: HTTP_CONNECTION as sent';
($code, $e) = env_of('/envup.fcgi', 'HTTP/1.0');
ok !exists $e->{HTTP_UPGRADE}, 'with -upgrade over HTTP/1.0: no HTTP_UPGRADE';
# over HTTP/2 (h2c, prior knowledge; curl sends the headers as given)
my $h2 = `curl -s -v --http2-prior-knowledge -H 'Upgrade: websocket' -H 'Connection: Upgrade' -H 'X-Probe: h2' http://127.0.0.1:$port/envup.fcgi 2>&1`;
like $h2, qr{^< HTTP/2 200}m, 'with -upgrade over HTTP/2: 200 over HTTP/2';
like $h2, qr{^HTTP_X_PROBE=h2$}m, 'over HTTP/2: the request reached the app';
unlike $h2, qr{^HTTP_UPGRADE=}m, 'with -upgrade over HTTP/2: no HTTP_UPGRADE';
$res = $t->get('/envup.fcgi', Connection => 'Upgrade');
my %plain = $res->content =~ /^([A-Z_]+)=(.*)$/mg;
ok !exists $plain{HTTP_CONNECTION} || $plain{HTTP_CONNECTION} !~ /upgrade/i,
    'Connection: Upgrade without Upgrade: the token is not passed';

# an app with -upgrade that declines gets the end of its stdin
my $rd = upgrade_req('/eof.fcgi', 'HTTP/1.1', 'Upgrade, close');
is $rd->{code}, 200, 'declined upgrade: 200';
like $rd->{content}, qr/^stdin-eof after 0 bytes$/m, 'declined upgrade: the app got the end of its stdin';

# ------------------------------------------- a managed app, kept connections
my @before = FcgixPM::app_pids($t, $wsm);
for my $round (1, 2) {
    @r = ws('/m/wsm.fcgi', 'echo');
    is scalar(grep { $_->{ok} } @r), 14, "FastCgiServer app: tunnel $round";
    is $t->get('/m/wsm.fcgi')->code, 400, "FastCgiServer app: a plain request after tunnel $round";
}
for my $n (1 .. 3) { # wsecho declines an Upgrade to anything but websocket
    my $rd = upgrade_req('/m/wsm.fcgi', 'HTTP/1.1', 'Upgrade', 'foo/1');
    is $rd->{code}, 400, "FastCgiServer app: declined upgrade $n: its 400";
    like $rd->{content}, qr{^upgrade=foo/1$}m, "FastCgiServer app: declined upgrade $n: it saw the Upgrade header";
}
@r = ws('/m/wsm.fcgi', 'echo');
is scalar(grep { $_->{ok} } @r), 14, 'FastCgiServer app: a tunnel after declined upgrades';
my @after = FcgixPM::app_pids($t, $wsm);
is "@after", "@before", 'FastCgiServer app: one process served them all';
is scalar(@after), 1, 'FastCgiServer app: one process';

@r = ws('/dyn/wsd.dfcgi', 'echo');
is scalar(grep { $_->{ok} } @r), 14, 'dynamic app (FastCgiConfig -upgrade): echo';

# ------------------------------------------------------------ raw clients
# Connects and sends an upgrade request (and $extra bytes with it).
sub raw_upgrade {
    my ($path, $extra) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5)
        or die "connect: $@";
    binmode $s;
    syswrite($s, "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
        . "Upgrade: websocket\r\nSec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n\r\n"
        . ($extra // ''));
    return $s;
}

# Reads from $s into $$buf until $done->() or EOF or $secs; 1 if EOF seen.
sub read_until {
    my ($s, $buf, $done, $secs) = @_;
    my $end = time + $secs;
    my $sel = IO::Select->new($s);
    until ($done->()) {
        my $left = $end - time;
        last if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($s, $$buf, 65536, length $$buf);
        return 1 unless $n;
    }
    return 0;
}

sub masked_text {
    my ($payload) = @_;
    my $mask = 'k3y!';
    my $m = $payload ^ substr($mask x (length($payload) / 4 + 1), 0, length $payload);
    return chr(0x81) . chr(0x80 | length $payload) . $mask . $m;
}

my $buf = '';
my $s = raw_upgrade('/ws.fcgi', masked_text('early bird'));
read_until($s, \$buf, sub { $buf =~ /\r\n\r\n\x81\x0aearly bird/ }, 15);
like $buf, qr{^HTTP/1\.1 101 Switching Protocols\r\n}, 'a frame sent with the request: 101';
like $buf, qr{\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n}i, 'Sec-WebSocket-Accept (RFC 6455 example)';
unlike $buf, qr{\r\n(?:Content-Length|Transfer-Encoding|Content-Type):}i, 'the 101 has no framing headers';
like $buf, qr{\r\n\r\n\x81\x0aearly bird}, 'a frame sent with the request: echoed';
close $s;

# backpressure: the app never reads
$s = raw_upgrade('/stall.fcgi?stall');
$buf = '';
read_until($s, \$buf, sub { $buf =~ /\r\n\r\n/ }, 15);
like $buf, qr{^HTTP/1\.1 101 }, 'stalled app: 101';
$s->blocking(0);
my ($pushed, $chunk) = (0, 'x' x 65536);
my $wsel = IO::Select->new($s);
while ($pushed < 64 << 20 && $wsel->can_write(2)) {
    my $n = syswrite($s, $chunk);
    last unless defined $n || $!{EAGAIN};
    $pushed += $n // 0;
}
cmp_ok $pushed, '<', 32 << 20, "to an app that does not read, a client pushes only the buffers' worth ($pushed bytes)";
$t->stop_app($app{stall}, 'KILL');
$s->blocking(1);
my $eof = read_until($s, \$buf, sub { 0 }, 15);
ok $eof, 'the app killed: the client connection is closed';
close $s;

# protocol violation mid-tunnel
$s = raw_upgrade('/raw.fcgi');
$buf = '';
$eof = read_until($s, \$buf, sub { 0 }, 15);
like $buf, qr{^HTTP/1\.1 101 .*\r\n\r\nhello\z}s, 'bad record mid-tunnel: what came before it arrives';
ok $eof, 'bad record mid-tunnel: connection closed';
close $s;
$t->log_like(qr/FCGIX0105: \S*raw\.fcgi: FastCGI protocol violation/, 'FCGIX0105');

my $rb = upgrade_req('/bad.fcgi?mode=status&v=101%20Switching%20Protocols&stdin=0', 'HTTP/1.1', 'Upgrade');
is $rb->{code}, 502, '101 without Upgrade: 502';
$t->log_like(qr/FCGIX0161: 101 without an Upgrade header from application: \S*bad\.fcgi/, 'FCGIX0161');

# a request with a body is no upgrade
my $body = 'x' x 1000;
my $rp = FcgixTest::parse_response($t->raw("POST /envup.fcgi HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    . "Connection: Upgrade, close\r\nUpgrade: websocket\r\nContent-Length: 1000\r\n\r\n$body",
    timeout => 15), 'POST');
my %pe = ($rp->{content} // '') =~ /^#?([a-zA-Z_]+)=(.*)$/mg;
is $rp->{code}, 200, 'upgrade request with a body: 200';
ok !exists $pe{HTTP_UPGRADE}, 'upgrade request with a body: no HTTP_UPGRADE';
is $pe{body_length}, 1000, 'upgrade request with a body: the body reaches the app';

$t->done;
done_testing;

