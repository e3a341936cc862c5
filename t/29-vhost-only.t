# 29-vhost-only.t - which virtual hosts reach a declared application.
#
#   As with mod_fastcgi, a file declared with FastCgiServer or
#   FastCgiExternalServer is the application in every virtual host that
#   maps a URL to it, whichever section declared it, and even where the
#   other host sets another handler for it (SetHandler) or none.
#   -vhost-only keeps it to the server whose section declares it: another
#   virtual host's request for the same file is not routed to it; through
#   that host's fastcgi-script handler it is a 404 (FCGIX0016), never a
#   dynamic application under the same name; the declaring host reaches
#   it, paths below it included.
#   -vhost-only on FastCgiConfig fails apache2 -t (an unknown option).
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;

my $t   = FcgixTest->new;
my $d   = $t->dir;
my $h   = "$d/htdocs";
my $ipc = "$d/ipc";
my $port = $t->port;

my $ALL  = $t->install_app('printenv', "$h/all.fcgi");
my $ONLY = $t->install_app('printenv', "$h/only.fcgi");

my $conf = <<"EOF";
FastCgiIpcDir $ipc
<Directory $h>
    Options +ExecCGI
</Directory>
<VirtualHost 127.0.0.1:$port>
    ServerName a.test
    DocumentRoot $h
    FastCgiServer $ALL
    FastCgiServer $ONLY -vhost-only
</VirtualHost>
<VirtualHost 127.0.0.1:$port>
    ServerName b.test
    DocumentRoot $h
    AddHandler fastcgi-script .fcgi
</VirtualHost>
<VirtualHost 127.0.0.1:$port>
    ServerName c.test
    DocumentRoot $h
    <Files "all.fcgi">
        SetHandler none
    </Files>
</VirtualHost>
EOF
$t->start_httpd($conf);

sub get {
    my ($host, $path) = @_;
    my $r = $t->get($path, Host => $host);
    return ($r->code, $r->content);
}

my ($code, $body) = get('a.test', '/all.fcgi');
is($code, 200, 'the declaring host reaches its app');
like($body, qr/^SERVER_NAME=a\.test$/m, '... (SERVER_NAME a.test)');

($code, $body) = get('b.test', '/all.fcgi');
is($code, 200, 'without -vhost-only, another host reaches the app too (as with mod_fastcgi)');
like($body, qr/^SERVER_NAME=b\.test$/m, '... with its own SERVER_NAME');

($code, $body) = get('c.test', '/all.fcgi');
is($code, 200, '... even where that host sets another handler for the file');
like($body, qr/^SERVER_NAME=c\.test$/m, '... the app answers, not the file');

($code, $body) = get('a.test', '/only.fcgi/x/y');
is($code, 200, '-vhost-only: the declaring host reaches it, with a path below it');
like($body, qr/^PATH_INFO=\/x\/y$/m, '... PATH_INFO=/x/y');

($code, $body) = get('b.test', '/only.fcgi');
is($code, 404, '-vhost-only: another host\'s fastcgi-script handler gets 404');
$t->log_like(qr/FCGIX0016: \Q$ONLY\E: declared -vhost-only in another server's section/, '... FCGIX0016 says why');
my @p = app_pids($t, $ONLY);
is(scalar @p, 1, '... and no dynamic app was started under its name (its one static process)');

($code) = get('b.test', '/only.fcgi/x');
is($code, 404, '... a path below it from another host is no request for it (404)');

my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiConfig -vhost-only\n");
ok(!$ok, '-vhost-only on FastCgiConfig fails apache2 -t');
like($out, qr/FastCgiConfig.*unknown option '-vhost-only'/, '... as an unknown option') or diag $out;
$t->conf($conf);    # the running server's, for its stop

$t->done;
done_testing;
