# 19-connect.t - failures reaching or waiting on the application map to the
# right status, each with a tagged (FCGIXnnnn:) error-log line naming the
# app, and within bounded time:
#   nothing listening on a TCP port / no Unix socket file        -> 503
#   -appConnTimeout expired (SYNs to a full backlog-0 listener
#     get no answer)                                             -> 504
#   -appConnTimeout 0: bounded by the server's Timeout           -> 504
#   -idle-timeout expired: the app accepts, reads the request and
#     never answers (also: never reads a large request body)     -> 504
#   -idle-timeout expired after the headers and body bytes went out
#     -> truncated response (no final chunk), connection closed
#   -request-timeout 3 cuts off an app that trickles 1 byte/s
#     well before -idle-timeout (30 s) would: before its headers
#     are complete -> 504; trickling body -> truncated response.
#   Timeout 2592000 (30 days) with no -appConnTimeout: requests work (the
#     connect bound in milliseconds does not overflow).
use strict;
use warnings;
use Test::More;
use Socket qw(SOL_SOCKET SO_ERROR);
use IO::Socket::INET;
use Errno qw(EINPROGRESS);
use FcgixTest;
use FcgixRaw;  # raw_req, hdr1, show, log_since_like

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my $app = $t->start_app(prog => 'badapp');
my $refused_port = $t->free_port;

# A TCP listener with backlog 0 that never accepts; the test fills its accept
# queue with its own connections, so further SYNs go unanswered and a
# connect() hangs.
socket(my $black, Socket::PF_INET, Socket::SOCK_STREAM, 0) or die "socket: $!";
setsockopt($black, SOL_SOCKET, Socket::SO_REUSEADDR, 1);
bind($black, Socket::pack_sockaddr_in(0, Socket::inet_aton('127.0.0.1'))) or die "bind: $!";
listen($black, 0) or die "listen: $!";
my ($black_port) = Socket::unpack_sockaddr_in(getsockname($black));
my @fillers;
for (1 .. 8) {
    my $s = IO::Socket::INET->new(Proto => 'tcp', Blocking => 0) or die "socket: $!";
    my $addr = Socket::pack_sockaddr_in($black_port, Socket::inet_aton('127.0.0.1'));
    my $ok = connect($s, $addr);
    push @fillers, $s;
    if (!$ok) {
        my $w = '';
        vec($w, fileno($s), 1) = 1;
        my $n = select(undef, $w, undef, 1);
        last if !$n;    # this one hangs: the queue is full
    }
}
my $black_full = do {
    my $s = IO::Socket::INET->new(Proto => 'tcp', Blocking => 0);
    my $addr = Socket::pack_sockaddr_in($black_port, Socket::inet_aton('127.0.0.1'));
    my $ok = connect($s, $addr);
    my $w = '';
    vec($w, fileno($s), 1) = 1;
    my $n = $ok ? 1 : select(undef, $w, undef, 1);
    push @fillers, $s;
    !$n;
};
ok($black_full, 'setup: the backlog-0 listener leaves new connects hanging');

my $conf = <<"CONF";
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/refused.fcgi -host 127.0.0.1:$refused_port
FastCgiExternalServer $h/nosock.fcgi -socket $d/sock/nothing-here.sock
FastCgiExternalServer $h/hang.fcgi -host 127.0.0.1:$black_port -appConnTimeout 2
FastCgiExternalServer $h/hang1.fcgi -host 127.0.0.1:$black_port -appConnTimeout 1
FastCgiExternalServer $h/hang0.fcgi -host 127.0.0.1:$black_port -appConnTimeout 0
FastCgiExternalServer $h/idle.fcgi $app->{spec} -idle-timeout 2
FastCgiExternalServer $h/trickle.fcgi $app->{spec} -request-timeout 3
FastCgiExternalServer $h/good.fcgi $app->{spec}
CONF
$t->start_httpd($conf, timeout => 5);

my $tag = qr/FCGIX\d{4}:/;

sub case {
    my ($path, $code, $name, $tmin, $tmax, %o) = @_;
    my ($file) = $path =~ m{^/([^?]+)};
    my $off = length $t->error_log;
    my $r = raw_req($t, $o{method} // 'GET', $path, timeout => 30, %o);
    $r->{code} = 'none (timed out)' if $r->{timed_out} && !$r->{code};
    my $status_ok = is($r->{code}, $code, "$name: $code") or diag show($r);
    cmp_ok($r->{elapsed}, '>=', $tmin, sprintf('%s: took >= %.1f s (%.2f)', $name, $tmin, $r->{elapsed}))
        if defined $tmin;
    cmp_ok($r->{elapsed}, '<', $tmax, sprintf('%s: took < %d s (%.2f)', $name, $tmax, $r->{elapsed}));
    log_since_like($t, $off, qr/$tag.*\Q$h\/$file\E/, "$name: tagged log line naming the app",
        $status_ok ? 5 : 0.5);
    return $r;
}

# sanity: the app itself works
{
    my $r = raw_req($t, 'GET', '/good.fcgi?mode=good');
    is($r->{code}, 200, 'sanity: good app 200');
    is($r->{body}, "hello from badapp\n", 'sanity: body');
}

case('/refused.fcgi', 503, 'nothing listening on the TCP port', undef, 5);
case('/nosock.fcgi', 503, 'Unix socket file missing', undef, 5);
case('/hang.fcgi', 504, '-appConnTimeout 2 expired', 1.5, 8, timeout => 8);
# the expiry must be exact every time: repeat with -appConnTimeout 1
case('/hang1.fcgi', 504, "-appConnTimeout 1 expired (try $_)", 0.8, 6, timeout => 6) for 1 .. 3;
case('/hang0.fcgi', 504, '-appConnTimeout 0 bounded by Timeout 5', 4, 10, timeout => 10);
case('/idle.fcgi?mode=silent', 504, '-idle-timeout 2, app never answers', 1.5, 10);
case('/idle.fcgi?mode=silent_noread', 504, '-idle-timeout 2, app never reads a 1 MB body', 1.5, 10,
    method => 'POST', body => 'x' x 1_000_000);

# idle timeout after the headers and 128 KiB of body went out: truncation
{
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', '/idle.fcgi?mode=silent_after', timeout => 30);
    is($r->{code}, 200, '-idle-timeout 2 after headers: the 200 headers were out') or diag show($r);
    ok(!$r->{complete} && $r->{framing} =~ /^(chunked|length)$/,
        '-idle-timeout 2 after headers: the client sees a truncated response') or diag show($r);
    ok($r->{closed}, '-idle-timeout 2 after headers: the server closes the connection') or diag show($r);
    cmp_ok($r->{elapsed}, '<', 10, sprintf('-idle-timeout 2 after headers: bounded (%.2f s)', $r->{elapsed}));
    log_since_like($t, $off, qr/$tag.*\Q$h\/idle.fcgi\E/, '-idle-timeout 2 after headers: tagged log line naming the app');
}

# trickle: before the header block is complete -> 504
case('/trickle.fcgi?mode=trickle', 504, '-request-timeout 3, header bytes trickling at 1/s', 2.5, 12);

# trickle in the body: the headers went out, so the response is truncated
{
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', '/trickle.fcgi?mode=trickle_body', timeout => 30);
    ok($r->{code} == 504 || ($r->{code} == 200 && !$r->{complete} && $r->{framing} =~ /^(chunked|length)$/),
        '-request-timeout 3, body trickling: 504 or a truncated response') or diag show($r);
    ok($r->{closed}, 'trickling body: the server closes the connection') or diag show($r);
    cmp_ok($r->{elapsed}, '<', 12, sprintf('trickling body: cut off well before the idle timeout (%.2f s)', $r->{elapsed}));
    cmp_ok($r->{elapsed}, '>=', 2.5, 'trickling body: not before the 3 s request timeout');
    log_since_like($t, $off, qr/$tag.*\Q$h\/trickle.fcgi\E/, 'trickling body: tagged log line naming the app');
}

# httpd's Timeout has no upper bound, and bounds connecting to an app
# without -appConnTimeout: 30 days in milliseconds must not wrap into an
# instant 504
{
    $t->stop_httpd;
    $t->start_httpd($conf, timeout => 2592000);
    my $r = raw_req($t, 'GET', '/good.fcgi?mode=good');
    is($r->{code}, 200, 'Timeout 2592000 (30 days), no -appConnTimeout: the app answers (200)')
        or diag show($r);
}

close $_ for @fillers;
close $black;
$t->done;
done_testing;
