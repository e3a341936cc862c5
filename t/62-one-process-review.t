# 62-one-process-review.t - an attacker's look at one-process mode
# (apache2 -X, d67175f): who holds the process manager's control channel
# and the doorbell's read end, and which of our processes run as root.
#
#   Normal mode: the parent's end of the control channel is held by the
#   parent only, and the doorbell's read end by the parent and the PM only:
#   no httpd child keeps either (their child-init closes them).
#   apache2 -X without FastCgiWrapper: no process of the test runs as root
#   (the one process, the PM and the apps are all User; so the channel the
#   one process keeps reaches nothing it could not do anyway).
#   apache2 -X with FastCgiWrapper, mod_fcgix loaded before mod_cgid
#   (event/worker): the review found that closing the channel in the one
#   process did not end a root PM there (the cgid daemon, forked after the
#   PM, had inherited the channel). Now no PM is started at all in that
#   mode (FCGIX0409): none runs, nothing of ours is root, and FastCgiServer
#   gets 503.
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $HELLO = $t->install_app('hello', "$h/hello.fcgi");
my $wrapper = $t->write_file('wrapper.sh', "#!/bin/sh\nexec \"\$3\"\n", 0755);
my $frag = "FastCgiIpcDir $d/ipc\nFastCgiServer $HELLO -processes 1\n";

# { fd => [link, O_ACCMODE] } of $pid
sub fds {
    my ($pid) = @_;
    my %r;
    opendir my $dh, "/proc/$pid/fd" or return {};
    for my $f (grep { /^\d+$/ } readdir $dh) {
        my $l = readlink("/proc/$pid/fd/$f") // next;
        my $fl = slurp("/proc/$pid/fdinfo/$f") =~ /^flags:\s+(\d+)/m ? oct($1) : 0;
        $r{$f} = [$l, $fl & 3];
    }
    return \%r;
}

# the live processes of this test: the httpd processes, their children
sub ours {
    my ($hp) = @_;
    my %s = ($hp => 1);
    for my $p (FcgixPM::all_pids()) {
        my $f = FcgixPM::pstat($p) or next;
        next if $f->[2] eq 'Z';
        $s{$p} = 1 if $f->[3] == $hp || index(slurp("/proc/$p/cmdline"), $d) >= 0;
    }
    return sort { $a <=> $b } keys %s;
}

# [holders of the peer of the PM's control socket], [holders of the
# doorbell's read end], as "pid" lists
sub holders {
    my ($pm, @pids) = @_;
    my %fd = map { $_ => fds($_) } @pids, $pm;
    my %peer;
    for (`ss -xn 2>/dev/null`) {
        my @w = split;
        $peer{$w[5]} = $w[7] if @w > 7 && $w[5] =~ /^\d+$/ && $w[7] =~ /^\d+$/;
    }
    my $held = sub {
        my ($link, $mode) = @_;
        return [grep { my $q = $_; grep { $_->[0] eq $link && (!defined $mode || $_->[1] == $mode) } values %{ $fd{$q} } }
            grep { $_ != $pm } @pids];
    };
    my (@ctl, @bell);
    for my $e (values %{ $fd{$pm} }) {
        my ($l) = @$e;
        if ($l =~ /^socket:\[(\d+)\]$/ && $peer{$1}) {
            my $h = $held->("socket:[$peer{$1}]");
            @ctl = @$h if @$h;
        }
        # the doorbell: a pipe the PM reads that someone else writes too
        if ($l =~ /^pipe:/ && $e->[1] == 0) {
            my $w = $held->($l, 1);
            @bell = @{ $held->($l, 0) } if grep { FcgixTest::_comm($_) eq 'apache2' } @$w;
        }
    }
    return (\@ctl, \@bell);
}

# ------------------------------------------------------- normal mode
$t->start_httpd($frag);
is($t->get('/hello.fcgi')->code, 200, 'normal mode: the app answers');
my $hp = $t->httpd_pid;
my $pm = FcgixPM::pm_pid($t);
ok($pm, 'the process manager runs');
my ($ctl, $bell) = holders($pm, ours($hp));
is_deeply($ctl, [$hp], 'only the parent holds its end of the control channel');
is_deeply($bell, [$hp], 'only the parent (and the PM) hold the doorbell read end');
$t->stop_httpd;

# ------------------------------------------------------- apache2 -X
sub start_x {
    my ($cf) = @_;
    my ($p, $ok) = $t->start_one_process($cf);
    ok($ok, 'apache2 -X answers')
        or BAIL_OUT('apache2 -X did not start: ' . slurp("$d/logs/stdout.log"));
    return $p;
}

sub stop_x { ok($t->stop_one_process(@_), 'apache2 -k stop ends it') }

sub root_procs { grep { FcgixPM::proc_uid($_) == 0 } ours($_[0]) }

my $cf = $t->conf($frag);
my $x = start_x($cf);
is($t->get('/hello.fcgi')->code, 200, '-X: the app answers');
$pm = FcgixPM::pm_pid($t);
ok($pm, '-X: the process manager runs');
is(FcgixPM::proc_uid($pm), scalar getpwnam('www-data'), '-X: it runs as User') if $> == 0;
is_deeply([root_procs($x)], [], '-X without a wrapper: no process of ours runs as root');
($ctl) = holders($pm, ours($x));
is_deeply($ctl, [$x], '-X: only the one process holds the control channel');
stop_x($x, $cf);

SKIP: {
    skip 'mod_cgid is loaded only under event and worker', 4 if $t->mpm eq 'prefork';
    skip 'FastCgiWrapper keeps root only when httpd starts as root', 4 if $> != 0;
    # mod_fcgix first, mod_cgid after it: cgid's daemon is forked after the PM
    my $c = slurp($t->conf("$frag FastCgiWrapper $wrapper\n"));
    $c =~ s/^(LoadModule fcgix_module .*\n)//m;
    my $l = $1;
    $c =~ s/(<IfModule !authz_core_module>)/$l$1/;
    $cf = $t->write_file('httpd.conf', $c, 0644);
    $x = start_x($cf);
    ok($t->wait_for(sub { $t->error_log =~ /FCGIX0409/ }, 10), '-X with a wrapper: FCGIX0409');
    ok($t->wait_for(sub { !FcgixPM::pm_pids($t) }, 5), '... and no process manager runs');
    is_deeply([root_procs($x)], [], '... no process of ours runs as root');
    is($t->get('/hello.fcgi')->code, 503, '... and the FastCgiServer app gets 503');
    stop_x($x, $cf);
}
$t->allow_log(qr/FCGIX0409|FCGIX0102|AH01240/);
$t->done;
done_testing;
