# 10-basic.t - basic request routing to external FastCGI apps.
#
# hello via AddHandler .fcgi over a Unix socket, TCP 127.0.0.1, TCP [::1] and
# a host name; SetHandler in a <Location>; a declared app reached by its
# filename without any handler (file absent on disk) with PATH_INFO and
# QUERY_STRING; HEAD has no body; 20 keep-alive requests on one connection.
use strict;
use warnings;
use Test::More;
use Socket qw(getaddrinfo getnameinfo AF_INET AF_INET6 SOCK_STREAM NI_NUMERICHOST NIx_NOSERV);
use FcgixTest;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my $unix = $t->start_app(prog => 'hello', count => 2);
my $tcp4 = $t->start_app(prog => 'hello', tcp => 1);
my $ipv6 = $t->have_ipv6 ? $t->start_app(prog => 'hello', host => '::1') : undef;
my $penv = $t->start_app(prog => 'printenv');
my $psh  = $t->start_app(prog => 'printenv');

# a host name: bind the app to the first address "localhost" resolves to
my ($err, @ai) = getaddrinfo('localhost', '', { socktype => SOCK_STREAM });
my $lh_addr;
if (!$err && @ai) {
    my ($e2, $host) = getnameinfo($ai[0]{addr}, NI_NUMERICHOST, NIx_NOSERV);
    $lh_addr = $host unless $e2;
}
my $named = $lh_addr ? $t->start_app(prog => 'hello', host => $lh_addr) : undef;

# -socket relative to FastCgiIpcDir: the dir prepared as the module wants it
my $ipc = "$d/ipc";
mkdir $ipc, 0700 or die "mkdir $ipc: $!";
if ($> == 0) {
    my (undef, undef, $uid, $gid) = getpwnam('www-data');
    chown $uid, $gid, $ipc;
}
chmod 0700, $ipc;
my $rel = $t->start_app(prog => 'hello', socket => "$ipc/rel.sock");

# files on disk for the AddHandler cases
$t->write_file("htdocs/$_", "not served\n", 0755) for qw(hello.fcgi rel.fcgi tcp4.fcgi tcp6.fcgi named.fcgi);
$t->write_file('htdocs/sh/app', "not served\n", 0755);
$t->write_file('htdocs/index.html', "index\n");

my $conf = <<"EOF";
FastCgiIpcDir $ipc
AddHandler fastcgi-script .fcgi
FastCgiExternalServer $h/rel.fcgi -socket rel.sock
FastCgiExternalServer $h/hello.fcgi $unix->{spec}
FastCgiExternalServer $h/tcp4.fcgi -host $tcp4->{hostport}
FastCgiExternalServer $h/virtual $penv->{spec}
FastCgiExternalServer $h/sh/app $psh->{spec}
<Location /sh>
    SetHandler fastcgi-script
</Location>
EOF
$conf .= "FastCgiExternalServer $h/tcp6.fcgi -host $ipv6->{hostport}\n" if $ipv6;
$conf .= "FastCgiExternalServer $h/named.fcgi -host localhost:$named->{port}\n" if $named;
$t->start_httpd($conf);

sub hello_ok {
    my ($path, $name) = @_;
    my $r = $t->get($path);
    is($r->code, 200, "$name: 200") or diag $r->as_string, $t->error_log;
    is($r->content, "Hello, World\n", "$name: body");
    like($r->header('Content-Type') // '', qr{^text/plain}, "$name: content type");
}

hello_ok('/hello.fcgi', 'unix socket');
hello_ok('/rel.fcgi', '-socket relative to FastCgiIpcDir');
hello_ok('/tcp4.fcgi', 'tcp 127.0.0.1');
SKIP: {
    skip 'no IPv6 loopback', 3 unless $ipv6;
    hello_ok('/tcp6.fcgi', 'tcp [::1]');
}
SKIP: {
    skip 'localhost does not resolve', 3 unless $named;
    hello_ok('/named.fcgi', "tcp host name localhost ($lh_addr)");
}

# several requests in a row reach the pool of two processes
{
    my $ok = 0;
    for (1 .. 10) {
        my $r = $t->get('/hello.fcgi');
        $ok++ if $r->code == 200 && $r->content eq "Hello, World\n";
    }
    is($ok, 10, '10 sequential requests to the unix-socket pool');
}

sub env_of {
    my ($content) = @_;
    my %e;
    for (split /\n/, $content) {
        $e{$1} = $2 if /^([^=]+)=(.*)$/;
    }
    return \%e;
}

# SetHandler in a <Location>
{
    my $r = $t->get('/sh/app?x=1');
    is($r->code, 200, 'SetHandler fastcgi-script: 200') or diag $r->as_string;
    my $e = env_of($r->content);
    is($e->{SCRIPT_NAME}, '/sh/app', 'SetHandler: SCRIPT_NAME');
    is($e->{SCRIPT_FILENAME}, "$h/sh/app", 'SetHandler: SCRIPT_FILENAME');
    is($e->{QUERY_STRING}, 'x=1', 'SetHandler: QUERY_STRING');
}

# the declared filename routes without any handler, file absent on disk
{
    ok(!-e "$h/virtual", 'declared app file does not exist');
    my $r = $t->get('/virtual/extra/path?a=1&b=two%20words');
    is($r->code, 200, 'declared app without handler: 200') or diag $r->as_string, $t->error_log;
    my $e = env_of($r->content);
    is($e->{SCRIPT_NAME}, '/virtual', 'declared app: SCRIPT_NAME');
    is($e->{PATH_INFO}, '/extra/path', 'declared app: PATH_INFO');
    is($e->{QUERY_STRING}, 'a=1&b=two%20words', 'declared app: QUERY_STRING');
    is($e->{SCRIPT_FILENAME}, "$h/virtual", 'declared app: SCRIPT_FILENAME');
    is($e->{REQUEST_URI}, '/virtual/extra/path?a=1&b=two%20words', 'declared app: REQUEST_URI');
    is($e->{REQUEST_METHOD}, 'GET', 'declared app: REQUEST_METHOD');

    $r = $t->get('/virtual');
    is($r->code, 200, 'declared app, no path info: 200');
    $e = env_of($r->content);
    is($e->{SCRIPT_NAME}, '/virtual', 'declared app, no path info: SCRIPT_NAME');
    ok(!defined $e->{PATH_INFO} || $e->{PATH_INFO} eq '', 'declared app, no path info: empty PATH_INFO');

    # a neighbour of the declared name is not routed to it
    $r = $t->get('/virtualx');
    is($r->code, 404, 'prefix of a longer name is not the app');
}

# static files still work next to the module
{
    my $r = $t->get('/index.html');
    is($r->code, 200, 'static file 200');
    is($r->content, "index\n", 'static file body');
}

# HEAD has no body
{
    my $raw = $t->raw("HEAD /hello.fcgi HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout => 10);
    my $r = FcgixTest::parse_response($raw, 'HEAD');
    ok($r, 'HEAD: response') or diag $raw;
    is($r && $r->{code}, 200, 'HEAD: 200');
    is($r && $r->{rest}, '', 'HEAD: no body bytes after the headers') or diag $raw;
    like($r && $r->{headers}{'content-type'} // '', qr{^text/plain}, 'HEAD: content type');
    my $lr = $t->head('/virtual/p');
    is($lr->code, 200, 'HEAD to the declared app: 200');
    is($lr->content, '', 'HEAD to the declared app: empty body');
}

# 20 keep-alive requests on one connection
{
    my $c = $t->conn;
    my $port = $c->local_port;
    my ($ok, $same) = (0, 0);
    for my $i (1 .. 20) {
        my $path = $i % 2 ? '/hello.fcgi' : "/virtual/ka?i=$i";
        my $r = eval { $c->request('GET', $path) };
        if (!$r) { diag "request $i: $@"; last }
        if ($i % 2) {
            $ok++ if $r->{code} == 200 && $r->{content} eq "Hello, World\n";
        }
        else {
            my $e = env_of($r->{content});
            $ok++ if $r->{code} == 200 && ($e->{QUERY_STRING} // '') eq "i=$i";
            $same++ if ($e->{REMOTE_PORT} // '') eq $port;
        }
    }
    is($ok, 20, '20 keep-alive requests answered');
    is($same, 10, 'all on the same client connection (REMOTE_PORT constant)');
    $c->close;
}

# an undeclared file under the fastcgi-script handler is an error, not a hang
{
    $t->write_file('htdocs/undeclared.fcgi', "x\n", 0755);
    my $r = $t->get('/undeclared.fcgi');
    ok($r->code >= 400 && $r->code < 600, 'undeclared .fcgi file: error status')
        or diag $r->as_string;
}

$t->done;
done_testing;
