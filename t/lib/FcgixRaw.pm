package FcgixRaw;

# A raw HTTP/1.1 client for the black-box tests that must see the bytes on
# the wire: framing (chunked, Content-Length, close-delimited), whether a
# response was complete, whether the server closed, and when each part
# arrived. Shared by t/13-response.t, t/14-headers.t, t/17-stderr.t,
# t/18-protocol.t and t/19-connect.t.

use strict;
use warnings;
use Exporter 'import';
use FcgixHttp ();
use IO::Select ();
use IO::Socket::INET ();
use Test::More ();
use Time::HiRes ();

our @EXPORT = qw(raw_req hdr1 show log_since_like);

# raw_req($t, $method, $path, headers => [ "Name: value", ... ],
#         body => $bytes, timeout => s)
# One request on one fresh connection, measured at the socket: reads until
# the response is complete (by its own framing), the server closes, or the
# timeout (default 15 s) passes. Returns FcgixHttp::parse()'s hash of what
# arrived, where complete means the framing says the response is whole (a
# body delimited by the close never is: see closed), framing is '' when no
# header block arrived and code 0 until it did (or with no status line);
# and also:
#   body (= content, de-chunked), extra (= rest, bytes after a complete
#   response), closed (server closed before the response was complete),
#   timed_out, elapsed, t_headers, t_first_body (seconds from sending to
#   the first body byte), t_complete, raw.
sub raw_req {
    my ($t, $method, $path, %o) = @_;
    my $timeout = $o{timeout} // 15;
    local $SIG{PIPE} = 'IGNORE';    # a server that answers early may close first
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port,
        Proto => 'tcp', Timeout => 5) or die "raw_req: connect: $!\n";
    binmode $s;
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:" . $t->port . "\r\n";
    $req .= "$_\r\n" for @{ $o{headers} || [] };
    $req .= "Content-Length: " . length($o{body}) . "\r\n" if defined $o{body};
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    my $t0 = Time::HiRes::time();
    my $off = 0;
    while ($off < length $req) {
        my $w = syswrite($s, $req, length($req) - $off, $off);
        last unless defined $w;
        $off += $w;
    }
    my $sel = IO::Select->new($s);
    my $raw = '';
    my ($closed, $timed_out, $r) = (0, 0, undef);
    my ($t_headers, $t_first_body, $t_complete);
    while (1) {
        my $left = $t0 + $timeout - Time::HiRes::time();
        if ($left <= 0 || !$sel->can_read($left)) { $timed_out = 1; last }
        my $n = sysread($s, my $buf, 65536);
        my $now = Time::HiRes::time() - $t0;
        if (!$n) { $closed = 1; last }
        $raw .= $buf;
        $r = FcgixHttp::parse($raw, method => $method);
        $t_headers //= $now if $r->{headers_done};
        $t_first_body //= $now if length $r->{content};
        if ($r->{complete}) { $t_complete = $now; last }
    }
    close $s;
    $r = FcgixHttp::parse($raw, method => $method);
    $r->{code} = 0 unless $r->{headers_done} && defined $r->{code};
    $r->{body} = $r->{content};
    $r->{extra} = $r->{rest};
    $r->{closed} = $closed;
    $r->{timed_out} = $timed_out;
    $r->{elapsed} = Time::HiRes::time() - $t0;
    $r->{t_headers} = $t_headers;
    $r->{t_first_body} = $t_first_body;
    $r->{t_complete} = $t_complete;
    $r->{raw} = $raw;
    return $r;
}

# the first value of the header $name, undef when there is none
sub hdr1 {
    my ($r, $name) = @_;
    my ($h) = grep { lc $_->[0] eq lc $name } @{ $r->{header_list} || [] };
    return $h ? $h->[1] : undef;
}

sub show {
    my ($r) = @_;
    my $raw = $r->{raw} // '';
    my $head = substr($raw, 0, 600);
    $head =~ s/([^\x20-\x7e\n])/sprintf('\\x%02x', ord $1)/ge;
    return sprintf("code=%s framing=%s complete=%d closed=%d timed_out=%d elapsed=%.2f body=%d bytes\n%s",
        $r->{code}, $r->{framing}, $r->{complete}, $r->{closed}, $r->{timed_out}, $r->{elapsed},
        length $r->{body}, $head);
}

# Waits (<= 5 s) until the error log, from byte offset $off on, matches $re.
sub log_since_like {
    my ($t, $off, $re, $name, $wait) = @_;
    my $ok = $t->wait_for(sub { substr($t->error_log, $off) =~ $re }, $wait // 5);
    Test::More::ok($ok, $name)
        or Test::More::diag("new error log lines:\n" . substr($t->error_log, $off, 4000));
    return $ok;
}

1;
