# 14-connect.t - failures reaching or waiting on the application map to the
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
use strict;
use warnings;
use Test::More;
use Socket qw(SOL_SOCKET SO_ERROR);
use IO::Socket::INET;
use Errno qw(EINPROGRESS);
use FcgixTest;

# ---------------------------------------------------------------------
# Raw HTTP/1.1 client (one request, one fresh connection), kept in this
# file so what the client sees is measured at the socket: framing,
# truncation, and when the body bytes arrive.
#
# raw_req($t, $method, $path, headers => [ "Name: value", ... ],
#         body => $bytes, timeout => s)
# reads until the response is complete (by its own framing), the server
# closes, or the timeout (default 15 s) passes. Returns a hashref:
#   code, headers {lc name => [values]}, body (de-chunked), framing
#   ('chunked' | 'length' | 'none' for HEAD/304/204 | 'close'), complete
#   (the framing says the response is whole), closed (server closed before
#   the response was complete), timed_out, elapsed, t_headers, t_first_body
#   (seconds from sending to the first body byte), t_complete, extra (bytes
#   after a complete response), raw.
use IO::Socket::INET ();
use IO::Select ();
use Time::HiRes ();

sub parse_resp {
    my ($raw, $method) = @_;
    my %r = (headers_done => 0, body => '', complete => 0, extra => '');
    my $he = index($raw, "\r\n\r\n");
    return \%r if $he < 0;
    my $head = substr($raw, 0, $he);
    my $rest = substr($raw, $he + 4);
    my ($sl, @lines) = split /\r\n/, $head;
    $r{headers_done} = 1;
    ($r{code}) = $sl =~ m{^HTTP/\d\.\d (\d{3})};
    $r{code} //= 0;
    $r{status_line} = $sl;
    $r{headers} = {};
    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @{ $r{headers}{ lc $k } }, $v;
    }
    my $h = $r{headers};
    if ($method eq 'HEAD' || $r{code} == 304 || $r{code} == 204 || $r{code} < 200) {
        $r{framing} = 'none';
        $r{complete} = 1;
        $r{extra} = $rest;
    }
    elsif ($h->{'transfer-encoding'} && $h->{'transfer-encoding'}[-1] =~ /chunked\s*$/i) {
        $r{framing} = 'chunked';
        my $pos = 0;
        while (1) {
            my $le = index($rest, "\r\n", $pos);
            last if $le < 0;
            my ($hex) = substr($rest, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/;
            if (!defined $hex) { $r{bad_chunk} = 1; last }
            my $n = hex $hex;
            if ($n == 0) {
                # trailer section up to an empty line
                my $te = index($rest, "\r\n\r\n", $le);
                $te = $le if substr($rest, $le, 4) eq "\r\n\r\n";
                if ($te >= 0) {
                    $r{complete} = 1;
                    $r{extra} = substr($rest, $te + 4);
                }
                last;
            }
            last if length($rest) < $le + 2 + $n;
            $r{body} .= substr($rest, $le + 2, $n);
            $pos = $le + 2 + $n;
            last if length($rest) < $pos + 2;
            if (substr($rest, $pos, 2) ne "\r\n") { $r{bad_chunk} = 1; last }
            $pos += 2;
        }
        # a partial chunk's bytes count as received body too
        if (!$r{complete} && !$r{bad_chunk}) {
            my $le = index($rest, "\r\n", $pos);
            if ($le >= 0 && substr($rest, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/ && hex($1) > 0) {
                $r{body} .= substr($rest, $le + 2, hex $1);
            }
        }
    }
    elsif ($h->{'content-length'}) {
        $r{framing} = 'length';
        my $cl = $h->{'content-length'}[0];
        $r{body} = substr($rest, 0, $cl);
        if (length($rest) >= $cl) {
            $r{complete} = 1;
            $r{extra} = substr($rest, $cl);
        }
    }
    else {
        $r{framing} = 'close';
        $r{body} = $rest;
    }
    return \%r;
}

sub raw_req {
    my ($t, $method, $path, %o) = @_;
    my $timeout = $o{timeout} // 15;
    local $SIG{PIPE} = 'IGNORE';    # a server that answers early may close first
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
        Proto => 'tcp', Timeout => 5) or die "raw_req: connect: $!\n";
    binmode $s;
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:" . $t->port . "\r\n";
    $req .= "$_\r\n" for @{ $o{headers} || [] };
    $req .= "Content-Length: " . length($o{body}) . "\r\n" if defined $o{body};
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    my $t0 = Time::HiRes::time();
    my $off = 0;
    while ($off < length $req) {
        my $w = syswrite($s, $req, length($req) - $off, $off);
        last unless defined $w;
        $off += $w;
    }
    my $sel = IO::Select->new($s);
    my $raw = '';
    my ($closed, $timed_out, $r) = (0, 0, undef);
    my ($t_headers, $t_first_body, $t_complete);
    while (1) {
        my $left = $t0 + $timeout - Time::HiRes::time();
        if ($left <= 0 || !$sel->can_read($left)) { $timed_out = 1; last }
        my $n = sysread($s, my $buf, 65536);
        my $now = Time::HiRes::time() - $t0;
        if (!$n) { $closed = 1; last }
        $raw .= $buf;
        $r = parse_resp($raw, $method);
        $t_headers //= $now if $r->{headers_done};
        $t_first_body //= $now if length $r->{body};
        if ($r->{complete}) { $t_complete = $now; last }
    }
    close $s;
    $r = parse_resp($raw, $method);
    $r->{framing} //= '';
    $r->{code} //= 0;
    $r->{closed} = $closed;
    $r->{timed_out} = $timed_out;
    $r->{elapsed} = Time::HiRes::time() - $t0;
    $r->{t_headers} = $t_headers;
    $r->{t_first_body} = $t_first_body;
    $r->{t_complete} = $t_complete;
    $r->{raw} = $raw;
    return $r;
}

sub hdr1 { my ($r, $name) = @_; my $v = $r->{headers}{ lc $name }; return $v ? $v->[0] : undef }

sub show {
    my ($r) = @_;
    my $raw = $r->{raw} // '';
    my $head = substr($raw, 0, 600);
    $head =~ s/([^\x20-\x7e\n])/sprintf('\\x%02x', ord $1)/ge;
    return sprintf("code=%s framing=%s complete=%d closed=%d timed_out=%d elapsed=%.2f body=%d bytes\n%s",
        $r->{code}, $r->{framing}, $r->{complete}, $r->{closed}, $r->{timed_out}, $r->{elapsed},
        length $r->{body}, $head);
}

# Waits (<= 5 s) until the error log, from byte offset $off on, matches $re.
sub log_since_like {
    my ($t, $off, $re, $name, $wait) = @_;
    my $ok = $t->wait_for(sub { substr($t->error_log, $off) =~ $re }, $wait // 5);
    ok($ok, $name) or diag("new error log lines:\n" . substr($t->error_log, $off, 4000));
    return $ok;
}

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

close $_ for @fillers;
close $black;
$t->done;
done_testing;
