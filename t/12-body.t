# 12-body.t - request bodies.
#
# POST with Content-Length (1 MiB) arrives intact; chunked POST without
# Content-Length gives the app CONTENT_LENGTH = real size (small, and > 1 MiB
# so it goes through the temp-file spool); LimitRequestBody gives 413 for both
# kinds; an app that answers 1 MiB before reading a 4 MiB body does not
# deadlock (respond has -spool-body 0, so its Content-Length bodies stream
# instead of being read before the app is connected).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use FcgixTest;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my $upload  = $t->start_app(prog => 'upload', count => 2);
my $penv    = $t->start_app(prog => 'printenv');
my $respond = $t->start_app(prog => 'respond', count => 2);

$t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/upload $upload->{spec}
FastCgiExternalServer $h/printenv $penv->{spec}
FastCgiExternalServer $h/respond $respond->{spec} -spool-body 0
FastCgiExternalServer $h/limited/upload $upload->{spec}
<Location /limited>
    LimitRequestBody 1000
</Location>
EOF

srand(12345);
sub random_bytes {
    my ($n) = @_;
    my $s = '';
    $s .= pack('N', int rand(2**32)) while length($s) < $n;
    return substr($s, 0, $n);
}

sub kv {
    my ($content) = @_;
    my %e;
    for (split /\n/, $content // '') {
        $e{$1} = $2 if /^#?([^=]+)=(.*)$/;
    }
    return \%e;
}

# raw request with Content-Length or chunked framing, full duplex
sub post {
    my ($path, $body, %o) = @_;
    my $req = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . "Content-Type: application/octet-stream\r\n";
    if ($o{chunked}) {
        $req .= "Transfer-Encoding: chunked\r\n\r\n";
        my $cs = $o{chunk_size} || 65536;
        for (my $i = 0; $i < length $body; $i += $cs) {
            my $c = substr($body, $i, $cs);
            $req .= sprintf("%x\r\n", length $c) . $c . "\r\n";
        }
        $req .= "0\r\n\r\n";
    }
    else {
        $req .= 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
    }
    my ($raw, $closed, $elapsed) = $t->raw($req, timeout => $o{timeout} || 30);
    my $r = FcgixTest::parse_response($raw);
    return wantarray ? ($r, $elapsed) : $r;
}

sub check_upload {
    my ($name, $path, $body, %o) = @_;
    my $r = post($path, $body, %o);
    ok($r && $r->{code} == 200, "$name: 200")
        or diag(($r ? "$r->{status_line}\n$r->{content}" : 'no response') . "\n" . $t->error_log);
    my $e = kv($r && $r->{content});
    is($e->{length}, length $body, "$name: app read the whole body");
    is($e->{md5}, FcgixTest::md5_hex($body), "$name: checksum matches");
    is($e->{content_length}, length $body, "$name: CONTENT_LENGTH is the real size");
}

my $mib = 1024 * 1024;

# Content-Length bodies
check_upload('POST 1 MiB with Content-Length', '/upload', random_bytes($mib));
check_upload('POST 10 bytes with Content-Length', '/upload', "0123456789");
check_upload('POST empty body with Content-Length: 0', '/upload', '');

# chunked bodies without Content-Length
check_upload('chunked POST small', '/upload', random_bytes(1000), chunked => 1, chunk_size => 100);
check_upload('chunked POST 1 byte chunks', '/upload', 'abcdefghij', chunked => 1, chunk_size => 1);
check_upload('chunked POST empty', '/upload', '', chunked => 1);
check_upload('chunked POST 3 MiB (temp-file spool)', '/upload', random_bytes(3 * $mib + 17),
    chunked => 1, chunk_size => 50000);

# printenv reads exactly CONTENT_LENGTH bytes: it must see all of a chunked body
{
    my $body = random_bytes(200000);
    my $r = post('/printenv', $body, chunked => 1, chunk_size => 8192);
    ok($r && $r->{code} == 200, 'chunked POST to printenv: 200');
    my $e = kv($r && $r->{content});
    is($e->{CONTENT_LENGTH}, length $body, 'chunked POST to printenv: CONTENT_LENGTH');
    is($e->{body_length}, length $body, 'chunked POST to printenv: body length');
    is($e->{body_md5}, FcgixTest::md5_hex($body), 'chunked POST to printenv: md5');
    is($e->{body_eof}, 0, 'chunked POST to printenv: stdin did not end early');
    ok(!exists $e->{HTTP_TRANSFER_ENCODING}, 'chunked POST to printenv: no HTTP_TRANSFER_ENCODING');
}

# LimitRequestBody
{
    my $r = post('/limited/upload', 'x' x 2000);
    is($r && $r->{code}, 413, 'LimitRequestBody 1000, Content-Length 2000: 413')
        or diag($r ? $r->{status_line} : 'no response');
    $r = post('/limited/upload', 'x' x 2000, chunked => 1, chunk_size => 500);
    is($r && $r->{code}, 413, 'LimitRequestBody 1000, chunked 2000: 413')
        or diag($r ? "$r->{status_line}\n$r->{content}" : 'no response');
    $r = post('/limited/upload', 'x' x 999, chunked => 1, chunk_size => 100);
    is($r && $r->{code}, 200, 'LimitRequestBody 1000, chunked 999: 200');
    $r = post('/limited/upload', 'x' x 1000);
    is($r && $r->{code}, 200, 'LimitRequestBody 1000, Content-Length 1000: 200');
}

# the app answers (1 MiB) before reading any of a 4 MiB body: no deadlock
for my $kind ('content-length', 'chunked') {
    my $body = 'u' x (4 * $mib);
    my $t0 = time;
    my ($r, $elapsed) = post('/respond?readbody=0&size=1048576', $body,
        chunked => $kind eq 'chunked', chunk_size => 65536, timeout => 40);
    ok($r && $r->{code} == 200, "early answer, $kind upload: 200")
        or diag(($r ? $r->{status_line} : 'no response') . "\n" . $t->error_log);
    ok($r && $r->{complete} && $r->{content} eq FcgixTest::pattern($mib),
        "early answer, $kind upload: complete 1 MiB body")
        or diag('got ' . length($r ? $r->{content} : '') . ' bytes');
    cmp_ok($elapsed, '<', 30, "early answer, $kind upload: within bounded time");
}

# and an app that reads the body only after answering
{
    my $body = 'v' x (4 * $mib);
    my ($r, $elapsed) = post('/respond?readbody=after&size=1048576', $body, timeout => 40);
    ok($r && $r->{code} == 200 && $r->{complete} && length($r->{content}) == $mib,
        'answer first, read body after: complete');
    cmp_ok($elapsed, '<', 30, 'answer first, read body after: within bounded time');
}

# the server is still healthy
{
    my $r = post('/upload', 'still ok');
    ok($r && $r->{code} == 200, 'server still answers');
}

$t->done;
done_testing;
