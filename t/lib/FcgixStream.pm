package FcgixStream;

=head1 NAME

FcgixStream - timed clients for streamed responses (SSE): HTTP/1.1 on a raw
socket, HTTP/2 through curl, and a minimal h2c client that resets a stream

=head1 SYNOPSIS

    use FcgixStream;
    my $s = FcgixStream::h1($t, '/sse.fcgi?count=5', gzip => 1);
    # $s->{code}, $s->{headers}{lc name}, $s->{events} = [ { n, sent, at }, ... ],
    # $s->{first_body_at}, $s->{t0}, $s->{end}, $s->{text} (decoded body)
    my $h = FcgixStream::h2_curl($t, '/sse.fcgi?count=5');
    FcgixStream::one_by_one($s->{events})   # undef, or why not

Events are the lines t/apps/sse.c writes: "data: N SEC.USEC ..." followed by
an empty line; `sent` is the app's CLOCK_REALTIME at the write, `at` the
time (Time::HiRes, same clock) at which the read that completed the event
returned. Both run on the same machine, so at - sent is the event's delay.

=over

=item h1($t, $path, %o)

GET over a fresh TCP connection (HTTP/1.1, Connection: close), reading
until close, timeout (default 20 s), or until stop => sub { $events } is
true (then the socket is closed at once: a client going away). gzip => 1
sends Accept-Encoding: gzip and inflates a gzip Content-Encoding per read.
headers => { ... } extra request headers.

=item h2_curl($t, $path, %o)

The same over HTTP/2 with prior knowledge (curl --http2-prior-knowledge -N;
curl => [ ... ] extra curl arguments, e.g. --compressed), also with
stop => sub (then curl gets SIGKILL: the TCP connection goes away;
{killed_at}). Returns also {version} (from curl's header dump, e.g. "2"),
{curl_pid}, {exit} (curl's wait status). No {first_body_at} precision
beyond curl's own output buffering (-N: none).

=item h2_reset($t, $path, %o)

A minimal h2c client (no HPACK decoding: only DATA frames are read; it
answers SETTINGS and PING) sends one GET on stream 1, waits (timeout, 10 s)
until o{events} (1) events have arrived, then sends RST_STREAM(CANCEL) for
it and leaves the connection open. Returns { events, got_events (the events
came, no GOAWAY or RST from the server), reset_at, sock } (the socket, still
open: the caller decides when the connection goes).

=item h2_ping($st, $timeout)

After h2_reset: sends a PING on the kept connection; 1 when its ACK comes
back (the connection survived the reset), 0 on close/timeout, dies on
GOAWAY.

=item one_by_one($events, $count)

undef when there are $count events in order and each arrived before the
app wrote the next one (at[N] < sent[N+1]); else a text saying which not.

=back

=cut

use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
use Time::HiRes qw(time sleep);
use Compress::Raw::Zlib;
use FcgixHttp ();

# feeds decoded body text that arrived at time $at; collects whole events
sub _events {
    my ($st, $text, $at) = @_;
    $st->{text} .= $text;
    pos($st->{text}) = $st->{scan} // 0;
    while ($st->{text} =~ /\Gid: \d+\ndata: (\d+) (\d+\.\d+)[^\n]*\n\n/gc) {
        push @{ $st->{events} }, { n => $1, sent => $2, at => $at };
        $st->{scan} = pos($st->{text});
    }
    $st->{first_body_at} //= $at if length $st->{text};
}

sub _new_state { return { text => '', events => [], t0 => time } }

sub h1 {
    my ($t, $path, %o) = @_;
    my $st = _new_state();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
        or die "connect: $!\n";
    my %h = (Host => '127.0.0.1', Connection => 'close', %{ $o{headers} || {} });
    $h{'Accept-Encoding'} = 'gzip' if $o{gzip};
    print $s "GET $path HTTP/1.1\r\n" . join('', map {"$_: $h{$_}\r\n"} sort keys %h) . "\r\n";
    my ($buf, $fed, $inf, $p) = ('', 0, undef, undef);
    my $sel = IO::Select->new($s);
    my $end = time + ($o{timeout} // 20);
    while (time < $end) {
        last unless $sel->can_read($end - time);
        my $n = sysread($s, my $b, 65536);
        my $at = time;
        last unless $n;
        $buf .= $b;
        $p = FcgixHttp::parse($buf);
        next unless $p->{headers_done};
        $st->{headers_at} //= $at;
        my $new = substr($p->{content}, $fed);
        $fed = length $p->{content};
        if (($p->{headers}{'content-encoding'} // '') =~ /gzip/) {
            $inf //= Compress::Raw::Zlib::Inflate->new(-WindowBits => WANT_GZIP, -ConsumeInput => 1);
            my $out = '';
            my $status = $inf->inflate($new, $out);
            $st->{inflate_error} = "$status" if $status != Z_OK && $status != Z_STREAM_END;
            $new = $out;
        }
        _events($st, $new, $at) if length $new;
        last if $p->{complete};
        last if $o{stop} && $o{stop}->($st->{events});
    }
    $st->{end} = time;
    close $s;
    $p = FcgixHttp::parse($buf, eof => 1);
    @$st{qw(code headers raw_headers complete)} = @$p{qw(code headers raw_headers complete)};
    return $st;
}

sub h2_curl {
    my ($t, $path, %o) = @_;
    my $st = _new_state();
    my $hdr = $t->dir . '/logs/curl-h2-' . ++$t->{curl_seq} . '.hdr';
    my @cmd = ('curl', '-sS', '-N', '--http2-prior-knowledge', '-D', $hdr, '--max-time',
        $o{timeout} // 20, @{ $o{curl} || [] }, $t->base_url . $path);
    my $pid = open(my $fh, '-|', @cmd) // die "curl: $!\n";
    $st->{curl_pid} = $pid;
    my $sel = IO::Select->new($fh);
    while (1) {
        last unless $sel->can_read(($o{timeout} // 20) + 5);
        my $n = sysread($fh, my $b, 65536);
        my $at = time;
        last unless $n;
        _events($st, $b, $at);
        if ($o{stop} && $o{stop}->($st->{events})) {
            kill 'KILL', $pid;
            $st->{killed_at} = time;
            last;
        }
    }
    close $fh;
    $st->{end} = time;
    $st->{exit} = $?;
    my $head = FcgixTest::slurp($hdr);
    ($st->{version}, $st->{code}) = $head =~ m{^HTTP/(\S+) (\d{3})}m;
    my %h;
    while ($head =~ /^([^:\r\n]+):\s*([^\r\n]*)/mg) { $h{ lc $1 } = $2 }
    $st->{headers} = \%h;
    return $st;
}

# ------------------------------------------------------------ minimal h2c

sub _frame {
    my ($type, $flags, $sid, $payload) = @_;
    my $len = length $payload;
    return pack('CnCCN', $len >> 16, $len & 0xffff, $type, $flags, $sid & 0x7fffffff) . $payload;
}

sub _hpack_literal {    # literal header field without indexing, new name, no Huffman
    my ($name, $value) = @_;
    die "header too long for this client\n" if length($name) > 126 || length($value) > 126;
    return "\x00" . chr(length $name) . $name . chr(length $value) . $value;
}

# reads whole frames from $s until $want->(type, flags, sid, payload) is true
# or the deadline; answers SETTINGS with an ACK and PING with a PING ACK
sub _read_frames {
    my ($s, $bufref, $deadline, $want) = @_;
    my $sel = IO::Select->new($s);
    while (time < $deadline) {
        while (length $$bufref >= 9) {
            my ($l1, $l2, $type, $flags, $sid) = unpack('CnCCN', $$bufref);
            my $len = ($l1 << 16) | $l2;
            last if length $$bufref < 9 + $len;
            my $payload = substr($$bufref, 9, $len);
            substr($$bufref, 0, 9 + $len) = '';
            $sid &= 0x7fffffff;
            syswrite($s, _frame(4, 1, 0, '')) if $type == 4 && !($flags & 1);
            syswrite($s, _frame(6, 1, 0, $payload)) if $type == 6 && !($flags & 1);
            return 1 if $want->($type, $flags, $sid, $payload);
        }
        return 0 unless $sel->can_read($deadline - time);
        my $n = sysread($s, my $b, 65536);
        return 0 unless $n;
        $$bufref .= $b;
    }
    return 0;
}

sub h2_reset {
    my ($t, $path, %o) = @_;
    my $st = _new_state();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
        or die "connect: $!\n";
    binmode $s;
    my $hb = _hpack_literal(':method', 'GET') . _hpack_literal(':scheme', 'http')
        . _hpack_literal(':authority', '127.0.0.1:' . $t->port) . _hpack_literal(':path', $path);
    syswrite($s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" . _frame(4, 0, 0, '')
        . _frame(1, 0x4 | 0x1, 1, $hb));    # HEADERS, END_HEADERS|END_STREAM
    my $buf = '';
    my $got = _read_frames($s, \$buf, time + ($o{timeout} // 10), sub {
        my ($type, $flags, $sid, $payload) = @_;
        $st->{goaway} = 1 if $type == 7;
        $st->{rst_by_server} = 1 if $type == 3 && $sid == 1;
        return 1 if $type == 7 || ($type == 3 && $sid == 1);
        _events($st, $payload, time) if $type == 0 && $sid == 1;
        return @{ $st->{events} } >= ($o{events} // 1);
    });
    $st->{got_events} = $got && !$st->{goaway} && !$st->{rst_by_server};
    syswrite($s, _frame(3, 0, 1, pack('N', 8)));    # RST_STREAM, CANCEL
    $st->{reset_at} = time;
    $st->{sock} = $s;
    $st->{buf} = $buf;
    return $st;
}

# after h2_reset: 1 when the connection still answers a PING (with an ACK)
sub h2_ping {
    my ($st, $timeout) = @_;
    syswrite($st->{sock}, _frame(6, 0, 0, 'fcgix-pi')) or return 0;
    return _read_frames($st->{sock}, \$st->{buf}, time + ($timeout // 5), sub {
        my ($type, $flags, $sid, $payload) = @_;
        return $type == 7 ? die("GOAWAY\n") : $type == 6 && ($flags & 1) && $payload eq 'fcgix-pi';
    }) ? 1 : 0;
}

# ------------------------------------------------------------ checks

sub one_by_one {
    my ($ev, $count) = @_;
    return sprintf('%d events, not %d', scalar @$ev, $count) if @$ev != $count;
    for my $i (0 .. $#$ev) {
        return "event " . ($i + 1) . " has number $ev->[$i]{n}" if $ev->[$i]{n} != $i + 1;
        next if $i == $#$ev;
        return sprintf('event %d arrived %.3f s after the app wrote event %d', $i + 1,
            $ev->[$i]{at} - $ev->[$i + 1]{sent}, $i + 2)
            if $ev->[$i]{at} >= $ev->[$i + 1]{sent};
    }
    return undef;
}

# a line per event: n, app send time offset, arrival offset (for diag)
sub table {
    my ($st) = @_;
    my $t0 = $st->{t0};
    return join '', map { sprintf("  event %d: written at +%.3f s, arrived at +%.3f s\n",
            $_->{n}, $_->{sent} - $t0, $_->{at} - $t0) } @{ $st->{events} };
}

1;
