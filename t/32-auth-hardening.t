# 32-auth-hardening.t - who may name an authorizer, what a -compat
# authorizer is sent, configuration checks of app files, and the status
# page's escaping.
#
# .htaccess (AllowOverride AuthConfig): an authorizer named there must be
# declared in the server configuration (FastCgiServer,
# FastCgiExternalServer) or lie in a directory with Options ExecCGI (the
# options of the authorizer FILE's directory, not of the .htaccess):
#   - an undeclared copy of t/apps/authz in an "Options None" directory,
#     named from that directory's .htaccess, from an .htaccess in an
#     ExecCGI directory, and a copy outside the document root: 500, a
#     FCGIX0501 line naming the .htaccess and the authorizer file, and the
#     app never ran (no call in its log, no process, no class on the status
#     page);
#   - a symbolic link in an ExecCGI directory without FollowSymLinks: 500
#     (httpd would not follow it to run a CGI script either);
#   - the same app in an ExecCGI directory, named from an .htaccess in that
#     directory and from one in an "Options None" directory: it runs
#     (grants with the magic word, denies without);
#   - an app in an "Options None" directory declared by FastCgiServer: runs;
#   - a file that does not exist: 500 and httpd's parse-error line naming
#     the .htaccess and the file (a control byte in the name is escaped);
#   - the server configuration naming the undeclared "Options None" app
#     keeps working (the administrator chose it).
# -compat: the three roles get the FastCGI specification's Authorizer
#   environment: no CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED or
#   SCRIPT_NAME, although the request (a POST with a body to a path below a
#   FastCGI app) has them, as the handler shows; without -compat the
#   authorizers still get all four.
# A denial whose body comes without a Content-Type is sent as text/plain
#   (markup in it is not the app's HTML).
# fastcgi-status: a dynamic app whose file name holds a newline and markup
#   ("a\nfake: 1 <i>.fcgi"): ?auto shows it escaped and has no injected
#   "fake:" line; the HTML page escapes the markup.
# apache2 -t: FastCgiServer on a missing file, a file without execute
#   permission and a directory fails naming the directive and the file (a
#   file without execute permission passes with a FastCgiWrapper, which
#   decides what it runs); each authorizer directive in the server
#   configuration naming a missing or non-executable undeclared file fails
#   naming the directive and the file, and passes when a later
#   FastCgiExternalServer line declares the file; FastCgiExternalServer
#   files need not exist.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use FcgixTest;
use FcgixAuth;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

# ------------------------------------------------------------- .htaccess

my $log = new_log($t, 'authz');
my $dump = new_log($t, 'env');

# the undeclared authorizer files
my %GATE = (
    noexec  => $t->install_app('authz', 'htdocs/noexec/gate'),
    admin   => $t->install_app('authz', 'htdocs/noexec/admin-gate'),
    srv     => $t->install_app('authz', 'htdocs/noexec/srv-gate'),
    cgi     => $t->install_app('authz', 'htdocs/cgi/gate'),
    outside => $t->install_app('authz', 'bin/gate'),
);
$GATE{sym} = "$h/symcgi/gate";
mkdir "$h/symcgi" or die "mkdir $h/symcgi: $!\n";
symlink $GATE{cgi}, $GATE{sym} or die "symlink $GATE{sym}: $!\n";

# directory => [ its Options, the authorizer its .htaccess names ]
my %HT = (
    noexec    => ['None',    $GATE{noexec}],
    usenoexec => ['ExecCGI', $GATE{noexec}],
    outside   => ['ExecCGI', $GATE{outside}],
    usesym    => ['None',    $GATE{sym}],
    cgi       => ['ExecCGI', $GATE{cgi}],
    usecgi    => ['None',    $GATE{cgi}],
    declared  => ['None',    $GATE{srv}],
    missing   => ['ExecCGI', "$h/missing/no-such-gate"],
    escape    => ['ExecCGI', "$h/escape/no-such-\e[31mgate"],
);
my @REFUSED = qw(noexec usenoexec outside usesym);
my @RUNS = qw(cgi usecgi declared);

my $env_app = $t->start_app(prog => $t->write_file('envauthz.pl', do { local $/; <DATA> }, 0755),
    name => 'envauthz', env => { DUMP => $dump });
my $penv = $t->start_app(prog => 'printenv', name => 'printenv');

my $frag = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiConfig -initial-env AUTHZ_LOG=$log -initial-env AUTHZ_NAME=dyn
FastCgiServer $GATE{srv} -initial-env AUTHZ_LOG=$log -initial-env AUTHZ_NAME=srv
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
<Directory $h/symcgi>
    Options ExecCGI
</Directory>
<Directory $h/admin>
    FastCgiAccessChecker $GATE{admin}
</Directory>
<Directory $h/dyn>
    Options ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>
EOF
for my $dir (sort keys %HT) {
    my ($opts, $gate) = @{ $HT{$dir} };
    $t->write_file("htdocs/$dir/file.txt", "protected content of $dir\n");
    $t->write_file("htdocs/$dir/.htaccess", "FastCgiAccessChecker $gate\n");
    $frag .= "<Directory $h/$dir>\n    Options $opts\n    AllowOverride AuthConfig\n</Directory>\n";
}
$t->write_file('htdocs/admin/file.txt', "protected content of admin\n");

# -compat and not
my $E = "$d/auth/env";
$frag .= "FastCgiExternalServer $E $env_app->{spec}\n";
for my $dir (qw(compat plain)) {
    my $compat = $dir eq 'compat' ? ' -compat' : '';
    $frag .= <<"EOF";
FastCgiExternalServer $h/$dir/env.fcgi $penv->{spec}
<Directory $h/$dir>
    AuthType Basic
    AuthName "$dir"
    FastCgiAccessChecker $E$compat
    FastCgiAuthenticator $E$compat
    FastCgiAuthorizer $E$compat
    Require valid-user
</Directory>
EOF
}

# a dynamic app whose name holds a newline and markup
my $odd = "a\nfake: 1 <i>.fcgi";
$t->install_app('hello', "htdocs/dyn/$odd");

$t->start_httpd($frag, modules => [qw(auth_basic authn_core authz_user)]);

# Processes whose executable is $path (after symbolic links).
sub procs_of {
    my $path = abs_path($_[0]);
    my @p;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $exe = readlink("/proc/$pid/exe") // next;
        push @p, $pid if $exe eq $path;
    }
    return @p;
}

for my $dir (@REFUSED) {
    my $gate = $HT{$dir}[1];
    my $L = "[.htaccess $dir]";
    my $off = length $t->error_log;
    mark($log);
    my $r = close_req($t, 'GET', "/$dir/file.txt", %MAGIC);
    is $r->{code}, 500, "$L an undeclared authorizer outside an ExecCGI directory: 500";
    unlike $r->{content}, qr/protected content/, "$L no protected content";
    my $new = substr($t->error_log, $off);
    my $ht = "$h/$dir/.htaccess";
    like $new, qr/FCGIX0501: [^\n]*\Q$gate\E[^\n]*\Q$ht\E/,
        "$L FCGIX0501 names the authorizer file and the .htaccess" or diag $new;
    is scalar @{ calls_since($log) }, 0, "$L the authorizer app never answered";
    is scalar(procs_of($gate)), 0, "$L no process runs $gate";
}

for my $dir (@RUNS) {
    my $L = "[.htaccess $dir]";
    mark($log);
    my $r = close_req($t, 'GET', "/$dir/file.txt");
    is $r->{code}, 403, "$L the authorizer runs: denied without the magic word";
    is $r->{headers}{'x-denied-because'}, 'no magic word', "$L the app's denial";
    $r = $t->get("/$dir/file.txt", %MAGIC);
    is $r->code, 200, "$L granted with the magic word";
    is $r->content, "protected content of $dir\n", "$L content";
    my $calls = calls_since($log);
    is roles($calls), 'ACCESS_CHECKER,ACCESS_CHECKER', "$L asked once per request";
    is $calls->[0]{app} // '', $dir eq 'declared' ? 'srv' : 'dyn',
        "$L answered by the " . ($dir eq 'declared' ? 'FastCgiServer' : 'dynamic') . ' app';
}

{
    my $gate = $HT{missing}[1];
    my $off = length $t->error_log;
    my $r = close_req($t, 'GET', '/missing/file.txt', %MAGIC);
    is $r->{code}, 500, '[.htaccess missing] an authorizer file that does not exist: 500';
    unlike $r->{content}, qr/protected content/, '[.htaccess missing] no protected content';
    my $new = substr($t->error_log, $off);
    my $ht = "$h/missing/.htaccess";
    like $new, qr/\Q$ht\E[^\n]*FastCgiAccessChecker \Q$gate\E: no such file/,
        '[.htaccess missing] the parse error names the .htaccess, the directive and the file' or diag $new;
}

{
    my $off = length $t->error_log;
    my $r = close_req($t, 'GET', '/escape/file.txt', %MAGIC);
    is $r->{code}, 500, '[.htaccess escape] a missing file with an ESC byte in its name: 500';
    my $new = substr($t->error_log, $off);
    like $new, qr/no-such-\\x1b\[31mgate: no such file/, '[.htaccess escape] the log line shows the byte escaped'
        or diag $new;
    unlike $new, qr/\e/, '[.htaccess escape] and not raw';
}

{
    mark($log);
    my $r = close_req($t, 'GET', '/admin/file.txt');
    is $r->{code}, 403, '[server config] an undeclared authorizer without ExecCGI still runs: denies';
    $r = $t->get('/admin/file.txt', %MAGIC);
    is $r->code, 200, '[server config] and grants';
    is roles(calls_since($log)), 'ACCESS_CHECKER,ACCESS_CHECKER', '[server config] asked once per request';
}

# ------------------------------------------------------------- -compat

my @SPEC_VARS = qw(CONTENT_LENGTH PATH_INFO PATH_TRANSLATED SCRIPT_NAME);
for my $dir (qw(compat plain)) {
    my $L = "[$dir]";
    $t->write_file("htdocs/$dir/env.fcgi", '');
    mark($dump);
    my $body = "hello body\n";
    my $r = $t->request('POST', "/$dir/env.fcgi/extra/path?q=1", body => $body,
        headers => { basic('alice', 'secret') });
    is $r->code, 200, "$L POST below a FastCGI app: granted";
    my %e = map { /^([^#=][^=]*)=(.*)$/ ? ($1 => $2) : () } split /\n/, $r->content;
    is $e{PATH_INFO}, '/extra/path', "$L the handler has PATH_INFO";
    is $e{SCRIPT_NAME}, "/$dir/env.fcgi", "$L the handler has SCRIPT_NAME";
    is $e{CONTENT_LENGTH}, length($body), "$L the handler has CONTENT_LENGTH";
    ok exists $e{PATH_TRANSLATED}, "$L the handler has PATH_TRANSLATED";
    my $calls = calls_since($dump);
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L each role asked once";
    for my $c (@$calls) {
        is $c->{has}, ($dir eq 'compat' ? '-' : join(',', @SPEC_VARS)),
            "$L $c->{role} " . ($dir eq 'compat' ? 'gets none of' : 'still gets') . " @SPEC_VARS";
    }
}

{
    my $r = close_req($t, 'GET', '/plain/env.fcgi?deny=1');
    is $r->{code}, 403, 'a denial without Content-Type: the app\'s status';
    is $r->{content}, "<b>denied</b>\n", 'a denial without Content-Type: the app\'s body';
    like $r->{headers}{'content-type'} // '', qr{^text/plain\b}, 'a denial without Content-Type: sent as text/plain';
}

# ------------------------------------------------------------- status page

{
    (my $url = "/dyn/$odd") =~ s/([^A-Za-z0-9\/._-])/sprintf('%%%02X', ord $1)/ge;
    my $r = $t->get($url);
    is $r->code, 200, 'a dynamic app named "a\nfake: 1 <i>.fcgi" answers';
    is $r->content, "Hello, World\n", 'its content';
    my $esc = "$h/dyn/a\\nfake: 1 <i>.fcgi";
    my $auto = '';
    $t->wait_for(sub { $auto = $t->get('/fcgi-status?auto')->content; $auto =~ /^Process\d+: .*\Q$esc\E$/m }, 10);
    like $auto, qr/^Class\d+: \Q$esc\E$/m, '?auto: the class path is escaped (\n)';
    like $auto, qr/^Process\d+: .*\Q$esc\E$/m, '?auto: the process line too';
    unlike $auto, qr/^fake:/m, '?auto: no line injected by the file name' or diag $auto;
    unlike $auto, qr/: \Q$GATE{noexec}\E$|: \Q$GATE{outside}\E$/m, '?auto: the refused authorizers never became classes';
    my $html = $t->get('/fcgi-status')->content;
    my $in_html = "$h/dyn/a\nfake: 1 &lt;i&gt;.fcgi";
    like $html, qr/\Q$in_html\E/, 'HTML: the markup in the name is escaped';
    unlike $html, qr/<i>/, 'HTML: no markup from the file name';
}

$t->stop_httpd;

# ------------------------------------------------------------- apache2 -t

sub config_fails {
    my ($name, $frag, @must) = @_;
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $d/ipc\n$frag", modules => [qw(auth_basic authn_core authz_user)]);
    ok !$ok, "apache2 -t: $name fails" or diag $out;
    like $out, qr/(?<![\w-])\Q$_\E(?![\w-])/, "apache2 -t: $name: the message names $_" for @must;
}

sub config_passes {
    my ($name, $frag) = @_;
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $d/ipc\n$frag", modules => [qw(auth_basic authn_core authz_user)]);
    ok $ok, "apache2 -t: $name passes" or diag $out;
}

my $plain = $t->write_file('cfg/plain.fcgi', "not executable\n", 0644);
my $wrapper = $t->write_file('cfg/wrapper', "#!/bin/sh\nexec \"\$3\"\n", 0755);
config_fails('FastCgiServer on a missing file', "FastCgiServer $d/cfg/no-such.fcgi\n",
    'FastCgiServer', "$d/cfg/no-such.fcgi");
config_fails('FastCgiServer on a file without execute permission', "FastCgiServer $plain\n",
    'FastCgiServer', $plain);
config_fails('FastCgiServer on a directory', "FastCgiServer $d/cfg\n", 'FastCgiServer', "$d/cfg");
config_passes('FastCgiServer on a file without execute permission, with a FastCgiWrapper (given later)',
    "FastCgiServer $plain\nFastCgiWrapper $wrapper\n");
config_passes('FastCgiServer on an executable file', "FastCgiServer $GATE{srv}\n");
config_passes('FastCgiExternalServer on a path that does not exist',
    "FastCgiExternalServer $d/cfg/virtual.fcgi -socket $d/sock/x.sock\n");
for my $dir (qw(FastCgiAuthenticator FastCgiAuthorizer FastCgiAccessChecker)) {
    config_fails("$dir naming a missing undeclared file",
        "<Directory $h>\n    $dir $d/cfg/no-such-auth\n</Directory>\n", $dir, "$d/cfg/no-such-auth");
    config_fails("$dir naming an undeclared file without execute permission",
        "<Location /x>\n    $dir $plain\n</Location>\n", $dir, $plain);
    config_passes("$dir naming a missing file that a later FastCgiExternalServer declares",
        "<Directory $h>\n    $dir $d/cfg/no-such-auth -compat\n</Directory>\n"
            . "FastCgiExternalServer $d/cfg/no-such-auth -socket $d/sock/a.sock\n");
    config_passes("$dir naming an undeclared executable file",
        "<Directory $h>\n    $dir $GATE{noexec}\n</Directory>\n");
}

$t->done;
done_testing;

__DATA__
#!/usr/bin/perl
# envauthz.pl (written by t/32-auth-hardening.t) - a FastCGI authorizer
# (FCGI.pm) that appends one line per call to $ENV{DUMP}: "role=ROLE
# uri=URI has=NAME,..." naming which of CONTENT_LENGTH, PATH_INFO,
# PATH_TRANSLATED and SCRIPT_NAME it was sent ("-": none), then grants,
# or, when the query string has deny=1, denies with 403 and a body without
# a Content-Type. Accepts on fd 0.
use strict;
use warnings;
use FCGI;

my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);
while ($req->Accept() >= 0) {
    my @has = grep { exists $env{$_} } qw(CONTENT_LENGTH PATH_INFO PATH_TRANSLATED SCRIPT_NAME);
    if (open my $fh, '>>', $ENV{DUMP}) {
        print $fh 'role=', ($env{FCGI_APACHE_ROLE} // '-'), ' uri=', ($env{REQUEST_URI} // '-'),
            ' has=', (@has ? join(',', @has) : '-'), "\n";
        close $fh;
    }
    if (($env{QUERY_STRING} // '') =~ /(?:^|&)deny=1(?:&|$)/) {
        print "Status: 403\r\n\r\n<b>denied</b>\n";
    }
    else {
        print "Status: 200\r\n\r\n";
    }
}
