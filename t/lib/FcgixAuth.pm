package FcgixAuth;

# Helpers of the authorizer tests (t/30-auth.t, t/31-auth-more.t): Basic
# credentials, the call logs the authorizer apps (t/apps/authz.c and
# t/apps/authz.pl) append to, and a request whose response is seen as sent
# (every header line, duplicates included). Functions that need the harness
# take it (a FcgixTest) as their first argument, as FcgixRaw's do.
#
#   basic($user, $pass)       (Authorization => 'Basic ...'), a header pair
#   %MAGIC                    the header the apps grant the access check on
#   new_log($t, $name)        an empty call log calls/NAME.log (mode 0666)
#   mark(@logs)               remember where each log ends now
#   calls_since($log)         [ { key => value, ... } per line added since
#                             the last mark / calls_since of that log ]
#   roles($calls)             their roles, comma-joined
#   close_req($t, $method, $path, %headers)
#                             one request with Connection: close (headers
#                             sent sorted; _body => bytes is sent with its
#                             Content-Length, _timeout => s, default 20);
#                             returns FcgixTest::parse_response()'s hash, or
#                             { code => 0, ... } when no response came

use strict;
use warnings;
use Exporter 'import';
use MIME::Base64 qw(encode_base64);
use FcgixTest qw(slurp);

our @EXPORT = qw(basic %MAGIC new_log mark calls_since roles close_req);

our %MAGIC = ('X-Let-Me-In' => 'yes');

sub basic {
    my ($u, $p) = @_;
    return (Authorization => 'Basic ' . encode_base64("$u:$p", ''));
}

# Call logs: the apps append, the tests read what a request added.
sub new_log {
    my ($t, $name) = @_;
    return $t->write_file("calls/$name.log", '', 0666);
}

my %log_off;
sub mark { $log_off{$_} = -s $_ for @_ }

sub calls_since {
    my ($f) = @_;
    my $all = slurp($f);
    my $new = substr($all, $log_off{$f} // 0);
    $log_off{$f} = length $all;
    return [ map { +{ map { split /=/, $_, 2 } split / / } } grep { length } split /\n/, $new ];
}

sub roles { join ',', map { $_->{role} } @{ $_[0] } }

sub close_req {
    my ($t, $method, $path, %hd) = @_;
    my $body = delete $hd{_body};
    my $timeout = delete $hd{_timeout} // 20;
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:" . $t->port . "\r\n";
    $req .= "$_: $hd{$_}\r\n" for sort keys %hd;
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "Connection: close\r\n\r\n";
    $req .= $body if defined $body;
    my $raw = $t->raw($req, timeout => $timeout);
    return FcgixTest::parse_response($raw, $method) // { code => 0, headers => {}, header_list => [], content => '' };
}

1;
