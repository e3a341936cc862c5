# 14-protocol.t - FastCGI record-level misbehaviour of the application.
#
# Before the response headers are out, a protocol violation or an app that
# dies gives 502 (FCGI_OVERLOADED gives 503), with a tagged (FCGIXnnnn:)
# error-log line naming the app. Each "before" case is built so a lenient
# module would answer 200: the violating record is followed by a correct
# response.
#   badversion  STDOUT record with version byte 2 (and 0)
#   otherid     STDOUT record for request id 2 (and id 0)
#   unknowntype record type 42; type 1 (BEGIN_REQUEST) which an app must
#               not send
#   shortend    END_REQUEST with content length 4 (and 12) != 8
#   afterend    END_REQUEST, then a response
#   overloaded  END_REQUEST protocolStatus FCGI_OVERLOADED -> 503
#   die_before_headers / die_silent (also with RST)
# After the headers and 128 KiB of body went out, the same failures truncate
# the response: chunked without the final 0-chunk (or a Content-Length that
# is not reached), and the server closes the connection. A module that
# ignored the violation would send a complete response, which fails here.
#   *_after variants, afterend_after (everything after END_REQUEST arrives
#   in the same write), die_after_headers (also with RST)
# Sanity: correct responses with records split into 1..1000-byte pieces and
# padding are delivered intact.
use strict;
use warnings;
use Test::More;
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
$t->start_httpd(<<"CONF");
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/bad.fcgi $app->{spec}
CONF
my $tag = qr/FCGIX\d{4}:/;
my $name_re = qr/\Q$h\/bad.fcgi\E/;

# ---- sanity: correct but unusually framed responses
for my $q ('mode=good&split=1&pad=7', 'mode=good&size=300000&split=1000&pad=255',
    'mode=good&size=200000&split=65535') {
    my $r = raw_req($t, 'GET', "/bad.fcgi?$q");
    is($r->{code}, 200, "sanity $q: 200") or diag show($r);
    my ($size) = $q =~ /size=(\d+)/;
    my $want = defined $size ? FcgixTest::pattern($size) : "hello from badapp\n";
    ok($r->{complete} && $r->{body} eq $want, "sanity $q: complete, body intact");
}

# ---- before headers
sub before {
    my ($q, $code, $name) = @_;
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', "/bad.fcgi?$q");
    is($r->{code}, $code, "$name: $code") or diag show($r);
    unlike($r->{body}, qr/violating record|lenient|after the end/, "$name: no app output passed on");
    cmp_ok($r->{elapsed}, '<', 10, "$name: answered promptly");
    log_since_like($t, $off, qr/$tag.*$name_re/, "$name: tagged log line naming the app");
}

before('mode=badversion', 502, 'version byte 2 before headers');
before('mode=badversion&ver=0', 502, 'version byte 0 before headers');
before('mode=otherid', 502, 'record for another request id before headers');
before('mode=otherid&oid=0', 502, 'STDOUT record with request id 0 before headers');
before('mode=unknowntype', 502, 'unknown record type 42 before headers');
before('mode=unknowntype&t=1', 502, 'BEGIN_REQUEST from the app before headers');
before('mode=shortend', 502, 'END_REQUEST with content length 4');
before('mode=shortend&n=12', 502, 'END_REQUEST with content length 12');
before('mode=afterend', 502, 'data after END_REQUEST (no headers yet)');
before('mode=overloaded', 503, 'END_REQUEST FCGI_OVERLOADED');
before('mode=die_before_headers', 502, 'app dies in the middle of its headers');
before('mode=die_before_headers&rst=1', 502, 'app resets the connection in its headers');
before('mode=die_silent', 502, 'app closes without a byte');

# ---- after headers: truncation
sub after {
    my ($q, $name) = @_;
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', "/bad.fcgi?$q", timeout => 20);
    is($r->{code}, 200, "$name: the 200 headers were already out") or diag show($r);
    ok($r->{framing} eq 'chunked' || $r->{framing} eq 'length',
        "$name: the response is delimited (chunked or Content-Length), so truncation is visible")
        or diag show($r);
    ok(!$r->{complete}, "$name: the client does not see a complete response")
        or diag show($r);
    ok($r->{closed}, "$name: the server closed the connection") or diag show($r);
    cmp_ok(length $r->{body}, '>=', 65536, "$name: body bytes before the failure arrived")
        or diag show($r);
    is(substr($r->{body}, 0, 1000), FcgixTest::pattern(1000), "$name: body bytes are the app's");
    log_since_like($t, $off, qr/$tag.*$name_re/, "$name: tagged log line naming the app");
}

after('mode=badversion_after', 'version byte 2 after headers');
after('mode=otherid_after', 'another request id after headers');
after('mode=unknowntype_after', 'unknown record type after headers');
after('mode=shortend_after', 'malformed END_REQUEST after headers');
after('mode=afterend_after', 'data after END_REQUEST, after headers');
after('mode=die_after_headers', 'app dies mid-body');
after('mode=die_after_headers&rst=1', 'app resets the connection mid-body');
after('mode=end_after&ps=2', 'FCGI_OVERLOADED after headers');

# the server is still healthy
{
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=good');
    is($r->{code}, 200, 'afterwards: a good request works');
    is($r->{body}, "hello from badapp\n", 'afterwards: body');
}

$t->done;
done_testing;
