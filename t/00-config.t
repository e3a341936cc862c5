# 00-config.t - configuration parsing and FastCgiIpcDir checks.
#
# - apache2 -t rejects bad FastCgiExternalServer lines, and its output names
#   the directive, the app's filename and the offending option;
# - a config using every option passes;
# - every conf.d/examples/*.conf passes apache2 -t;
# - FastCgiIpcDir is created (www-data, 0700) and refused when it is a
#   symlink, owned by someone else, or group/world writable.
use strict;
use warnings;
use Test::More;
use FcgixTest;

my $t = FcgixTest->new;
my $d = $t->dir;
my $ipc = "$d/ipc";
my $app = "$d/htdocs/app.fcgi";

sub bad_config {
    my ($name, $args, @must) = @_;
    my ($ok, $out) = $t->config_test("FastCgiIpcDir $ipc\nFastCgiExternalServer $app $args\n");
    ok(!$ok, "$name: apache2 -t fails") or diag $out;
    like($out, qr/FastCgiExternalServer/, "$name: output names the directive") or diag $out;
    like($out, qr/\Q$app\E/, "$name: output names the app") or diag $out;
    for my $m (@must) {
        like($out, qr/(?<![\w-])\Q$m\E(?![\w-])/, "$name: output names $m") or diag $out;
    }
}

my $long = "$d/" . ('s' x 120) . '.sock';

bad_config('unknown option', '-socket app.sock -bogus-option 1', '-bogus-option');
bad_config('repeated -idle-timeout', '-socket a.sock -idle-timeout 5 -idle-timeout 6',
    '-idle-timeout');
bad_config('-idle-timeout -1', '-socket app.sock -idle-timeout -1', '-idle-timeout');
bad_config('-idle-timeout not a number', '-socket app.sock -idle-timeout abc', '-idle-timeout');
bad_config('-idle-timeout missing value', '-socket app.sock -idle-timeout', '-idle-timeout');
bad_config('-header-max-lines 0', '-socket app.sock -header-max-lines 0', '-header-max-lines');
bad_config('-appConnTimeout -5', '-socket app.sock -appConnTimeout -5', '-appConnTimeout');
bad_config('-request-timeout 10x', '-socket app.sock -request-timeout 10x', '-request-timeout');
bad_config('-stderr-max-bytes huge', '-socket app.sock -stderr-max-bytes 99999999999999999999999',
    '-stderr-max-bytes');
bad_config('-weight before any address', '-weight 2 -socket app.sock', '-weight');
bad_config('-weight twice for one address', '-socket app.sock -weight 2 -weight 3', '-weight');
bad_config('17 backends', join(' ', map { "-host 127.0.0.1:" . (9000 + $_) } 1 .. 17), '-host');
bad_config('neither -host nor -socket', '-idle-timeout 5', '-host', '-socket');
bad_config('-host nohostport', '-host nohostport', '-host');
bad_config('-host port 0', '-host 127.0.0.1:0', '-host');
bad_config('-host port 70000', '-host 127.0.0.1:70000', '-host');
bad_config('-host [::1] without port', '-host [::1]', '-host');
bad_config('-socket path too long', "-socket $long", '-socket');
bad_config('-pass-header without name', '-socket app.sock -pass-header', '-pass-header');

# a good config using every option passes
{
    my $good = <<"EOF";
FastCgiIpcDir $ipc
FastCgiExternalServer $d/htdocs/a.fcgi -socket app.sock -appConnTimeout 3 -idle-timeout 10 -flush -pass-header Authorization -pass-header X-Forwarded-For -request-timeout 60 -header-max-bytes 32768 -header-max-lines 50 -header-max-line 4096 -stderr-max-line 512 -stderr-max-bytes 8192
FastCgiExternalServer $d/htdocs/b.fcgi -host 127.0.0.1:9000
FastCgiExternalServer $d/htdocs/c.fcgi -host [::1]:9001
FastCgiExternalServer $d/htdocs/d.fcgi -host localhost:9002
FastCgiExternalServer $d/htdocs/e.fcgi -socket $d/sock/abs.sock
FastCgiExternalServer $d/virtual/app -socket app2.sock
AddHandler fastcgi-script .fcgi
<Location /x>
    SetHandler fastcgi-script
</Location>
EOF
    my ($ok, $out) = $t->config_test($good);
    ok($ok, 'config with every option passes apache2 -t') or diag $out;
    ($ok, $out) = $t->config_test("FastCgiExternalServer $d/htdocs/a.fcgi -socket $d/sock/x.sock\n");
    ok($ok, 'FastCgiIpcDir is optional') or diag $out;
}

# every shipped example passes apache2 -t
{
    my @ex = sort glob(FcgixTest::root() . '/conf.d/examples/*.conf');
    SKIP: {
        skip 'no conf.d/examples/*.conf yet', 1 unless @ex;
        for my $f (@ex) {
            my ($ok, $out) = $t->config_test("Include $f\n");
            ok($ok, "example $f passes apache2 -t") or diag $out;
        }
    }
}

# ---------------------------------------------------------------- FastCgiIpcDir
my $is_root = $> == 0;
my (undef, undef, $wuid, $wgid) = getpwnam('www-data');
my $app_frag = sub {
    my ($dir) = @_;
    return "FastCgiIpcDir $dir\nFastCgiExternalServer $d/htdocs/app.fcgi -socket app.sock\n";
};

{
    my $dir = "$d/ipc-new";
    ok(!-e $dir, 'IpcDir does not exist before start');
    my ($ok, $out) = $t->try_start_httpd($app_frag->($dir));
    ok($ok, 'apache2 starts with a missing FastCgiIpcDir') or diag $out, $t->error_log;
    ok(-d $dir, 'FastCgiIpcDir created');
    my @st = stat $dir;
    is(sprintf('%04o', ($st[2] // 0) & 07777), '0700', 'FastCgiIpcDir mode 0700');
    SKIP: {
        skip 'not root', 1 unless $is_root;
        is($st[4], $wuid, 'FastCgiIpcDir owned by www-data');
    }
    $t->stop_httpd;
    # an existing correct dir is fine, too (second start)
    ($ok, $out) = $t->try_start_httpd($app_frag->($dir));
    ok($ok, 'apache2 starts with the existing FastCgiIpcDir') or diag $out, $t->error_log;
    $t->stop_httpd;
}

sub refuses {
    my ($name, $dir) = @_;
    my $log_before = length $t->error_log;
    my ($ok, $out) = $t->try_start_httpd($app_frag->($dir), wait => 3);
    my $serving = $ok || $t->httpd_running || $t->wait_for(sub { $t->_port_answers }, 0.5);
    my $log = substr($t->error_log, $log_before);
    my $said = ($out . $log) =~ /FastCgiIpcDir|\Q$dir\E/;
    ok(!$serving && (!$ok || $said), "$name: apache2 refuses to start")
        or diag "ok=$ok serving=$serving\n$out\n$log";
    like($out . $log, qr/\Q$dir\E/, "$name: the message names the dir") or diag "$out\n$log";
    $t->stop_httpd if $t->httpd_running;
}

SKIP: {
    skip 'needs root for ownership tests', 8 unless $is_root;
    # a symlink to a good dir
    mkdir "$d/ipc-real", 0700;
    chown $wuid, $wgid, "$d/ipc-real";
    chmod 0700, "$d/ipc-real";
    symlink "$d/ipc-real", "$d/ipc-link" or die "symlink: $!";
    refuses('symlink', "$d/ipc-link");

    # owned by nobody
    my (undef, undef, $nuid, $ngid) = getpwnam('nobody');
    mkdir "$d/ipc-nobody", 0700;
    chown $nuid, $ngid, "$d/ipc-nobody";
    chmod 0700, "$d/ipc-nobody";
    refuses('owned by nobody', "$d/ipc-nobody");

    # group writable
    mkdir "$d/ipc-gw", 0700;
    chown $wuid, $wgid, "$d/ipc-gw";
    chmod 0770, "$d/ipc-gw";
    refuses('group writable', "$d/ipc-gw");

    # world writable
    mkdir "$d/ipc-ww", 0700;
    chown $wuid, $wgid, "$d/ipc-ww";
    chmod 0703, "$d/ipc-ww";
    refuses('world writable', "$d/ipc-ww");
}

$t->done;
done_testing;
