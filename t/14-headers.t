# 14-headers.t - the application's header block: validation, framing and
# limits.
#
# The app never frames the response: an app-sent Content-Length (too big or
# too small) or Transfer-Encoding: chunked is not used as framing; the client
# gets exactly the app's body, correctly delimited.
# Malformed header blocks -> 502 with a tagged log line naming the app: a
# control byte (0x01, NUL, ESC, DEL) in a value or a name, a bare CR, a bare
# LF inside a value, obs-fold (SP and HTAB), a line without a colon, a Status
# that is not three digits 200..599 (2000, abc, 600, 199, 20, 099) or a 1xx
# Status (100, 103). Each bad block is followed by a correct rest, so a
# lenient module would answer 200.
# Limits: header block > 64 KiB, > 100 lines, or a line > 8190 bytes -> 502
# at once while the app keeps sending header bytes forever; and each limit is
# configurable (-header-max-bytes, -header-max-lines, -header-max-line):
# the same finite block passes or fails depending on the option.
use strict;
use warnings;
use Test::More;
use FcgixTest;
use FcgixRaw;  # raw_req, hdr1, show, log_since_like

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

$t->start_external(prog => 'badapp', servers => [
    'bad.fcgi',
    'lines20.fcgi -header-max-lines 20',
    'lines200.fcgi -header-max-lines 200',
    'line1k.fcgi -header-max-line 1000',
    'bytes4k.fcgi -header-max-bytes 4096',
    'bytes128k.fcgi -header-max-bytes 131072',
]);
my $tag = qr/FCGIX\d{4}:/;

sub expect_502 {
    my ($file, $q, $name, %o) = @_;
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', "/$file?$q", timeout => 20);
    is($r->{code}, 502, "$name: 502") or diag show($r);
    unlike($r->{body}, qr/body after/, "$name: app body not passed on");
    cmp_ok($r->{elapsed}, '<', $o{tmax} // 10, sprintf('%s: answered within %d s (%.2f)', $name, $o{tmax} // 10, $r->{elapsed}));
    log_since_like($t, $off, qr/$tag.*\Q$h\/$file\E/, "$name: tagged log line naming the app");
    return $r;
}

sub expect_200 {
    my ($file, $q, $name) = @_;
    my $r = raw_req($t, 'GET', "/$file?$q", timeout => 20);
    is($r->{code}, 200, "$name: 200") or diag show($r);
    ok($r->{complete}, "$name: complete");
    is($r->{body}, "body after many headers\n", "$name: body");
    return $r;
}

# ---- the app never frames the response
{
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=cl_lie', timeout => 20);
    is($r->{code}, 200, 'Content-Length: 1000000 from the app: 200') or diag show($r);
    ok($r->{complete}, 'Content-Length lie: the response is complete') or diag show($r);
    is($r->{body}, "short body\n", 'Content-Length lie: exactly the app body');
    ok(!defined hdr1($r, 'Content-Length') || hdr1($r, 'Content-Length') == 11,
        'Content-Length lie: no Content-Length other than the real one') or diag show($r);
    cmp_ok($r->{elapsed}, '<', 5, 'Content-Length lie: the client does not wait for missing bytes');

    $r = raw_req($t, 'GET', '/bad.fcgi?mode=cl_short', timeout => 20);
    is($r->{code}, 200, 'Content-Length: 3 from the app: 200') or diag show($r);
    ok($r->{complete}, 'Content-Length too small: complete');
    is($r->{body}, "a body longer than three bytes\n", 'Content-Length too small: the whole app body');
    is($r->{extra}, '', 'Content-Length too small: no bytes beyond the framing');

    $r = raw_req($t, 'GET', '/bad.fcgi?mode=te_chunked', timeout => 20);
    is($r->{code}, 200, 'Transfer-Encoding: chunked from the app: 200') or diag show($r);
    ok($r->{complete} && !$r->{bad_chunk}, 'app Transfer-Encoding: response correctly delimited')
        or diag show($r);
    is($r->{body}, "raw body, not chunked\n", 'app Transfer-Encoding: exactly the app body');

    # the same on a keep-alive connection: the next response parses cleanly
    my $c = $t->conn(timeout => 15);
    my @ok;
    for my $m (qw(cl_lie cl_short te_chunked good)) {
        my $x = eval { $c->request('GET', "/bad.fcgi?mode=$m") };
        push @ok, ($x && $x->{code} == 200) ? $m : "$m FAILED: " . ($@ // 'no response');
    }
    $c->close;
    is_deeply(\@ok, [qw(cl_lie cl_short te_chunked good)], 'keep-alive: four responses in a row parse');
}

# ---- malformed header lines
expect_502('bad.fcgi', 'mode=hdr_ctl', 'header value with 0x01');
expect_502('bad.fcgi', 'mode=hdr_nul', 'header value with NUL');
expect_502('bad.fcgi', 'mode=hdr_esc', 'header value with ESC');
expect_502('bad.fcgi', 'mode=hdr_del', 'header value with DEL');
expect_502('bad.fcgi', 'mode=hdr_byte&c=1f', 'header value with 0x1f');
expect_502('bad.fcgi', 'mode=hdr_cr', 'header value with a bare CR');
expect_502('bad.fcgi', 'mode=hdr_lf', 'header value with a bare LF');
expect_502('bad.fcgi', 'mode=hdr_ctlname', 'control byte in a header name');
expect_502('bad.fcgi', 'mode=hdr_obsfold', 'obs-fold continuation (SP)');
expect_502('bad.fcgi', 'mode=hdr_obsfold&tab=1', 'obs-fold continuation (HTAB)');
expect_502('bad.fcgi', 'mode=hdr_nocolon', 'header line without a colon');

# ---- Status values
expect_502('bad.fcgi', 'mode=status_1xx', 'Status: 103 Early Hints');
expect_502('bad.fcgi', 'mode=status&v=100', 'Status: 100');
expect_502('bad.fcgi', 'mode=status_bad', 'Status: 2000');
expect_502('bad.fcgi', "mode=status&v=$_", "Status: $_") for qw(abc 600 199 20 099 2x0);
expect_502('bad.fcgi', 'mode=status&v=', 'Status: (empty)');
{
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=status&v=599');
    is($r->{code}, 599, 'Status: 599 is in range') or diag show($r);
    $r = raw_req($t, 'GET', '/bad.fcgi?mode=status&v=200%20Fine');
    is($r->{code}, 200, 'Status: 200 Fine is in range') or diag show($r);
}

# ---- limits, app sending forever: 502 at once
expect_502('bad.fcgi', 'mode=hdr_huge', 'header block over 64 KiB (app keeps sending)', tmax => 5);
expect_502('bad.fcgi', 'mode=hdr_lines', 'over 100 header lines (app keeps sending)', tmax => 5);
expect_502('bad.fcgi', 'mode=hdr_longline', 'header line over 8190 bytes (app keeps sending)', tmax => 5);

# ---- limits, finite blocks, defaults vs options
# lines: the block has Content-Type + n X-L lines
expect_200('bad.fcgi', 'mode=hdr_lines&n=30', 'default, 31 header lines');
expect_502('lines20.fcgi', 'mode=hdr_lines&n=30', '-header-max-lines 20, 31 header lines');
expect_200('bad.fcgi', 'mode=hdr_lines&n=99', 'default, 100 header lines');
expect_502('bad.fcgi', 'mode=hdr_lines&n=150', 'default, 151 header lines');
{
    my $r = expect_200('lines200.fcgi', 'mode=hdr_lines&n=150', '-header-max-lines 200, 151 header lines');
    ok(defined hdr1($r, 'X-L000149'), '-header-max-lines 200: the last app header arrives');
}
# line length: "X-Long: " + n bytes
expect_200('bad.fcgi', 'mode=hdr_longline&n=2000', 'default, a 2008-byte line');
expect_502('line1k.fcgi', 'mode=hdr_longline&n=2000', '-header-max-line 1000, a 2008-byte line');
expect_200('bad.fcgi', 'mode=hdr_longline&n=8182', 'default, an 8190-byte line (the limit)');
expect_502('bad.fcgi', 'mode=hdr_longline&n=9000', 'default, a 9008-byte line');
# block size: 35 lines of 2002 bytes = ~70 KB
expect_502('bad.fcgi', 'mode=hdr_huge&n=70000&ll=2000', 'default, a ~70 KB header block');
{
    my $r = expect_200('bytes128k.fcgi', 'mode=hdr_huge&n=70000&ll=2000', '-header-max-bytes 131072, a ~70 KB block');
    ok(defined hdr1($r, 'X-Huge-000034'), '-header-max-bytes 131072: the last app header arrives');
}
expect_200('bad.fcgi', 'mode=hdr_huge&n=5000&ll=1000', 'default, a ~5 KB block');
expect_502('bytes4k.fcgi', 'mode=hdr_huge&n=5000&ll=1000', '-header-max-bytes 4096, a ~5 KB block');

# the server is still healthy
{
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=good');
    is($r->{code}, 200, 'afterwards: a good request works');
    is($r->{body}, "hello from badapp\n", 'afterwards: body');
}

$t->done;
done_testing;
