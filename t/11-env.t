# 11-env.t - the CGI environment mod_fcgix passes equals mod_cgi's.
#
# The same printenv binary runs once as a CGI under mod_cgi/mod_cgid and once
# as an external FastCGI app under mod_fcgix, at the same URL, port and
# document root, for the same raw requests; the environments it prints must
# match (process-specific variables aside).  Also: "Proxy:" never becomes
# HTTP_PROXY; Authorization is passed only with -pass-header Authorization;
# the Perl FCGI app (printenv.pl) gets the same environment.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use FcgixTest;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $script = "$h/cgi/printenv.cgi";
$t->write_file('htdocs/cgi/.keep', '');
copy($t->app_path('printenv'), $script) or die "copy: $!";
chmod 0755, $script;

$ENV{FCGIX_PASSENV} = 'passed from the environment';

my $common = <<"EOF";
FastCgiIpcDir $d/ipc
<Directory $h/cgi>
    Options +ExecCGI
</Directory>
SetEnv FCGIX_SETENV "set by SetEnv"
PassEnv FCGIX_PASSENV
SetEnvIf User-Agent ^envtest FCGIX_SETENVIF=matched
EOF

my $auth = 'Basic dXNlcjpwYXNzd29yZA==';
my %hdrs = (
    'User-Agent'      => 'envtest/1.0',
    'Accept'          => 'text/plain, */*;q=0.5',
    'X-Custom-Header' => 'custom value',
    'Cookie'          => 'a=b; c=d',
    'Proxy'           => 'x',
    'Authorization'   => $auth,
    'Accept-Language' => 'en',
);
my $form = 'field=value&other=%20x&' . ('z' x 5000);
my @requests = (
    [ 'GET with path info and query', 'GET', '/cgi/printenv.cgi/extra/path?a=1&b=%20x', undef, {} ],
    [ 'GET plain', 'GET', '/cgi/printenv.cgi', undef, {} ],
    [ 'GET with encoded path info', 'GET', '/cgi/printenv.cgi/a%20b/%C3%A9;p=1?x=%2F&y', undef, {} ],
    [ 'POST with body', 'POST', '/cgi/printenv.cgi/pi?q=1', $form,
        { 'Content-Type' => 'application/x-www-form-urlencoded' } ],
);

sub do_request {
    my ($method, $path, $body, $extra) = @_;
    my %h = (%hdrs, %$extra);
    my $req = "$method $path HTTP/1.1\r\nHost: 127.0.0.1:" . $t->port . "\r\n";
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    $req .= "Connection: close\r\n\r\n";
    $req .= $body if defined $body;
    my $raw = $t->raw($req, timeout => 15);
    my $r = FcgixTest::parse_response($raw, $method);
    return $r;
}

sub env_of {
    my ($content) = @_;
    my (%e, %b);
    for (split /\n/, $content // '') {
        if (/^#(\w+)=(.*)$/) { $b{$1} = $2 }
        elsif (/^([^=]+)=(.*)$/) { $e{$1} = $2 }
    }
    return (\%e, \%b);
}

# collect printenv output for every request under one configuration
sub collect {
    my ($label, $frag) = @_;
    $t->start_httpd($common . $frag);
    my @out;
    for my $rq (@requests) {
        my ($name, $m, $p, $body, $extra) = @$rq;
        my $r = do_request($m, $p, $body, $extra);
        ok($r && $r->{code} == 200, "$label: $name: 200")
            or diag(($r ? "code $r->{code}\n$r->{content}" : 'no response') . "\n" . $t->error_log);
        my ($e, $b) = env_of($r && $r->{content});
        push @out, { env => $e, body => $b };
    }
    $t->stop_httpd;
    return \@out;
}

my $ignore = qr/^(?:PATH|REMOTE_PORT|UNIQUE_ID|FCGI_\w+|LD_LIBRARY_PATH|LD_PRELOAD|ASAN_OPTIONS|UBSAN_OPTIONS)$/;
my $core = qr/^(?:SCRIPT_NAME|PATH_INFO|PATH_TRANSLATED|QUERY_STRING|REQUEST_URI|SCRIPT_FILENAME
    |DOCUMENT_ROOT|CONTENT_TYPE|CONTENT_LENGTH|SERVER_\w+|REMOTE_ADDR|REQUEST_METHOD
    |GATEWAY_INTERFACE|HTTP_\w+|FCGIX_SETENV|FCGIX_PASSENV|FCGIX_SETENVIF)$/x;

sub subset {
    my ($e, $re) = @_;
    return { map { $_ => $e->{$_} } grep { $_ =~ $re && $_ !~ $ignore } keys %$e };
}

sub compare {
    my ($label, $got, $want, %o) = @_;
    for my $i (0 .. $#requests) {
        my $name = $requests[$i][0];
        my %w = %{ $want->[$i]{env} };
        %w = (%w, %{ $o{add} }) if $o{add};
        my $g = $got->[$i]{env};
        if ($o{auth}) {
            # mod_fastcgi compatibility: -pass-header also passes the header
            # under its own name; allowed, but then with the right value
            is($g->{Authorization}, $auth, "$label: $name: Authorization under its own name, if at all")
                if exists $g->{Authorization};
            $w{Authorization} = $g->{Authorization} if exists $g->{Authorization};
        }
        is_deeply(subset($g, $core), subset(\%w, $core), "$label: $name: CGI variables equal mod_cgi's")
            or diag_diff($g, \%w, $core);
        is_deeply(subset($g, qr/./), subset(\%w, qr/./), "$label: $name: full environment equals mod_cgi's")
            or diag_diff($g, \%w, qr/./);
        is_deeply($got->[$i]{body}, $want->[$i]{body}, "$label: $name: body as read by the app");
        ok(!exists $g->{HTTP_PROXY}, "$label: $name: no HTTP_PROXY");
        if ($o{auth}) {
            is($g->{HTTP_AUTHORIZATION}, $auth, "$label: $name: HTTP_AUTHORIZATION passed");
        }
        else {
            ok(!exists $g->{HTTP_AUTHORIZATION}, "$label: $name: no HTTP_AUTHORIZATION");
            ok(!exists $g->{Authorization}, "$label: $name: no Authorization variable");
        }
    }
}

sub diag_diff {
    my ($g, $w, $re) = @_;
    my %k = map { $_ => 1 } grep { $_ =~ $re && $_ !~ $ignore } keys %$g, keys %$w;
    for my $k (sort keys %k) {
        my ($a, $b) = ($g->{$k}, $w->{$k});
        next if defined $a && defined $b && $a eq $b;
        diag(sprintf "  %-22s fcgix=%s  cgi=%s", $k, $a // '<absent>', $b // '<absent>');
    }
}

# --- mod_cgi / mod_cgid reference
my $cgi = collect('mod_cgi', "AddHandler cgi-script .cgi\n");
{
    my $e = $cgi->[0]{env};
    is($e->{PATH_INFO}, '/extra/path', 'reference: PATH_INFO as expected');
    is($e->{QUERY_STRING}, 'a=1&b=%20x', 'reference: QUERY_STRING as expected');
    ok(!exists $e->{HTTP_PROXY}, 'reference: mod_cgi drops HTTP_PROXY');
    ok(!exists $e->{HTTP_AUTHORIZATION}, 'reference: mod_cgi hides Authorization');
    is($cgi->[3]{body}{body_length}, length $form, 'reference: POST body read');
    is($cgi->[3]{body}{body_md5}, FcgixTest::md5_hex($form), 'reference: POST body md5');
    is($cgi->[3]{env}{FCGIX_SETENV}, 'set by SetEnv', 'reference: SetEnv');
    is($cgi->[3]{env}{FCGIX_PASSENV}, 'passed from the environment', 'reference: PassEnv');
    is($cgi->[3]{env}{FCGIX_SETENVIF}, 'matched', 'reference: SetEnvIf');
}

# --- mod_fcgix, C app, AddHandler
my $c_app = $t->start_app(prog => 'printenv');
my $fc = collect('fcgix', "AddHandler fastcgi-script .cgi\nFastCgiExternalServer $script $c_app->{spec}\n");
compare('fcgix', $fc, $cgi);

# --- mod_fcgix, C app, declared filename only (no handler)
my $fd = collect('fcgix declared', "FastCgiExternalServer $script $c_app->{spec}\n");
compare('fcgix declared', $fd, $cgi);

# --- mod_fcgix with -pass-header Authorization
my $fa = collect('fcgix pass-header',
    "AddHandler fastcgi-script .cgi\nFastCgiExternalServer $script $c_app->{spec} -pass-header Authorization\n");
compare('fcgix pass-header', $fa, $cgi, auth => 1, add => { HTTP_AUTHORIZATION => $auth });

# --- mod_fcgix, Perl FCGI app over TCP
my $p_app = $t->start_app(prog => 'printenv.pl', tcp => 1);
my $fp = collect('fcgix perl', "AddHandler fastcgi-script .cgi\nFastCgiExternalServer $script -host $p_app->{hostport}\n");
compare('fcgix perl', $fp, $cgi);

$t->done;
done_testing;
