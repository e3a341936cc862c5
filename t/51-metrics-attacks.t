# 51-metrics-attacks.t - the metrics against hostile input (issue 15):
# whatever an httpd child writes into the scoreboard, and whatever a file
# name holds, the exposition stays valid: `promtool check metrics` passes
# (when installed), the JSON parses (JSON::PP, as UTF-8), histograms
# never decrease, httpd serves on and no child crashes (the harness's
# checks at the end: no "exit signal", no sanitizer report).
#
#   1. Dynamic apps named `a"b\c<newline>.fcgi` and `bad<0xff>.fcgi`
#      (a web-writable directory with ExecCGI): their app label and JSON
#      string carry the name escaped, and unescape to it exactly (the
#      0xff byte, no UTF-8, as U+FFFD); the first request of such an app
#      (before its class existed) is counted on it.
#   2. As www-data (an httpd child's code: it can write the scoreboard,
#      through a worker's mapping, as t/42-attacks.t and
#      t/49-backend-attacks.t do), the metrics block of a static app gets
#      huge and non-monotonic per-bucket counts (2^64-1, 5, 2^63, ...), a
#      sum of 2^64-1 us, outcome counts of 2^64-1 and a waiting count of
#      0xffffffff (a decrement that wrapped): the text stays valid, the
#      cumulative buckets saturate instead of decreasing, waiting reads 0.
#   3. The block's gen forged to another class's: its counts are not shown
#      (zeros), still valid.
#   4. The class's path in the scoreboard overwritten with quotes,
#      backslashes, braces, control bytes and bytes that are no UTF-8, and
#      then with 512 bytes and no NUL: still valid (escaped, or the class
#      left out), JSON parses.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;
use FcgixMetrics;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my (undef, undef, $www_uid, $www_gid) = getpwnam('www-data');

my $static = $t->install_app('respond', "$h/st/static.fcgi");
my $odd = "a\"b\\c\n.fcgi";
my $bad = "bad\xff.fcgi";
$t->install_app('hello', "$h/dyn/$_") for $odd, $bad;

$t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiServer $static
<Location /metrics>
    SetHandler fastcgi-metrics
</Location>
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
<Directory $h/dyn>
    Options +ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>
EOF

# -------------------------------------------------------------- helpers

sub get_once {
    my ($path) = @_;
    my $raw = eval { scalar $t->raw("GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout => 10) } // '';
    my $r = FcgixTest::parse_response($raw);
    return $r ? [ $r->{code} + 0, $r->{content} ] : [ 0, '' ];
}

sub url { (my $u = $_[0]) =~ s/([^A-Za-z0-9\/._-])/sprintf('%%%02X', ord $1)/ge; return $u }

# Scrapes both forms and checks them: valid text (every line parses,
# promtool), JSON that parses; returns (samples, json doc).
sub check_all {
    my ($name) = @_;
    my $m = get_once('/metrics');
    my $j = get_once('/fcgi-status?json');
    is($m->[0], 200, "$name: the text form answers");
    my @s = samples($m->[1]);
    ok(!grep({ $_->[0] eq '!unparsed' } @s), "$name: every line parses") or diag $m->[1];
    SKIP: {
        my ($rc, $out) = promtool($m->[1]) or skip 'promtool not installed', 1;
        is($rc, 0, "$name: promtool check metrics passes") or diag "$out\n$m->[1]";
    }
    is($j->[0], 200, "$name: ?json answers");
    my $doc = eval { JSON::PP->new->utf8->decode($j->[1]) };
    ok($doc && ref $doc->{apps} eq 'ARRAY', "$name: ?json parses") or diag "$@\n$j->[1]";
    return (\@s, $doc);
}

sub as_www_data {
    my ($secs, $code) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $) = "$www_gid $www_gid";
        POSIX::setgid($www_gid);
        POSIX::setuid($www_uid);
        POSIX::_exit(90) if $> == 0 || $< == 0 || grep { $_ == 0 } split ' ', $);
        my $rc = eval { $code->() } // 91;
        POSIX::_exit($rc);
    }
    my $end = time + $secs;
    while (waitpid($pid, POSIX::WNOHANG()) == 0) {
        if (time > $end) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            return -1;
        }
        sleep 0.05;
    }
    return $? >> 8;
}

# [worker pid, map_files path, offset of the scoreboard, its size]
sub find_scoreboard {
    my $hp = $t->httpd_pid or return;
    for my $w (grep { (pstat($_) // [])->[1] eq 'apache2' } children($hp)) {
        for my $l (split /\n/, slurp("/proc/$w/maps")) {
            my ($lo, $hi, $perm) = $l =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
            next unless $perm =~ /^rw.s$/;
            my $f = "/proc/$w/map_files/$lo-$hi";
            open my $fh, '<', $f or next;
            binmode $fh;
            my $n = sysread($fh, my $head, 32);
            close $fh;
            next unless $n && $n >= 20;
            my ($magic, undef, $size) = unpack('x8 L3', $head);
            return [ $w, $f, 8, $size ] if $magic == 0x58474346;
        }
    }
    return;
}

# Writes [offset, bytes] pairs into the scoreboard as www-data.
sub forge {
    my ($sb, @w) = @_;
    open my $fh, '+<', $sb->[1] or die "open $sb->[1]: $!";
    binmode $fh;
    my $rc = as_www_data(10, sub {
        for (@w) {
            sysseek($fh, $_->[0], 0) or return 2;
            (syswrite($fh, $_->[1]) // 0) == length($_->[1]) or return 3;
        }
        return 0;
    });
    close $fh;
    return $rc;
}

# Layout 7 (pm/scoreboard.h): fcgix_sb_metrics_t metrics[512] of 328
# bytes end the scoreboard: gen, waiting (u32), outcome[10], then the two
# histograms of 14 buckets and a sum (u64 each).
my ($CLASSES, $METRICS) = (512, 328);
my %MOFF = (gen => 0, waiting => 4, outcome => 8, wait => 88, wait_sum => 200, app => 208, app_sum => 320);
sub block_of { my ($sb, $slot) = @_; return $sb->[2] + $sb->[3] - $CLASSES * $METRICS + $slot * $METRICS }

my $U64MAX = "\xff" x 8;
sub u64 { my ($v) = @_; return pack('Q<', $v) }

# ------------------------------------------- 1. file names that need escaping
for my $name ($odd, $bad) {
    is(get_once(url("/dyn/$name"))->[0], 200, 'a dynamic app named ' . join('', map { sprintf '%%%02X', ord } split //, $name) . ' answers');
}
{
    my ($s, $doc) = check_all('odd file names');
    my $want_odd = "$h/dyn/$odd";
    my $want_bad = "$h/dyn/bad\xef\xbf\xbd.fcgi";    # U+FFFD, as UTF-8 bytes
    ok(defined val($s, 'fcgix_app_info', app => $want_odd), 'the label of a\"b\\c<newline>.fcgi unescapes to its path');
    ok(defined val($s, 'fcgix_app_info', app => $want_bad), 'the 0xff byte shows as U+FFFD');
    # its one request came before its class existed (a dynamic app's first)
    is(val($s, 'fcgix_requests_total', app => $want_odd, code => '2xx', source => 'app'), 1,
        'the dynamic app\'s first request is counted (2xx)');
    is(val($s, 'fcgix_process_wait_seconds_count', app => $want_odd), 1, '... its wait observed');
    is(val($s, 'fcgix_app_response_seconds_count', app => $want_odd), 1, '... its app time observed');
    is(val($s, 'fcgix_requests_waiting', app => $want_odd), 0, '... and it waits no more');
    my %paths = map { $_->{app} => 1 } @{ $doc->{apps} || [] };
    ok($paths{$want_odd}, '?json: the path of a\"b\\c<newline>.fcgi, exactly');
    ok($paths{"$h/dyn/bad\x{fffd}.fcgi"}, '?json: the 0xff byte as U+FFFD');
    my $m = get_once('/metrics')->[1];
    like($m, qr/app="\Q$h\E\/dyn\/a\\"b\\\\c\\n\.fcgi"/, 'the text form: \" \\\\ and \n in the label');
}

# --------------------------------------------- 2.-4. a hostile httpd child
SKIP: {
    skip 'needs root (opens a worker\'s mappings through /proc, drops to www-data)', 31
        unless $> == 0 && defined $www_uid;
    is(get_once('/st/static.fcgi')->[0], 200, 'the static app answers');
    my (undef, $doc) = check_all('before the attack');
    my ($cls) = grep { $_->{app} eq $static } @{ $doc->{apps} || [] };
    ok($cls, 'the static app\'s class and slot are shown') or diag explain $doc;
    my $sb = find_scoreboard();
    ok($sb, 'the scoreboard is found in a worker\'s mappings') or skip 'no scoreboard', 27;
    my $blk = block_of($sb, $cls->{slot});

    # 2. huge, non-monotonic per-bucket counts
    my @n = (2**64 - 1, 5, 2**63, 0, 7, 2**63, 1, 0, 0, 0, 0, 0, 0, 3);
    my $hist = join '', map { $_ == 2**64 - 1 ? $U64MAX : u64($_) } @n;
    is(forge($sb, [ $blk + $MOFF{waiting}, pack('L<', 0xffffffff) ], [ $blk + $MOFF{outcome}, $U64MAX x 10 ],
        [ $blk + $MOFF{wait}, $hist ], [ $blk + $MOFF{wait_sum}, $U64MAX ],
        [ $blk + $MOFF{app}, $hist ], [ $blk + $MOFF{app_sum}, $U64MAX ]), 0,
        'as www-data: the block forged (huge and non-monotonic counts)');
    my ($s) = check_all('forged counts');
    for my $hn (qw(fcgix_process_wait_seconds fcgix_app_response_seconds)) {
        my ($ok, $v) = monotonic($s, $hn, app => $static);
        ok($ok && @$v == 14, "$hn: buckets never decrease") or diag explain $v;
        is($v->[-1], '18446744073709551615', "$hn: +Inf saturates at 2^64-1");
        is(val($s, "${hn}_count", app => $static), $v->[-1], "$hn: _count is the +Inf bucket");
    }
    is(val($s, 'fcgix_requests_waiting', app => $static), 0, 'a wrapped waiting count reads 0');
    is(val($s, 'fcgix_requests_total', app => $static, code => '2xx', source => 'app'), '18446744073709551615',
        'a forged outcome count is shown as it is (a counter)');
    is(get_once('/st/static.fcgi')->[0], 200, 'the app still answers after the forgery');

    # 3. the block's gen forged: not this class's block
    is(forge($sb, [ $blk + $MOFF{gen}, pack('L<', ($cls->{slot} * 7 + 12345) & 0xffffffff) ]), 0,
        'as www-data: the block\'s gen forged');
    ($s) = check_all('forged gen');
    is(val($s, 'fcgix_process_wait_seconds_count', app => $static), 0, 'a block of another gen: shown as zeros');

    # 4. the class's path: found by its bytes between the header and the
    # first metrics block (the class slots' layout is the PM's)
    my $path_off;
    {
        open my $fh, '<', $sb->[1] or die "open: $!";
        binmode $fh;
        sysseek($fh, $sb->[2], 0);
        my $all = '';
        my $len = $sb->[3];
        while (length($all) < $len) {
            sysread($fh, $all, $len - length($all), length($all)) or last;
        }
        close $fh;
        my $i = index($all, "$static\0");
        $path_off = $sb->[2] + $i if $i > 0;
    }
    ok($path_off, 'the static app\'s path is found in the scoreboard') or skip 'path not found', 9;
    my $hostile = "/x\"}\\\n{le=\"1\"} 9\n# TYPE x counter\r\t\x01\x7f\xc0\xaf\xed\xa0\x80\xff\xfe";
    is(forge($sb, [ $path_off, "$hostile\0" ]), 0, 'as www-data: the path overwritten with quotes, braces, controls, bad UTF-8');
    my ($s4, $doc4) = check_all('a hostile path');
    ok(!grep({ $_->[0] eq 'x' } @$s4), 'no sample injected by the path');
    is(forge($sb, [ $path_off, 'Q"' x 256 ]), 0, 'as www-data: the path overwritten with 512 bytes, no NUL');
    check_all('an unterminated path');
    # (while its path is not its own, a request cannot find the class, and
    # so cannot ask the children keeping idle connections to its one
    # process to give them back: it may wait for them. Put back.)
    is(forge($sb, [ $path_off, "$static\0" ]), 0, 'as www-data: the path put back');
    is(get_once('/st/static.fcgi')->[0], 200, 'the app answers');
    is(get_once('/fcgi-status?auto')->[0], 200, 'the status page too');
}

$t->done;
done_testing;
