# 17-stderr.t - the application's FCGI_STDERR stream in the error log.
#
#   each stderr line is logged with a FCGIXnnnn: tag and the app filename;
#   a line split across two records is logged as one line; an unterminated
#   last line is logged too;
#   control bytes are escaped (\x01, \x1b, \x7f), no raw control byte
#   reaches the error log;
#   long lines are cut to -stderr-max-line (default 1024, and 100 when
#   configured);
#   a flooding app (10 MB of stderr in one request) grows the error log by
#   less than 5 % of what it wrote, a tagged line says output was
#   suppressed, and the response is still delivered;
#   -stderr-max-bytes bounds the logged bytes per request.
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
    'short.fcgi -stderr-max-line 100',
    'little.fcgi -stderr-max-bytes 1000',
]);
my $tag = qr/FCGIX\d{4}:/;

sub new_lines {
    my ($off) = @_;
    return grep { length } split /\n/, substr($t->error_log, $off);
}

# ---- plain lines
{
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=stderr_lines&n=3');
    is($r->{code}, 200, 'stderr lines: 200') or diag show($r);
    is($r->{body}, "stderr lines\n", 'stderr lines: body');
    for my $k (1 .. 3) {
        log_since_like($t, $off, qr/$tag.*\Q$h\/bad.fcgi\E.*stderr line $k$/m,
            "stderr line $k logged with tag and app name");
    }
}

# ---- control bytes, split lines, long lines, unterminated line
{
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', '/bad.fcgi?mode=stderr_ctl');
    is($r->{code}, 200, 'stderr ctl: 200') or diag show($r);
    is($r->{body}, "stderr done\n", 'stderr ctl: body');
    log_since_like($t, $off, qr/stderr unterminated/, 'unterminated last line logged');
    my $new = substr($t->error_log, $off);
    my @l = new_lines($off);
    ok((grep { /$tag.*\Q$h\/bad.fcgi\E.*stderr plain line$/ } @l), 'plain line logged with tag and app name');
    my ($ctl) = grep { /stderr ctl/ } @l;
    ok(defined $ctl, 'control-byte line logged');
    $ctl //= '';
    like($ctl, qr/stderr ctl\\{1,2}x01here\\{1,2}x1b\[31m and \\{1,2}x7f del/, 'control bytes escaped as \\xHH')
        or diag $ctl;
    unlike($new, qr/[\x00-\x08\x0b-\x1f\x7f]/, 'no raw control byte in the error log');
    ok((grep { /$tag.*\Q$h\/bad.fcgi\E.*stderr split across records$/ } @l),
        'a line split across records is logged as one line');
    my ($long) = grep { /stderr long/ } @l;
    ok(defined $long, 'long line logged');
    $long //= '';
    my ($ls) = $long =~ /(stderr long L*)/;
    $ls //= '';
    cmp_ok(length $ls, '<=', 1024, 'long line cut to at most 1024 bytes (default -stderr-max-line)');
    cmp_ok(length $ls, '>=', 900, 'long line: its first ~1 KiB is kept');
    unlike($new, qr/LEND/, 'long line: the end beyond the limit is not logged');
    like($ctl . $long, qr/$tag/, 'cut line carries the tag');
}

# ---- -stderr-max-line 100
{
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', '/short.fcgi?mode=stderr_ctl');
    is($r->{code}, 200, '-stderr-max-line 100: 200');
    log_since_like($t, $off, qr/stderr long/, '-stderr-max-line 100: long line logged');
    my ($long) = grep { /stderr long/ } new_lines($off);
    my ($ls) = ($long // '') =~ /(stderr long L*)/;
    cmp_ok(length($ls // ''), '<=', 100, '-stderr-max-line 100: line cut to at most 100 bytes');
    like($long // '', qr/$tag.*\Q$h\/short.fcgi\E/, '-stderr-max-line 100: tag and app name');
}

# ---- flood: 10 MB of stderr
{
    my $n = 10_000_000;
    my $before = -s $t->error_log_file;
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', "/bad.fcgi?mode=stderr_flood&n=$n", timeout => 40);
    is($r->{code}, 200, 'stderr flood: 200') or diag show($r);
    is($r->{body}, "flooded\n", 'stderr flood: the response is delivered');
    log_since_like($t, $off, qr/$tag.*\Q$h\/bad.fcgi\E.*suppress/i, 'stderr flood: tagged line says output was suppressed');
    my $grown = (-s $t->error_log_file) - $before;
    diag("error log grew by $grown bytes for $n bytes of stderr");
    cmp_ok($grown, '<', 0.05 * $n, 'stderr flood: error log grew by < 5 % of what the app wrote');
    cmp_ok($grown, '>', 0, 'stderr flood: something was logged');
    ok((grep { /$tag.*\Q$h\/bad.fcgi\E.*flood line 00000000/ } new_lines($off)), 'stderr flood: the first lines are logged');
}

# ---- -stderr-max-bytes 1000
{
    my $before = -s $t->error_log_file;
    my $off = length $t->error_log;
    my $r = raw_req($t, 'GET', '/little.fcgi?mode=stderr_lines&n=2000');
    is($r->{code}, 200, '-stderr-max-bytes 1000: 200') or diag show($r);
    log_since_like($t, $off, qr/$tag.*\Q$h\/little.fcgi\E.*suppress/i, '-stderr-max-bytes 1000: suppression logged');
    my @l = grep { /stderr line \d+$/ } new_lines($off);
    cmp_ok(scalar(@l), '>=', 1, '-stderr-max-bytes 1000: some lines logged');
    # ~15 bytes of message per line: 1000 bytes allow ~70 lines, 2000 were written
    cmp_ok(scalar(@l), '<=', 100, sprintf('-stderr-max-bytes 1000: at most ~1000 bytes of lines logged (%d lines)', scalar @l));
}

$t->done;
done_testing;
