# 25-upgrade.t - the module file replaced under a running httpd, then
# `apache2 -k graceful`, as a package upgrade does. httpd unloads and reloads
# the DSO at a graceful restart; the process manager (fcgix-pm) that the old
# build started keeps running. What the new build does with it:
#
#   same build reinstalled (new file, same interfaces): adopts it: same PM,
#     same app PIDs, requests 200.
#   a build whose definitions encoding differs (FCGIX_DEFS_VERSION): the old
#     PM refuses the new definitions (FCGIX0402); the parent stops it and
#     starts its own: old PM and old app processes gone, new ones serve 200.
#   a build whose PM interface differs (FCGIX_ABI_VERSION: the parent's
#     state, scoreboard or doorbell): it does not read the old state beyond
#     its frozen prefix, stops the old PM and its apps (FCGIX0406) and starts
#     afresh: new PM, new app processes, 200, and the status page works.
#   back to the first build (a downgrade): the same again.
#
# The "other" builds are the module's own sources compiled with -D set to
# another version: the only difference an upgrade would make that matters
# here. Every stop leaves no PM and no app process (the harness checks).
use strict;
use warnings;
use Test::More;
use FcgixTest;
use FcgixPM;
use File::Copy qw(copy);

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $root = FcgixTest::root();

# ------------------------------------------------------------- builds

# variant name => extra -D; built from this checkout into the test dir
my %variant = (
    defs => '-DFCGIX_DEFS_VERSION=99u',
    abi  => '-DFCGIX_ABI_VERSION=0x7fff0001u',
);
my %so = (orig => "$d/builds/orig/mod_fcgix.so");
mkdir "$d/builds";
mkdir "$d/builds/orig";
copy($t->so, $so{orig}) or die "copy $so{orig}: $!";
for my $v (sort keys %variant) {
    my $out = `make -s -C $root -f Makefile.apxs BUILD=$d/builds/$v XCFLAGS='-O0 $variant{$v}' $d/builds/$v/mod_fcgix.so 2>&1`;
    if ($? != 0 || !-f "$d/builds/$v/mod_fcgix.so") {
        fail("build the $v variant of the module");
        diag $out;
        $t->done;
        done_testing;
        exit 1;
    }
    $so{$v} = "$d/builds/$v/mod_fcgix.so";
}
chmod 0755, "$d/builds", map { "$d/builds/$_" } keys %so;

# The module file httpd loads, replaced the way a package manager does it:
# a new file renamed over the old one (the running httpd keeps its mapping).
my $installed = "$d/mod_fcgix.so";
sub install_build {
    my ($which) = @_;
    copy($so{$which}, "$installed.new") or die "copy: $!";
    chmod 0755, "$installed.new";
    rename "$installed.new", $installed or die "rename: $!";
}
install_build('orig');
$t->{so} = $installed;

# ------------------------------------------------------------- httpd

my $A = $t->install_app('hello', "$h/a/a.fcgi");
my $conf = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiServer $A -processes 2 -init-start-delay 0
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF
$t->start_httpd($conf);

sub serves {
    my ($what) = @_;
    my $r = $t->get('/a/a.fcgi');
    is($r->code, 200, "$what: the app answers 200");
    is($r->content, "Hello, World\n", "$what: with the app's body");
}

sub lifecycle_log {
    return join "\n", grep { /FCGIX04|resuming normal|exit signal/ } split /\n/, $t->error_log;
}

my $pm0 = pm_pid($t);
ok($pm0, 'a process manager runs');
my @apps0 = wait_pids($t, $A, 2, 5);
is(scalar @apps0, 2, 'the app runs 2 processes');
serves('first build');

# ---------------------------------------------- the same build reinstalled

install_build('orig');
$t->restart_httpd(undef);
is(pm_pid($t), $pm0, 'same build: the process manager is adopted (same PID)')
    or diag lifecycle_log();
my @same = wait_pids($t, $A, 2, 5);
ok(@same == 2 && "@same" eq "@apps0", 'same build: the app keeps its 2 processes')
    or diag "before: @apps0, after: @same";
serves('same build');

# ---------------------------------------------- replaced PM: two variants

# After a graceful restart onto a build that cannot adopt the running PM:
# the old PM and its apps are gone, a new PM runs the app, the log says why.
sub replaced {
    my ($what, $tag, $old_pm, @old_apps) = @_;
    my $new_pm;
    $t->wait_for(sub { $new_pm = pm_pid($t); $new_pm && $new_pm != $old_pm }, 10);
    ok($new_pm && $new_pm != $old_pm, "$what: a new process manager runs")
        or diag lifecycle_log();
    ok(!alive($old_pm), "$what: the old process manager is gone");
    my @gone = grep { !alive($_) } @old_apps;
    is(scalar @gone, scalar @old_apps, "$what: the old app processes are gone")
        or diag "still alive: @{[ grep { alive($_) } @old_apps ]}";
    my @now = wait_pids($t, $A, 2, 5);
    is(scalar @now, 2, "$what: the app runs 2 new processes");
    ok(!(grep { my $n = $_; grep { $_ == $n } @old_apps } @now), "$what: none of them is an old one");
    like(lifecycle_log(), $tag, "$what: the error log says why");
    serves($what);
    return ($new_pm, @now);
}

install_build('defs');
$t->restart_httpd(undef);
my ($pm1, @apps1) = replaced('definitions changed', qr/FCGIX0402: the process manager refused/, $pm0, @apps0);

install_build('abi');
$t->restart_httpd(undef);
my ($pm2, @apps2) = replaced('PM interface changed',
    qr/FCGIX0406: mod_fcgix was replaced by a build with another process-manager interface .*pid $pm1/, $pm1, @apps1);
my $st = $t->get('/fcgi-status?auto');
is($st->code, 200, 'PM interface changed: the status page answers');
like($st->content, qr/\Q$A\E/, 'PM interface changed: it lists the app from the new scoreboard');

install_build('orig');
$t->restart_httpd(undef);
replaced('back to the first build', qr/FCGIX0406: .*pid $pm2/, $pm2, @apps2);

$t->stop_httpd;
is(scalar(any_pms($t)), 0, 'after stop: no process manager is left');
$t->done;
done_testing;
