package FcgixRaw;

# A raw HTTP/1.1 client for the black-box tests that must see the bytes on
# the wire: framing (chunked, Content-Length, close-delimited), whether a
# response was complete, whether the server closed, and when each part
# arrived. Shared by t/13-response.t, t/14-headers.t, t/17-stderr.t,
# t/18-protocol.t and t/19-connect.t.

use strict;
use warnings;
use Exporter 'import';
use IO::Select ();
use IO::Socket::INET ();
use Test::More ();
use Time::HiRes ();

our @EXPORT = qw(parse_resp raw_req hdr1 show log_since_like);

sub parse_resp {
    my ($raw, $method) = @_;
    my %r = (headers_done => 0, body => '', complete => 0, extra => '');
    my $he = index($raw, "\r\n\r\n");
    return \%r if $he < 0;
    my $head = substr($raw, 0, $he);
    my $rest = substr($raw, $he + 4);
    my ($sl, @lines) = split /\r\n/, $head;
    $r{headers_done} = 1;
    ($r{code}) = $sl =~ m{^HTTP/\d\.\d (\d{3})};
    $r{code} //= 0;
    $r{status_line} = $sl;
    $r{headers} = {};
    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @{ $r{headers}{ lc $k } }, $v;
    }
    my $h = $r{headers};
    if ($method eq 'HEAD' || $r{code} == 304 || $r{code} == 204 || $r{code} < 200) {
        $r{framing} = 'none';
        $r{complete} = 1;
        $r{extra} = $rest;
    }
    elsif ($h->{'transfer-encoding'} && $h->{'transfer-encoding'}[-1] =~ /chunked\s*$/i) {
        $r{framing} = 'chunked';
        my $pos = 0;
        while (1) {
            my $le = index($rest, "\r\n", $pos);
            last if $le < 0;
            my ($hex) = substr($rest, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/;
            if (!defined $hex) { $r{bad_chunk} = 1; last }
            my $n = hex $hex;
            if ($n == 0) {
                # trailer section up to an empty line
                my $te = index($rest, "\r\n\r\n", $le);
                $te = $le if substr($rest, $le, 4) eq "\r\n\r\n";
                if ($te >= 0) {
                    $r{complete} = 1;
                    $r{extra} = substr($rest, $te + 4);
                }
                last;
            }
            last if length($rest) < $le + 2 + $n;
            $r{body} .= substr($rest, $le + 2, $n);
            $pos = $le + 2 + $n;
            last if length($rest) < $pos + 2;
            if (substr($rest, $pos, 2) ne "\r\n") { $r{bad_chunk} = 1; last }
            $pos += 2;
        }
        # a partial chunk's bytes count as received body too
        if (!$r{complete} && !$r{bad_chunk}) {
            my $le = index($rest, "\r\n", $pos);
            if ($le >= 0 && substr($rest, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/ && hex($1) > 0) {
                $r{body} .= substr($rest, $le + 2, hex $1);
            }
        }
    }
    elsif ($h->{'content-length'}) {
        $r{framing} = 'length';
        my $cl = $h->{'content-length'}[0];
        $r{body} = substr($rest, 0, $cl);
        if (length($rest) >= $cl) {
            $r{complete} = 1;
            $r{extra} = substr($rest, $cl);
        }
    }
    else {
        $r{framing} = 'close';
        $r{body} = $rest;
    }
    return \%r;
}

# raw_req($t, $method, $path, headers => [ "Name: value", ... ],
#         body => $bytes, timeout => s)
# One request on one fresh connection, measured at the socket: reads until
# the response is complete (by its own framing), the server closes, or the
# timeout (default 15 s) passes. Returns a hashref:
#   code, headers {lc name => [values]}, body (de-chunked), framing
#   ('chunked' | 'length' | 'none' for HEAD/304/204 | 'close'), complete
#   (the framing says the response is whole), closed (server closed before
#   the response was complete), timed_out, elapsed, t_headers, t_first_body
#   (seconds from sending to the first body byte), t_complete, extra (bytes
#   after a complete response), raw.
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
        $r = parse_resp($raw, $method);
        $t_headers //= $now if $r->{headers_done};
        $t_first_body //= $now if length $r->{body};
        if ($r->{complete}) { $t_complete = $now; last }
    }
    close $s;
    $r = parse_resp($raw, $method);
    $r->{framing} //= '';
    $r->{code} //= 0;
    $r->{closed} = $closed;
    $r->{timed_out} = $timed_out;
    $r->{elapsed} = Time::HiRes::time() - $t0;
    $r->{t_headers} = $t_headers;
    $r->{t_first_body} = $t_first_body;
    $r->{t_complete} = $t_complete;
    $r->{raw} = $raw;
    return $r;
}

sub hdr1 { my ($r, $name) = @_; my $v = $r->{headers}{ lc $name }; return $v ? $v->[0] : undef }

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
