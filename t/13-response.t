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
use FcgixRaw;  # raw_req, hdr1, show, log_since_like

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
