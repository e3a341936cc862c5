# 49-backend-attacks.t - an attacker's review of several backends per
# FastCgiExternalServer (issue 14): each attack found, written as the
# failure it was, so that none comes back once fixed; and the attacks the
# review tried that the module withstood, so that they stay withstood.
# The attacker holds www-data (code in an httpd child: it can write the
# shared scoreboard), or is a hostile application or backend.
# Findings: /work/notes/review-backends.md (B1, B2, ...).
#
#   1. (finding B1) The scoreboard decides where requests go. A process
#      running as www-data, writing through a worker's mapping of the
#      scoreboard (/proc/W/map_files, opened before it drops root, as a
#      child's own mapping is), rewrites the published backend set of two
#      external applications - a plain one-backend FastCgiExternalServer,
#      as configured before issue 14, and one with two -socket backends -
#      to the address of its own listener. Every later request of every
#      httpd child must still go to the configured backends (the answer is
#      theirs, the attacker's listener gets no request). Before a fix, all
#      of them went to the attacker: it reads every client's request
#      (cookies, Authorization, bodies) and answers in the application's
#      name (an external authorizer says yes to everyone).
#   2. (finding B2) FCGI_OVERLOADED after the backend read a spooled body
#      larger than the in-memory spool (64 KiB): the request must go to the
#      other backend, as a small body does ("an FCGI_OVERLOADED answer is
#      always tried on the next backend"). Before a fix the first answer
#      byte released the spool file, the rewind failed, and the client got
#      502 with a log line that says the backend closed the connection.
#   3. (finding B3) FCGI_OVERLOADED on a kept connection,
#      then the backend the request goes to instead closes without an
#      answer: the client must get 502. Before a fix the handler returned
#      -3 (httpd's SUSPENDED): the client hung with no answer.
#   4. (withstood) Forged set fields: seq odd forever (requests are still
#      answered by the configured backends, within bounded time); then
#      count 0xffffffff, weights 0 and 0xffffffff, in-flight counts near
#      2^32, down_until 0xffffffff, addr_len 0xffffffff: every request
#      gets an answer in time, from the configured backends (finding B5:
#      a bad entry made it 503 before), and the status page
#      shows the set without crashing a child.
#   5. (withstood) The prober under FastCgiWrapper (the process manager
#      keeps root): it runs as User/Group (all four ids), with no
#      supplementary group of root's and no capabilities, and holds only
#      descriptors 0-2 between probes. Hostile backends for it: one that
#      never answers, one that trickles its answer a byte per 300 ms, one
#      that answers a 64 KiB GET_VALUES_RESULT, one that answers garbage:
#      the prober marks each failed or good within -probe-timeout, and the
#      good backend stays up (requests go to it). It is not left over
#      after a graceful restart (one prober, a new one) nor after a stop.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Socket qw(AF_UNIX);
use IO::Socket::UNIX;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my (undef, undef, $www_uid, $www_gid) = getpwnam('www-data');
plan skip_all => 'needs root (opens a worker\'s mappings through /proc, drops to www-data)'
    unless $> == 0 && defined $www_uid;

# ------------------------------------------------------------ helpers

# Runs $code->() in a child process as www-data (no group of root's), with
# whatever was opened before; returns its exit status. Bounded: killed
# after $secs. (As t/42-attacks.t.)
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

# The mod_fcgix scoreboard as a worker maps it: [worker pid, map_files
# path, offset of the scoreboard in it, its size] (as t/42-attacks.t).
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
            return [$w, $f, 8, $size] if $magic == 0x58474346;
        }
    }
    return;
}

# Layout 7 (pm/scoreboard.h): fcgix_sb_bset_t bsets[512], then the
# metrics blocks fcgix_sb_metrics_t metrics[512] of $METRICS bytes end the
# scoreboard; a set is {seq, gen, count, rr} and 16 backends of 160 bytes:
# weight, addr_len, addr[112], probe, probe_why, probe_at, down_until,
# inflight, requests, refused, timeouts, overloaded, resets.
my ($CLASSES, $BSET, $BE, $METRICS) = (512, 2576, 160, 328);
my %BOFF = (weight => 0, addr_len => 4, addr => 8, probe => 120, down_until => 132,
    inflight => 136, requests => 140);

sub sun { my ($path) = @_; return pack('S Z108', AF_UNIX, $path) }

# Offsets (in the map_files file) of the backend sets whose first backend
# is the Unix socket $path: a list.
sub bsets_of {
    my ($sb, $path) = @_;
    my ($w, $file, $base, $size) = @$sb;
    my $start = $base + $size - $CLASSES * $METRICS - $CLASSES * $BSET;
    open my $fh, '<', $file or die "open $file: $!";
    binmode $fh;
    sysseek($fh, $start, 0) or die "seek: $!";
    my $all = '';
    while (length($all) < $CLASSES * $BSET) {
        my $n = sysread($fh, $all, $CLASSES * $BSET - length($all), length($all)) or last;
    }
    close $fh;
    my $want = substr(sun($path), 0, 2 + length($path));
    my @found;
    for my $i (0 .. $CLASSES - 1) {
        my $s = substr($all, $i * $BSET, $BSET);
        next if length($s) < $BSET;
        my ($seq, $gen, $count) = unpack('L3', $s);
        next unless $count >= 1 && $count <= 16;
        my $a = substr($s, 16 + $BOFF{addr}, 112);
        push @found, $start + $i * $BSET if substr($a, 0, length $want) eq $want;
    }
    return @found;
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

sub status_auto {
    my $raw = eval { scalar $t->raw("GET /fcgi-status?auto HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout => 5) } // '';
    my $r = FcgixTest::parse_response($raw);
    return $r ? $r->{content} : '';
}

# One GET on a fresh connection: [code, body] (code 0: no answer in time).
sub get_once {
    my ($path) = @_;
    my $raw = eval { scalar $t->raw("GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout => 10) } // '';
    my $r = FcgixTest::parse_response($raw);
    return $r ? [$r->{code} + 0, $r->{content}] : [0, ''];
}

sub lines_in { my $c = slurp($_[0]); return () = $c =~ /^begin /mg }

my $GOOD = "hello from badapp\n";
my $status_conf = "<Location /fcgi-status>\n    SetHandler fastcgi-status\n</Location>\n";

# ------------------------------------------------------------------
# 1. (B1) the scoreboard decides where requests go
{
    my %real = map { $_ => $t->start_app(prog => 'badapp', name => "real$_",
        env => { BADAPP_LOG => "$d/logs/real$_.events" }) } 1 .. 3;
    # the attacker's listener: another badapp, with its own log
    my $evil = $t->start_app(prog => 'badapp', name => 'evil',
        env => { BADAPP_LOG => "$d/logs/evil.events" });
    $t->start_httpd(<<"EOF" . $status_conf);
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/one.fcgi $real{1}{spec}
FastCgiExternalServer $h/two.fcgi $real{2}{spec} $real{3}{spec}
EOF
    is(get_once('/one.fcgi?mode=good')->[0], 200, 'B1 setup: the one-backend app answers');
    is(get_once('/two.fcgi?mode=good')->[0], 200, 'B1 setup: the two-backend app answers');
    SKIP: {
        my $sb = find_scoreboard();
        skip 'no scoreboard mapping found in a worker', 5 unless $sb;
        my @one = bsets_of($sb, $real{1}{socket});
        my @two = bsets_of($sb, $real{2}{socket});
        skip 'no published backend set for the apps (nothing to forge)', 5
            unless @one == 1 && @two == 1;
        my @w;
        for my $set ($one[0], $two[0]) {
            for my $m (0 .. 1) {
                my $b = $set + 16 + $m * $BE;
                push @w, [$b + $BOFF{addr}, sun($evil->{socket})], [$b + $BOFF{addr_len}, pack('L', 110)];
            }
        }
        is(forge($sb, @w), 0, 'B1: as www-data, both sets now name the attacker\'s socket');
        my $evil_before = lines_in("$d/logs/evil.events");
        my (@c1, @c2);
        for (1 .. 4) {
            push @c1, get_once("/one.fcgi?mode=good&r=$_");
            push @c2, get_once("/two.fcgi?mode=good&r=$_");
        }
        is_deeply([map { $_->[0] } @c1, @c2], [(200) x 8], 'B1: every request is answered');
        is(lines_in("$d/logs/evil.events") - $evil_before, 0,
            'B1: the attacker\'s socket got none of them (the configured backends did)')
            or diag 'requests the attacker received: ' . (lines_in("$d/logs/evil.events") - $evil_before);
        cmp_ok(lines_in("$d/logs/real1.events"), '>=', 5, 'B1: the one-backend app\'s own backend served them');
        cmp_ok(lines_in("$d/logs/real2.events") + lines_in("$d/logs/real3.events"), '>=', 5,
            'B1: the two-backend app\'s own backends served them');
    }
    $t->stop_httpd;
    $t->stop_app($_) for values(%real), $evil;
}

# ------------------------------------------------------------------
# 2. (B2) FCGI_OVERLOADED after a spooled body past the in-memory spool
{
    my $ov = $t->start_app(prog => 'badapp', name => 'ov',
        env => { BADAPP_LOG => "$d/logs/ov.events" });
    my $up = $t->start_app(prog => 'upload', name => 'up');
    # -disable-time 0: the overloaded backend is never skipped, so
    # requests keep reaching it first in turn
    $t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/ov.fcgi $ov->{spec} $up->{spec} -disable-time 0
EOF
    $t->allow_log(qr/FCGIX0131|FCGIX0130|FCGIX0109|FCGIX0111/);
    for my $case ([small => 1000], [large => 100_000]) {
        my ($name, $len) = @$case;
        my $body = FcgixTest::pattern($len);
        my $md5 = FcgixTest::md5_hex($body);
        my $before = lines_in("$d/logs/ov.events");
        my @codes;
        my $from_up = 0;
        for (1 .. 4) {
            my $r = $t->request('POST', "/ov.fcgi?mode=overloaded", body => $body,
                headers => { 'Content-Type' => 'application/octet-stream' });
            push @codes, $r->code;
            $from_up++ if $r->content =~ /md5=\Q$md5\E/;
        }
        cmp_ok(lines_in("$d/logs/ov.events") - $before, '>=', 1,
            "B2 $name body ($len bytes): the overloaded backend got some of the POSTs first");
        is_deeply(\@codes, [(200) x 4],
            "B2 $name body: each POST the overloaded backend refused went to the other backend: 200")
            or diag $t->error_log;
        is($from_up, 4, "B2 $name body: the other backend got the whole body each time");
    }
    $t->stop_httpd;
    $t->stop_app($_) for $ov, $up;
}

# ------------------------------------------------------------------
# 3. (B3) FCGI_OVERLOADED on a kept connection, then the other backend
#    closes without answering: the client must get its 502, in bounded
#    time. Before a fix, retry_other left q->reused set, so the second
#    backend's close read as a stale kept connection (STALE, -3) that
#    nothing retried any more, and -3 went back to httpd as the handler's
#    status: SUSPENDED. The client got nothing, its connection was never
#    finished.
{
    my $a = $t->start_app(prog => 'badapp', name => 'ka',
        env => { BADAPP_LOG => "$d/logs/ka.events" });
    mkdir "$d/kc";
    chmod 0777, "$d/kc";
    my $b = $t->start_app(prog => 'keepcrash.pl', name => 'kb', count => 3,
        env => { RV_DIR => "$d/kc" });
    my $one_child = $t->mpm eq 'prefork'
        ? "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n"
        : "ServerLimit 1\nStartServers 1\nThreadsPerChild 10\nThreadLimit 10\nMinSpareThreads 1\nMaxSpareThreads 10\nMaxRequestWorkers 10\n";
    $t->start_httpd(<<"EOF", mpm_conf => $one_child);
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/k.fcgi $a->{spec} $b->{spec} -keep-conn 4 -disable-time 0
EOF
    $t->allow_log(qr/FCGIX0131|FCGIX0130|FCGIX0109|FCGIX0111|FCGIX012\d/);
    SKIP: {
        my $sb = find_scoreboard();
        skip 'no scoreboard mapping found in a worker', 3 unless $sb;
        my @set = bsets_of($sb, $a->{socket});
        skip 'no published backend set', 3 unless @set == 1;
        # Steering, not an attack: the round-robin among equally idle
        # backends starts at backend 0 (the badapp) for the next pick,
        # written as root before each request (the same as waiting for its
        # turn).
        my $turn_a = sub {
            open my $fh, '+<', $sb->[1] or die "open: $!";
            sysseek($fh, $set[0] + 12, 0);
            syswrite($fh, pack('L', 0));
            close $fh;
        };
        $turn_a->();
        is(get_once('/k.fcgi?mode=good&warm=1')->[0], 200, 'B3 setup: a request to the badapp backend, kept');
        $turn_a->();
        my $r = get_once('/k.fcgi?mode=overloaded&crash=1&id=b3');
        my ($kept) = slurp("$d/logs/ka.events") =~ /^begin pid=\d+ n=(\d+) \S* keep=1 q=mode=overloaded&crash=1&id=b3/m;
        skip 'the overloaded request did not go on a kept connection (no scenario)', 2
            unless defined $kept && $kept >= 2;
        my @ran = slurp("$d/kc/exec.log") =~ /^GET mode=overloaded&crash=1&id=b3 /mg;
        is($r->[0], 502, 'B3: the client gets 502 in bounded time (no hang)');
        cmp_ok(scalar(@ran), '<=', 1, 'B3: the backend that took the request over and died ran it once')
            or diag "the request ran " . scalar(@ran) . " times there";
    }
    $t->stop_httpd;
    $t->stop_app($_) for $a, $b;
}

# ------------------------------------------------------------------
# 4. (withstood) forged set fields: bounded, no crash
{
    my %be = map { $_ => $t->start_app(prog => 'badapp', name => "f$_") } 1 .. 2;
    $t->start_httpd(<<"EOF" . $status_conf);
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/f.fcgi $be{1}{spec} $be{2}{spec}
EOF
    is(get_once('/f.fcgi?mode=good')->[0], 200, 'forged fields setup: the app answers');
    SKIP: {
        my $sb = find_scoreboard();
        skip 'no scoreboard mapping found in a worker', 6 unless $sb;
        my @set = bsets_of($sb, $be{1}{socket});
        skip 'no published backend set', 6 unless @set == 1;
        my $s = $set[0];
        # seq odd for good: every reader must give up on the set, in
        # bounded time, and use the configuration's list
        is(forge($sb, [$s, pack('L', 0xffffffff)]), 0, 'as www-data: seq odd for good');
        my $t0 = time;
        my @r = map { get_once("/f.fcgi?mode=good&s=$_") } 1 .. 4;
        is_deeply([map { "$_->[0] $_->[1]" } @r], [("200 $GOOD") x 4],
            'seq odd: requests are answered by the configured backends');
        cmp_ok(time - $t0, '<', 30, 'seq odd: no request waits for the set (bounded)');
        # back to even; then every other field at its worst
        my @w = ([$s, pack('L', 0)], [$s + 8, pack('L', 0xffffffff)]);
        for my $m (0 .. 1) {
            my $b = $s + 16 + $m * $BE;
            push @w, [$b + $BOFF{weight}, pack('L', $m ? 0xffffffff : 0)],
                [$b + $BOFF{inflight}, pack('L', 0xfffffffe)],
                [$b + $BOFF{down_until}, pack('L', 0xffffffff)];
        }
        push @w, [$s + 16 + $BOFF{addr_len}, pack('L', 0xffffffff)];
        is(forge($sb, @w), 0, 'as www-data: count, weights, in-flight, down_until and addr_len forged');
        my @codes = map { get_once("/f.fcgi?mode=good&c=$_")->[0] } 1 .. 4;
        note "codes with forged fields: @codes";
        is(scalar(grep { $_ == 0 } @codes), 0, 'forged fields: every request gets an answer in time')
            or diag "codes: @codes";
        is_deeply(\@codes, [(200) x 4],
            'forged fields: the configured backends still answer (finding B5: was 503)');
        like(status_auto(), qr/^Class\d+Backends: \d+$/m, 'forged fields: the status page lists the set');
    }
    $t->stop_httpd;
    $t->stop_app($_) for values %be;
}

# ------------------------------------------------------------------
# 5. (withstood) the prober: identity, descriptors, hostile backends,
#    graceful restart and stop
my $hostile = $t->write_file('hostile.pl', <<'EOF', 0755);
#!/usr/bin/perl
# hostile.pl MODE PATH - a backend that answers FCGI_GET_VALUES badly:
#   silent   reads, never answers
#   trickle  a GET_VALUES_RESULT header for 200 bytes, then 1 byte / 300 ms
#   huge     a well-formed GET_VALUES_RESULT of 65535 bytes + 255 padding
#   garbage  64 KiB of bytes that are no FastCGI record
# One forked child per connection, each gone within 30 s.
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
my ($mode, $path) = @ARGV;
unlink $path;
my $l = IO::Socket::UNIX->new(Local => $path, Type => SOCK_STREAM, Listen => 64) or die "listen: $!";
chmod 0666, $path;
$SIG{CHLD} = 'IGNORE';
while (1) {
    my $c = $l->accept or next;
    my $pid = fork;
    if (defined $pid && !$pid) {
        alarm 30;
        sysread($c, my $in, 4096);
        if ($mode eq 'trickle') {
            syswrite($c, pack('C C n n C C', 1, 10, 0, 200, 0, 0));
            for (1 .. 200) { syswrite($c, "\x01") or last; select(undef, undef, undef, 0.3) }
        } elsif ($mode eq 'huge') {
            my $v = 65535 - 1 - 4 - 1;
            my $content = pack('C N', 1, $v | 0x80000000) . 'X' . ('v' x $v);
            syswrite($c, pack('C C n n C C', 1, 10, 0, length $content, 255, 0) . $content . ("\0" x 255));
            sleep 5;
        } elsif ($mode eq 'garbage') {
            syswrite($c, join('', map { chr(($_ * 7 + 3) % 256) } 1 .. 65536));
            sleep 5;
        } else {
            sleep 30;
        }
        exit 0;
    }
    close $c;
}
EOF
{
    my $good = $t->start_app(prog => 'badapp', name => 'pgood');
    my %hb = map { $_ => $t->spawn([$^X, $hostile, $_, "$d/sock/h-$_.sock"], name => "h-$_") }
        qw(silent trickle huge garbage);
    my $wrapper = $t->write_file('wrap/wrapper.sh', "#!/bin/sh\nexec \"\$3\"\n", 0755);
    my $hello = $t->install_app('hello', "$h/st/hello.fcgi");
    # the sockets exist before httpd reads the configuration
    ok($t->wait_for(sub { !grep { !-S "$d/sock/h-$_.sock" } keys %hb }, 10),
        'prober setup: the hostile backends listen');
    $t->start_httpd(<<"EOF" . $status_conf);
FastCgiIpcDir $d/ipc
FastCgiWrapper $wrapper
FastCgiServer $hello -processes 1
FastCgiExternalServer $h/p.fcgi $good->{spec} -socket $d/sock/h-silent.sock -socket $d/sock/h-trickle.sock -socket $d/sock/h-garbage.sock -probe 1 -probe-timeout 2
FastCgiExternalServer $h/huge.fcgi -socket $d/sock/h-huge.sock -probe 1 -probe-timeout 2
EOF
    $t->allow_log(qr/FCGIX045\d|FCGIX013\d|FCGIX0109|FCGIX010\d/);
    my $pm = pm_pid($t);
    my $prober = sub { (grep { (pstat($_) // [])->[1] eq 'fcgix-prober' } children($_[0] // pm_pid($t)))[0] };
    my $pp = $t->wait_for(sub { $prober->($pm) }, 10) && $prober->($pm);
    ok($pp, 'prober: runs under a process manager that keeps root (FastCgiWrapper)');
    is(proc_uid($pm), 0, 'prober setup: the process manager is root');
    SKIP: {
        skip 'no prober', 5 unless $pp;
        my $st = slurp("/proc/$pp/status");
        my ($uids) = $st =~ /^Uid:\s+(.*)$/m;
        my ($gids) = $st =~ /^Gid:\s+(.*)$/m;
        my ($groups) = $st =~ /^Groups:\s*(.*)$/m;
        is(join(' ', split ' ', $uids), join(' ', ($www_uid) x 4), 'prober: real, effective, saved and fs uid are User');
        is(join(' ', split ' ', $gids), join(' ', ($www_gid) x 4), 'prober: every gid is Group');
        ok(!grep({ $_ == 0 } split ' ', $groups), "prober: no supplementary group root (Groups: $groups)");
        like($st, qr/^CapPrm:\s+0+$/m, 'prober: no permitted capability');
        my @odd;
        for my $fd (map { m{/(\d+)$} ? $1 : () } glob("/proc/$pp/fd/*")) {
            my $to = readlink("/proc/$pp/fd/$fd") // next;
            push @odd, "$fd -> $to" if $fd > 2 && $to !~ /^socket:/;
        }
        is("@odd", '', 'prober: no descriptor beyond 0-2 but its probe sockets');
    }
    my %want = (silent => 'probe-failed', trickle => 'probe-failed', garbage => 'probe-failed');
    my $states = sub {
        my $txt = status_auto();
        my %cls = reverse($txt =~ /^(Class\d+): (\S+)$/mg);
        my $p = $cls{"$h/p.fcgi"} // 'none';
        my %s;
        while ($txt =~ /^${p}Backend(\d+): unix:\S*\/(?:h-(\w+)|pgood)\.sock$/mg) {
            my ($m, $name) = ($1, $2 // 'good');
            ($s{$name}) = $txt =~ /^${p}Backend${m}State: (\S+)$/m;
        }
        my $hc = $cls{"$h/huge.fcgi"} // 'none';
        ($s{huge}) = $txt =~ /^${hc}Backend0Probe: (\S+)$/m;
        return \%s;
    };
    my $settled = $t->wait_for(sub {
        my $s = $states->();
        ($s->{good} // '') eq 'up' && ($s->{huge} // '') eq 'ok' && !grep { ($s->{$_} // '') ne $want{$_} } keys %want;
    }, 20);
    ok($settled, 'prober: silent, trickling and garbage backends failed their probe; the good one and the huge answer are ok')
        or diag explain $states->();
    my @codes = map { get_once("/p.fcgi?mode=good&p=$_")->[0] } 1 .. 6;
    is_deeply(\@codes, [(200) x 6], 'prober: requests go to the backend that answers');
    is($prober->($pm), $pp, 'prober: still the same process after the hostile answers');
    # graceful restart: the old prober goes, one new one runs
    $t->restart_httpd(undef);
    my $pm2 = pm_pid($t);
    my $new = $t->wait_for(sub { my $x = $prober->($pm2); $x && (!$pp || $x != $pp) }, 10) && $prober->($pm2);
    ok($new, 'graceful restart: a new prober runs');
    ok(!$pp || $t->wait_for(sub { !alive($pp) }, 10), 'graceful restart: the old prober is gone');
    is(scalar(grep { (pstat($_) // [])->[1] eq 'fcgix-prober' } map { children($_) } pm_pids($t)), 1,
        'graceful restart: one prober');
    $t->stop_httpd;
    ok(!$new || $t->wait_for(sub { !alive($new) }, 10), 'stop: no prober left over');
}

$t->done;
done_testing;
