# 31-auth-more.t - FastCgi*Authoritative with httpd's own auth modules,
# the LoadModule order, what each phase's app is sent, and failing closed.
#
# Configuration 1 (mod_fcgix loaded after mod_auth_basic), for the C app
# (t/apps/authz.c) and the Perl app (t/apps/authz.pl):
#   - FastCgiAuthenticatorAuthoritative: On, a user only mod_authn_file
#     knows (AuthBasicProvider file) is refused with the app's 401; Off, he
#     gets in, a wrong password for him still fails, the app's own users
#     still get in with their variables;
#   - FastCgiAuthorizerAuthoritative: On, the app's denial of bob is final
#     although "Require user bob" would let him in; Off, bob gets in and a
#     user neither allows (carol) does not;
#   - FastCgiAccessCheckerAuthoritative: On, the app's 403 is final despite
#     "Require ip 127.0.0.1" or "Require all granted"; Off, those let the
#     request in, and "Require ip 192.0.2.1" still refuses it;
#   - FastCgiAuthenticator + FastCgiAuthorizer without a Require line (the
#     directives' documentation: "must be accompanied by a require or
#     FastCgiAuthorizer directive"), under a parent with Require all
#     granted: still asks for credentials, still denies bob.
#   - what each phase's app is sent (a raw-protocol app that records the
#     parameters it got, duplicates included): the AUTHORIZER role, exactly
#     one FCGI_APACHE_ROLE with the phase's value, REMOTE_PASSWD only for
#     the authenticator, one REMOTE_USER, the client's QUERY_STRING, and no
#     request body.
# Configuration 2 (mod_fcgix loaded BEFORE mod_auth_basic): the
#   authenticator On/Off checks again, C and Perl.
# Configuration 3, failing closed (500 or 503, never the protected content,
# a FCGIXnnnn log line naming the app), for each role:
#   - an external app nobody listens for (Unix socket, TCP port);
#   - a dynamic authorizer whose file is gone (it existed when httpd
#     started: apache2 -t refuses a missing one);
#   - a responder-only app (t/apps/badapp answers UNKNOWN_ROLE);
#   - an app that never answers (-idle-timeout 2) or stalls in its headers;
#   - protocol garbage from an app that accepts the AUTHORIZER role (a raw
#     FastCGI app written by this test): bad version, other request id,
#     unknown record type, END_REQUEST of the wrong size, close before /
#     after the headers without END_REQUEST, a header line without a colon,
#     Status: 2000, no output at all, OVERLOADED and UNKNOWN_ROLE
#     protocol statuses; the mode is picked by the client's query string,
#     which the authorizer request carries;
#   - the same raw app answering properly grants (so the failures are the
#     misbehaviour's), and does so again after all the garbage.
use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(encode_base64);
use Digest::SHA qw(sha1);
use Time::HiRes qw(time);
use FcgixTest;
use FcgixAuth;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

# mod_authn_file's users ({SHA})
my %users = (bob => 'builder', carol => 'carolpw');
$t->write_file('auth/users.passwd',
    join('', map { "$_:{SHA}" . encode_base64(sha1($users{$_}), '') . "\n" } sort keys %users));

# ------------------------------------------------------------- authoritative

my %LOG = (c => new_log($t, 'c'), pl => new_log($t, 'pl'));
my %APPS;
sub start_authz_apps {
    $t->stop_app($_) for values %APPS;
    $APPS{c}  = $t->start_app(prog => 'authz',    env => { AUTHZ_LOG => $LOG{c} });
    $APPS{pl} = $t->start_app(prog => 'authz.pl', env => { AUTHZ_LOG => $LOG{pl} });
}
my %APP = (c => "$d/auth/authz-c", pl => "$d/auth/authz-pl");

my @AUTHN_DIRS = qw(authn-on authn-off);
my @OTHER_DIRS = qw(authz-on authz-off ac-on-ip ac-off-ip ac-on-all ac-off-all ac-off-denyip noreq);
for my $impl (qw(c pl)) {
    $t->write_file("htdocs/$impl-$_/file.txt", "protected content of $impl-$_\n") for @AUTHN_DIRS, @OTHER_DIRS;
}

sub authn_frag {
    my $f = '';
    for my $impl (qw(c pl)) {
        my $app = $APP{$impl};
        for my $dir (@AUTHN_DIRS) {
            $f .= <<"EOF";
<Directory $h/$impl-$dir>
    AuthType Basic
    AuthName "$impl-$dir"
    AuthBasicProvider file
    AuthUserFile $d/auth/users.passwd
    FastCgiAuthenticator $app
    Require valid-user
    Header always set X-Var-Group "%{AUTH_GROUP}e" env=AUTH_GROUP
EOF
            $f .= "    FastCgiAuthenticatorAuthoritative Off\n" if $dir =~ /-off$/;
            $f .= "</Directory>\n";
        }
    }
    return $f;
}

sub check_authn {
    my ($order) = @_;
    for my $impl (qw(c pl)) {
        my $L = "[$impl, $order]";
        my $log = $LOG{$impl};

        mark($log);
        my $r = $t->get("/$impl-authn-on/file.txt", basic('alice', 'secret'));
        is $r->code, 200, "$L authenticator On: the app's user gets in";
        is $r->header('X-Var-Group'), 'admins', "$L authenticator On: with the app's variable";
        is roles(calls_since($log)), 'AUTHENTICATOR', "$L authenticator On: asked once";
        $r = close_req($t, 'GET', "/$impl-authn-on/file.txt", basic('carol', 'carolpw'));
        is $r->{code}, 401, "$L authenticator On: a user only AuthUserFile knows is refused";
        is $r->{headers}{'x-auth-failed'}, 'unknown user', "$L authenticator On: with the app's answer";
        like $r->{headers}{'www-authenticate'} // '', qr/^Basic realm="\Q$impl\E-authn-on"$/, "$L authenticator On: WWW-Authenticate";
        unlike $r->{content}, qr/protected content/, "$L authenticator On: no content";

        mark($log);
        $r = $t->get("/$impl-authn-off/file.txt", basic('carol', 'carolpw'));
        is $r->code, 200, "$L authenticator Off: mod_authn_file lets carol in when the app refuses her";
        is $r->content, "protected content of $impl-authn-off\n", "$L authenticator Off: content";
        is roles(calls_since($log)), 'AUTHENTICATOR', "$L authenticator Off: the app was asked first";
        $r = close_req($t, 'GET', "/$impl-authn-off/file.txt", basic('carol', 'wrong'));
        is $r->{code}, 401, "$L authenticator Off: a wrong password for carol still fails";
        unlike $r->{content}, qr/protected content/, "$L authenticator Off: no content for a wrong password";
        $r = close_req($t, 'GET', "/$impl-authn-off/file.txt", basic('mallory', 'x'));
        is $r->{code}, 401, "$L authenticator Off: a user nobody knows fails";
        $r = $t->get("/$impl-authn-off/file.txt", basic('alice', 'secret'));
        is $r->code, 200, "$L authenticator Off: the app's user gets in";
        is $r->header('X-Var-Group'), 'admins', "$L authenticator Off: with the app's variable";
        $r = close_req($t, 'GET', "/$impl-authn-off/file.txt", basic('alice', 'wrong'));
        is $r->{code}, 401, "$L authenticator Off: a wrong password of the app's user fails";
    }
}

start_authz_apps();
my $dump_log = $t->write_file('calls/params.log', '', 0666);
my $raw_src = do { local $/; <DATA> };
my $raw_path = $t->write_file('rawauthz.pl', $raw_src, 0755);
my $raw = $t->start_app(prog => $raw_path, name => 'rawauthz', env => { RAW_DUMP => $dump_log });

my $frag1 = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiExternalServer $APP{c} $APPS{c}{spec}
FastCgiExternalServer $APP{pl} $APPS{pl}{spec}
FastCgiExternalServer $d/auth/raw $raw->{spec}
<Directory $h/params>
    AuthType Basic
    AuthName "params"
    FastCgiAccessChecker $d/auth/raw
    FastCgiAuthenticator $d/auth/raw
    FastCgiAuthorizer $d/auth/raw
    Require valid-user
</Directory>
EOF
$t->write_file('htdocs/params/file.txt', "protected content of params\n");
$frag1 .= authn_frag();
for my $impl (qw(c pl)) {
    my $app = $APP{$impl};
    for my $dir (qw(authz-on authz-off)) {
        $frag1 .= <<"EOF";
<Directory $h/$impl-$dir>
    AuthType Basic
    AuthName "$impl-$dir"
    AuthBasicProvider file
    AuthUserFile $d/auth/users.passwd
    FastCgiAuthorizer $app
    Require user bob
EOF
        $frag1 .= "    FastCgiAuthorizerAuthoritative Off\n" if $dir =~ /-off$/;
        $frag1 .= "</Directory>\n";
    }
    my %req = ('ac-on-ip' => 'Require ip 127.0.0.1', 'ac-off-ip' => 'Require ip 127.0.0.1',
        'ac-on-all' => '', 'ac-off-all' => 'Require all granted', 'ac-off-denyip' => 'Require ip 192.0.2.1');
    for my $dir (sort keys %req) {
        $frag1 .= "<Directory $h/$impl-$dir>\n    FastCgiAccessChecker $app\n";
        $frag1 .= "    FastCgiAccessCheckerAuthoritative Off\n" if $dir =~ /-off/;
        $frag1 .= "    $req{$dir}\n" if $req{$dir};
        $frag1 .= "</Directory>\n";
    }
    $frag1 .= <<"EOF";
<Directory $h/$impl-noreq>
    AuthType Basic
    AuthName "$impl-noreq"
    FastCgiAuthenticator $app
    FastCgiAuthorizer $app
</Directory>
EOF
}

$t->start_httpd($frag1, modules => [qw(auth_basic authn_core authn_file authz_user)]);

check_authn('fcgix loaded after mod_auth_basic');

for my $impl (qw(c pl)) {
    my $L = "[$impl]";
    my $log = $LOG{$impl};

    # authorizer
    mark($log);
    my $r = close_req($t, 'GET', "/$impl-authz-on/file.txt", basic('bob', 'builder'));
    my $calls = calls_since($log);
    is $r->{code}, 401, "$L authorizer On: the app's denial of bob is final despite Require user bob";
    is $r->{headers}{'x-denied-because'}, 'user bob is not on the list', "$L authorizer On: the app's header";
    unlike $r->{content}, qr/protected content/, "$L authorizer On: no content";
    is roles($calls), 'AUTHORIZER', "$L authorizer On: asked once";
    is $calls->[0]{user}, 'bob', "$L authorizer On: REMOTE_USER from mod_authn_file";

    mark($log);
    $r = $t->get("/$impl-authz-off/file.txt", basic('bob', 'builder'));
    is $r->code, 200, "$L authorizer Off: Require user bob lets bob in when the app denies";
    is $r->content, "protected content of $impl-authz-off\n", "$L authorizer Off: content";
    is roles(calls_since($log)), 'AUTHORIZER', "$L authorizer Off: the app was asked";
    $r = close_req($t, 'GET', "/$impl-authz-off/file.txt", basic('carol', 'carolpw'));
    is $r->{code}, 401, "$L authorizer Off: carol (denied by the app, not bob) stays out";
    unlike $r->{content}, qr/protected content/, "$L authorizer Off: no content for carol";

    # access checker
    mark($log);
    $r = close_req($t, 'GET', "/$impl-ac-on-ip/file.txt");
    is $r->{code}, 403, "$L access checker On: the app's 403 is final despite Require ip 127.0.0.1";
    is $r->{headers}{'x-denied-because'}, 'no magic word', "$L access checker On: the app's header";
    $r = $t->get("/$impl-ac-on-ip/file.txt", %MAGIC);
    is $r->code, 200, "$L access checker On: granted with the magic word";
    $r = close_req($t, 'GET', "/$impl-ac-on-all/file.txt");
    is $r->{code}, 403, "$L access checker On: the app's 403 is final despite Require all granted";
    is roles(calls_since($log)), 'ACCESS_CHECKER,ACCESS_CHECKER,ACCESS_CHECKER', "$L access checker On: asked once per request";
    $r = $t->get("/$impl-ac-off-ip/file.txt");
    is $r->code, 200, "$L access checker Off: Require ip 127.0.0.1 lets the request in";
    is $r->content, "protected content of $impl-ac-off-ip\n", "$L access checker Off (ip): content";
    $r = $t->get("/$impl-ac-off-all/file.txt");
    is $r->code, 200, "$L access checker Off: Require all granted lets the request in";
    $r = close_req($t, 'GET', "/$impl-ac-off-denyip/file.txt");
    is $r->{code}, 403, "$L access checker Off: Require ip 192.0.2.1 still refuses";
    unlike $r->{content}, qr/protected content/, "$L access checker Off (deny ip): no content";
    is roles(calls_since($log)), 'ACCESS_CHECKER,ACCESS_CHECKER,ACCESS_CHECKER', "$L access checker Off: the app was asked each time";

    # FastCgiAuthenticator + FastCgiAuthorizer and no Require line
    mark($log);
    $r = close_req($t, 'GET', "/$impl-noreq/file.txt");
    is $r->{code}, 401, "$L no Require line: FastCgiAuthenticator + FastCgiAuthorizer still ask for credentials";
    unlike $r->{content}, qr/protected content/, "$L no Require line: no content without credentials";
    $r = close_req($t, 'GET', "/$impl-noreq/file.txt", basic('bob', 'builder'));
    is $r->{code}, 401, "$L no Require line: the authorizer still denies bob";
    $r = $t->get("/$impl-noreq/file.txt", basic('alice', 'secret'));
    is $r->code, 200, "$L no Require line: alice gets in";
    is roles(calls_since($log)), 'AUTHENTICATOR,AUTHORIZER,AUTHENTICATOR,AUTHORIZER',
        "$L no Require line: authenticator and authorizer asked for bob and for alice";
}

# what each phase's app gets
{
    mark($dump_log);
    my $body = "x" x 1000;
    my $r = $t->request('POST', '/params/file.txt?mode=ok&k=v', body => $body,
        headers => { basic('alice', 'secret'), 'X-Probe' => 'probe-value' });
    ok $r->code != 401 && $r->code != 403 && $r->code < 500, 'params: the raw app granted the POST (' . $r->code . ')';
    my @calls = @{ calls_since($dump_log) };
    is scalar @calls, 3, 'params: three calls (one per role)';
    my @want = qw(ACCESS_CHECKER AUTHENTICATOR AUTHORIZER);
    for my $i (0 .. 2) {
        my $c = $calls[$i] // {};
        my $w = $want[$i];
        is $c->{role}, 2, "params: $w call in the FastCGI AUTHORIZER role (2)";
        is $c->{apache_role}, $w, "params: $w call has exactly one FCGI_APACHE_ROLE=$w";
        is $c->{passwd}, ($w eq 'AUTHENTICATOR' ? 1 : 0), "params: $w call has REMOTE_PASSWD "
            . ($w eq 'AUTHENTICATOR' ? 'once' : 'not at all');
        is $c->{remote_user}, ($w eq 'ACCESS_CHECKER' ? 0 : 1), "params: $w call has REMOTE_USER "
            . ($w eq 'ACCESS_CHECKER' ? 'not (no user yet)' : 'once');
        is $c->{dups}, '-', "params: $w call has no parameter twice";
        is $c->{qs}, 'mode=ok&k=v', "params: $w call has the client's QUERY_STRING";
        is $c->{probe}, 'probe-value', "params: $w call has the request headers (HTTP_X_PROBE)";
        is $c->{stdin}, 0, "params: $w call gets no request body";
    }
}

# ------------------------------------------------------------- LoadModule order

{
    my $frag2 = "LogLevel warn fcgix:info\nFastCgiIpcDir $d/ipc\n"
        . "FastCgiExternalServer $APP{c} $APPS{c}{spec}\nFastCgiExternalServer $APP{pl} $APPS{pl}{spec}\n"
        . authn_frag();
    $t->start_httpd($frag2, module => 0, loglevel => 'warn', pre => "LoadModule fcgix_module " . $t->so . "\n",
        modules => [qw(auth_basic authn_core authn_file authz_user)]);
    my @lm = grep { /^\s*LoadModule (?:fcgix|auth_basic)_module/ } split /\n/, FcgixTest::slurp($t->conf_file);
    is_deeply [ map { /(fcgix|auth_basic)/ } @lm ], [qw(fcgix auth_basic)], 'config 2 loads mod_fcgix before mod_auth_basic';
    check_authn('fcgix loaded before mod_auth_basic');
}

# ------------------------------------------------------------- failing closed

my $bad = $t->start_app(prog => 'badapp', name => 'badapp');
my $dead_port = $t->free_port;
my %FAIL = (
    'down-unix' => "FastCgiExternalServer $d/auth/down-unix -socket $d/sock/nobody-listens.sock",
    'down-tcp'  => "FastCgiExternalServer $d/auth/down-tcp -host 127.0.0.1:$dead_port",
    'responder' => "FastCgiExternalServer $d/auth/responder $bad->{spec}",
    'raw'       => "FastCgiExternalServer $d/auth/raw $raw->{spec} -idle-timeout 2",
);
my $frag3 = "FastCgiIpcDir $d/ipc\n" . join("\n", map { $FAIL{$_} } sort keys %FAIL) . "\n";
my @cases;    # [ dir, app path, role ]
for my $app (qw(down-unix down-tcp responder raw missing)) {
    my $path = "$d/auth/$app";
    for my $role (qw(ac authn authz)) {
        my $dir = "$app-$role";
        push @cases, [$dir, $path, $role];
        $t->write_file("htdocs/$dir/file.txt", "protected content of $dir\n");
        $frag3 .= "<Directory $h/$dir>\n";
        if ($role eq 'ac') {
            $frag3 .= "    FastCgiAccessChecker $path\n";
        }
        elsif ($role eq 'authn') {
            $frag3 .= "    AuthType Basic\n    AuthName \"$dir\"\n    FastCgiAuthenticator $path\n    Require valid-user\n";
        }
        else {
            $frag3 .= "    AuthType Basic\n    AuthName \"$dir\"\n    AuthBasicProvider file\n"
                . "    AuthUserFile $d/auth/users.passwd\n    FastCgiAuthorizer $path\n    Require valid-user\n";
        }
        $frag3 .= "</Directory>\n";
    }
}
# apache2 -t wants the file of an undeclared authorizer; it goes away after
# the start, as a deleted app would
$t->install_app('authz', 'auth/missing');
$t->start_httpd($frag3, modules => [qw(auth_basic authn_core authn_file authz_user)]);
unlink "$d/auth/missing" or die "unlink $d/auth/missing: $!\n";

sub fails_closed {
    my ($dir, $app, $role, $query, $name) = @_;
    my $off = length $t->error_log;
    my %cred = $role eq 'ac' ? () : basic('bob', 'builder');
    my $t0 = time;
    my $r = close_req($t, 'GET', "/$dir/file.txt$query", %cred, _timeout => 30);
    my $el = time - $t0;
    ok $r->{code} == 500 || $r->{code} == 503, "$name: 500 or 503 (got $r->{code}, " . sprintf('%.1f s', $el) . ')';
    unlike $r->{content}, qr/protected content/, "$name: no protected content";
    my $ok = $t->wait_for(sub { substr($t->error_log, $off) =~ /FCGIX\d{4}:[^\n]*\Q$app\E/ }, 3);
    ok $ok, "$name: a FCGIXnnnn log line names $app"
        or diag("new error log:\n" . substr($t->error_log, $off));
    return $el;
}

for my $c (@cases) {
    my ($dir, $app, $role) = @$c;
    next if $dir =~ /^raw-/;
    fails_closed($dir, $app, $role, $dir =~ /^responder/ ? '?mode=good' : '', "[$dir]");
}
# back, or `apache2 -k stop` would refuse the configuration
$t->install_app('authz', 'auth/missing');

# the raw app answering properly grants: the failures below are its misbehaviour's
for my $role (qw(ac authn authz)) {
    my %cred = $role eq 'ac' ? () : basic('bob', 'builder');
    my $r = $t->get("/raw-$role/file.txt?mode=ok", %cred);
    is $r->code, 200, "[raw-$role] mode=ok grants";
    is $r->content, "protected content of raw-$role\n", "[raw-$role] mode=ok: content";
}

my @garbage = qw(badversion otherid unknowntype shortend die_silent die_before_headers die_after_headers
    hdr_nocolon status_bad empty overloaded unknown_role);
for my $mode (@garbage) {
    fails_closed('raw-ac', "$d/auth/raw", 'ac', "?mode=$mode", "[raw-ac] mode=$mode");
}
for my $role (qw(authn authz)) {
    for my $mode (qw(badversion die_after_headers hdr_nocolon empty)) {
        fails_closed("raw-$role", "$d/auth/raw", $role, "?mode=$mode", "[raw-$role] mode=$mode");
    }
}
for my $role (qw(ac authn authz)) {
    for my $mode (qw(silent hdr_stall)) {
        my $el = fails_closed("raw-$role", "$d/auth/raw", $role, "?mode=$mode", "[raw-$role] mode=$mode (-idle-timeout 2)");
        ok $el < 10, "[raw-$role] mode=$mode: answered within 10 s";
    }
}
{
    my $r = $t->get('/raw-ac/file.txt?mode=ok');
    is $r->code, 200, '[raw-ac] after all the garbage, mode=ok grants again';
}

$t->done;
done_testing;

__DATA__
#!/usr/bin/perl
# rawauthz.pl (written by t/31-auth-more.t) - a raw-protocol FastCGI app
# that accepts any role and behaves as QUERY_STRING's mode= says. Accepts on
# fd 0, one forked child per connection (killed after 30 s at most).
# RAW_DUMP: file to append one line per request describing the parameters.
use strict;
use warnings;
use POSIX ();

my $dump = $ENV{RAW_DUMP};
$SIG{CHLD} = 'IGNORE';
open(my $l, '+<&=', 0) or die "fd 0: $!";
while (1) {
    my $c;
    if (!accept($c, $l)) { next if $!{EINTR}; die "accept: $!" }
    my $pid = fork;
    if (!defined $pid) { close $c; next }
    if ($pid) { close $c; next }
    close $l;
    alarm 30;
    binmode $c;
    serve($c);
    POSIX::_exit(0);
}

sub rd {
    my ($c, $n) = @_;
    my $b = '';
    while (length $b < $n) {
        my $r = sysread($c, $b, $n - length $b, length $b);
        return undef unless $r;
    }
    return $b;
}

sub rec {
    my ($c) = @_;
    my $hd = rd($c, 8) // return;
    my (undef, $type, $id, $len, $pad) = unpack 'CCnnC', $hd;
    my $body = $len ? rd($c, $len) : '';
    return unless defined $body;
    rd($c, $pad) if $pad;
    return ($type, $id, $body);
}

sub wr {
    my ($c, $ver, $type, $id, $data) = @_;
    syswrite $c, pack('CCnnCC', $ver, $type, $id, length $data, 0, 0) . $data;
}
sub out { wr($_[0], 1, 6, $_[1], $_[2]) }
sub end_request { wr($_[0], 1, 3, $_[1], pack('NCx3', 0, $_[2] // 0)) }
sub finish { my ($c, $id, $ps) = @_; wr($c, 1, 6, $id, ''); end_request($c, $id, $ps) }

sub nvlen {
    my ($s, $p) = @_;
    my $b = ord substr($$s, $$p, 1);
    if ($b & 0x80) {
        my $n = unpack('N', substr($$s, $$p, 4)) & 0x7fffffff;
        $$p += 4;
        return $n;
    }
    $$p += 1;
    return $b;
}

sub serve {
    my ($c) = @_;
    my ($type, $id, $b) = rec($c) or return;
    return unless $type == 1;
    my $role = unpack 'n', $b;
    my $params = '';
    while (1) {
        my ($t2, undef, $b2) = rec($c) or return;
        next unless $t2 == 4;
        last if $b2 eq '';
        $params .= $b2;
    }
    my @p;
    my $pos = 0;
    while ($pos < length $params) {
        my $nl = nvlen(\$params, \$pos);
        my $vl = nvlen(\$params, \$pos);
        push @p, [ substr($params, $pos, $nl), substr($params, $pos + $nl, $vl) ];
        $pos += $nl + $vl;
    }
    my %e = map { $_->[0] => $_->[1] } @p;
    # the request body: an empty FCGI_STDIN record (or none) is no body
    my $stdin = 0;
    {
        my $rin = '';
        vec($rin, fileno($c), 1) = 1;
        while (select(my $r = $rin, undef, undef, 0.3)) {
            my ($t3, undef, $b3) = rec($c) or last;
            next unless $t3 == 5;
            last if $b3 eq '';
            $stdin += length $b3;
        }
    }
    my ($mode) = ($e{QUERY_STRING} // '') =~ /(?:^|&)mode=(\w+)/;
    $mode //= 'ok';
    if ($dump && open my $fh, '>>', $dump) {
        my %n;
        $n{ $_->[0] }++ for @p;
        my @dups = grep { $n{$_} > 1 } sort keys %n;
        my $v = sub { my $x = $_[0] // "-"; $x =~ s/\s/_/g; $x };
        print $fh "role=$role apache_role=", join('|', map { $_->[1] } grep { $_->[0] eq 'FCGI_APACHE_ROLE' } @p),
            " passwd=", ($n{REMOTE_PASSWD} // 0), " remote_user=", ($n{REMOTE_USER} // 0),
            " dups=", (@dups ? join(',', @dups) : '-'), " qs=", $v->($e{QUERY_STRING}),
            " probe=", $v->($e{HTTP_X_PROBE}), " stdin=$stdin\n";
        close $fh;
    }
    my $ok = "Status: 200\r\nVariable-RAW_OK: yes\r\n\r\n";
    if ($mode eq 'ok') { out($c, $id, $ok); finish($c, $id) }
    elsif ($mode eq 'badversion') { wr($c, 2, 6, $id, $ok); finish($c, $id) }
    elsif ($mode eq 'otherid') { wr($c, 1, 6, ($id + 1) & 0xffff, $ok); out($c, $id, $ok); finish($c, $id) }
    elsif ($mode eq 'unknowntype') { wr($c, 1, 42, $id, 'junk'); out($c, $id, $ok); finish($c, $id) }
    elsif ($mode eq 'shortend') { out($c, $id, $ok); wr($c, 1, 6, $id, ''); wr($c, 1, 3, $id, "\0\0\0\0") }
    elsif ($mode eq 'die_silent') { }
    elsif ($mode eq 'die_before_headers') { out($c, $id, "Status: 20") }
    elsif ($mode eq 'die_after_headers') { out($c, $id, $ok) }
    elsif ($mode eq 'hdr_nocolon') { out($c, $id, "Status: 200\r\nthis line has no colon\r\n\r\n"); finish($c, $id) }
    elsif ($mode eq 'status_bad') { out($c, $id, "Status: 2000\r\n\r\n"); finish($c, $id) }
    elsif ($mode eq 'empty') { finish($c, $id) }
    elsif ($mode eq 'overloaded') { end_request($c, $id, 2) }
    elsif ($mode eq 'unknown_role') { end_request($c, $id, 3) }
    elsif ($mode eq 'silent') { sleep 25 }
    elsif ($mode eq 'hdr_stall') { out($c, $id, "Status: 200\r\n"); sleep 25 }
    else { out($c, $id, "Status: 500\r\n\r\nunknown mode\n"); finish($c, $id) }
    close $c;
}
