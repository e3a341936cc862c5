# 48-backends-probe.t - several backends per FastCgiExternalServer (issue
# 14): the prober (-probe, -probe-timeout) and host names with several
# addresses (-resolve), seen from outside.
#
#  1. -probe 1: a backend that accepts connections but does not speak
#     FastCGI (a Perl listener that answers with HTTP garbage, and one that
#     says nothing: -probe-timeout 1) is marked by the prober: ?auto shows
#     `probe-failed` (Probe: failed (...)), the error log has FCGIX0460
#     naming the app and the address, and afterwards no request reaches it
#     (its own log sees no BEGIN_REQUEST) while every request is 200 from
#     the good backend; replaced by a real FastCGI app on the same address:
#     FCGIX0461, `up` again, and it takes requests;
#  2. a name with two addresses (libnss-wrapper: apache2 runs with
#     LD_PRELOAD=libnss_wrapper.so and NSS_WRAPPER_HOSTS=<test dir>/hosts):
#     `twohost` -> 127.0.0.2 and 127.0.0.3, a backend on each: ?auto lists
#     both, requests reach both, none reaches 127.0.0.4; then -resolve 1:
#     the hosts file gains 127.0.0.4 and drops 127.0.0.3, and without a
#     restart requests reach 127.0.0.2 and 127.0.0.4 and no longer .3;
#     -weight after a name applies to every address (the new one too); an
#     app with -resolve 0 keeps the addresses of the start; a name grown to
#     17 addresses gives 16 backends and a warning naming app and name, and
#     back to one address, one backend;
#  3. php-fpm answers FCGI_GET_VALUES and closes: two pools on 127.0.0.2:P
#     and 127.0.0.3:P behind -probe 1 stay `up` (Probe: ok) over several
#     probes and serve;
#  4. a one-process libfcgi app next to a silent backend (-probe-timeout 5):
#     a request is answered while the silent backend's probe is still open
#     (the prober closes each probe connection once answered, not at the
#     end of its round).
use strict;
use warnings;
use Test::More;
use IO::Socket::IP;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixBackends;

my $NSSW = '/usr/lib/x86_64-linux-gnu/libnss_wrapper.so';
($NSSW) = grep { -f } $NSSW, glob('/usr/lib/*/libnss_wrapper.so') unless -f $NSSW;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

# A TCP listener that is not a FastCGI app: "garbage" answers every
# connection with an HTTP error at once, "silent" never sends a byte. Both
# read what arrives and log "accept C" per connection (C: its number),
# "type=N C" (the second byte of the first FastCGI record header: 1
# BEGIN_REQUEST, 9 GET_VALUES) and "close C" when the peer closed.
my $listener = $t->write_file('listener.pl', <<'EOF');
use strict; use warnings; use IO::Socket::IP; use IO::Select;
my ($host, $port, $mode, $log) = @ARGV;
my $l = IO::Socket::IP->new(LocalHost => $host, LocalPort => $port, Listen => 64, ReuseAddr => 1)
    or die "listen $host:$port: $@";
open my $lf, '>>', $log or die "$log: $!";
$lf->autoflush(1);
my $sel = IO::Select->new($l);
my (%buf, %id);
my $seq = 0;
while (1) {
    for my $s ($sel->can_read) {
        if ($s == $l) {
            my $c = $l->accept or next;
            $id{ fileno $c } = ++$seq;
            print $lf "accept $seq\n";
            syswrite($c, "HTTP/1.1 400 Bad Request\r\nX-Garbage: yes\r\n\r\nnot FastCGI\n") if $mode eq 'garbage';
            $buf{ fileno $c } = '';
            $sel->add($c);
            next;
        }
        my $n = sysread($s, my $b, 4096);
        if (!$n) { print $lf "close $id{ fileno $s }\n"; $sel->remove($s); close $s; next }
        my $had = length $buf{ fileno $s };
        $buf{ fileno $s } .= $b;
        print $lf 'type=', ord(substr($buf{ fileno $s }, 1, 1)), " $id{ fileno $s }\n" if $had < 2 && length $buf{ fileno $s } >= 2;
    }
}
EOF

sub start_listener {
    my ($mode, $host, $port) = @_;
    my $log = $t->write_file("logs/listener-$mode.events", '', 0644);
    my $p = $t->spawn([$^X, $listener, $host, $port, $mode, $log], name => "listener-$mode");
    $p->{events} = $log;
    $p->{hostport} = "$host:$port";
    my $up = $t->wait_for(sub { IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Timeout => 1) }, 10);
    die "listener $mode on $host:$port did not come up\n" unless $up;
    return $p;
}

sub names { my $n = shift; join ', ', map { "$_=$n->{$_}" } sort keys %$n }

# ------------------------------------------------------------ backends
my $PR = $t->free_port;    # probe: garbage
my $PS = $t->free_port;    # probe: silent
my %be;
# (two processes each: a probe's connection may hold one, see 4.)
$be{RA} = backend($t, 'RA', '127.0.0.2', $PR, count => 2);
$be{SA} = backend($t, 'SA', '127.0.0.2', $PS, count => 2);
my $garbage = start_listener('garbage', '127.0.0.3', $PR);
my $silent = start_listener('silent', '127.0.0.3', $PS);

my $PN = $t->free_port;    # names
$be{N2} = backend($t, 'N2', '127.0.0.2', $PN);
$be{N3} = backend($t, 'N3', '127.0.0.3', $PN);
$be{N4} = backend($t, 'N4', '127.0.0.4', $PN);
my $hosts = $t->write_file('hosts', "127.0.0.2 twohost\n127.0.0.3 twohost\n127.0.0.20 manyhost\n");

my $FPM = '/usr/sbin/php-fpm8.2';
my ($fpm, $PP);
if (-x $FPM) {
    $PP = $t->free_port;
    my $conf = "[global]\npid = $d/php-fpm.pid\nerror_log = $d/logs/php-fpm.log\ndaemonize = no\n";
    for my $ip (qw(127.0.0.2 127.0.0.3)) {
        $conf .= "[pool-$ip]\n" . ($> == 0 ? "user = www-data\ngroup = www-data\n" : '')
            . "listen = $ip:$PP\npm = static\npm.max_children = 2\nenv[FCGIX_POOL] = $ip\n";
    }
    my $cf = $t->write_file('php-fpm.conf', $conf);
    $fpm = $t->spawn([$FPM, '-F', '-R', '-y', $cf], name => 'php-fpm');
    # listening before apache2 starts: a probe that finds no php-fpm yet
    # would rightly fail (FCGIX0460)
    my $up = $t->wait_for(sub {
        !grep { !IO::Socket::IP->new(PeerHost => $_, PeerPort => $PP, Timeout => 1) } qw(127.0.0.2 127.0.0.3)
    }, 15);
    die "php-fpm did not come up:\n" . slurp("$d/logs/php-fpm.log") unless $up;
    $t->write_file('htdocs/fpm/page.php', "<?php header('Content-Type: text/plain'); "
        . "echo 'name=', getenv('FCGIX_POOL'), \"\\n\";\n");
}

# ------------------------------------------------------------ httpd
my $conf = <<"EOF";
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/pr.fcgi -host $be{RA}{hostport} -host $garbage->{hostport} -probe 1 -probe-timeout 1
FastCgiExternalServer $h/ps.fcgi -host $be{SA}{hostport} -host $silent->{hostport} -probe 1 -probe-timeout 1 -idle-timeout 3
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF
$conf .= "FastCgiExternalServer $h/nm.fcgi -host twohost:$PN -weight 2 -resolve 1\n"
    . "FastCgiExternalServer $h/nm0.fcgi -host twohost:$PN -resolve 0\n"
    . "FastCgiExternalServer $h/nm17.fcgi -host manyhost:$PN -resolve 1\n" if $NSSW;
$conf .= "FastCgiExternalServer $h/fpm/page.php -host 127.0.0.2:$PP -host 127.0.0.3:$PP -probe 1\n" if $fpm;
$t->httpd_env(LD_PRELOAD => $NSSW, NSS_WRAPPER_HOSTS => $hosts) if $NSSW;
$t->start_httpd($conf);
my $httpd_pid = $t->httpd_pid;

# ------------------------------------------------------------ 1. the prober
for my $case ([ 'pr', $garbage, 'RA', 'answers with HTTP garbage' ], [ 'ps', $silent, 'SA', 'says nothing' ]) {
    my ($app, $l, $good, $what) = @$case;
    my $file = "$h/$app.fcgi";
    my $addr = $l->{hostport};
    my $st;
    my $failed = $t->wait_for(sub {
        $st = backends($t, $file);
        $st && ($st->{by_addr}{$addr}{State} // '') eq 'probe-failed';
    }, 10);
    ok($failed, "listener that $what: ?auto shows probe-failed")
        or diag $st ? join("\n", grep { /Backend/ } split /\n/, $st->{raw}) : 'class not on the status page';
    like($st && $st->{by_addr}{$addr}{Probe} // '', qr/^failed \(.+\)$/, "$app: ?auto Probe: failed (why)");
    like($st && $st->{by_addr}{ $be{$good}{hostport} }{Probe} // '', qr/^ok$/, "$app: the real app's Probe: ok");
    like(slurp($l->{events}), qr/^type=9 \d+$/m, "$app: the listener got FCGI_GET_VALUES");
    $t->log_like(qr/FCGIX0460: .*\Q$file\E.*\Q$addr\E/, "$app: FCGIX0460 names the app and the address");

    SKIP: {
        # (requests to a listener that is not skipped would only pile up)
        skip "$app: not marked probe-failed, no requests sent", 2 unless $failed;
        my $off = length slurp($l->{events});
        my $n = tally(map { fetch($t, "/$app.fcgi") } 1 .. 6);
        is($n->{$good} // 0, 6, "$app: all 6 requests 200 from the real app (" . names($n) . ')');
        unlike(substr(slurp($l->{events}), $off), qr/^type=1 \d+$/m, "$app: no request (BEGIN_REQUEST) reached the listener");
    }
}

# the garbage listener replaced by a real FastCGI app on the same address
{
    my $addr = $garbage->{hostport};
    my $off = length $t->error_log;
    $t->stop_app($garbage);
    $be{RB} = backend($t, 'RB', '127.0.0.3', $PR, count => 2);
    ok($t->wait_for(sub { substr($t->error_log, $off) =~ /FCGIX0461: .*\Q$h\/pr.fcgi\E.*\Q$addr\E/ }, 10),
        'replaced by a FastCGI app: FCGIX0461 names the app and the address')
        or diag substr($t->error_log, $off);
    my $st;
    ok($t->wait_for(sub { $st = backends($t, "$h/pr.fcgi"); ($st->{by_addr}{$addr}{State} // '') eq 'up' }, 5),
        'replaced: ?auto shows it up') or diag $st ? $st->{raw} : '';
    my %seen;
    my $back = $t->wait_for(sub { my $r = fetch($t, '/pr.fcgi'); $seen{ $r->[0] }++; ($r->[1]{name} // '') eq 'RB' }, 10);
    ok($back, 'replaced: it takes requests again');
    is_deeply([ keys %seen ], [200], 'replaced: every request 200 meanwhile');
}

# ------------------------------------------------------------ 2. names
SKIP: {
    skip 'libnss-wrapper not installed (apt-get install libnss-wrapper)', 18 unless $NSSW;
    my $file = "$h/nm.fcgi";
    my ($a2, $a3, $a4) = map { "127.0.0.$_:$PN" } 2, 3, 4;
    my $st = backends($t, $file);
    is_deeply([ sort map { $_->{Address} // '' } @{ $st ? $st->{list} : [] } ], [ $a2, $a3 ],
        '?auto: twohost gives two backends, 127.0.0.2 and 127.0.0.3') or diag $st ? $st->{raw} : 'no class';
    is(join(' ', map { $_->{Weight} // '-' } @{ $st ? $st->{list} : [] }), '2 2', '-weight 2 after a name: every address weighs 2');
    my $n = tally(map { fetch($t, '/nm.fcgi') } 1 .. 12);
    ok(($n->{N2} // 0) > 0 && ($n->{N3} // 0) > 0, 'requests reach both addresses of twohost (' . names($n) . ')');
    is(($n->{N2} // 0) + ($n->{N3} // 0), 12, 'all 12 requests 200 from them, none from 127.0.0.4');

    # re-resolution: .4 comes, .3 goes
    my $tmp = "$hosts.new";
    $t->write_file($tmp, "127.0.0.2 twohost\n127.0.0.4 twohost\n" . join('', map { "127.0.0.$_ manyhost\n" } 20 .. 36));
    rename $tmp, $hosts or die "rename: $!";
    my $changed = $t->wait_for(sub {
        $st = backends($t, $file);
        join(' ', sort map { $_->{Address} // '' } @{ $st ? $st->{list} : [] }) eq "$a2 $a4";
    }, 10);
    ok($changed, '-resolve 1: ?auto shows the new address list (127.0.0.2, 127.0.0.4)')
        or diag $st ? $st->{raw} : 'no class';
    is($st && $st->{by_addr}{$a4}{Weight}, 2, 'the new address weighs 2 as well');
    # The status page shows the prober's resolution; every httpd child
    # resolves on its own, each within -resolve (1 s) of the change. Wait
    # for that: until 20 requests in a row reach only .2 and .4.
    my (%m, $run);
    my $both = $t->wait_for(sub {
        my $r = fetch($t, '/nm.fcgi');
        my $who = $r->[0] == 200 ? $r->[1]{name} // '?' : "!$r->[0]";
        $m{$who}++;
        $run = ($who eq 'N2' || $who eq 'N4') ? ($run // 0) + 1 : 0;
        ($m{N2} // 0) > 0 && ($m{N4} // 0) > 0 && $run >= 20;
    }, 10);
    ok($both, 'requests reach 127.0.0.2 and the new 127.0.0.4, and every child has let .3 go (' . names(\%m) . ')');
    my $off3 = length slurp($be{N3}{log});
    $n = tally(map { fetch($t, '/nm.fcgi') } 1 .. 10);
    is(($n->{N2} // 0) + ($n->{N4} // 0), 10, 'then 10 more requests all 200 from .2 / .4 (' . names($n) . ')');
    ok(!$n->{N3}, 'the dropped 127.0.0.3 gets none');
    unlike(substr(slurp($be{N3}{log}), $off3), qr/^begin /m, '127.0.0.3 saw no request since');
    is($t->httpd_pid, $httpd_pid, 'no restart: the same apache2 parent');
    my $resumed = () = $t->error_log =~ /resuming normal operations/g;
    is($resumed, 1, 'no restart: one "resuming normal operations" in the log');
    ok(!grep({ /^!/ } keys %m), 'no failed request during the change') or diag names(\%m);

    # -resolve 0: resolved when the config was read, never again
    my $s0 = backends($t, "$h/nm0.fcgi");
    is(join(' ', sort map { $_->{Address} // '' } @{ $s0 ? $s0->{list} : [] }), "$a2 $a3",
        '-resolve 0: still the addresses of the start (127.0.0.2, 127.0.0.3)');
    $n = tally(map { fetch($t, '/nm0.fcgi') } 1 .. 6);
    ok(($n->{N3} // 0) > 0 && !$n->{N4}, '-resolve 0: requests still reach 127.0.0.3, not .4 (' . names($n) . ')');

    # a name that now has 17 addresses: the first 16 are kept, with a warning
    my $s17;
    ok($t->wait_for(sub { $s17 = backends($t, "$h/nm17.fcgi"); ($s17->{Backends} // 0) == 16 }, 10),
        'manyhost re-resolved to 17 addresses: 16 backends (' . ($s17 ? $s17->{Backends} // 'missing' : '-') . ')');
    $t->log_like(qr/FCGIX\d{4}: .*\Q$h\/nm17.fcgi\E.*manyhost/, 'a logged warning names the app and the name');

    # back to one address (apache2 -k stop reads the config too, and a name
    # with more than 16 addresses is an error there)
    $t->write_file($tmp, "127.0.0.2 twohost\n127.0.0.4 twohost\n127.0.0.20 manyhost\n");
    rename $tmp, $hosts or die "rename: $!";
    ok($t->wait_for(sub { $s17 = backends($t, "$h/nm17.fcgi"); ($s17->{Backends} // 0) == 1 }, 10),
        'manyhost back to one address: 1 backend');
}

# ------------------------------------------------------------ 3. php-fpm and the prober
SKIP: {
    skip 'php-fpm8.2 not installed', 7 unless $fpm;
    my $file = "$h/fpm/page.php";
    my @addr = map { "$_:$PP" } qw(127.0.0.2 127.0.0.3);
    # every probe ok: both backends Probe: ok, then watched for 3.5 s more
    # (about three more probes at -probe 1): never anything but up / ok
    my $st;
    my $ok = $t->wait_for(sub {
        $st = backends($t, $file) or return 0;
        !grep { ($st->{by_addr}{$_}{Probe} // '') ne 'ok' } @addr;
    }, 10);
    ok($ok, 'php-fpm behind -probe 1: both pools Probe: ok') or diag $st ? $st->{raw} : 'no class';
    my $end = time + 3.5;
    my %bad;
    $t->wait_for(sub {
        my $s = backends($t, $file) or return 0;
        for my $a (@addr) {
            my $v = ($s->{by_addr}{$a}{State} // '') . ' ' . ($s->{by_addr}{$a}{Probe} // '');
            $bad{"$a: $v"}++ if $v ne 'up ok';
        }
        time >= $end;
    }, 5);
    ok(!%bad, 'php-fpm: up and Probe: ok all through the next probes') or diag explain \%bad;
    for my $a (@addr) {
        my $b = $st ? $st->{by_addr}{$a} : {};
        is(($b->{State} // '') . ' ' . ($b->{Probe} // ''), 'up ok', "php-fpm $a: up, Probe: ok");
    }
    $t->log_unlike(qr/FCGIX0460: .*\Q$file\E/, 'php-fpm: no FCGIX0460 for it');
    my $n = tally(map { fetch($t, '/fpm/page.php') } 1 .. 12);
    is(($n->{'127.0.0.2'} // 0) + ($n->{'127.0.0.3'} // 0), 12, 'php-fpm: 12 requests 200 (' . names($n) . ')');
    ok(($n->{'127.0.0.2'} // 0) > 0 && ($n->{'127.0.0.3'} // 0) > 0, 'php-fpm: both pools serve');
}

# ------------------------------------------------------------ 4. a slow probe holds nothing else
# A single-process libfcgi app serves one connection at a time, and after
# answering FCGI_GET_VALUES it waits on that connection for a request. So
# the prober must close a probe connection once it has its answer, not
# when the slowest probe of the round (a silent backend, -probe-timeout 5)
# gives up: a request sent while the silent backend's probe is still open
# is answered while it is still open.
{
    my $PT = $t->free_port;
    $be{TA} = backend($t, 'TA', '127.0.0.2', $PT);
    my $sl = start_listener('silent5', '127.0.0.3', $PT);
    $t->start_httpd(<<"EOF");
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/pt.fcgi -host $be{TA}{hostport} -host $sl->{hostport} -probe 1 -probe-timeout 5
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF
    my $st;
    my $failed = $t->wait_for(sub {
        $st = backends($t, "$h/pt.fcgi");
        $st && ($st->{by_addr}{ $sl->{hostport} }{State} // '') eq 'probe-failed';
    }, 15);
    ok($failed, '-probe-timeout 5: the silent backend is marked probe-failed');
    my $open = sub {    # the probe connections the silent listener holds open now
        my $ev = slurp($sl->{events});
        my %o = map { $_ => 1 } $ev =~ /^accept (\d+)$/mg;
        delete @o{ $ev =~ /^close (\d+)$/mg };
        return sort keys %o;
    };
    SKIP: {
        skip 'not marked probe-failed', 6 unless $failed;
        for my $round (1, 2) {
            my @before;
            ok($t->wait_for(sub { @before = $open->() }, 10), "$round: a probe of the silent backend is under way");
            my $r = fetch($t, '/pt.fcgi');
            my %now = map { $_ => 1 } $open->();
            is($r->[0] . ' ' . ($r->[1]{name} // ''), '200 TA', "$round: the request is served by the one-process app");
            ok(scalar(grep { $now{$_} } @before), "$round: answered while that probe (connection @before) was still "
                . 'open: the prober did not hold the app\'s connection until the slow probe gave up');
        }
    }
}

$t->stop_httpd;
$t->done;
done_testing;
