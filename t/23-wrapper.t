# 23-wrapper.t - FastCgiWrapper: every application the process manager
# starts goes through the wrapper, invoked as `wrapper user group app`.
#
# - FastCgiWrapper FILE (a shell script in the test dir, mode 0755, that
#   records its pid and argv and then does `exec "$3"`):
#     * a static application (FastCgiServer -processes 2) starts through it
#       with the arguments `www-data www-data /path/app`, one invocation per
#       process; the processes the PM runs are the ones the wrapper exec'd
#       (same pids), as www-data, and they answer;
#     * a static process that dies is restarted through the wrapper again;
#     * a dynamic application starts through it with the same arguments
#       and answers.
# - FastCgiWrapper On (httpd's suexec), only when /usr/lib/apache2/suexec
#   exists and is set-uid root: a dynamic application under /var/www (a
#   temporary directory owned by nobody:nogroup, removed at the end, since
#   suexec only runs programs below its docroot /var/www and for uids >= 100),
#   with SuexecUserGroup nobody nogroup, answers and runs as nobody.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $ipc = "$d/ipc";
my $HELLO = "Hello, World\n";

# Wrapper invocations recorded so far: [ pid, argc, arg1, arg2, arg3 ].
my $wlog = "$d/wrap/argv.log";
sub invocations {
    my $c = slurp($wlog);
    return map { [ split /\|/, $_, -1 ] } split /\n/, $c;
}

# The PM's children for $app that have exec'd it. instances() also matches
# the wrapper shell by its argv (which names the app) before that shell has
# logged its invocation and exec'd, so a wait on instances() alone can end
# while the replacement is still the wrapper; the exec'd image is the app
# only after the wrapper has written its log line.
sub execd {
    my ($app) = @_;
    my @q = instances($t, qr/\Q$app\E/);
    return () if grep { (readlink("/proc/$_/exe") // '') ne $app } @q;
    return @q;
}

my $is_root = $> == 0;
my ($wuser, $wgroup) = $is_root ? ('www-data', 'www-data')
    : (scalar getpwuid($>), scalar getgrgid($) + 0));

# ------------------------------------------------ FastCgiWrapper FILE
mkdir "$d/wrap", 0755;
if ($is_root) {
    my (undef, undef, $uid, $gid) = getpwnam('www-data');
    chown $uid, $gid, "$d/wrap";
}
my $wrapper = $t->write_file('wrap/wrapper.sh', <<"EOF", 0755);
#!/bin/sh
# test wrapper: record pid and argv, then become the application
echo "\$\$|\$#|\$1|\$2|\$3" >> $wlog
exec "\$3"
EOF
my $static = $t->install_app('hello', 'htdocs/static.fcgi');
my $dyn = $t->install_app('hello', 'htdocs/dyn/dyn.fcgi');

my $conf = <<"EOF";
FastCgiIpcDir $ipc
FastCgiWrapper $wrapper
FastCgiServer $static -processes 2 -restart-delay 1
AddHandler fastcgi-script .fcgi
<Directory $d/htdocs/dyn>
    Options +ExecCGI
</Directory>
EOF
{
    my ($ok, $out) = $t->config_test($conf);
    ok($ok, 'FastCgiWrapper FILE: apache2 -t passes') or diag $out;
}
$t->start_httpd($conf);

# static: two processes, both started through the wrapper
{
    my @p;
    $t->wait_for(sub { @p = execd($static); @p == 2 }, 10);
    is(scalar(@p), 2, 'static app: 2 processes run') or diag $t->error_log;
    my $r = $t->get('/static.fcgi');
    is($r->code, 200, 'static app through the wrapper: 200') or diag $t->error_log;
    is($r->content, $HELLO, 'static app through the wrapper: body');
    my @inv = grep { $_->[4] eq $static } invocations();
    is(scalar(@inv), 2, 'static app: the wrapper ran once per process')
        or diag slurp($wlog, '(no wrapper log)');
    is_deeply([ map { [ @$_[1 .. 4] ] } @inv ], [ ([ 3, $wuser, $wgroup, $static ]) x 2 ],
        "static app: wrapper argv is '$wuser $wgroup $static'");
    my @wp = sort { $a <=> $b } map { $_->[0] } @inv;
    ok(@p && "@wp" eq "@p", 'static app: the running processes are the ones the wrapper exec\'d')
        or diag "running: @p; wrapper pids: @wp";
    ok(@p && !grep({ proc_uid($_) != scalar getpwnam($wuser) } @p), "static app: processes run as $wuser")
        or diag 'uids: ', join(' ', map { proc_uid($_) } @p);

    # a static process that dies is restarted through the wrapper
    SKIP: {
        skip 'no static process', 3 unless @p;
        kill 'KILL', $p[0];    # a child of this test's fcgix-pm
        my @q;
        my $ok = $t->wait_for(sub {
            @q = execd($static);
            @q == 2 && !grep { $_ == $p[0] } @q;
        }, 10);
        ok($ok, 'static app: a killed process is replaced') or diag "before @p, now @q\n", $t->error_log;
        my ($new) = grep { my $x = $_; !grep { $_ == $x } @p } @q;
        my @inv2 = grep { $_->[4] eq $static } invocations();
        ok(defined $new && grep({ $_->[0] == $new } @inv2), 'static app: the replacement was started through the wrapper')
            or diag slurp($wlog);
        is($t->get('/static.fcgi')->code, 200, 'static app: serves after the restart');
    }
}

# dynamic: started through the wrapper on the first request
{
    is(scalar(grep { $_->[4] eq $dyn } invocations()), 0, 'dynamic app: not started before its first request');
    my $r = $t->get('/dyn/dyn.fcgi');
    is($r->code, 200, 'dynamic app through the wrapper: 200') or diag $t->error_log;
    is($r->content, $HELLO, 'dynamic app through the wrapper: body');
    my @inv = grep { $_->[4] eq $dyn } invocations();
    is_deeply([ map { [ @$_[1 .. 4] ] } @inv ], [ [ 3, $wuser, $wgroup, $dyn ] ],
        "dynamic app: wrapper ran once with argv '$wuser $wgroup $dyn'")
        or diag slurp($wlog, '(no wrapper log)');
    my @p = instances($t, qr/\Q$dyn\E/);
    my @wp = map { $_->[0] } @inv;
    ok(@p && "@wp" eq "@p", 'dynamic app: the running process is the one the wrapper exec\'d')
        or diag "running: @p; wrapper pids: @wp";
}
$t->stop_httpd;

# ------------------------------------------------ FastCgiWrapper On
SKIP: {
    my $why = suexec_missing();
    skip $why, 6 if $why;
    my (undef, undef, $nuid, $ngid) = getpwnam('nobody');
    my $ngroup = getgrgid($ngid);
    my ($sxdir, $app) = suexec_app($t, 'hello.fcgi');
    my $sxlog = '/var/log/apache2/suexec.log';
    my $sxlog_size = -s $sxlog // 0;
    my $conf_on = <<"EOF";
LoadModule suexec_module $SUEXEC_MOD
FastCgiIpcDir $ipc
FastCgiWrapper On
SuexecUserGroup nobody $ngroup
AddHandler fastcgi-script .fcgi
Alias /sx/ $sxdir/
<Directory $sxdir>
    Options +ExecCGI
    Require all granted
</Directory>
EOF
    my ($ok, $out) = $t->config_test($conf_on);
    ok($ok, 'FastCgiWrapper On with suexec: apache2 -t passes') or diag $out;
    $t->start_httpd($conf_on);
    $t->log_like(qr/suEXEC mechanism enabled/, 'httpd reports suexec enabled');
    my $t0 = time;
    my $r = $t->request('GET', '/sx/hello.fcgi', timeout => 25);
    my $el = time - $t0;
    my $sxnew = '';
    if (open my $fh, '<', $sxlog) {
        seek $fh, $sxlog_size, 0;
        local $/;
        $sxnew = <$fh> // '';
    }
    is($r->code, 200, 'FastCgiWrapper On: dynamic app through suexec: 200')
        or diag sprintf("after %.1f s\n", $el), $r->as_string, "--- suexec.log:\n$sxnew--- error log:\n",
        $t->error_log;
    is($r->content, $HELLO, 'FastCgiWrapper On: body');
    my @p = instances($t, qr/\Q$app\E/);
    is(scalar(@p), 1, 'FastCgiWrapper On: one instance runs') or diag "--- suexec.log:\n$sxnew";
    ok(@p && !grep({ proc_uid($_) != $nuid } @p), 'FastCgiWrapper On: it runs as nobody (SuexecUserGroup)')
        or diag 'uids: ', join(' ', map { proc_uid($_) } @p);
    $t->stop_httpd;
}

$t->done;
done_testing;
