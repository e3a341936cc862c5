# 60-sendfile.t - X-Sendfile, X-LIGHTTPD-send-file and X-Accel-Redirect
# (issue 16, /work/notes/spec16.md). The app is t/apps/respond.c: its
# hdr=LINE parameter adds any response header line, ctype=none drops its
# Content-Type; its own body ("respond ok\n") must be discarded.
#
# Layout: DIR/files is the only -sendfile-root (a.txt 100000 bytes, big.bin
# 10 MiB, sub/ a directory, in.txt -> a.txt a symlink inside, out.txt ->
# DIR/secret/s.txt a symlink leading out); DIR/secret/s.txt lies outside.
#
#  config: a -sendfile-root that does not exist, or is relative: apache2 -t
#          fails naming -sendfile-root.
#  1. X-Sendfile to a.txt: 200, the file's bytes (not the app's body),
#     Content-Length (also when the app sent Content-Length: 0), ETag,
#     Last-Modified (the file's mtime), Content-Type from the mime map (.txt,
#     .json; the app sent none) or the app's own, the app's other headers
#     (X-App, Set-Cookie) kept, X-Sendfile not passed on; a
#     symlink inside the root is served; X-LIGHTTPD-send-file works alike;
#     the app's status 404 is kept (the file as the page); HEAD: headers only;
#     over HTTP/2 (h2c, mod_http2) too: the file, Range, no X-Sendfile. The
#     options work on FastCgiServer and FastCgiConfig (a dynamic app) too.
#  2. Range: bytes=10-19 -> 206 + Content-Range + those bytes; two ranges ->
#     206 multipart/byteranges with both parts.
#  3. If-None-Match: <ETag> -> 304, If-Modified-Since: <Last-Modified> ->
#     304, If-Match: "other" and If-Unmodified-Since an hour before the
#     mtime -> 412.
#  4. refused with 502, the header and the file's bytes never reach the
#     client, FCGIX0150 logged: outside the root, "..", a symlink leading
#     out (a file, and a directory on the way), a relative path, a
#     directory, X-LIGHTTPD-send-file outside, and
#     X-Sendfile from an app without -sendfile-root. A missing file inside the
#     root: 404 (FCGIX0151). A %-encoded ".." is never served.
#  5. X-Accel-Redirect: /static/a.txt -> 200 with the file (Set-Cookie kept);
#     a POST redirected to another FastCGI app (printenv) reaches it as GET
#     with the redirect's query string;
#     to a location with "Require all denied" -> 403 (httpd's access control
#     applies); a relative URI -> 502; from an app without -accel-redirect ->
#     502 (FCGIX0152); the header never reaches the client.
#  6. the app is released at once: while a client reads big.bin slowly
#     (64 KiB/s, small receive buffer), the one-process app serves another
#     request, and the slow download is then still going on.
# Under the three MPMs.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use URI::Escape qw(uri_escape);
use HTTP::Date qw(time2str);
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $files = "$d/files";

my $a_txt = FcgixTest::pattern(100_000);
$t->write_file("files/a.txt", $a_txt);
my $big = FcgixTest::pattern(10 * 1024 * 1024);
$t->write_file("files/big.bin", $big);
$t->write_file("files/data.json", qq({"k":"v"}\n));
mkdir "$files/sub" or die "mkdir: $!";
$t->write_file("secret/s.txt", "SECRET-OUTSIDE\n");
symlink "$files/a.txt", "$files/in.txt" or die "symlink: $!";
symlink "$d/secret/s.txt", "$files/out.txt" or die "symlink: $!";
symlink "$d/secret", "$files/outdir" or die "symlink: $!";
$t->write_file("htdocs/static/a.txt", $a_txt);
$t->write_file("htdocs/denied/x.txt", "DENIED-FILE\n");
my $mtime = (stat "$files/a.txt")[9];

# ------------------------------------------------------------------ config
for my $bad ("$d/no-such-dir", 'files') {
    my ($ok, $out) = $t->config_test("FastCgiExternalServer $h/x.fcgi -socket $d/sock/x.sock -sendfile-root $bad\n");
    ok !$ok, "-sendfile-root $bad: apache2 -t fails";
    like $out, qr/-sendfile-root/, '... naming -sendfile-root' or diag $out;
}

$t->install_app('respond', "$h/srv/srv.fcgi");
$t->install_app('respond', "$h/dyn/dyn.fcgi");
my $app = $t->start_app(prog => 'respond', count => 2);
my $env = $t->start_app(prog => 'printenv', count => 1);
my $one = $t->start_app(prog => 'respond', count => 1);
my $h2 = -f '/usr/lib/apache2/modules/mod_http2.so' && `curl -V 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;
my ($up, $out) = $t->try_start_httpd(($h2 ? "Protocols h2c http/1.1\n" : '') . <<"EOF",
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/sf.fcgi $app->{spec} -sendfile-root $files -accel-redirect
FastCgiExternalServer $h/plain.fcgi $app->{spec}
FastCgiExternalServer $h/one.fcgi $one->{spec} -sendfile-root $files
FastCgiExternalServer $h/env.fcgi $env->{spec}
FastCgiServer $h/srv/srv.fcgi -processes 1 -sendfile-root $files -accel-redirect
FastCgiConfig -sendfile-root $files -accel-redirect
<Directory $h/dyn>
    Options +ExecCGI
    SetHandler fastcgi-script
</Directory>
<Location /denied>
    Require all denied
</Location>
EOF
    modules => [$h2 ? 'http2' : ()]);
if (!ok $up, 'httpd starts with -sendfile-root and -accel-redirect') {
    diag $out . $t->error_log;
    $t->done;
    done_testing;
    exit 1;
}

sub q_hdr { join '&', map { 'hdr=' . uri_escape($_) } @_ }

sub sf {    # GET through the app with these header lines (+ extra query)
    my ($app_path, $hdrs, $query, %req) = @_;
    my $qs = q_hdr(@$hdrs) . ($query ? "&$query" : '');
    return $t->get("/$app_path?$qs", %req);
}

# ------------------------------------------------------------------ 1
my $r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt", 'X-App: kept'], 'ctype=none&cookie=1');
is $r->code, 200, 'X-Sendfile: 200';
ok $r->content eq $a_txt, "X-Sendfile: the file's bytes, not the app's body"
    or diag 'got ' . length($r->content) . ' bytes: ' . substr($r->content, 0, 80);
is $r->header('Content-Length'), length $a_txt, 'Content-Length of the file';
like $r->header('ETag') // '', qr/^(W\/)?"[^"]+"$/, 'an ETag';
is $r->header('Last-Modified'), time2str($mtime), "Last-Modified: the file's mtime";
like $r->header('Content-Type') // '', qr{^text/plain}, 'Content-Type from the mime map (.txt)';
is $r->header('X-App'), 'kept', "the app's other headers are kept";
like $r->header('Set-Cookie') // '', qr/^c1=v1/, "the app's Set-Cookie is kept";
ok !defined $r->header('X-Sendfile'), 'X-Sendfile does not reach the client';
my $etag = $r->header('ETag');
my $lastmod = $r->header('Last-Modified');

$r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], 'status=404');
ok $r->code == 404 && $r->content eq $a_txt, "the app's status is kept (404 with the file as its page)";
$r = $t->request('HEAD', '/sf.fcgi?' . q_hdr("X-Sendfile: $files/a.txt"));
ok $r->code == 200 && ($r->header('Content-Length') // '') eq length($a_txt) && $r->content eq '',
    "HEAD: 200, the file's Content-Length, no body";
$r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], 'ctype=application/x-from-app');
is $r->header('Content-Type'), 'application/x-from-app', "the app's Content-Type is kept";
$r = sf('sf.fcgi', ["X-Sendfile: $files/data.json"], 'ctype=none');
like $r->header('Content-Type') // '', qr{^application/json}, 'Content-Type from the mime map (.json)';
$r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt", 'Content-Length: 0']);
ok $r->code == 200 && $r->content eq $a_txt && $r->header('Content-Length') == length $a_txt,
    "the app's own Content-Length: 0 gives way to the file's length";
$r = sf('sf.fcgi', ["X-Sendfile: $files/in.txt"]);
ok $r->code == 200 && $r->content eq $a_txt, 'a symlink inside the root is served';
$r = sf('sf.fcgi', ["X-LIGHTTPD-send-file: $files/a.txt"]);
ok $r->code == 200 && $r->content eq $a_txt, 'X-LIGHTTPD-send-file: the file is served';
ok !defined $r->header('X-LIGHTTPD-send-file'), 'X-LIGHTTPD-send-file does not reach the client';

for my $via (['FastCgiServer', 'srv/srv.fcgi'], ['FastCgiConfig (dynamic app)', 'dyn/dyn.fcgi']) {
    my ($name, $path) = @$via;
    $r = sf($path, ["X-Sendfile: $files/a.txt"]);
    ok $r->code == 200 && $r->content eq $a_txt, "$name with -sendfile-root: the file is served"
        or diag $r->code . ' ' . substr($r->content, 0, 200);
    $r = sf($path, ["X-Sendfile: $d/secret/s.txt"]);
    is $r->code, 502, "$name: outside the root refused";
    $r = sf($path, ['X-Accel-Redirect: /static/a.txt']);
    ok $r->code == 200 && $r->content eq $a_txt, "$name with -accel-redirect: redirected";
}

SKIP: {
    skip 'no mod_http2 or curl without HTTP2', 3 unless $h2;
    my $url = $t->base_url . '/sf.fcgi?' . q_hdr("X-Sendfile: $files/a.txt");
    my $body = `curl -sS --http2-prior-knowledge -m 20 -o - '$url'`;
    ok $body eq $a_txt, 'over HTTP/2 (h2c): the file is served';
    my $meta = `curl -sS --http2-prior-knowledge -m 20 -o /dev/null -H 'Range: bytes=10-19' -w '%{http_code} %{http_version} %{size_download}' '$url'`;
    is $meta, '206 2 10', 'over HTTP/2: Range -> 206 with 10 bytes';
    my $head = `curl -sS --http2-prior-knowledge -m 20 -o /dev/null -D - '$url'`;
    ok $head =~ m{^HTTP/2 200}m && $head !~ /^x-sendfile/mi, 'over HTTP/2: 200, X-Sendfile does not reach the client'
        or diag $head;
}

# ------------------------------------------------------------------ 2
$r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], '', Range => 'bytes=10-19');
is $r->code, 206, 'Range: 206';
is $r->header('Content-Range'), 'bytes 10-19/' . length $a_txt, 'Content-Range';
is $r->content, substr($a_txt, 10, 10), 'the requested bytes';
$r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], '', Range => 'bytes=0-4,50000-50009');
is $r->code, 206, 'two ranges: 206';
like $r->header('Content-Type') // '', qr{^multipart/byteranges}, 'two ranges: multipart/byteranges';
my $c = $r->content;
ok $c =~ m{Content-Range: bytes 0-4/100000\r?\n\r?\n\Q${\ substr($a_txt, 0, 5)}\E\r?\n}i
    && $c =~ m{Content-Range: bytes 50000-50009/100000\r?\n\r?\n\Q${\ substr($a_txt, 50000, 10)}\E\r?\n}i,
    'two ranges: both parts with their bytes' or diag substr($c, 0, 600);

# ------------------------------------------------------------------ 3
SKIP: {
    skip 'no ETag/Last-Modified to test conditionals with', 4 unless $etag && $lastmod;
    $r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], '', 'If-None-Match' => $etag);
    is $r->code, 304, 'If-None-Match: the ETag -> 304';
    $r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], '', 'If-Modified-Since' => $lastmod);
    is $r->code, 304, 'If-Modified-Since: Last-Modified -> 304';
    $r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], '', 'If-Match' => '"other"');
    is $r->code, 412, 'If-Match: another ETag -> 412';
    $r = sf('sf.fcgi', ["X-Sendfile: $files/a.txt"], '', 'If-Unmodified-Since' => time2str($mtime - 3600));
    is $r->code, 412, 'If-Unmodified-Since: before the mtime -> 412';
}

# ------------------------------------------------------------------ 4
my @refused = (
    ['outside the root', 'sf.fcgi', "X-Sendfile: $d/secret/s.txt"],
    ['".." out of the root', 'sf.fcgi', "X-Sendfile: $files/../secret/s.txt"],
    ['a symlink leading out', 'sf.fcgi', "X-Sendfile: $files/out.txt"],
    ['a directory symlink leading out', 'sf.fcgi', "X-Sendfile: $files/outdir/s.txt"],
    ['a relative path', 'sf.fcgi', 'X-Sendfile: files/a.txt'],
    ['a directory', 'sf.fcgi', "X-Sendfile: $files/sub"],
    ['X-LIGHTTPD-send-file outside', 'sf.fcgi', "X-LIGHTTPD-send-file: $d/secret/s.txt"],
    ['an app without -sendfile-root', 'plain.fcgi', "X-Sendfile: $files/a.txt"],
);
for my $x (@refused) {
    my ($name, $path, $line) = @$x;
    my ($hname) = $line =~ /^([^:]+)/;
    $r = sf($path, [$line]);
    is $r->code, 502, "refused with 502: $name";
    ok !defined $r->header($hname), "... $hname does not reach the client";
    ok $r->content !~ /SECRET-OUTSIDE|0123456789abcdef/, "... nor the file's bytes";
}
$t->log_like(qr/FCGIX0150:.*\Q$d\E\/secret\/s\.txt/, 'FCGIX0150 names the refused path');
$t->log_like(qr/FCGIX0150:.*plain\.fcgi/, 'FCGIX0150 names the app without the option');
$r = sf('sf.fcgi', ["X-Sendfile: $files/%2e%2e/secret/s.txt"]);
ok $r->code != 200 && $r->content !~ /SECRET-OUTSIDE/, 'a %-encoded ".." is not decoded into an escape ('
    . $r->code . ')';
$r = sf('sf.fcgi', ["X-Sendfile: $files/missing.txt"]);
is $r->code, 404, 'a missing file inside the root: 404';
ok !defined $r->header('X-Sendfile'), '... X-Sendfile does not reach the client';
$t->log_like(qr/FCGIX0151:.*missing\.txt/, 'FCGIX0151 names the missing file');

# ------------------------------------------------------------------ 5
$r = sf('sf.fcgi', ['X-Accel-Redirect: /static/a.txt'], 'cookie=1');
is $r->code, 200, 'X-Accel-Redirect to a static file: 200';
ok $r->content eq $a_txt, '... its bytes';
like $r->header('Set-Cookie') // '', qr/^c1=v1/, "... the app's Set-Cookie kept";
ok !defined $r->header('X-Accel-Redirect'), '... X-Accel-Redirect does not reach the client';
$r = $t->request('POST', '/sf.fcgi?' . q_hdr('X-Accel-Redirect: /env.fcgi?from=accel'), body => 'x=1',
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is $r->code, 200, 'X-Accel-Redirect to another FastCGI app: its handler answers';
like $r->content, qr/^REQUEST_METHOD=GET$/m, '... as GET (the request was a POST)';
like $r->content, qr/^QUERY_STRING=from=accel$/m, "... with the redirect's query string";
unlike $r->content, qr/^CONTENT_LENGTH=[1-9]/m, '... without the POST body (no CONTENT_LENGTH)';
like $r->content, qr/^#body_length=0$/m, '... and no body bytes';
$r = sf('sf.fcgi', ['X-Accel-Redirect: /denied/x.txt']);
is $r->code, 403, "X-Accel-Redirect into 'Require all denied': 403";
ok $r->content !~ /DENIED-FILE/, '... the file is not served';
$r = sf('sf.fcgi', ['X-Accel-Redirect: static/a.txt']);
is $r->code, 502, 'X-Accel-Redirect to a relative URI: 502';
$r = sf('plain.fcgi', ['X-Accel-Redirect: /static/a.txt']);
is $r->code, 502, 'X-Accel-Redirect from an app without -accel-redirect: 502';
ok !defined $r->header('X-Accel-Redirect'), '... the header does not reach the client';
ok $r->content !~ /0123456789abcdef/, "... nor the file's bytes";
$t->log_like(qr/FCGIX0152:.*plain\.fcgi/, 'FCGIX0152 names the app');

# ------------------------------------------------------------------ 6
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
        or die "connect: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', 16384));
    my $qs = q_hdr("X-Sendfile: $files/big.bin");
    print $s "GET /one.fcgi?$qs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my $sel = IO::Select->new($s);
    my ($got, $head, $eof) = (0, '', 0);
    my $read_for = sub {    # reads at most 64 KiB per second for $secs
        my ($secs) = @_;
        my $end = time + $secs;
        while (!$eof && time < $end) {
            my $tick = time + 1;
            my $budget = 65536;
            while ($budget > 0 && time < $tick && $sel->can_read($tick - time)) {
                my $n = sysread($s, my $b, $budget < 16384 ? $budget : 16384);
                if (!$n) { $eof = 1; last }
                $head .= $b if length $head < 4096;
                $got += $n;
                $budget -= $n;
            }
            sleep $tick - time if time < $tick;
        }
    };
    $read_for->(2);
    like $head, qr{^HTTP/1\.1 200}, 'slow download of 10 MiB via X-Sendfile: 200';
    my $t0 = time;
    my $r2 = $t->request('GET', '/one.fcgi', timeout => 10);
    my $dt = time - $t0;
    is $r2->code, 200, 'the one-process app serves another request during the slow download';
    ok $dt < 5, sprintf('... at once (%.2f s), not after the download', $dt);
    my $before = $got;
    $read_for->(2);
    ok !$eof && $got > $before && $got < length $big,
        sprintf('the slow download is still going on (%d of %d bytes)', $got, length $big);
    close $s;
}

$t->done;
done_testing;
