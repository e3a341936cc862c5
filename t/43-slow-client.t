# 43-slow-client.t - a slow client never pins an application process, and
# request bodies spooled at once are capped server-wide.
#
# -spool-body (default 8 MiB): a Content-Length body up to that size is read
# before a process is taken; a larger one streams, and then the time spent
# waiting for the client counts against -request-timeout.
#   - one process, -request-timeout 3: client A trickles a 10-byte body over
#     5 s (longer than the timeout); client B's GET, sent meanwhile, gets 200
#     while A is still sending; A then gets 200 with its whole body.
#   - a 16 MiB Content-Length body (over the default) trickled past
#     -request-timeout: 408 within the timeout (+ margin), FCGIX0122 names
#     the app; B is served afterwards.
#   - -spool-body 10: a 10-byte body trickled past -request-timeout is 200,
#     an 11-byte one 408.
# FastCgiSpoolLimit (1 MiB here), with the status page's FcgixSpooledKiB:
#   - a 700 KiB chunked upload held open; another one gets 503 (FCGIX0124
#     names the app); a 700 KiB Content-Length body then streams instead of
#     being read ahead (200, whole); the first completes (200); the count
#     comes back to 0 and a new 700 KiB chunked upload succeeds.
#   - a Content-Length body being read ahead counts too: while 700 KiB of
#     it are held, a chunked upload gets 503.
#   - the count comes back once the app has the whole body, not when the
#     request ends: while an app that has read a 700 KiB body sleeps 3 s
#     before answering, nothing is counted.
#   - the httpd child holding a 700 KiB chunked upload is SIGKILLed: its
#     count is given back (FCGIX0125), its spool file is not left in
#     httpd's TMPDIR (it was, for good, before), and a new upload succeeds.
# Config errors: bad -spool-body and FastCgiSpoolLimit values fail
# apache2 -t naming the directive (and the app and option).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use IO::Socket::IP;
use IO::Select;
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use FcgixTest;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my $slow  = $t->install_app('upload', "$h/s/slow.fcgi");
my $small = $t->install_app('upload', "$h/sm/small.fcgi");
my $up    = $t->install_app('upload', "$h/u/up.fcgi");
my $resp  = $t->install_app('respond', "$h/r/resp.fcgi");

# httpd's temporary directory (where bodies past 64 KiB are spooled): one
# of this test's own, so what is left in it can be looked at
my $tmp = "$d/tmp";
mkdir $tmp;
chmod 01777, $tmp;
$t->httpd_env(TMPDIR => $tmp);

$t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiSpoolLimit 1048576
FastCgiServer $slow -processes 1 -request-timeout 3
FastCgiServer $small -processes 1 -request-timeout 2 -spool-body 10
FastCgiServer $up -processes 3
FastCgiServer $resp
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF

# ------------------------------------------------------------ clients
#
# Clients run in one loop, full duplex: each sends its queued bytes (some
# scheduled at given times) and reads its response all the while, so a
# server answering early never blocks a client, and a trickling client
# does not stop another from being served.

my @clients;

sub client {
    my ($head, %o) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
        or die "connect: $@\n";
    binmode $s;
    $s->blocking(0);
    my $c = { sock => $s, out => $head, sched => [], in => '', t0 => time,
        name => $o{name} // 'client', port => $s->sockport };
    push @clients, $c;
    return $c;
}

# queue bytes now, or at time $at (absolute)
sub send_at { my ($c, $at, $bytes) = @_; push @{ $c->{sched} }, [$at, $bytes] }
sub send_now { my ($c, $bytes) = @_; $c->{out} .= $bytes }

sub response {
    my ($c) = @_;
    my $r = FcgixTest::parse_response($c->{in});
    return $r && ($r->{complete} || $c->{closed}) ? $r : undef;
}

sub finished { my ($c) = @_; return $c->{closed} || response($c) }

# one pass of I/O over every open client, waiting at most $max seconds
sub pump_once {
    my ($max) = @_;
    my $now = time;
    my ($rs, $ws) = (IO::Select->new, IO::Select->new);
    my $wait = $max;
    for my $c (grep { !$_->{closed} } @clients) {
        while (@{ $c->{sched} } && $c->{sched}[0][0] <= $now) {
            $c->{out} .= (shift @{ $c->{sched} })->[1];
        }
        if (@{ $c->{sched} }) {
            my $due = $c->{sched}[0][0] - $now;
            $wait = $due if $due < $wait;
        }
        $rs->add($c->{sock});
        $ws->add($c->{sock}) if length $c->{out} && !$c->{wdead};
    }
    return unless $rs->count;
    my ($r, $w) = IO::Select->select($rs, $ws, undef, $wait > 0 ? $wait : 0);
    local $SIG{PIPE} = 'IGNORE';
    for my $c (@clients) {
        next if $c->{closed};
        my $fd = $c->{sock};
        if ($w && grep { $_ == $fd } @$w) {
            my $n = syswrite($fd, $c->{out}, 65536);
            if (defined $n) {
                substr($c->{out}, 0, $n, '');
                $c->{t_sent} = time if $n;
            }
            elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK} && !$!{EINTR}) {
                $c->{wdead} = 1;    # the server closed: read what it sent
            }
        }
        if ($r && grep { $_ == $fd } @$r) {
            my $n = sysread($fd, my $buf, 65536);
            if (defined $n && $n > 0) {
                $c->{in} .= $buf;
            }
            elsif (!defined $n && ($!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR})) {
                next;
            }
            else {
                $c->{closed} = 1;
                close $fd;
            }
        }
        $c->{t_done} //= time if response($c);
    }
}

# pumps until $cond is true or $timeout seconds pass; returns $cond's value
sub pump_until {
    my ($cond, $timeout) = @_;
    my $end = time + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v || time >= $end;
        pump_once(0.05);
    }
}

sub close_all {
    for my $c (@clients) {
        close $c->{sock} unless $c->{closed};
        $c->{closed} = 1;
    }
    @clients = ();
}

sub post_head {
    my ($path, %o) = @_;
    my $hdr = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        . "Content-Type: application/octet-stream\r\n";
    $hdr .= $o{chunked} ? "Transfer-Encoding: chunked\r\n" : "Content-Length: $o{length}\r\n";
    return "$hdr\r\n";
}

sub chunks {
    my ($body, $cs) = @_;
    my $out = '';
    for (my $i = 0; $i < length $body; $i += $cs) {
        my $c = substr($body, $i, $cs);
        $out .= sprintf("%x\r\n", length $c) . $c . "\r\n";
    }
    return $out;
}

sub kv {
    my ($content) = @_;
    my %e;
    for (split /\n/, $content // '') {
        $e{$1} = $2 if /^([^=]+)=(.*)$/;
    }
    return \%e;
}

sub show {
    my ($c) = @_;
    my $r = FcgixTest::parse_response($c->{in});
    return "$c->{name}: " . ($r ? "$r->{status_line}\n$r->{content}" : "no response (" . length($c->{in}) . " bytes)");
}

sub code_of { my $r = response($_[0]); return $r ? $r->{code} : 0 }

sub uploaded_ok {
    my ($c, $body, $name) = @_;
    my $r = response($c);
    my $e = kv($r && $r->{content});
    ok($r && $r->{code} == 200 && ($e->{length} // -1) == length($body)
        && ($e->{md5} // '') eq FcgixTest::md5_hex($body), $name)
        or diag show($c) . "\n" . join("\n", (split /\n/, $t->error_log)[-15 .. -1]);
}

# KiB of request bodies spooled now, from the status page (a fresh
# connection each time: a kept-alive one could be on a child killed below)
sub spooled {
    my $r = FcgixTest::parse_response($t->raw("GET /fcgi-status?auto HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout => 5));
    return $r && $r->{content} =~ /^FcgixSpooledKiB: (\d+)$/m ? $1 : -1;
}

# ------------------------------ a small body trickled: read before a process is taken

{
    my $body = '0123456789';
    my $t0 = time;
    my $a = client(post_head('/s/slow.fcgi', length => length $body), name => 'A');
    send_at($a, $t0 + 0.5 * ($_ + 1), substr($body, $_, 1)) for 0 .. length($body) - 1;
    my $b;
    pump_until(sub { time >= $t0 + 1 }, 2);
    $b = client("GET /s/slow.fcgi HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", name => 'B');
    pump_until(sub { finished($a) && finished($b) }, 30);
    is(code_of($b), 200, 'one process, -request-timeout 3: a GET sent while another client trickles its body gets 200')
        or diag show($b);
    ok($b->{t_done} && $a->{t_sent} && $b->{t_done} < $a->{t_sent},
        '... while that client is still sending (the process is not pinned)')
        or diag sprintf('B done at %.1f s, A sent its last byte at %.1f s',
            ($b->{t_done} // 0) - $t0, ($a->{t_sent} // 0) - $t0);
    cmp_ok(($a->{t_sent} // 0) - $t0, '>', 3, '... which took longer than -request-timeout');
    uploaded_ok($a, $body, '... and that client gets 200 with its whole body');
    is(kv(response($a) && response($a)->{content})->{content_length}, length $body,
        '... and CONTENT_LENGTH as sent');
    close_all();
}

# ------------------------------ a large body trickled past -request-timeout: 408

{
    my $len = 16 * 1024 * 1024;
    my $t0 = time;
    my $a = client(post_head('/s/slow.fcgi', length => $len) . ('x' x 1000), name => 'A');
    send_at($a, $t0 + 0.5 * $_, 'y') for 1 .. 30;
    pump_until(sub { finished($a) }, 12);
    my $took = ($a->{t_done} // time) - $t0;
    is(code_of($a), 408, 'a 16 MiB body (over -spool-body) trickled past -request-timeout 3: 408')
        or diag show($a);
    ok($took < 3 + 3 && $took > 2.5, '... after about 3 s')
        or diag sprintf('took %.1f s', $took);
    $t->log_like(qr/FCGIX0122: \Q$slow\E: .*-request-timeout/, '... FCGIX0122 names the app');
    close_all();
    my $r = $t->get('/s/slow.fcgi');
    is($r->code, 200, '... and the process serves the next request');
}

# ------------------------------ -spool-body 10: 10 bytes are read ahead, 11 stream

for my $n (10, 11) {
    my $body = 'z' x $n;
    my $t0 = time;
    my $a = client(post_head('/sm/small.fcgi', length => $n), name => "A$n");
    send_at($a, $t0 + 0.3 * ($_ + 1), 'z') for 0 .. $n - 1;
    pump_until(sub { finished($a) }, 15);
    if ($n == 10) {
        uploaded_ok($a, $body, '-spool-body 10: a 10-byte body trickled past -request-timeout 2: 200');
    }
    else {
        is(code_of($a), 408, '-spool-body 10: an 11-byte body trickled past -request-timeout 2: 408')
            or diag show($a);
        $t->log_like(qr/FCGIX0122: \Q$small\E: /, '... FCGIX0122 names the app');
    }
    close_all();
}

# ------------------------------ FastCgiSpoolLimit

my $kib700 = FcgixTest::pattern(700 * 1024);
my $chunked700 = chunks($kib700, 65536);

is(spooled(), 0, 'nothing spooled at first');

{
    my $a = client(post_head('/u/up.fcgi', chunked => 1) . $chunked700, name => 'A');
    # A's reader counts one read's worth (64 KiB) ahead of what it has: 764
    # KiB means all 700 are in and it waits for more, so it will not count
    # again. 700 is reached one read earlier, and B could then take what A's
    # last read needs (both got 503 in a CI run).
    my $n = pump_until(sub { my $k = spooled(); $k >= 764 ? $k : 0 }, 10);
    ok($n, 'a 700 KiB chunked upload held open is counted') or diag "spooled: " . spooled();

    my $b = client(post_head('/u/up.fcgi', chunked => 1) . $chunked700 . "0\r\n\r\n", name => 'B');
    pump_until(sub { finished($b) }, 15);
    is(code_of($b), 503, 'FastCgiSpoolLimit 1 MiB: a second 700 KiB chunked upload gets 503')
        or diag show($b);
    $t->log_like(qr/FCGIX0124: \Q$up\E: FastCgiSpoolLimit/, '... FCGIX0124 names the app');

    my $c = client(post_head('/u/up.fcgi', length => length $kib700) . $kib700, name => 'C');
    pump_until(sub { finished($c) }, 15);
    uploaded_ok($c, $kib700, '... a 700 KiB Content-Length body is not read ahead but streams: 200, whole');
    $t->log_like(qr/\Q$up\E: FastCgiSpoolLimit reached: the 716800-byte request body streams/,
        '... as the log says');

    send_now($a, "0\r\n\r\n");
    pump_until(sub { finished($a) }, 15);
    uploaded_ok($a, $kib700, '... the first upload completes: 200, whole');
    close_all();
    ok($t->wait_for(sub { spooled() == 0 }, 5), '... and its count is given back')
        or diag "spooled: " . spooled();

    my $e = client(post_head('/u/up.fcgi', chunked => 1) . $chunked700 . "0\r\n\r\n", name => 'E');
    pump_until(sub { finished($e) }, 15);
    uploaded_ok($e, $kib700, '... then a new 700 KiB chunked upload succeeds');
    close_all();
}

# a Content-Length body being read ahead counts as well
{
    my $a = client(post_head('/u/up.fcgi', length => length $kib700) . substr($kib700, 0, -1), name => 'A');
    ok(pump_until(sub { spooled() >= 699 }, 10), 'a 700 KiB Content-Length body being read ahead is counted')
        or diag "spooled: " . spooled();
    my $b = client(post_head('/u/up.fcgi', chunked => 1) . $chunked700 . "0\r\n\r\n", name => 'B');
    pump_until(sub { finished($b) }, 15);
    is(code_of($b), 503, '... a 700 KiB chunked upload meanwhile gets 503') or diag show($b);
    send_now($a, substr($kib700, -1));
    pump_until(sub { finished($a) }, 15);
    uploaded_ok($a, $kib700, '... the read-ahead body completes: 200, whole');
    close_all();
    ok($t->wait_for(sub { spooled() == 0 }, 5), '... and its count is given back');
}

# the count comes back once the app has been handed the whole body
{
    my $a = client(post_head('/r/resp.fcgi?sleep_ms=3000', chunked => 1) . $chunked700, name => 'A');
    ok(pump_until(sub { spooled() >= 700 }, 10), 'a 700 KiB chunked upload is counted');
    send_now($a, "0\r\n\r\n");
    ok(pump_until(sub { spooled() == 0 && !finished($a) }, 2.5),
        '... and given back once the app has read it, while it still works on its answer')
        or diag "spooled: " . spooled() . "; " . show($a);
    pump_until(sub { finished($a) }, 15);
    my $r = response($a);
    ok($r && $r->{code} == 200 && ($r->{headers}{'x-respond-body-read'} // '') eq length($kib700),
        '... which then comes whole (the app read the whole body)') or diag show($a);
    close_all();
}

# an httpd child killed mid-upload does not keep its count
{
    my $a = client(post_head('/u/up.fcgi', chunked => 1) . $chunked700, name => 'A');
    ok(pump_until(sub { spooled() >= 700 }, 10), 'a 700 KiB chunked upload held open is counted');
    # the httpd child that holds A's connection: the server end of it
    # (local address the server's port, peer A's)
    my ($srv, $peer) = ('127.0.0.1:' . $t->port, "127.0.0.1:$a->{port}");
    my ($line) = grep { /\s\Q$srv\E\s+\Q$peer\E\s/ } split /\n/, `ss -tnpH state established 2>/dev/null`;
    my ($pid) = ($line // '') =~ /pid=(\d+)/;
    $pid = undef if $pid && ($pid == $$ || $pid == $t->httpd_pid);
    ok($pid, "found the httpd child holding it (pid " . ($pid // '?') . ")")
        or diag `ss -tnpH state established 2>&1`;
    SKIP: {
        skip 'no httpd child found', 5 unless $pid;
        $t->allow_log(qr/child pid $pid exit signal Killed/);
        kill 'KILL', $pid;
        pump_until(sub { finished($a) }, 5);
        close_all();
        ok($t->wait_for(sub { spooled() == 0 }, 10), 'SIGKILL of that child: its count is given back')
            or diag "spooled: " . spooled();
        $t->log_like(qr/FCGIX0125: httpd child $pid ended holding \d+ KiB/, '... FCGIX0125 says so');
        opendir(my $dh, $tmp);
        my @left = grep { /^fcgix-body-/ } readdir $dh;
        is("@left", '', '... and it left no spool file behind (its name goes as it is made)');
        my $e = client(post_head('/u/up.fcgi', chunked => 1) . $chunked700 . "0\r\n\r\n", name => 'E');
        pump_until(sub { finished($e) }, 15);
        uploaded_ok($e, $kib700, '... and a new 700 KiB chunked upload succeeds');
        close_all();
        is(spooled(), 0, '... after which nothing is counted');
    }
}

$t->stop_httpd;

# ------------------------------------------------------------ config errors

{
    my $app = "$h/app.fcgi";
    # [name, config, what the message says, what it names ...]
    my $num = qr/option -spool-body: value '[^']*' is not a whole number from 0 to 1073741824/;
    my $bytes = qr/FastCgiSpoolLimit: '[^']*' is not a number of bytes from 65536 to 1099511627776/;
    my @bad = (
        ['-spool-body -1', "FastCgiExternalServer $app -socket a.sock -spool-body -1", $num,
            'FastCgiExternalServer', $app, '-spool-body'],
        ['-spool-body abc', "FastCgiServer $slow -spool-body abc", $num, 'FastCgiServer', $slow, '-spool-body'],
        ['-spool-body over 1 GiB', "FastCgiExternalServer $app -socket a.sock -spool-body 1073741825", $num,
            'FastCgiExternalServer', $app, '-spool-body'],
        ['-spool-body without value', "FastCgiConfig -spool-body", qr/option -spool-body: needs a value/,
            'FastCgiConfig', '-spool-body'],
        ['FastCgiSpoolLimit 0', 'FastCgiSpoolLimit 0', $bytes, 'FastCgiSpoolLimit'],
        ['FastCgiSpoolLimit 1000 (below 64 KiB)', 'FastCgiSpoolLimit 1000', $bytes, 'FastCgiSpoolLimit'],
        ['FastCgiSpoolLimit 1M', 'FastCgiSpoolLimit 1M', $bytes, 'FastCgiSpoolLimit'],
        ['FastCgiSpoolLimit over 1 TiB', 'FastCgiSpoolLimit 1099511627777', $bytes, 'FastCgiSpoolLimit'],
        ['FastCgiSpoolLimit in a Directory', "<Directory $h>\nFastCgiSpoolLimit 1048576\n</Directory>",
            qr/FastCgiSpoolLimit not allowed in <Directory> context/, 'FastCgiSpoolLimit'],
    );
    for my $b (@bad) {
        my ($name, $conf, $msg, @must) = @$b;
        my ($ok, $out) = $t->config_test("FastCgiIpcDir $d/ipc\n$conf\n");
        ok(!$ok, "$name: apache2 -t fails") or diag $out;
        like($out, $msg, "$name: says why") or diag $out;
        for my $m (@must) {
            like($out, qr/(?<![\w-])\Q$m\E(?![\w-])/, "$name: output names $m") or diag $out;
        }
    }
    my ($ok, $out) = $t->config_test(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiSpoolLimit 65536
FastCgiExternalServer $app -socket a.sock -spool-body 0
FastCgiServer $slow -spool-body 1073741824
FastCgiConfig -spool-body 1
EOF
    ok($ok, 'FastCgiSpoolLimit 65536 and -spool-body 0 / 1 GiB / 1 pass apache2 -t') or diag $out;
}

$t->done;
done_testing;
