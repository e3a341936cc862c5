# 46-keep-conn-attacks.t - what an attacker's review of kept application
# connections (issue 13) found, each written as the failure it was, so that
# none comes back. Each case runs an app with kept connections (the default
# for FastCgiServer) beside the same app with -keep-conn 0, which must
# behave alike.
#
#   1. A POST must not run twice: an app (t/apps/keepcrash.pl) records the
#      request and dies without a byte of answer, on a kept connection. The
#      POST never takes a kept connection, so it is not sent again on a new
#      one: the app ran it once, the client gets the usual 502.
#   2. A slow request does not hold up the next one of the same httpd
#      child: -processes 3 (and -keep-conn 1, below it), one child; with a
#      3 s request in flight another request is answered at once by an idle
#      process, not after the slow one (nobody waits for a handover while
#      processes are free).
#   3. mod_include including the same single-process app from its own
#      response (t/apps/ssiself.pl): the inner request is answered (a
#      response that passes a subrequest-making filter keeps no connection,
#      and a subrequest never waits for a handover).
#   4. An httpd child SIGKILLed while it holds a kept connection: its count
#      in the scoreboard is given back by the process manager within
#      seconds (no connection stands for it any more), and reuse goes on,
#      also across a graceful restart.
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;
use IO::Socket::INET;
use Time::HiRes qw(time);

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";

my %crash = map { $_ => $t->install_app('keepcrash.pl', "$h/crash$_/r.fcgi") } qw(keep off);
my %ssi   = map { $_ => $t->install_app('ssiself.pl', "$h/ssi$_/s.fcgi") } qw(keep off);
my %slow  = map { $_ => $t->install_app('connid', "$h/slow$_/c.fcgi") } qw(one def off);
my $leak  = $t->install_app('connid', "$h/leak/c.fcgi");
for my $k (qw(keep off)) {
    mkdir "$d/w$k";
    chmod 0777, "$d/w$k";
}
# one httpd child: the slow and the fast request of case 2 share it
my $one_child = $t->mpm eq 'prefork'
    ? "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\nMaxRequestWorkers 1\n"
    : "ServerLimit 1\nStartServers 1\nThreadsPerChild 10\nThreadLimit 10\nMinSpareThreads 1\nMaxSpareThreads 10\nMaxRequestWorkers 10\n";
# (prefork with one child cannot run two requests at once: case 2 there
# needs two children)
$one_child = "StartServers 2\nMinSpareServers 2\nMaxSpareServers 2\nServerLimit 2\nMaxRequestWorkers 2\n"
    if $t->mpm eq 'prefork';
$t->start_httpd(<<"EOF", mpm_conf => $one_child, timeout => 6);
LoadModule include_module /usr/lib/apache2/modules/mod_include.so
FastCgiIpcDir $d/ipc
FastCgiServer $crash{keep} -processes 1 -initial-env RV_DIR=$d/wkeep -idle-timeout 10
FastCgiServer $crash{off} -processes 1 -keep-conn 0 -initial-env RV_DIR=$d/woff -idle-timeout 10
FastCgiServer $ssi{keep} -processes 1 -idle-timeout 4
FastCgiServer $ssi{off} -processes 1 -keep-conn 0 -idle-timeout 4
FastCgiServer $slow{one} -processes 3 -keep-conn 1 -init-start-delay 0 -idle-timeout 15
FastCgiServer $slow{def} -processes 3 -init-start-delay 0 -idle-timeout 15
FastCgiServer $slow{off} -processes 3 -keep-conn 0 -init-start-delay 0 -idle-timeout 15
FastCgiServer $leak -processes 1 -idle-timeout 30
<Directory $h/ssikeep>
    Options +Includes
    SetOutputFilter INCLUDES
</Directory>
<Directory $h/ssioff>
    Options +Includes
    SetOutputFilter INCLUDES
</Directory>
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF
$t->allow_log(qr/FCGIX0109|FCGIX041\d|exit signal|AH00052/);

# A class's ?auto values, by application path.
sub class_stat {
    my ($path) = @_;
    my $txt = $t->get('/fcgi-status?auto')->content;
    my ($i) = map { /^Class(\d+): \Q$path\E$/m ? $1 : () } $txt;
    return {} unless defined $i;
    my %v = $txt =~ /^Class${i}(\w+): (.*)$/mg;
    return \%v;
}

# ------------------------------------------------- 1. a POST runs once

for my $k (qw(keep off)) {
    my $c = $t->conn;
    my $r1 = $c->request('GET', "/crash$k/r.fcgi?first");
    is($r1->{code}, 200, "crash $k: a first GET 200 (the connection is kept: $k)");
    my $r2 = eval {
        $c->request('POST', "/crash$k/r.fcgi?crash", body => 'pay=100',
            headers => { 'Content-Type' => 'application/x-www-form-urlencoded' })
    } // { code => 0 };
    $c->close;
    my @ran = slurp("$d/w$k/exec.log") =~ /^POST crash body=pay=100 pid=\d+$/mg;
    is(scalar @ran, 1, "crash $k: the app ran the POST once");
    is($r2->{code}, 502, "crash $k: the client gets 502 (the app died without answering)");
}

# ------------------------------------------------- 2. no wait on a slow one

ok($t->wait_for(sub { my $txt = $t->get('/fcgi-status?auto')->content; (() = $txt =~ /Processes: 3$/mg) >= 3 }, 15),
    'slow: the three -processes 3 apps run their processes');
for my $k (qw(off one def)) {
    my $path = "$h/slow$k/c.fcgi";
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port) or die "connect: $!";
    print $s "GET /slow$k/c.fcgi?sleep_ms=3000 HTTP/1.0\r\nHost: x\r\n\r\n";
    my $t0 = time;
    ok($t->wait_for(sub { (class_stat($path)->{InFlight} // 0) >= 1 }, 5), "slow $k: the 3 s request is in flight");
    my $r = $t->get("/slow$k/c.fcgi");
    my $fast_done = time;
    local $/;
    my $slow_resp = <$s>;
    my $slow_done = time;
    is($r->code, 200, "slow $k: the other request 200");
    like($slow_resp // '', qr/^HTTP\/1\.\d 200/, "slow $k: the slow request 200");
    ok($fast_done < $slow_done - 1, sprintf("slow %s: the other request did not wait for the slow one (%.2f s before it)",
        $k, $slow_done - $fast_done));
}

# ------------------------------------------------- 3. an include of itself

for my $k (qw(off keep)) {
    my $r = $t->get("/ssi$k/s.fcgi");
    is($r->code, 200, "ssi $k: 200");
    like($r->content, qr/before INNER\s+middle\s+after/, "ssi $k: the included response of the same app is there");
}

# ------------------------------------------------- 4. a killed holder

sub seq {
    my $c = $t->conn;
    my @codes = map { $c->request('GET', '/leak/c.fcgi')->{code} } 1 .. $_[0];
    $c->close;
    return @codes;
}
is_deeply([seq(3)], [200, 200, 200], 'killed holder: three requests over one client connection');
my $st = class_stat($leak);
ok(($st->{IdleKept} // 0) >= 1 && ($st->{Reuses} // 0) >= 1, "killed holder: a connection kept and reused ($st->{IdleKept}, $st->{Reuses})");
my $pm = FcgixPM::pm_pid($t);
my @kids = grep { $_ != $pm } FcgixPM::children($t->httpd_pid);
kill 'KILL', @kids;
ok($t->wait_for(sub { !grep { FcgixPM::alive($_) } @kids }, 5), 'killed holder: the httpd children are gone');
ok($t->wait_for(sub { (class_stat($leak)->{IdleKept} // -1) == 0 }, 12),
    'killed holder: the process manager gives its count back');
my $r0 = class_stat($leak)->{Reuses};
is_deeply([seq(5)], [(200) x 5], 'killed holder: five more requests');
ok(class_stat($leak)->{Reuses} > $r0, 'killed holder: connections are kept and reused again');
$r0 = class_stat($leak)->{Reuses};
$t->restart_httpd;
is_deeply([seq(5)], [(200) x 5], 'killed holder: five more after a graceful restart');
ok(class_stat($leak)->{Reuses} > $r0, 'killed holder: and reused after it');

$t->done;
done_testing;
