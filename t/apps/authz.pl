#!/usr/bin/perl
# authz.pl - a FastCGI authorizer in Perl (FCGI.pm) for mod_fcgix's
# FastCgiAuthenticator, FastCgiAuthorizer and FastCgiAccessChecker: the same
# decisions as authz.c, so the tests can run either.
#
# FCGI_APACHE_ROLE says which Apache phase asks:
#   AUTHENTICATOR   REMOTE_USER / REMOTE_PASSWD against the user table
#                   (AUTHZ_USERS file of "user:password:group" lines, else
#                   alice:secret:admins and bob:builder:staff). Right: 200
#                   with "Variable-AUTH_GROUP: <group>" and
#                   "X-Plain-Header: yes"; wrong: 401 with "X-Auth-Failed:".
#   AUTHORIZER      users in AUTHZ_ALLOW (comma separated, default "alice"):
#                   200 with "Variable-AUTHZ_LEVEL: full" and
#                   "X-Authz-Plain: yes"; anyone else "Status: 403" with
#                   "X-Denied-Because: user <name> is not on the list".
#   ACCESS_CHECKER  "X-Let-Me-In: yes" in the request: no Status line (200),
#                   "Variable-ACCESS_TICKET: ok", "X-Access-Plain: yes";
#                   else 403 with "X-Denied-Because: no magic word".
# Denials carry a text/plain body with its Content-Length, as a typical
# Perl application writes them. A request in another FastCGI role
# (FCGI_ROLE is not AUTHORIZER) gets 500.
#
# Each request appends "app=NAME role=ROLE fcgi_role=R user=U uri=URI
# method=M passwd=yes|no pid=N" to the file named by AUTHZ_LOG (process
# environment, else the request's), in one append-mode write. NAME is
# AUTHZ_NAME or "authz-pl". The password is never logged.
#
# Accepts on fd 0 (the listen socket a process manager passes).
use strict;
use warnings;
use FCGI;
use Fcntl qw(O_WRONLY O_APPEND O_CREAT);

my $proc_log = $ENV{AUTHZ_LOG};
my $app_name = $ENV{AUTHZ_NAME} || 'authz-pl';
my %allow = map { $_ => 1 } grep { length } split /,/, $ENV{AUTHZ_ALLOW} // 'alice';

my %users;
if ($ENV{AUTHZ_USERS} && open my $fh, '<', $ENV{AUTHZ_USERS}) {
    while (my $l = <$fh>) {
        $l =~ s/\r?\n\z//;
        next if $l eq '' || $l =~ /^#/;
        my ($u, $p, $g) = split /:/, $l, 3;
        next unless defined $p;
        $users{$u} = { password => $p, group => (defined $g && length $g) ? $g : 'users' };
    }
    close $fh;
}
else {
    %users = (
        alice => { password => 'secret',  group => 'admins' },
        bob   => { password => 'builder', group => 'staff' },
    );
}

my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);

sub clean {
    my ($v) = @_;
    $v //= '';
    $v =~ s/[\x00-\x20\x7f]/_/g;
    return $v;
}

sub log_call {
    my ($role) = @_;
    my $path = $proc_log || $env{AUTHZ_LOG};
    return unless $path;
    my $line = sprintf "app=%s role=%s fcgi_role=%s user=%s uri=%s method=%s passwd=%s pid=%d\n",
        $app_name, clean($role) || '-', clean($env{FCGI_ROLE}) || '-',
        clean($env{REMOTE_USER}) || '-', clean($env{REQUEST_URI}), clean($env{REQUEST_METHOD}),
        defined $env{REMOTE_PASSWD} ? 'yes' : 'no', $$;
    if (sysopen my $fh, $path, O_WRONLY | O_APPEND | O_CREAT, 0644) {
        syswrite $fh, $line;
        close $fh;
    }
    else {
        print STDERR "authz.pl: cannot open $path: $!\n";
    }
}

sub deny {
    my ($status, $hdr, $why, $body) = @_;
    print "Status: $status\r\n",
        "Content-Type: text/plain\r\n",
        "Content-Length: ", length($body), "\r\n",
        "$hdr: $why\r\n\r\n", $body;
}

sub authenticate {
    my ($name, $pw) = @env{qw(REMOTE_USER REMOTE_PASSWD)};
    if (!defined $name || !defined $pw) {
        return deny(401, 'X-Auth-Failed', 'no credentials', "authz: no user name or password\n");
    }
    my $u = $users{$name};
    if (!$u) {
        return deny(401, 'X-Auth-Failed', 'unknown user', "authz: unknown user or wrong password\n");
    }
    if ($u->{password} ne $pw) {
        return deny(401, 'X-Auth-Failed', 'wrong password', "authz: unknown user or wrong password\n");
    }
    print "Status: 200 OK\r\nVariable-AUTH_GROUP: $u->{group}\r\nX-Plain-Header: yes\r\n\r\n";
}

sub authorize {
    my $name = $env{REMOTE_USER} // '';
    if ($allow{$name}) {
        print "Status: 200\r\nVariable-AUTHZ_LEVEL: full\r\nX-Authz-Plain: yes\r\n\r\n";
        return;
    }
    my $who = length $name ? $name : '(none)';
    deny(403, 'X-Denied-Because', "user $who is not on the list",
        "authz: $who may not see " . ($env{REQUEST_URI} // '') . "\n");
}

sub check_access {
    if (($env{HTTP_X_LET_ME_IN} // '') eq 'yes') {
        print "Variable-ACCESS_TICKET: ok\r\nX-Access-Plain: yes\r\n\r\n";    # no Status: 200
        return;
    }
    deny(403, 'X-Denied-Because', 'no magic word', "authz: say the magic word\n");
}

while ($req->Accept() >= 0) {
    my $role = $env{FCGI_APACHE_ROLE};
    log_call($role);
    if (($env{FCGI_ROLE} // '') ne 'AUTHORIZER') {
        deny(500, 'X-Authz-Error', 'not an authorizer request',
            "authz: this application runs in the Authorizer role only\n");
    }
    elsif (($role // '') eq 'AUTHENTICATOR') { authenticate() }
    elsif (($role // '') eq 'ACCESS_CHECKER') { check_access() }
    else { authorize() }    # AUTHORIZER, or a server that does not say
    $req->Finish;
}
