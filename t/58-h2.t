# 58-h2.t - mod_fcgix behind mod_http2 (h2c with prior knowledge on
# loopback: Protocols h2c http/1.1; clients: curl --http2-prior-knowledge and
# FcgixStream's minimal h2c client for a stream reset). Issue 16.
#
#  1. an upload WITHOUT Content-Length (curl -T - from a pipe: curl's own
#     trace shows no content-length request header), 5 MiB + 17 bytes, reaches
#     a libfcgi app (t/apps/upload.c, reads FCGI_STDIN to its end) and
#     php-fpm (php://input) with CONTENT_LENGTH = the body's length, and the
#     same bytes (length and MD5). (mod_fcgix spools a body without length to
#     give the app its CONTENT_LENGTH; PHP needs it to read php://input.)
#  2. SSE (t/apps/sse.c, text/event-stream, no -flush): 5 events 300 ms apart
#     arrive one by one over h2 (event N before the app writes N+1), also
#     through mod_deflate (curl --compressed, gzip asserted).
#  3. a client that goes away while the app is silent (sse pause_ms=10000
#     after the first event) frees the app: a real RST_STREAM(CANCEL) on a
#     connection that stays open, and curl killed (the connection goes): the
#     one-process app logs "peer-gone after event 1" within 3 s and serves
#     the next request.
# Under the three MPMs (Debian's httpd 2.4.71 mod_http2 serves h2c under
# prefork too; should a build disable itself there, AH10034 "the currently
# selected mpm will just not do", the test skips under prefork saying so).
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixStream;

my $FPM = '/usr/sbin/php-fpm8.2';
plan skip_all => 'curl without HTTP2 support' unless `curl -V 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;
plan skip_all => 'mod_http2 not installed' unless -f '/usr/lib/apache2/modules/mod_http2.so';
my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $root = $> == 0;

# ------------------------------------------------------------------ php-fpm
my $sock = "$d/sock/php.sock";
my $fpm;
if (-x $FPM) {
    my $conf = $t->write_file('php-fpm.conf', <<"EOF");
[global]
pid = $d/php-fpm.pid
error_log = $d/logs/php-fpm.log
daemonize = no
[www]
@{[ $root ? "user = www-data\ngroup = www-data\nlisten.owner = www-data\nlisten.group = www-data\n" : '' ]}listen = $sock
listen.mode = 0660
pm = static
pm.max_children = 2
EOF
    $fpm = $t->spawn([$FPM, '-F', '-R', '-y', $conf], name => 'php-fpm');
    $t->wait_for(sub { -S $sock }, 15)
        or diag "php-fpm did not come up:\n" . slurp($fpm->{log}) . slurp("$d/logs/php-fpm.log");
    $t->write_file('htdocs/php/up.php', <<'EOF');
<?php
header('Content-Type: text/plain');
$b = file_get_contents('php://input');
echo "length=", strlen($b), "\nmd5=", md5($b), "\ncontent_length=",
    $_SERVER['CONTENT_LENGTH'] ?? '-', "\n";
EOF
}

my $up = $t->start_app(prog => 'upload', count => 2);
my $sse = $t->start_app(prog => 'sse', count => 1);
my $fpm_conf = $fpm ? "FastCgiExternalServer $h/php/up.php -socket $sock\n" : '';
$t->start_httpd(<<"EOF", modules => [qw(http2 filter deflate)]);
Protocols h2c http/1.1
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/up.fcgi $up->{spec}
FastCgiExternalServer $h/sse.fcgi $sse->{spec}
FastCgiExternalServer $h/z/sse.fcgi $sse->{spec}
<Location /z/>
    AddOutputFilterByType DEFLATE text/event-stream
</Location>
$fpm_conf
EOF

my $probe = FcgixStream::h2_curl($t, '/sse.fcgi?count=1&interval_ms=0');
if ($t->mpm eq 'prefork' && ($probe->{version} // '') ne '2') {
    my $inactive = $t->error_log =~ /AH10034/;
    $t->done;
    plan skip_all => 'mod_http2 is inactive under prefork'
        . ($inactive ? ' (AH10034: the mpm is not supported by mod_http2)' : '');
}
is $probe->{version}, '2', 'h2c with prior knowledge: the response is HTTP/2';

# ------------------------------------------------------------------ 1. upload
my $body = join '', map { pack('N', $_ * 2654435761 % 4294967296) } 1 .. (5 * 1024 * 1024 / 4);
$body .= 'seventeen bytes!!';
my $file = $t->write_file('upload.bin', $body);
my $md5 = FcgixTest::md5_hex($body);

# POST from a pipe (unknown size: no content-length); returns (code, body, trace)
sub h2_upload {
    my ($path) = @_;
    my $trace = "$d/logs/curl-upload.trace";
    my $out = `cat '$file' | curl -sS --http2-prior-knowledge -X POST -T - -H 'Content-Type: application/octet-stream' --trace-ascii '$trace' -o - -w '\\n%{http_code} %{http_version}' '@{[ $t->base_url ]}$path' 2>&1`;
    my ($resp, $code, $ver) = $out =~ /\A(.*)\n(\d{3}) (\S+)\z/s ? ($1, $2, $3) : ($out, 0, '');
    return ($code, $ver, $resp, slurp($trace));
}

my @targets = (['libfcgi app', '/up.fcgi']);
push @targets, ['php-fpm', '/php/up.php'] if $fpm;
for my $tg (@targets) {
    my ($name, $path) = @$tg;
    my ($code, $ver, $resp, $trace) = h2_upload($path);
    is $code, 200, "h2 upload to the $name: 200" or diag $resp;
    is $ver, '2', "h2 upload to the $name: over HTTP/2";
    my ($sent_hdrs) = $trace =~ /=> Send header.*?\n(.*?)(?:=>|<=)/s;
    unlike $sent_hdrs // '', qr/content-length/i, "h2 upload to the $name: sent without content-length"
        or diag $sent_hdrs;
    like $resp, qr/^length=${\ length $body}$/m, "$name: got all " . length($body) . ' bytes';
    like $resp, qr/^md5=$md5$/m, "$name: the same bytes (MD5)";
    like $resp, qr/^content_length=${\ length $body}$/m, "$name: CONTENT_LENGTH is the body's length";
}
SKIP: {
    skip "php-fpm8.2 not installed ($FPM missing)", 1 unless $fpm;
}

# ------------------------------------------------------------------ 2. SSE
my $s = FcgixStream::h2_curl($t, '/sse.fcgi?count=5&interval_ms=300');
is $s->{version}, '2', 'SSE over HTTP/2';
my $why = FcgixStream::one_by_one($s->{events}, 5);
ok !defined $why, 'h2: the 5 events arrive one by one' or diag "$why\n" . FcgixStream::table($s);

$s = FcgixStream::h2_curl($t, '/z/sse.fcgi?count=5&interval_ms=300', curl => ['--compressed']);
is $s->{headers}{'content-encoding'}, 'gzip', 'h2 + mod_deflate: the response is gzip-encoded';
$why = FcgixStream::one_by_one($s->{events}, 5);
ok !defined $why, 'h2 + mod_deflate: the 5 events arrive one by one'
    or diag "$why\n" . FcgixStream::table($s);

# ------------------------------------------------------------------ 3. reset
sub app_freed {
    my ($name, $log0, $left_at) = @_;
    my $gone = $t->wait_for(sub {
        substr(slurp($sse->{log}), $log0) =~ /sent (\d+) of 3: ([^\n]*)/ ? "$1 $2" : '' }, 12);
    my $dt = time - $left_at;
    like $gone, qr/^1 peer-gone after event 1/, "$name: the silent app sees its request ended";
    ok $gone && $dt < 3, sprintf('%s: ... promptly (%.2f s; the app would stay silent 10 s)', $name, $dt);
    my $r = FcgixStream::h2_curl($t, '/sse.fcgi?count=1&interval_ms=0', timeout => 8);
    my $served = time - $left_at;
    is scalar @{ $r->{events} }, 1, "$name: the one-process app serves the next request";
    ok $served < 4, sprintf('%s: ... %.2f s after the client left', $name, $served);
}

{
    my $log0 = length slurp($sse->{log});
    my $r = FcgixStream::h2_reset($t, '/sse.fcgi?count=3&pause_ms=10000');
    ok $r->{got_events}, 'RST_STREAM client: got the first event over h2c' or diag explain $r->{events};
    ok eval { FcgixStream::h2_ping($r) }, 'the h2 connection itself stays open after the reset (PING answered)';
    app_freed('RST_STREAM(CANCEL), connection kept', $log0, $r->{reset_at});
    close $r->{sock};
}
{
    my $log0 = length slurp($sse->{log});
    my $r = FcgixStream::h2_curl($t, '/sse.fcgi?count=3&pause_ms=10000', stop => sub { @{ $_[0] } >= 1 });
    is scalar @{ $r->{events} }, 1, 'curl killed after the first event';
    app_freed('h2 client killed', $log0, $r->{killed_at} // time);
}

$t->done;
done_testing;
