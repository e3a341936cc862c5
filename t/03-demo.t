# 03-demo.t - README's first command works: `make -f Makefile.apxs demo`
# starts the demo (conf.d/demo.sh) and every page it advertises answers;
# `conf.d/demo.sh stop` ends everything it started.
#
# The demo runs in this test's directory on a free port (FCGIX_DEMO_DIR,
# FCGIX_DEMO_PORT) with the module under test (FCGIX_SO). It always uses the
# event MPM, so it runs in the event pass (or when no MPM is chosen) only.
#   /hello.fcgi: the C app run by the process manager (FastCgiServer)
#   /info.php/path/info?x=1: PHP-FPM through the mod_fastcgi recipe, with
#     PATH_INFO and QUERY_STRING
#   /fcgi-status?auto: the process manager is alive, 2 hello processes
#   after stop: no process of the demo (its httpd, fcgix-pm, the apps,
#     php-fpm) is left.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM qw(all_pids);

plan skip_all => 'the demo uses the event MPM; it runs in the event pass'
    if ($ENV{FCGIX_MPM} // 'event') ne 'event';
plan skip_all => 'the demo runs apache2 as www-data: needs root' unless $> == 0;
plan skip_all => 'the demo starts apache2 itself, without the sanitizer preload; checked in the plain runs'
    if $ENV{FCGIX_ASAN};

my $t = FcgixTest->new;
my $demo = $t->dir . '/demo';
my $port = $t->free_port;
my $root = FcgixTest::root();
local $ENV{FCGIX_DEMO_DIR} = $demo;
local $ENV{FCGIX_DEMO_PORT} = $port;
local $ENV{FCGIX_SO} = $t->so;

# Processes of the demo: anything whose executable or command line names
# its directory, or whose working directory is in it.
sub demo_procs {
    my @r;
    for my $p (all_pids()) {
        next if $p == $$;
        my $cl = slurp("/proc/$p/cmdline");
        my $cwd = readlink("/proc/$p/cwd") // '';
        my $exe = readlink("/proc/$p/exe") // '';
        my $stat = slurp("/proc/$p/stat");
        next if $stat =~ /^\d+ \(.*\) Z /s;
        push @r, $p if index($cl, $demo) >= 0 || index($cwd, $demo) == 0 || index($exe, $demo) == 0;
    }
    return @r;
}

sub stop_demo { system('bash', "$root/conf.d/demo.sh", 'stop') }
END { stop_demo() if defined $demo && -d $demo }

my $out = `make -s -C $root -f Makefile.apxs demo 2>&1`;
is($?, 0, 'make -f Makefile.apxs demo exits 0') or diag $out;
like($out, qr/mod_fcgix demo on http:\/\/127\.0\.0\.1:$port\//, 'it says where the demo is');

my $base = "http://127.0.0.1:$port";
my $ua = LWP::UserAgent->new(timeout => 20);
{
    my $r = $ua->get("$base/hello.fcgi");
    is($r->code, 200, '/hello.fcgi: 200') or diag $r->as_string, slurp("$demo/logs/error.log");
    is($r->content, "Hello, World\n", '/hello.fcgi: the C app answers');
}
{
    my $r = $ua->get("$base/info.php/path/info?x=1");
    is($r->code, 200, '/info.php: 200') or diag $r->as_string, slurp("$demo/logs/error.log");
    like($r->content, qr/^PHP \d+\.\d+\.\d+ via fpm-fcgi behind mod_fcgix$/m, '/info.php: PHP-FPM answers');
    like($r->content, qr/^PATH_INFO=\/path\/info$/m, '/info.php: PATH_INFO');
    like($r->content, qr/^QUERY_STRING=x=1$/m, '/info.php: QUERY_STRING');
}
{
    my $r = $ua->get("$base/fcgi-status?auto");
    is($r->code, 200, '/fcgi-status?auto: 200');
    like($r->content, qr/^FcgixPMAlive: 1$/m, '/fcgi-status: the process manager is alive');
    # the second process starts -init-start-delay (1 s) after the first
    my $hello = qr/^Class(\d+): \Q$demo\E\/cgi-bin\/hello\.fcgi$/m;
    my $procs = sub {
        my $c = $ua->get("$base/fcgi-status?auto")->content;
        my ($i) = $c =~ $hello or return -1;
        return $c =~ /^Class${i}Processes: (\d+)$/m ? $1 : -1;
    };
    $t->wait_for(sub { $procs->() == 2 }, 5);
    is($procs->(), 2, '/fcgi-status: the hello app runs 2 processes')
        or diag $ua->get("$base/fcgi-status?auto")->content;
}
{
    my $r = $ua->get("$base/");
    like($r->content, qr/mod_fcgix demo/, '/: the index page');
}

ok(scalar(demo_procs()) > 0, 'the demo runs processes of its own');
stop_demo();
my @left;
my $end = time + 10;
while ((@left = demo_procs()) && time < $end) { sleep 0.1 }
is(scalar @left, 0, 'conf.d/demo.sh stop: nothing of the demo is left')
    or diag join "\n", map { "$_: " . slurp("/proc/$_/cmdline") =~ tr/\0/ /r } @left;

$t->done;
done_testing;
