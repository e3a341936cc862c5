# 30-auth.t - FastCgiAccessChecker, FastCgiAuthenticator and
# FastCgiAuthorizer: real authorizer apps (t/apps/authz.c on libfcgi and
# t/apps/authz.pl on Perl FCGI) decide, the protected handler (a static
# file, a CGI script, a FastCGI app) sees what they granted.
#
# Every app call appends one line to a call log (role, FastCGI role, user,
# URI, whether a password was passed), so each test also checks WHO was asked
# and HOW OFTEN.
#
# Configuration 1: both apps as external servers (Unix sockets), each in
# /c/ and /pl/ (all three roles, no -compat) and /c-compat/, /pl-compat/
# (all three with -compat), /c-ed/, /pl-ed/ (ErrorDocument 401 and 403):
#   - denial by each role: status (403 for the access checker; 401 and
#     WWW-Authenticate: Basic realm=... for the other two), the app's own
#     headers and body reach the client (exact body, one correct
#     Content-Length, no "Status" header), the protected content does not,
#     and the phases after the denying one are not asked;
#   - the roles run in the FastCGI AUTHORIZER role (FCGI_ROLE) with
#     FCGI_APACHE_ROLE = ACCESS_CHECKER / AUTHENTICATOR / AUTHORIZER, the
#     request's environment (REQUEST_URI, REQUEST_METHOD, HTTP_*), and only
#     the authenticator gets REMOTE_PASSWD;
#   - a grant: a static file (mod_headers %{NAME}e and the access log), a
#     CGI script (printenv under mod_cgi/mod_cgid) and a FastCGI app
#     (printenv via mod_fcgix) see every header the apps returned as a
#     variable, "Variable-" stripped; with -compat only the Variable-* ones;
#     the handler sees neither REMOTE_PASSWD nor FCGI_APACHE_ROLE;
#   - a POST body passes the authorizers untouched to the CGI and the
#     FastCGI handler (length and MD5);
#   - subrequests and internal redirects under the same configuration do not
#     ask again: a DirectoryIndex page with mod_include's include virtual
#     (a file and the CGI) and echo var, and a CGI's local Location
#     redirect, each cost exactly one call per role for the client request;
#   - ErrorDocument 401 (a local page) and 403 (a text) replace the app's
#     body but the app's headers still arrive;
#   - a denied POST with a 200 kB body on a persistent connection: the next
#     request on it works; HEAD denials have headers and no body; the access
#     log records the denial's status;
#   - an unprotected SSI page's include virtual of a protected file asks the
#     apps for that subrequest: denied, nothing is included; granted, it is.
# Configuration 2: the kinds of apps and the contexts:
#   - static (FastCgiServer, -initial-env) and dynamic (undeclared file, no
#     ExecCGI) apps, C and Perl, and an external app over TCP: grant and
#     each role's denial, answered by the right app;
#   - a relative filename (from ServerRoot) in <Location>; <Files>;
#     .htaccess with AllowOverride AuthConfig (and not allowed with
#     AllowOverride Limit);
#   - a subdirectory that sets one directive keeps the others (path,
#     -compat and Authoritative inherited).
# Configuration checks (apache2 -t): an unknown option after the filename
# fails and the message names the directive and the option, for all three
# directives; -compat passes; a bad *Authoritative value fails.
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(time);
use FcgixTest;
use FcgixAuth;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

# ------------------------------------------------------------- helpers

# The framing of an error response: exactly one Content-Length, equal to
# the body, and no CGI "Status" field leaking out as a header.
sub framing_ok {
    my ($r, $name) = @_;
    my @cl = map { $_->[1] } grep { lc $_->[0] eq 'content-length' } @{ $r->{header_list} };
    my @st = grep { lc $_->[0] eq 'status' } @{ $r->{header_list} };
    ok(@cl <= 1 && (!@cl || $cl[0] == length $r->{content}) && !@st,
        "$name: one Content-Length matching the body, no Status header")
        or diag("Content-Length: [@cl], body " . length($r->{content}) . " bytes, Status headers: "
            . scalar(@st));
}

sub env_of {
    my ($content) = @_;
    my %e;
    for (split /\n/, $content) {
        next if /^#/;
        my ($k, $v) = split /=/, $_, 2;
        $e{$k} = $v if defined $v;
    }
    return \%e;
}

# A variable whose header name has '-' may arrive with '_' (mod_cgi's
# ap_create_environment turns non-alphanumerics into '_').
sub env_get {
    my ($e, $name) = @_;
    return $e->{$name} if exists $e->{$name};
    (my $u = $name) =~ s/[^A-Za-z0-9_]/_/g;
    return $e->{$u};
}

# ------------------------------------------------------------- files

my $log_c  = new_log($t, 'c');
my $log_pl = new_log($t, 'pl');

my $c_app  = $t->start_app(prog => 'authz',    name => 'authz-c',  env => { AUTHZ_LOG => $log_c });
my $pl_app = $t->start_app(prog => 'authz.pl', name => 'authz-pl', env => { AUTHZ_LOG => $log_pl });
my $penv   = $t->start_app(prog => 'printenv', name => 'printenv', count => 2);

my %LOG = (c => $log_c, pl => $log_pl);
my %APP = (c => "$d/auth/authz-c", pl => "$d/auth/authz-pl");
my %SPEC = (c => $c_app->{spec}, pl => $pl_app->{spec});

$t->write_file('htdocs/errors/401.html', "error document for 401\n");
$t->write_file("htdocs/open/$_.shtml", "<p>open page</p>\n<!--#include virtual=\"/$_/file.txt\" -->\n<p>end</p>\n")
    for qw(c pl);
my @dirs;
for my $impl (qw(c pl)) {
    for my $v ('', '-compat', '-ed') {
        my $dir = "$impl$v";
        push @dirs, $dir;
        $t->write_file("htdocs/$dir/file.txt", "protected content of $dir\n");
        $t->install_app('printenv', "htdocs/$dir/env.cgi");
        $t->write_file("htdocs/$dir/inc.txt", "included text of $dir\n");
        $t->write_file("htdocs/$dir/index.shtml",
            "<p>index of $dir</p>\n<!--#include virtual=\"inc.txt\" -->"
                . "<p>group=<!--#echo var=\"AUTH_GROUP\" --></p>\n"
                . "<pre>\n<!--#include virtual=\"env.cgi\" --></pre>\n");
        $t->write_file("htdocs/$dir/redir.cgi",
            "#!/bin/sh\nprintf 'Location: /$dir/file.txt\\r\\n\\r\\n'\n", 0755);
    }
}

my $frag1 = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiExternalServer $APP{c} $SPEC{c}
FastCgiExternalServer $APP{pl} $SPEC{pl}
LogFormat "%U %u g=%{AUTH_GROUP}e l=%{AUTHZ_LEVEL}e t=%{ACCESS_TICKET}e p=%{X-Plain-Header}e" authvars
CustomLog $d/logs/authvars.log authvars
Alias /errors $h/errors
<Directory $h/open>
    Options +Includes
    AddOutputFilter INCLUDES .shtml
    AddType text/html .shtml
</Directory>
EOF
for my $dir (@dirs) {
    my ($impl) = $dir =~ /^(c|pl)/;
    my $compat = $dir =~ /-compat$/ ? ' -compat' : '';
    $frag1 .= "FastCgiExternalServer $h/$dir/env.fcgi $penv->{spec}\n";
    $frag1 .= <<"EOF";
<Directory $h/$dir>
    Options +ExecCGI +Includes
    AddHandler cgi-script .cgi
    AddOutputFilter INCLUDES .shtml
    AddType text/html .shtml
    DirectoryIndex index.shtml
    AuthType Basic
    AuthName "Protected $dir"
    FastCgiAccessChecker $APP{$impl}$compat
    FastCgiAuthenticator $APP{$impl}$compat
    FastCgiAuthorizer $APP{$impl}$compat
    Require valid-user
    Header always set X-Var-Group "%{AUTH_GROUP}e" env=AUTH_GROUP
    Header always set X-Var-Level "%{AUTHZ_LEVEL}e" env=AUTHZ_LEVEL
    Header always set X-Var-Ticket "%{ACCESS_TICKET}e" env=ACCESS_TICKET
    Header always set X-Var-Plain "%{X-Plain-Header}e" env=X-Plain-Header
    Header always set X-Var-Authz-Plain "%{X-Authz-Plain}e" env=X-Authz-Plain
    Header always set X-Var-Access-Plain "%{X-Access-Plain}e" env=X-Access-Plain
EOF
    $frag1 .= "    ErrorDocument 401 /errors/401.html\n    ErrorDocument 403 \"custom forbidden text\"\n"
        if $dir =~ /-ed$/;
    $frag1 .= "</Directory>\n";
}

$t->start_httpd($frag1, modules => [qw(auth_basic authn_core authz_user include)]);

# ------------------------------------------------------------- config 1

my @VARS_PLAIN = (['X-Var-Plain', 'X-Plain-Header'], ['X-Var-Authz-Plain', 'X-Authz-Plain'],
    ['X-Var-Access-Plain', 'X-Access-Plain']);
my @VARS_VAR = (['X-Var-Group', 'AUTH_GROUP', 'admins'], ['X-Var-Level', 'AUTHZ_LEVEL', 'full'],
    ['X-Var-Ticket', 'ACCESS_TICKET', 'ok']);

for my $impl (qw(c pl)) {
    my $log = $LOG{$impl};
    my $dir = $impl;
    my $L = "[$impl]";
    my %alice = (%MAGIC, basic('alice', 'secret'));

    # --- access checker denies
    mark($log);
    my $r = close_req($t, 'GET', "/$dir/file.txt", basic('alice', 'secret'));
    my $calls = calls_since($log);
    is $r->{code}, 403, "$L access checker denies without the magic word: 403";
    is $r->{headers}{'x-denied-because'}, 'no magic word', "$L the app's header reaches the client";
    is $r->{content}, "authz: say the magic word\n", "$L the app's body reaches the client";
    ok !exists $r->{headers}{'www-authenticate'}, "$L a 403 asks for no credentials";
    unlike $r->{content}, qr/protected content/, "$L protected content not sent";
    framing_ok($r, "$L 403");
    is roles($calls), 'ACCESS_CHECKER', "$L only the access checker was asked";
    is $calls->[0]{fcgi_role}, 'AUTHORIZER', "$L access checker runs in the FastCGI AUTHORIZER role";
    is $calls->[0]{uri}, "/$dir/file.txt", "$L access checker gets REQUEST_URI";
    is $calls->[0]{method}, 'GET', "$L access checker gets REQUEST_METHOD";
    is $calls->[0]{passwd}, 'no', "$L access checker gets no REMOTE_PASSWD";

    # --- authenticator denies: wrong password, unknown user, no credentials
    mark($log);
    $r = close_req($t, 'GET', "/$dir/file.txt", %MAGIC, basic('alice', 'wrong'));
    $calls = calls_since($log);
    is $r->{code}, 401, "$L authenticator denies a wrong password: 401";
    is $r->{headers}{'www-authenticate'}, "Basic realm=\"Protected $dir\"", "$L 401 carries WWW-Authenticate for the realm";
    is $r->{headers}{'x-auth-failed'}, 'wrong password', "$L the authenticator's header reaches the client";
    is $r->{content}, "authz: unknown user or wrong password\n", "$L the authenticator's body reaches the client";
    unlike $r->{content}, qr/protected content/, "$L protected content not sent";
    framing_ok($r, "$L authenticator 401");
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR', "$L access checker then authenticator, not the authorizer";
    is $calls->[1]{fcgi_role}, 'AUTHORIZER', "$L authenticator runs in the FastCGI AUTHORIZER role";
    is $calls->[1]{user}, 'alice', "$L authenticator gets REMOTE_USER";
    is $calls->[1]{passwd}, 'yes', "$L authenticator gets REMOTE_PASSWD";

    mark($log);
    $r = close_req($t, 'GET', "/$dir/file.txt", %MAGIC, basic('mallory', 'x'));
    $calls = calls_since($log);
    is $r->{code}, 401, "$L unknown user: 401";
    is $r->{headers}{'x-auth-failed'}, 'unknown user', "$L unknown user: app's header";
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR', "$L unknown user: authorizer not asked";

    $r = close_req($t, 'GET', "/$dir/file.txt", %MAGIC);
    is $r->{code}, 401, "$L no credentials: 401";
    like $r->{headers}{'www-authenticate'} // '', qr/^Basic realm="Protected \Q$dir\E"$/, "$L no credentials: WWW-Authenticate";
    unlike $r->{content}, qr/protected content/, "$L no credentials: protected content not sent";

    # --- authorizer denies bob (authenticated by the authenticator)
    mark($log);
    $r = close_req($t, 'GET', "/$dir/file.txt", %MAGIC, basic('bob', 'builder'));
    $calls = calls_since($log);
    is $r->{code}, 401, "$L authorizer denies bob: 401";
    is $r->{headers}{'www-authenticate'}, "Basic realm=\"Protected $dir\"", "$L authorizer's 401 carries WWW-Authenticate";
    is $r->{headers}{'x-denied-because'}, 'user bob is not on the list', "$L the authorizer's header reaches the client";
    is $r->{content}, "authz: bob may not see /$dir/file.txt\n", "$L the authorizer's body reaches the client";
    unlike $r->{content}, qr/protected content/, "$L protected content not sent to bob";
    framing_ok($r, "$L authorizer 401");
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L all three asked once, in phase order";
    is $calls->[2]{fcgi_role}, 'AUTHORIZER', "$L authorizer runs in the FastCGI AUTHORIZER role";
    is $calls->[2]{user}, 'bob', "$L authorizer gets REMOTE_USER from the authenticator";
    is $calls->[2]{passwd}, 'no', "$L authorizer gets no REMOTE_PASSWD";

    # --- grant: static file
    my $vlines = sub { [ grep { m{^/\Q$dir\E/file\.txt } } split /\n/, FcgixTest::slurp("$d/logs/authvars.log") ] };
    my $vcount = @{ $vlines->() };
    mark($log);
    $r = $t->get("/$dir/file.txt", %alice);
    $calls = calls_since($log);
    is $r->code, 200, "$L alice with the magic word: 200";
    is $r->content, "protected content of $dir\n", "$L static file served";
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L a grant asks each role exactly once";
    is join(',', map { $_->{fcgi_role} } @$calls), 'AUTHORIZER,AUTHORIZER,AUTHORIZER', "$L every call in the AUTHORIZER role";
    is join(',', map { $_->{passwd} } @$calls), 'no,yes,no', "$L only the authenticator got the password";
    is $r->header($_->[0]), $_->[2], "$L static file: mod_headers sees $_->[1]" for @VARS_VAR;
    is $r->header($_->[0]), 'yes', "$L static file: mod_headers sees plain header $_->[1]" for @VARS_PLAIN;
    # the log line is written after the response: wait for this request's
    my $line = $t->wait_for(sub { my $l = $vlines->(); @$l > $vcount ? $l->[$vcount] : undef }, 5);
    is $line, "/$dir/file.txt alice g=admins l=full t=ok p=yes", "$L access log sees the variables and the user";

    # --- grant: CGI and FastCGI handlers
    for my $h (['CGI', 'env.cgi'], ['FastCGI', 'env.fcgi']) {
        my ($kind, $file) = @$h;
        mark($log);
        $r = $t->get("/$dir/$file", %alice);
        $calls = calls_since($log);
        is $r->code, 200, "$L $kind handler: 200";
        my $e = env_of($r->content);
        is env_get($e, $_->[1]), $_->[2], "$L $kind env: $_->[1]" for @VARS_VAR;
        is env_get($e, $_->[1]), 'yes', "$L $kind env: plain header $_->[1]" for @VARS_PLAIN;
        is $e->{REMOTE_USER}, 'alice', "$L $kind env: REMOTE_USER";
        is $e->{AUTH_TYPE}, 'Basic', "$L $kind env: AUTH_TYPE";
        ok !exists $e->{REMOTE_PASSWD}, "$L $kind env: no REMOTE_PASSWD (the password stays with the authenticator)"
            or diag("REMOTE_PASSWD=$e->{REMOTE_PASSWD}");
        ok !exists $e->{FCGI_APACHE_ROLE}, "$L $kind env: no FCGI_APACHE_ROLE (the handler is no authorizer)"
            or diag("FCGI_APACHE_ROLE=$e->{FCGI_APACHE_ROLE}");
        is $e->{FCGI_ROLE}, 'RESPONDER', "$L $kind env: the handler itself is a responder" if $kind eq 'FastCGI';
        is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L $kind: each role once";

        # a request body passes the authorizers untouched
        my $body = join('', map { chr(($_ * 7) % 256) } 0 .. 65535) . "tail";
        mark($log);
        $r = $t->request('POST', "/$dir/$file", headers => { %alice, 'Content-Type' => 'application/octet-stream' },
            body => $body);
        $calls = calls_since($log);
        is $r->code, 200, "$L $kind POST: 200";
        $e = env_of($r->content);
        like $r->content, qr/^#body_length=@{[ length $body ]}$/m, "$L $kind POST: the handler got the whole body";
        like $r->content, qr/^#body_md5=@{[ md5_hex($body) ]}$/m, "$L $kind POST: body intact (MD5)";
        is join(',', map { $_->{method} } @$calls), 'POST,POST,POST', "$L $kind POST: the apps see REQUEST_METHOD POST";
    }

    # --- subrequests and internal redirects do not ask again
    mark($log);
    $r = $t->get("/$dir/", %alice);
    $calls = calls_since($log);
    is $r->code, 200, "$L DirectoryIndex + SSI page: 200";
    like $r->content, qr/index of \Q$dir\E/, "$L index.shtml served";
    like $r->content, qr/included text of \Q$dir\E/, "$L include virtual of a file";
    like $r->content, qr/group=admins/, "$L SSI echo sees AUTH_GROUP";
    like $r->content, qr/^AUTH_GROUP=admins$/m, "$L included CGI sees AUTH_GROUP";
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER',
        "$L DirectoryIndex and include subrequests: one call per role for the client request";

    mark($log);
    $r = $t->get("/$dir/redir.cgi", %alice);
    $calls = calls_since($log);
    is $r->code, 200, "$L CGI local redirect: 200";
    is $r->content, "protected content of $dir\n", "$L CGI local redirect reaches the file";
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER',
        "$L internal redirect: one call per role for the client request";

    # --- -compat: only Variable-* headers become variables
    my $cd = "$impl-compat";
    mark($log);
    $r = $t->get("/$cd/file.txt", %alice);
    $calls = calls_since($log);
    is $r->code, 200, "$L -compat: grant";
    is $r->header($_->[0]), $_->[2], "$L -compat static: $_->[1] (from Variable-)" for @VARS_VAR;
    ok !defined $r->header($_->[0]), "$L -compat static: plain header $_->[1] is no variable" for @VARS_PLAIN;
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L -compat: each role once";
    for my $file (qw(env.cgi env.fcgi)) {
        $r = $t->get("/$cd/$file", %alice);
        my $e = env_of($r->content);
        is $r->code, 200, "$L -compat $file: 200";
        is env_get($e, $_->[1]), $_->[2], "$L -compat $file env: $_->[1]" for @VARS_VAR;
        ok !defined env_get($e, $_->[1]), "$L -compat $file env: no $_->[1]" for @VARS_PLAIN;
    }
    $r = close_req($t, 'GET', "/$cd/file.txt", %MAGIC, basic('bob', 'builder'));
    is $r->{code}, 401, "$L -compat: bob still denied";
    is $r->{headers}{'x-denied-because'}, 'user bob is not on the list', "$L -compat: a denial's headers still reach the client";

    # --- a denial on a persistent connection, with a request body and HEAD
    {
        my $conn = $t->conn;
        my $big = 'b' x 200_000;
        my $r1 = eval { $conn->request('POST', "/$dir/file.txt", body => $big, headers => { basic('alice', 'secret') }) };
        is $r1 && $r1->{code}, 403, "$L keep-alive: POST with a 200 kB body denied by the access checker";
        is $r1 && $r1->{content}, "authz: say the magic word\n", "$L keep-alive: the app's body";
        my $r2 = eval { $conn->request('POST', "/$dir/file.txt", body => $big, headers => { %MAGIC, basic('alice', 'nope') }) };
        is $r2 && $r2->{code}, 401, "$L keep-alive: POST with a body denied by the authenticator, same connection";
        my $r3 = eval { $conn->request('GET', "/$dir/file.txt", headers => \%alice) };
        is $r3 && $r3->{code}, 200, "$L keep-alive: the next request on the connection is granted"
            or diag($@ || '');
        is $r3 && $r3->{content}, "protected content of $dir\n", "$L keep-alive: and served (the denied bodies were consumed)";
        $conn->close;
    }
    $r = close_req($t, 'HEAD', "/$dir/file.txt", basic('alice', 'secret'));
    is $r->{code}, 403, "$L HEAD: access checker denial";
    is $r->{content}, '', "$L HEAD: no body";
    is $r->{headers}{'x-denied-because'}, 'no magic word', "$L HEAD: the app's header";
    $r = close_req($t, 'HEAD', "/$dir/file.txt", %MAGIC, basic('bob', 'builder'));
    is $r->{code}, 401, "$L HEAD: authorizer denial";
    like $r->{headers}{'www-authenticate'} // '', qr/^Basic realm=/, "$L HEAD: WWW-Authenticate";
    {
        my $re = qr{"GET /\Q$dir\E/file\.txt\?denied-log HTTP/1\.1" 401 };
        my $before = () = $t->access_log =~ /$re/g;
        close_req($t, 'GET', "/$dir/file.txt?denied-log", %MAGIC, basic('bob', 'builder'));
        ok $t->wait_for(sub { my $n = () = $t->access_log =~ /$re/g; $n > $before }, 5),
            "$L the access log records the denial's status (401)";
    }

    # --- a subrequest from an unprotected page asks the apps and honours a denial
    mark($log);
    $r = $t->get("/open/$impl.shtml", basic('alice', 'secret'));
    $calls = calls_since($log);
    is $r->code, 200, "$L unprotected SSI page: 200";
    unlike $r->content, qr/protected content/, "$L include virtual of a protected file without the magic word: not included";
    like $r->content, qr/open page.*end/s, "$L the page itself is served";
    is roles($calls), 'ACCESS_CHECKER', "$L the subrequest asked the access checker";
    mark($log);
    $r = $t->get("/open/$impl.shtml", %alice);
    $calls = calls_since($log);
    like $r->content, qr/protected content of \Q$dir\E/, "$L include virtual of a protected file, granted: included";
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L the granted subrequest asked each role once";
    $r = $t->get("/open/$impl.shtml", %MAGIC, basic('bob', 'builder'));
    unlike $r->content, qr/protected content/, "$L include virtual as bob: not included";

    # --- ErrorDocument replaces the body, the app's headers stay
    my $ed = "$impl-ed";
    $r = close_req($t, 'GET', "/$ed/file.txt", %MAGIC, basic('bob', 'builder'));
    is $r->{code}, 401, "$L ErrorDocument 401: status";
    is $r->{content}, "error document for 401\n", "$L ErrorDocument 401 used instead of the app's body";
    is $r->{headers}{'x-denied-because'}, 'user bob is not on the list', "$L ErrorDocument 401: app's header kept";
    like $r->{headers}{'www-authenticate'} // '', qr/^Basic realm="Protected \Q$ed\E"$/, "$L ErrorDocument 401: WWW-Authenticate";
    framing_ok($r, "$L ErrorDocument 401");
    $r = close_req($t, 'GET', "/$ed/file.txt", basic('alice', 'secret'));
    is $r->{code}, 403, "$L ErrorDocument 403: status";
    is $r->{content}, "custom forbidden text", "$L ErrorDocument 403 text used instead of the app's body";
    is $r->{headers}{'x-denied-because'}, 'no magic word', "$L ErrorDocument 403: app's header kept";
    framing_ok($r, "$L ErrorDocument 403");
    $r = close_req($t, 'GET', "/$ed/file.txt", %MAGIC, basic('alice', 'nope'));
    is $r->{code}, 401, "$L ErrorDocument 401 for the authenticator: status";
    is $r->{content}, "error document for 401\n", "$L ErrorDocument 401 for the authenticator";
    is $r->{headers}{'x-auth-failed'}, 'wrong password', "$L ErrorDocument 401 for the authenticator: header kept";
    framing_ok($r, "$L ErrorDocument 401 (authenticator)");
}

# ------------------------------------------------------------- config 2

my $log_st  = new_log($t, 'static');
my $log_dyn = new_log($t, 'dynamic');
my $log_tcp = new_log($t, 'tcp');
my $log_rel = new_log($t, 'rel');
my $log_ht  = new_log($t, 'htaccess');
$t->stop_app($c_app);
$t->stop_app($pl_app);
my $tcp_app = $t->start_app(prog => 'authz', name => 'authz-tcp', tcp => 1,
    env => { AUTHZ_LOG => $log_tcp, AUTHZ_NAME => 'tcp-c' });
my $rel_app = $t->start_app(prog => 'authz', name => 'authz-rel', env => { AUTHZ_LOG => $log_rel, AUTHZ_NAME => 'rel-c' });
my $ht_app  = $t->start_app(prog => 'authz.pl', name => 'authz-ht', env => { AUTHZ_LOG => $log_ht, AUTHZ_NAME => 'ht-pl' });
my $c_app2  = $t->start_app(prog => 'authz', name => 'authz-c2', env => { AUTHZ_LOG => $log_c });
my $pl_app2 = $t->start_app(prog => 'authz.pl', name => 'authz-pl2', env => { AUTHZ_LOG => $log_pl });

$t->install_app('authz',    'auth/static-c');
$t->install_app('authz.pl', 'auth/static-pl.pl');
$t->install_app('authz',    'auth/dyn-c');
$t->install_app('authz.pl', 'auth/dyn-pl.pl');

my %KIND = (
    'static-c'  => ["$d/auth/static-c",    $log_st,  'static-c'],
    'static-pl' => ["$d/auth/static-pl.pl", $log_st,  'static-pl'],
    'dyn-c'     => ["$d/auth/dyn-c",       $log_dyn, 'authz-c'],
    'dyn-pl'    => ["$d/auth/dyn-pl.pl",   $log_dyn, 'authz-pl'],
    'tcp'       => ["$d/auth/tcp",         $log_tcp, 'tcp-c'],
);
my $frag2 = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiServer $d/auth/static-c -initial-env AUTHZ_LOG=$log_st -initial-env AUTHZ_NAME=static-c
FastCgiServer $d/auth/static-pl.pl -initial-env AUTHZ_LOG=$log_st -initial-env AUTHZ_NAME=static-pl
FastCgiConfig -initial-env AUTHZ_LOG=$log_dyn -startDelay 1
FastCgiExternalServer $d/auth/tcp $tcp_app->{spec}
FastCgiExternalServer $d/auth/rel $rel_app->{spec}
FastCgiExternalServer $d/auth/ht $ht_app->{spec}
FastCgiExternalServer $APP{c} $c_app2->{spec}
FastCgiExternalServer $APP{pl} $pl_app2->{spec}
<Location /loc>
    FastCgiAccessChecker auth/rel
</Location>
<Directory $h/files>
    <Files "guarded.txt">
        FastCgiAccessChecker $d/auth/rel
    </Files>
</Directory>
<Directory $h/ht>
    AllowOverride AuthConfig
</Directory>
<Directory $h/ht-limit>
    AllowOverride Limit
</Directory>
<Directory $h/inh>
    AuthType Basic
    AuthName "inh"
    FastCgiAccessChecker $APP{c}
    FastCgiAuthenticator $APP{c}
    FastCgiAuthorizer $APP{c} -compat
    Require valid-user
    Header always set X-Var-Level "%{AUTHZ_LEVEL}e" env=AUTHZ_LEVEL
    Header always set X-Var-Authz-Plain "%{X-Authz-Plain}e" env=X-Authz-Plain
    Header always set X-Var-Plain "%{X-Plain-Header}e" env=X-Plain-Header
</Directory>
<Directory $h/inh/sub>
    FastCgiAuthorizer $APP{pl}
</Directory>
<Directory $h/inh/sub2>
    FastCgiAccessCheckerAuthoritative Off
</Directory>
EOF
for my $k (sort keys %KIND) {
    $t->write_file("htdocs/$k/file.txt", "protected content of $k\n");
    $frag2 .= <<"EOF";
<Directory $h/$k>
    AuthType Basic
    AuthName "$k"
    FastCgiAccessChecker $KIND{$k}[0]
    FastCgiAuthenticator $KIND{$k}[0]
    FastCgiAuthorizer $KIND{$k}[0]
    Require valid-user
    Header always set X-Var-Group "%{AUTH_GROUP}e" env=AUTH_GROUP
</Directory>
EOF
}
$t->write_file('htdocs/loc/file.txt', "protected content of loc\n");
$t->write_file('htdocs/files/guarded.txt', "protected content of guarded\n");
$t->write_file('htdocs/files/open.txt', "open content\n");
$t->write_file('htdocs/ht/file.txt', "protected content of ht\n");
$t->write_file('htdocs/ht/.htaccess', <<"EOF");
AuthType Basic
AuthName "htaccess realm"
FastCgiAccessChecker $d/auth/ht
FastCgiAuthenticator $d/auth/ht
FastCgiAuthorizer $d/auth/ht -compat
Require valid-user
EOF
$t->write_file('htdocs/ht-limit/file.txt', "protected content of ht-limit\n");
$t->write_file('htdocs/ht-limit/.htaccess', "FastCgiAccessChecker $d/auth/ht\n");
$t->write_file("htdocs/inh/$_/file.txt", "protected content of inh/$_\n") for qw(sub sub2);
$t->write_file('htdocs/inh/file.txt', "protected content of inh\n");

$t->start_httpd($frag2, modules => [qw(auth_basic authn_core authz_user)], pre => "ServerRoot $d\n");

for my $k (sort keys %KIND) {
    my ($path, $log, $name) = @{ $KIND{$k} };
    my $L = "[$k]";
    mark($log);
    my $r = $t->get("/$k/file.txt", %MAGIC, basic('alice', 'secret'));
    my $calls = [ grep { $_->{uri} eq "/$k/file.txt" } @{ calls_since($log) } ];
    is $r->code, 200, "$L grant: 200";
    is $r->content, "protected content of $k\n", "$L grant: content";
    is $r->header('X-Var-Group'), 'admins', "$L grant: Variable-AUTH_GROUP reaches mod_headers";
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', "$L each role asked once";
    is join(',', map { $_->{app} } @$calls), join(',', ($name) x 3), "$L answered by $name";
    is join(',', map { $_->{fcgi_role} } @$calls), 'AUTHORIZER,AUTHORIZER,AUTHORIZER', "$L FastCGI AUTHORIZER role";

    $r = close_req($t, 'GET', "/$k/file.txt", basic('alice', 'secret'));
    is $r->{code}, 403, "$L access checker denial: 403";
    is $r->{headers}{'x-denied-because'}, 'no magic word', "$L access checker denial: app's header";
    $r = close_req($t, 'GET', "/$k/file.txt", %MAGIC, basic('alice', 'bad'));
    is $r->{code}, 401, "$L authenticator denial: 401";
    is $r->{headers}{'x-auth-failed'}, 'wrong password', "$L authenticator denial: app's header";
    $r = close_req($t, 'GET', "/$k/file.txt", %MAGIC, basic('bob', 'builder'));
    is $r->{code}, 401, "$L authorizer denial: 401";
    is $r->{headers}{'x-denied-because'}, 'user bob is not on the list', "$L authorizer denial: app's header";
    unlike $r->{content}, qr/protected content/, "$L authorizer denial: no content";
}

# relative filename in <Location>
{
    mark($log_rel);
    my $r = close_req($t, 'GET', '/loc/file.txt');
    my $calls = calls_since($log_rel);
    is $r->{code}, 403, '<Location> + relative filename: denied without the magic word';
    is $r->{headers}{'x-denied-because'}, 'no magic word', '<Location>: the app (from ServerRoot) answered';
    is roles($calls), 'ACCESS_CHECKER', '<Location>: the declared external app was asked';
    $r = $t->get('/loc/file.txt', %MAGIC);
    is $r->code, 200, '<Location>: granted with the magic word';
    is $r->content, "protected content of loc\n", '<Location>: content';
}

# <Files>
{
    mark($log_rel);
    my $r = close_req($t, 'GET', '/files/guarded.txt');
    is $r->{code}, 403, '<Files>: the named file is guarded';
    $r = $t->get('/files/guarded.txt', %MAGIC);
    is $r->code, 200, '<Files>: granted with the magic word';
    my $calls = calls_since($log_rel);
    is roles($calls), 'ACCESS_CHECKER,ACCESS_CHECKER', '<Files>: asked once per request';
    $r = $t->get('/files/open.txt');
    is $r->code, 200, '<Files>: another file of the directory is not guarded';
    is scalar @{ calls_since($log_rel) }, 0, '<Files>: and the app is not asked for it';
}

# .htaccess
{
    mark($log_ht);
    my $r = $t->get('/ht/file.txt', %MAGIC, basic('alice', 'secret'));
    my $calls = calls_since($log_ht);
    is $r->code, 200, '.htaccess (AllowOverride AuthConfig): grant';
    is $r->content, "protected content of ht\n", '.htaccess: content';
    is roles($calls), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', '.htaccess: all three roles asked once';
    $r = close_req($t, 'GET', '/ht/file.txt', %MAGIC, basic('bob', 'builder'));
    is $r->{code}, 401, '.htaccess: authorizer denies bob';
    like $r->{headers}{'www-authenticate'} // '', qr/^Basic realm="htaccess realm"$/, '.htaccess: realm from AuthName';
    $r = close_req($t, 'GET', '/ht/file.txt', basic('alice', 'secret'));
    is $r->{code}, 403, '.htaccess: access checker denies';
    $r = close_req($t, 'GET', '/ht-limit/file.txt');
    is $r->{code}, 500, '.htaccess with AllowOverride Limit: the directive is not allowed (500)';
    unlike $r->{content}, qr/protected content/, '.htaccess with AllowOverride Limit: no content';
}

# inheritance
{
    mark($log_c, $log_pl);
    my $r = $t->get('/inh/sub/file.txt', %MAGIC, basic('alice', 'secret'));
    my $cc = calls_since($log_c);
    my $pc = calls_since($log_pl);
    is $r->code, 200, 'inherit: subdirectory that sets FastCgiAuthorizer: grant';
    is roles($cc), 'ACCESS_CHECKER,AUTHENTICATOR', 'inherit: access checker and authenticator inherited (C app asked)';
    is roles($pc), 'AUTHORIZER', 'inherit: the subdirectory\'s authorizer (Perl app) asked';
    is $r->header('X-Var-Authz-Plain'), 'yes', 'inherit: the subdirectory\'s authorizer is without -compat';
    $r = close_req($t, 'GET', '/inh/sub/file.txt', basic('alice', 'secret'));
    is $r->{code}, 403, 'inherit: access checker still applies in the subdirectory';
    $r = close_req($t, 'GET', '/inh/sub/file.txt', %MAGIC, basic('alice', 'bad'));
    is $r->{code}, 401, 'inherit: authenticator still applies in the subdirectory';
    is $r->{headers}{'x-auth-failed'}, 'wrong password', 'inherit: the inherited authenticator answered';

    mark($log_c, $log_pl);
    $r = $t->get('/inh/sub2/file.txt', basic('alice', 'secret'));
    $cc = calls_since($log_c);
    is $r->code, 200, 'inherit: subdirectory with FastCgiAccessCheckerAuthoritative Off lets Require decide';
    is roles($cc), 'ACCESS_CHECKER,AUTHENTICATOR,AUTHORIZER', 'inherit: the parent\'s apps are asked in sub2';
    is $r->header('X-Var-Level'), 'full', 'inherit: -compat authorizer: Variable- header';
    ok !defined $r->header('X-Var-Authz-Plain'), 'inherit: -compat inherited: plain header is no variable';
    $r = close_req($t, 'GET', '/inh/file.txt', basic('alice', 'secret'));
    is $r->{code}, 403, 'inherit: the parent keeps Authoritative On';
    $r = close_req($t, 'GET', '/inh/sub2/file.txt', basic('bob', 'builder'));
    is $r->{code}, 401, 'inherit: sub2 still has the parent\'s authorizer (denies bob)';
}

$t->stop_httpd;

# ------------------------------------------------------------- apache2 -t

for my $dir (qw(FastCgiAuthenticator FastCgiAuthorizer FastCgiAccessChecker)) {
    my ($ok, $out) = $t->config_test("<Directory $h>\n    $dir $d/auth/x -bogus\n</Directory>\n",
        modules => [qw(auth_basic authn_core authz_user)]);
    ok !$ok, "apache2 -t: $dir with an unknown option fails";
    like $out, qr/\Q$dir\E/, "apache2 -t: the message names $dir";
    like $out, qr/-bogus/, "apache2 -t: the message names the option";
    ($ok, $out) = $t->config_test("<Location /x>\n    $dir $d/auth/dyn-c -compat\n</Location>\n",
        modules => [qw(auth_basic authn_core authz_user)]);
    ok $ok, "apache2 -t: $dir FILE -compat passes" or diag $out;
    ($ok, $out) = $t->config_test("<Directory $h>\n    ${dir}Authoritative Sometimes\n</Directory>\n",
        modules => [qw(auth_basic authn_core authz_user)]);
    ok !$ok, "apache2 -t: ${dir}Authoritative Sometimes fails";
    ($ok, $out) = $t->config_test("<Directory $h>\n    ${dir}Authoritative Off\n</Directory>\n",
        modules => [qw(auth_basic authn_core authz_user)]);
    ok $ok, "apache2 -t: ${dir}Authoritative Off passes" or diag $out;
}

$t->done;
done_testing;
