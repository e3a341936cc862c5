package FcgixHttp;

=head1 NAME

FcgixHttp - the one HTTP/1.x response parser of the black-box tests

=head1 SYNOPSIS

    use FcgixHttp;
    my $r = FcgixHttp::parse($bytes, method => 'GET', eof => 1);
    # $r->{code}, $r->{headers}{'content-type'}, $r->{content}, $r->{complete}

Every client of the tests reads responses through parse():
C<< $t->raw >> + C<FcgixTest::parse_response> (bytes read until close),
C<< $t->conn >> (FcgixHttp::Conn below, a persistent connection),
C<FcgixRaw::raw_req> (one timed request, framing seen as sent),
C<FcgixPM::http_once> and C<FcgixAuth::close_req>.

=head1 FUNCTIONS

=over

=item FcgixHttp::parse($bytes, method => 'GET', eof => 0)

Parses the response at the start of $bytes, as far as it has arrived.
method 'HEAD' means no body; eof => 1 says the server has closed, so a
body delimited by the close is whole. Never dies. Returns a hashref:

  status_line  the first line (undef until it has arrived)
  code         its status code; undef when it is not "HTTP/x.y NNN"
  headers_done 1 once the empty line that ends the header block arrived
               (lines end in LF, with or without CR before it)
  headers      { lc name => value }, repeated names joined with ', '
  header_list  [ [name as sent, value], ... ] in the order sent
  raw_headers  the header lines (no status line), each ending "\n"
               Values are what follows the colon and its leading blanks;
               lines without a colon are skipped.
  framing      '' before headers_done, then 'none' (HEAD, 1xx, 204, 304),
               'chunked' (the last transfer coding is chunked), 'length'
               (Content-Length, its first value) or 'close'
  content      the body bytes received so far, de-chunked (the received
               part of an unfinished chunk included)
  complete     1 when the framing says the body is whole: 'none' always,
               'length' when that many bytes arrived, 'chunked' after the
               last chunk and its trailer, 'close' only with eof => 1
  bad_chunk    1 when the chunked framing is broken (then never complete)
  rest         the bytes after a complete response ('' otherwise)

=back

=cut

use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(parse);

sub parse {
    my ($raw, %o) = @_;
    my $method = $o{method} // 'GET';
    my %r = (status_line => undef, code => undef, headers_done => 0, headers => {},
        header_list => [], raw_headers => '', framing => '', content => '', complete => 0,
        bad_chunk => 0, rest => '');
    if ($raw =~ /\A([^\n]*)\n/) {
        ($r{status_line} = $1) =~ s/\r\z//;
        ($r{code}) = $r{status_line} =~ m{^HTTP/\d\.\d (\d{3})};
    }
    return \%r unless $raw =~ /\n\r?\n/;
    my ($head, $body) = (substr($raw, 0, $-[0]), substr($raw, $+[0]));
    $head =~ s/\r\z//;
    $r{headers_done} = 1;
    _headers(\%r, $head);
    _body(\%r, $body, $method, $o{eof});
    return \%r;
}

sub _headers {
    my ($r, $head) = @_;
    my (undef, @lines) = split /\r?\n/, $head;
    for my $l (@lines) {
        $r->{raw_headers} .= "$l\n";
        my ($k, $v) = $l =~ /^([^:]+):[ \t]*(.*)$/ or next;
        push @{ $r->{header_list} }, [$k, $v];
        $k = lc $k;
        $r->{headers}{$k} = exists $r->{headers}{$k} ? "$r->{headers}{$k}, $v" : $v;
    }
}

sub _first {
    my ($r, $name) = @_;
    my ($h) = grep { lc $_->[0] eq $name } @{ $r->{header_list} };
    return $h ? $h->[1] : undef;
}

sub _body {
    my ($r, $body, $method, $eof) = @_;
    my $code = $r->{code} // 0;
    my $cl = _first($r, 'content-length');
    if ($method eq 'HEAD' || $code == 204 || $code == 304 || $code < 200) {
        @$r{qw(framing complete rest)} = ('none', 1, $body);
    }
    elsif (($r->{headers}{'transfer-encoding'} // '') =~ /(?:^|,)[ \t]*chunked[ \t]*$/i) {
        $r->{framing} = 'chunked';
        _dechunk($r, $body);
    }
    elsif (defined $cl && $cl =~ /^\s*(\d+)\s*$/) {
        my $n = $1;
        $r->{framing} = 'length';
        $r->{content} = substr($body, 0, $n);
        @$r{qw(complete rest)} = (1, substr($body, $n)) if length($body) >= $n;
    }
    else {
        @$r{qw(framing content complete)} = ('close', $body, $eof ? 1 : 0);
    }
}

# Chunks: "HEX[;ext]\r\n" DATA "\r\n" ..., "0\r\n", trailer lines, "\r\n".
sub _dechunk {
    my ($r, $s) = @_;
    my $pos = 0;
    while (1) {
        my $le = index($s, "\r\n", $pos);
        return _partial_chunk($r, $s, $pos) if $le < 0;
        my ($hex) = substr($s, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/;
        return $r->{bad_chunk} = 1 unless defined $hex;
        my $n = hex $hex;
        if ($n == 0) {
            # the trailer section ends with an empty line
            my $end = substr($s, $le, 4) eq "\r\n\r\n" ? $le : index($s, "\r\n\r\n", $le);
            @$r{qw(complete rest)} = (1, substr($s, $end + 4)) if $end >= 0;
            return;
        }
        return _partial_chunk($r, $s, $pos) if length($s) < $le + 2 + $n + 2;
        $r->{content} .= substr($s, $le + 2, $n);
        return $r->{bad_chunk} = 1 if substr($s, $le + 2 + $n, 2) ne "\r\n";
        $pos = $le + 2 + $n + 2;
    }
}

# An unfinished chunk at $pos: the data bytes that arrived count as body.
sub _partial_chunk {
    my ($r, $s, $pos) = @_;
    my $le = index($s, "\r\n", $pos);
    return if $le < 0 || substr($s, $pos, $le - $pos) !~ /^([0-9a-fA-F]+)/;
    $r->{content} .= substr($s, $le + 2, hex $1);
}

# ======================================================================
package FcgixHttp::Conn;

=head1 FcgixHttp::Conn

A persistent HTTP/1.1 connection, made by C<< $t->conn(%o) >>:

  my $c = $t->conn;  my $r = $c->request('GET', '/x', headers => {...}, body => ...);
  $c->local_port; $c->close;

request() sends one request (Host and, with a body, Content-Length added)
and returns FcgixHttp::parse()'s hash of the response. It dies when the
connection closes before a complete response, on a bad status line or
chunk framing, and at the timeout. A response delimited by the close is
read until the close. Options of new: host, port, timeout (s).

=cut

use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;
use Time::HiRes qw(time);

sub new {
    my ($class, %o) = @_;
    my $s = IO::Socket::IP->new(PeerHost => $o{host}, PeerPort => $o{port}, Timeout => 5)
        or die "conn: connect $o{host}:$o{port}: $@\n";
    binmode $s;
    return bless { sock => $s, buf => '', timeout => $o{timeout}, host => $o{host}, port => $o{port} }, $class;
}

sub local_port { $_[0]{sock}->sockport }

sub close {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
}

sub _fill {
    my ($self, $deadline) = @_;
    my $sel = IO::Select->new($self->{sock});
    my $left = $deadline - time;
    die "conn: timeout\n" if $left <= 0 || !$sel->can_read($left);
    my $n = sysread($self->{sock}, my $b, 65536);
    die "conn: connection closed by server\n" unless $n;
    $self->{buf} .= $b;
}

sub send_raw {
    my ($self, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $w = syswrite($self->{sock}, $bytes, length($bytes) - $off, $off);
        die "conn: write: $!\n" unless defined $w;
        $off += $w;
    }
}

sub request {
    my ($self, $method, $path, %o) = @_;
    die "conn: closed\n" unless $self->{sock};
    my $h = { %{ $o{headers} || {} } };
    my $req = "$method $path HTTP/1.1\r\nHost: $self->{host}:$self->{port}\r\n";
    my $body = $o{body};
    if (defined $body && !grep { lc $_ eq 'content-length' } keys %$h) {
        $h->{'Content-Length'} = length $body;
    }
    $req .= "$_: $h->{$_}\r\n" for sort keys %$h;
    $req .= "\r\n";
    $req .= $body if defined $body;
    $self->send_raw($req);
    return $self->read_response($method, $o{timeout});
}

sub read_response {
    my ($self, $method, $timeout) = @_;
    my $deadline = time + ($timeout // $self->{timeout});
    while (1) {
        my $r = FcgixHttp::parse($self->{buf}, method => $method);
        die "conn: bad status line '$r->{status_line}'\n" if defined $r->{status_line} && !defined $r->{code};
        die "conn: bad chunk framing\n" if $r->{bad_chunk};
        return $self->_until_close($method, $deadline) if $r->{framing} eq 'close';
        if ($r->{complete}) {
            $self->{buf} = $r->{rest};
            $self->close if ($r->{headers}{connection} // '') =~ /close/i;
            return $r;
        }
        $self->_fill($deadline);
    }
}

# A body delimited by the close: whatever arrives until then (or until
# the deadline), and the connection is done.
sub _until_close {
    my ($self, $method, $deadline) = @_;
    1 while eval { $self->_fill($deadline); 1 };
    my $r = FcgixHttp::parse($self->{buf}, method => $method, eof => 1);
    $self->{buf} = '';
    $self->close;
    return $r;
}

1;
