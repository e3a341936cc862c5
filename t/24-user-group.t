# 24-user-group.t - FastCgiServer -user / -group: a static application runs
# under another identity, given by the wrapper.
#
# - apache2 -t refuses: -user without FastCgiWrapper (FCGIX0015 names the
#   app and -user), -user root, -group root, an unknown user or group, -group
#   without -user, and -user on FastCgiConfig / FastCgiExternalServer.
# - FastCgiWrapper FILE (a script that records its argv, then execs the app):
#   `-user nobody -group nogroup` invokes it as `nobody nogroup APP`;
#   `-user nobody` alone as `nobody <nobody's own group> APP`; an app without
#   the options as `www-data www-data APP` (httpd's User/Group). All answer.
# - FastCgiWrapper On (httpd's suexec, when installed set-uid root and we are
#   root): a static app under /var/www owned by nobody, with `-user nobody
#   -group nogroup` and no SuexecUserGroup, answers and its processes run as
#   nobody.
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM qw(all_pids proc_uid suexec_missing suexec_app $SUEXEC_MOD);

my $t = FcgixTest->new;
my $d = $t->dir;
my $ipc = "$d/ipc";
my $HELLO = "Hello, World\n";
my $is_root = $> == 0;

plan skip_all => 'needs root (the wrapper tests run httpd as www-data)' unless $is_root;

my (undef, undef, $nuid, $ngid) = getpwnam('nobody');
plan skip_all => 'no user nobody' unless defined $nuid;
my $nobody_group = getgrgid($ngid);
my $nogroup = getgrnam('nogroup') ? 'nogroup' : $nobody_group;

# Live processes whose executable is $path.
sub running {
    my ($path) = @_;
    return sort { $a <=> $b } grep { (readlink("/proc/$_/exe") // '') eq $path } all_pids();
}

# ------------------------------------------------ configuration errors
my $app = $t->install_app('hello', 'htdocs/a/a.fcgi');
my $wlog = "$d/wrap/argv.log";
mkdir "$d/wrap", 0755;
chown scalar(getpwnam('www-data')), scalar(getgrnam('www-data')), "$d/wrap";
my $wrapper = $t->write_file('wrap/wrapper.sh', <<"EOF", 0755);
#!/bin/sh
# test wrapper: record argv, then become the application
echo "\$1|\$2|\$3" >> $wlog
exec "\$3"
EOF

sub bad {
    my ($name, $frag, @must) = @_;
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\n$frag\n");
    ok(!$ok, "$name: apache2 -t fails");
    for my $m (@must) {
        like($out, qr/\Q$m\E/, "$name: the message names '$m'") or diag $out;
    }
}
bad('-user without FastCgiWrapper', "FastCgiServer $app -user nobody", 'FCGIX0015', $app, '-user', 'FastCgiWrapper');
bad('-user root', "FastCgiWrapper $wrapper\nFastCgiServer $app -user root", 'FastCgiServer', $app, '-user');
bad('-group root', "FastCgiWrapper $wrapper\nFastCgiServer $app -user nobody -group root", $app, '-group');
bad('unknown user', "FastCgiWrapper $wrapper\nFastCgiServer $app -user no-such-user-fcgix", '-user', 'no-such-user-fcgix');
bad('unknown group', "FastCgiWrapper $wrapper\nFastCgiServer $app -user nobody -group no-such-group-fcgix",
    '-group', 'no-such-group-fcgix');
bad('-group without -user', "FastCgiWrapper $wrapper\nFastCgiServer $app -group $nogroup", '-group', '-user');
bad('-user on FastCgiConfig', "FastCgiWrapper $wrapper\nFastCgiConfig -user nobody", 'FastCgiConfig', '-user');
bad('-user on FastCgiExternalServer',
    "FastCgiExternalServer $d/htdocs/x.fcgi -socket x.sock -user nobody", 'FastCgiExternalServer', '-user');
{
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiServer $app -user nobody\nFastCgiWrapper $wrapper\n");
    ok($ok, '-user with FastCgiWrapper declared after the FastCgiServer line: apache2 -t passes') or diag $out;
}

# ------------------------------------------------ FastCgiWrapper FILE
my $b = $t->install_app('hello', 'htdocs/b/b.fcgi');
my $c = $t->install_app('hello', 'htdocs/c/c.fcgi');
$t->start_httpd(<<"EOF");
FastCgiIpcDir $ipc
FastCgiWrapper $wrapper
FastCgiServer $app -user nobody -group $nogroup
FastCgiServer $b -user nobody
FastCgiServer $c
AddHandler fastcgi-script .fcgi
EOF
for my $u (qw(/a/a.fcgi /b/b.fcgi /c/c.fcgi)) {
    my $r = $t->get($u);
    is($r->code, 200, "$u through the wrapper: 200") or diag $r->as_string, $t->error_log;
    is($r->content, $HELLO, "$u: body");
}
{
    my %argv = map { my @f = split /\|/, $_, -1; ($f[2] => "$f[0] $f[1]") } split /\n/, slurp($wlog);
    is($argv{$app}, "nobody $nogroup", "-user nobody -group $nogroup: the wrapper gets 'nobody $nogroup'");
    is($argv{$b}, "nobody $nobody_group", "-user nobody alone: the wrapper gets nobody's own group ($nobody_group)");
    is($argv{$c}, 'www-data www-data', 'no -user: the wrapper gets httpd\'s User and Group');
}
$t->stop_httpd;

# ------------------------------------------------ FastCgiWrapper On (suexec)
SKIP: {
    my $why = suexec_missing();
    skip $why, 4 if $why;
    my ($sxdir, $sapp) = suexec_app($t, 'static.fcgi');
    $t->start_httpd(<<"EOF");
LoadModule suexec_module $SUEXEC_MOD
FastCgiIpcDir $ipc
FastCgiWrapper On
FastCgiServer $sapp -user nobody -group $nobody_group -processes 2 -init-start-delay 0
AddHandler fastcgi-script .fcgi
Alias /sx/ $sxdir/
<Directory $sxdir>
    Require all granted
</Directory>
EOF
    my $r = $t->request('GET', '/sx/static.fcgi', timeout => 25);
    is($r->code, 200, 'FastCgiWrapper On: static app with -user through suexec: 200')
        or diag $r->as_string, $t->error_log;
    is($r->content, $HELLO, 'FastCgiWrapper On: body');
    my @p;
    $t->wait_for(sub { (@p = running($sapp)) >= 2 }, 5);
    is(scalar(@p), 2, 'FastCgiWrapper On: two processes run');
    ok(@p && !grep({ proc_uid($_) != $nuid } @p), 'FastCgiWrapper On: they run as nobody (-user)')
        or diag 'uids: ', join(' ', map { proc_uid($_) } @p);
    $t->stop_httpd;
}

$t->done;
done_testing;
