# 18-protocol.t - FastCGI record-level misbehaviour of the application.
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
use FcgixRaw;  # raw_req, hdr1, show, log_since_like

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

$t->start_external(prog => 'badapp', servers => ['bad.fcgi']);
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
