# 16-nph.t - FastCgiServer / FastCgiExternalServer -nph: the app writes the
# whole HTTP response (status line and headers) and the client gets its
# bytes unchanged.
#
# A Perl FCGI app (nph.pl) writes "HTTP/1.1 299 Custom Reason" and its own
# headers; what it writes depends on the query (?mode=...):
#   raw       status line, two headers, a body
#   keepalive the same; the client asks for keep-alive
#   empty     nothing at all (then ends the request)
#   cgi       an ordinary CGI header block (Status: 200) - not HTTP
# Checked, for a FastCgiServer app and for the same app as an external server:
#   - the client sees exactly the app's bytes: the status line with its
#     reason, the app's headers, no Date/Server added by httpd, no chunking;
#   - the response ends with the connection (keep-alive is off);
#   - the same app without -nph gets 502 (its status line is no CGI header);
#   - an nph app that writes nothing gets 502 and FCGIX0117 naming it;
#   - a HEAD request passes through as the app writes it.
use strict;
use warnings;
use Test::More;
use FcgixTest;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my $app = <<'EOF';
#!/usr/bin/perl
use strict;
use warnings;
use FCGI;
my $req = FCGI::Request();
while ($req->Accept() >= 0) {
    my ($mode) = ($ENV{QUERY_STRING} // '') =~ /mode=(\w+)/;
    $mode //= 'raw';
    next if $mode eq 'empty';
    if ($mode eq 'cgi') {
        print "Status: 200\r\nContent-Type: text/plain\r\n\r\ncgi body\n";
        next;
    }
    print "HTTP/1.1 299 Custom Reason\r\n",
        "X-Nph: $ENV{REQUEST_METHOD}\r\n",
        "Content-Type: text/x-nph\r\n\r\n",
        "nph body for $ENV{SCRIPT_NAME}\n";
}
EOF
for my $n (qw(srv ext plain)) {
    $t->write_file("htdocs/$n/app.fcgi", $app, 0755);
}
my $ext = $t->start_app(prog => "$h/ext/app.fcgi", name => 'ext');

$t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiServer $h/srv/app.fcgi -nph
FastCgiServer $h/plain/app.fcgi
FastCgiExternalServer $h/ext/app.fcgi $ext->{spec} -nph
<Directory $h>
    AddHandler fastcgi-script .fcgi
    Options +ExecCGI
</Directory>
EOF

sub req {
    my ($method, $path, $keep) = @_;
    my $conn = $keep ? 'keep-alive' : 'close';
    return $t->raw("$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: $conn\r\n\r\n");
}

for my $n (qw(srv ext)) {
    my $url = "/$n/app.fcgi";
    my $want = "HTTP/1.1 299 Custom Reason\r\nX-Nph: GET\r\nContent-Type: text/x-nph\r\n\r\n"
        . "nph body for $url\n";

    my ($raw, $closed) = req('GET', "$url?mode=raw");
    is($raw, $want, "$n -nph: the client gets the app's bytes exactly (status line, headers, body)");
    ok($closed, "$n -nph: the server closes the connection after it");
    unlike($raw, qr/^(Date|Server|Transfer-Encoding):/mi, "$n -nph: httpd adds no header of its own");

    ($raw, $closed) = req('GET', "$url?mode=keepalive", 1);
    is($raw, $want, "$n -nph with keep-alive asked: same bytes");
    ok($closed, "$n -nph with keep-alive asked: the connection still ends the response");

    ($raw) = req('HEAD', "$url?mode=raw");
    like($raw, qr{\AHTTP/1\.1 299 Custom Reason\r\nX-Nph: HEAD\r\n}, "$n -nph HEAD: the app's status line and headers");

    my ($raw2) = req('GET', "$url?mode=empty");
    my $r = FcgixTest::parse_response($raw2, 'GET');
    is($r && $r->{code}, 502, "$n -nph app that writes nothing: 502");
}
$t->log_like(qr/FCGIX0117: -nph application ended the request without writing a response: \Q$h\E\/srv\/app\.fcgi/,
    'FCGIX0117 names the FastCgiServer app');
$t->log_like(qr/FCGIX0117: .*: \Q$h\E\/ext\/app\.fcgi/, 'FCGIX0117 names the external app');

{
    my ($raw) = req('GET', '/plain/app.fcgi?mode=raw');
    my $r = FcgixTest::parse_response($raw, 'GET');
    is($r && $r->{code}, 502, 'the same app without -nph: 502 (an HTTP status line is not a CGI header)');
    ($raw) = req('GET', '/plain/app.fcgi?mode=cgi');
    $r = FcgixTest::parse_response($raw, 'GET');
    is($r && $r->{code}, 200, '... and its CGI answer is served normally');
    like($r && $r->{content}, qr/^cgi body/, '... with its body');
}
$t->allow_log(qr/FCGIX0117|FCGIX01\d\d: .*plain\/app\.fcgi/);

$t->done;
done_testing;
