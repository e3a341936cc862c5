package FcgixBackends;

# Helpers of the several-backends tests (t/47-backends.t,
# t/48-backends-probe.t). Functions take the harness (a FcgixTest) first.
#
#   backend($t, $name, $host, $port, %o)
#                     starts t/apps/whoami (BACKEND_NAME=$name) listening on
#                     $host:$port (host '::1' for IPv6), or on a Unix socket
#                     when $host is 'unix' ($port is then the socket path);
#                     %o goes to start_app (count => N processes). Returns
#                     the app hash (+ name, addr as the status page names it)
#   who($body)        { name, addr, pid, method, body } from a whoami answer
#   fetch($t, $path)  one GET on a fresh connection: [ code, who-hash, raw ]
#   burst($t, $path, $n, %o)
#                     $n requests sent at once on $n connections (Connection:
#                     close), then all answers read: a list of
#                     FcgixTest::parse_response hashes (code 0 when none)
#   tally(@responses) { name => count } of the 200 answers (key '!CODE' for
#                     other statuses)
#   backends($t, $file, $status_url)
#                     the status page's ?auto view of the class $file:
#                     { Backends => K, list => [ { Address, State, DownFor,
#                     ... } per backend ], by_addr => { addr => same } }, or
#                     undef when the class is not on the page
#   begun($app, $tok) true when the whoami $app logged a request whose query
#                     contains $tok
use strict;
use warnings;
use Exporter 'import';
use IO::Socket::IP;
use IO::Select;
use Time::HiRes qw(time);
use FcgixTest qw(slurp);

our @EXPORT = qw(backend who fetch burst tally backends begun);

sub backend {
    my ($t, $name, $host, $port, %o) = @_;
    my %where = $host eq 'unix' ? (socket => $port) : (host => $host, port => $port);
    my $app = $t->start_app(prog => 'whoami', name => "be-$name", %where,
        env => { BACKEND_NAME => $name }, %o);
    $app->{bname} = $name;
    $app->{addr} = $host eq 'unix' ? "unix:$port" : $app->{hostport};
    return $app;
}

sub who {
    my ($body) = @_;
    my %w = ($body // '') =~ /^(name|addr|pid|method|body)=(.*)$/mg;
    return \%w;
}

sub fetch {
    my ($t, $path, %o) = @_;
    my $r = $t->request($o{method} // 'GET', $path, %o);
    return [ $r->code, who($r->content), $r ];
}

sub burst {
    my ($t, $path, $n, %o) = @_;
    my $req = "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my @s;
    for (1 .. $n) {
        my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $t->port, Timeout => 5)
            or die "burst: connect: $@\n";
        binmode $s;
        syswrite($s, $req) == length $req or die "burst: write: $!\n";
        push @s, $s;
    }
    my $end = time + ($o{timeout} // 30);
    my %buf = map { fileno($_) => '' } @s;
    my $sel = IO::Select->new(@s);
    while ($sel->count && (my $left = $end - time) > 0) {
        for my $s ($sel->can_read($left)) {
            my $k = sysread($s, my $b, 65536);
            if (!$k) { $sel->remove($s); next }
            $buf{ fileno $s } .= $b;
        }
    }
    my @r = map { FcgixTest::parse_response($buf{ fileno $_ }) // { code => 0, content => '' } } @s;
    close $_ for @s;
    return @r;
}

sub tally {
    my %n;
    for my $r (@_) {
        my $code = ref $r eq 'ARRAY' ? $r->[0] : $r->{code};
        my $body = ref $r eq 'ARRAY' ? undef : $r->{content};
        my $name = ref $r eq 'ARRAY' ? $r->[1]{name} : who($body)->{name};
        $n{ $code == 200 ? $name // '?' : "!$code" }++;
    }
    return \%n;
}

sub backends {
    my ($t, $file, $url) = @_;
    my $txt = $t->get(($url // '/fcgi-status') . '?auto')->content;
    my %n;
    while ($txt =~ /^Class(\d+): (.*)$/mg) { $n{$2} = $1 }
    my $i = $n{$file};
    return undef unless defined $i;
    my %v = $txt =~ /^Class${i}(\w+): (.*)$/mg;
    my $k = $v{Backends};
    my (@list, %by);
    for my $m (0 .. ($k // 0) - 1) {
        my %b = (Address => $v{"Backend$m"});
        for my $key (keys %v) {
            $b{$1} = $v{$key} if $key =~ /^Backend${m}([A-Z]\w*)$/;
        }
        push @list, \%b;
        $by{ $b{Address} // '' } = \%b;
    }
    return { %v, Backends => $k, list => \@list, by_addr => \%by, raw => $txt };
}

sub begun {
    my ($app, $tok) = @_;
    return slurp($app->{log}) =~ /^begin .*q=.*\Q$tok\E/m;
}

1;
