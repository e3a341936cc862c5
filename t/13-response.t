# 13-response.t - how the application's response headers shape the response
# (badapp: a raw-protocol FastCGI app, independent of the module's code).
#
#   Status: sets the status (with and without a reason phrase);
#   Location: /local/path is an internal redirect (client sees the target
#     with 200), to a static file and to an app URL with a query string;
#   Location: http://... gives 302 with that Location;
#   several Set-Cookie headers all arrive;
#   Last-Modified + If-Modified-Since: 304 without a body; an older
#     If-Modified-Since gives 200 with the body;
#   HEAD: headers and no body, even though the app sends one;
#   -flush streams: an app writing 3 chunks 500 ms apart - the client reads
#     the first chunk well before the app finishes (measured on a raw
#     socket); without -flush only loosely compared;
#   nph- script names are refused with a tagged log line naming the app
#     (this module answers 403; 500 would also satisfy the issue).
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
my $fapp = $t->start_app(prog => 'badapp');
my $nfapp = $t->start_app(prog => 'badapp');
$t->write_file('htdocs/target.txt', "target content\n");

$t->start_httpd(<<"CONF");
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/bad.fcgi $app->{spec}
FastCgiExternalServer $h/flush.fcgi $fapp->{spec} -flush
FastCgiExternalServer $h/noflush.fcgi $nfapp->{spec}
FastCgiExternalServer $h/nph-bad.fcgi $app->{spec}
CONF

sub uri_esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~\/])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# ---- Status
{
    my $r = $t->get('/bad.fcgi?mode=status&v=404%20Not%20Here');
    is($r->code, 404, 'Status: 404 Not Here -> 404') or diag $r->as_string;
    is($r->content, "status body\n", 'Status 404: the app body is sent');
    $r = $t->get('/bad.fcgi?mode=status&v=201');
    is($r->code, 201, 'Status: 201 -> 201');
    is($r->content, "status body\n", 'Status 201: body');
    $r = $t->get('/bad.fcgi?mode=status&v=503%20Busy');
    is($r->code, 503, 'Status: 503 Busy -> 503');
    $r = $t->get('/bad.fcgi?mode=status&v=299');
    is($r->code, 299, 'Status: 299 (unregistered, in range) -> 299');
}

# ---- Location
{
    my $r = $t->get('/bad.fcgi?mode=location&to=/target.txt');
    is($r->code, 200, 'Location: /target.txt -> internal redirect, 200') or diag $r->as_string;
    is($r->content, "target content\n", 'internal redirect: client sees the target file');
    ok(!defined $r->header('Location'), 'internal redirect: no Location header reaches the client');

    $r = $t->get('/bad.fcgi?mode=location&to=' . uri_esc('/bad.fcgi?mode=good'));
    is($r->code, 200, 'Location: /bad.fcgi?mode=good -> 200') or diag $r->as_string;
    is($r->content, "hello from badapp\n", 'internal redirect to an app URL keeps its query string');

    $r = $t->get('/bad.fcgi?mode=location&to=' . uri_esc('http://example.invalid/elsewhere?x=1'));
    is($r->code, 302, 'Location: http://... -> 302') or diag $r->as_string;
    is($r->header('Location'), 'http://example.invalid/elsewhere?x=1', '302 carries the Location');
}

# ---- Set-Cookie
{
    my $r = $t->get('/bad.fcgi?mode=cookies');
    is($r->code, 200, 'cookies: 200');
    my @c = $r->header('Set-Cookie');
    is(scalar(@c), 3, 'three Set-Cookie headers arrive') or diag $r->as_string;
    is_deeply([sort map { /^(\w+=\w+)/ ? $1 : $_ } @c], [qw(a=1 b=2 c=3)], 'all cookie values');
}

# ---- Last-Modified / If-Modified-Since
{
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=lastmod');
    is($r->{code}, 200, 'lastmod: 200 without a condition') or diag show($r);
    is(hdr1($r, 'Last-Modified'), 'Sat, 01 Jan 2000 00:00:00 GMT', 'Last-Modified is passed on');
    is($r->{body}, "lastmod body\n", 'lastmod: body');

    $r = raw_req($t, 'GET', '/bad.fcgi?mode=lastmod',
        headers => ['If-Modified-Since: Sun, 01 Jan 2012 00:00:00 GMT', 'Connection: close']);
    is($r->{code}, 304, 'If-Modified-Since after Last-Modified -> 304') or diag show($r);
    is($r->{extra}, '', '304: no body bytes at all');

    $r = raw_req($t, 'GET', '/bad.fcgi?mode=lastmod',
        headers => ['If-Modified-Since: Mon, 01 Jan 1990 00:00:00 GMT']);
    is($r->{code}, 200, 'If-Modified-Since before Last-Modified -> 200') or diag show($r);
    is($r->{body}, "lastmod body\n", '... with the body');
}

# ---- HEAD
{
    for my $q ('mode=good', 'mode=good&size=200000') {
        my $r = raw_req($t, 'HEAD', "/bad.fcgi?$q", headers => ['Connection: close']);
        is($r->{code}, 200, "HEAD $q: 200") or diag show($r);
        like(hdr1($r, 'Content-Type') // '', qr{^text/plain}, "HEAD $q: headers present");
        is($r->{extra}, '', "HEAD $q: no body bytes before the close") or diag show($r);
    }
    # HEAD then GET on one connection: the GET's status line must come right
    # after the HEAD's headers (no stray body bytes in between)
    my $c = $t->conn(timeout => 15);
    my $r1 = $c->request('HEAD', '/bad.fcgi?mode=good&size=5000');
    is($r1->{code}, 200, 'keep-alive HEAD: 200');
    my $r2 = eval { $c->request('GET', '/bad.fcgi?mode=good') };
    ok($r2 && $r2->{code} == 200 && $r2->{content} eq "hello from badapp\n",
        'keep-alive: GET after HEAD parses cleanly') or diag($@ // '');
    $c->close;
}

# ---- -flush streaming
{
    my $q = '?mode=slow&n=3&ms=500';
    my $f = raw_req($t, 'GET', "/flush.fcgi$q", timeout => 20);
    my $nf = raw_req($t, 'GET', "/noflush.fcgi$q", timeout => 20);
    is($f->{code}, 200, '-flush: 200') or diag show($f);
    is($f->{body}, "chunk 1\nchunk 2\nchunk 3\n", '-flush: whole body');
    ok($f->{complete}, '-flush: response complete');
    is($nf->{body}, "chunk 1\nchunk 2\nchunk 3\n", 'no -flush: whole body');
    my $ff = $f->{t_first_body} // 99;
    my $fc = $f->{t_complete} // 99;
    my $nff = $nf->{t_first_body} // 99;
    my $nfc = $nf->{t_complete} // 99;
    diag(sprintf('-flush: first body byte %.3f s, complete %.3f s; without: %.3f s, %.3f s',
        $ff, $fc, $nff, $nfc));
    # the app needs 1.0 s from its first to its last chunk
    ok($fc >= 0.9, '-flush: the app really took ~1 s');
    ok($ff < $fc - 0.5, '-flush: first chunk arrives well (>= 0.5 s) before the end');
    ok($ff < 0.9, '-flush: first chunk arrives within 0.9 s');
    # loosely: -flush is never slower to deliver the first chunk
    ok($ff <= $nff + 0.3, '-flush: first chunk not later than without -flush (loose)');
}

# ---- nph-
{
    my $off = length $t->error_log;
    my $r = $t->get('/nph-bad.fcgi?mode=good');
    diag('nph- request answered with ' . $r->code);
    ok($r->code == 403 || $r->code == 500, 'nph- script: refused with 403 or 500') or diag $r->as_string;
    unlike($r->content, qr/hello from badapp/, 'nph- script: app output is not passed through');
    log_since_like($t, $off, qr/FCGIX\d{4}:.*\Q$h\E\/nph-bad\.fcgi.*nph-/,
        'nph-: tagged log line naming the app and nph-');
}

$t->done;
done_testing;
