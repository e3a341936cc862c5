# 22-dynamic.t - dynamic FastCGI applications (a fastcgi-script file that no
# FastCgiServer / FastCgiExternalServer declares), started by the process
# manager (fcgix-pm) on demand, with the FastCgiConfig options.
#
# Configuration 1 (-startDelay 1 -maxClassProcesses 3 -autoUpdate
#                  -restart-delay 1 -initial-env ...; no -restart):
#   - the first request to a cold C hello app succeeds, well under 1 s
#     (the time is reported in a diag);
#   - -initial-env NAME=v, NAME= and NAME (httpd's value, or empty when
#     httpd has none) reach the app's process environment;
#   - a directory without Options ExecCGI: 403 and FCGIX0012 in the log;
#   - a file that is not executable, and a missing file: an error status,
#     within a few seconds (no hang);
#   - 20 concurrent first requests to an app that needs 2 s to start
#     (a shell script that sleeps, then execs hello): all succeed, no
#     more than 3 instances (-maxClassProcesses) ever start, and since
#     they wait longer than -startDelay 1 the PM starts more than one
#     (2 s, not 1: the first instance must not become ready just as
#     the waiting requests pass -startDelay);
#   - -autoUpdate: the binary is replaced by another app (hello ->
#     printenv) with a newer mtime; within a few requests the new binary
#     answers (FCGIX0437 in the log), the old processes are gone, and no
#     request fails on the way; hello put back with an older mtime is run
#     again (a rollback is a change too);
#   - -autoUpdate while a request runs (3 s, a Perl app that dies on
#     SIGTERM): a request after the change answers, the running request
#     completes in full with 200 on its old process, then the old processes
#     end and new ones (on a new socket) serve;
#   - without -restart: a killed instance is not replaced by itself (not
#     within 3 s, longer than -restart-delay); the next request starts a
#     new one and succeeds.
#   - without -restart, an app that exits after every request under 4
#     concurrent clients for 2 s: every request is a complete 200 (requests
#     queued when it exits are served by a new process, not reset).
# Configuration 2 (-killInterval 1 -updateInterval 1 -multiThreshold 100
#                  -minProcesses 0, -singleThreshold 0):
#   - under load (6 concurrent slow requests) the class scales to more
#     than one instance; every request succeeds; once idle the count goes
#     back to exactly 1 and stays there (the last one is kept).
# Configuration 3 (as 2 with -singleThreshold 100):
#   - the same load succeeds; once idle the last instance goes too; the
#     next request starts the app again and succeeds;
#   - every httpd child killed (SIGKILL) while a request talks to the app:
#     the count it held is never given back, yet once idle the instance
#     still goes, and the next request starts it again.
# Configuration 4 (-restart -restart-delay 1):
#   - a killed instance is replaced by the PM by itself (no request), and
#     the replacement serves.
#
# Instances are counted as the live child processes of this test's
# fcgix-pm (the process named fcgix-pm whose parent is this test's httpd),
# told apart by their command line.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $ipc = "$d/ipc";

# ------------------------------------------------------------- helpers

sub timed_get {
    my ($path) = @_;
    my $t0 = time;
    my $r = $t->get($path);
    return ($r, time - $t0);
}

# Up to $n GETs of $path, 0.2 s apart, until one is a 200 whose body
# $want->(body) accepts. Returns (its number or undef, every status).
sub first_answer {
    my ($path, $n, $want) = @_;
    my @codes;
    for my $i (1 .. $n) {
        my $r = $t->get($path);
        push @codes, $r->code;
        return ($i, @codes) if $r->code == 200 && $want->($r->content);
        sleep 0.2;
    }
    return (undef, @codes);
}

# Runs one GET per path, all at once (one forked client each), calling
# $tick->() every 50 ms until all are done (or $timeout). Returns a list
# of { code, content, elapsed } in the order of @$paths (code 0: no
# complete response).
sub parallel_get {
    my ($paths, $tick, $timeout) = @_;
    $timeout //= 40;
    my $rdir = "$d/par." . int(rand(1e9));
    mkdir $rdir;
    my @kids;
    for my $i (0 .. $#$paths) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if (!$pid) {
            my $t0 = time;
            my $raw = eval {
                $t->raw("GET $paths->[$i] HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
                    timeout => $timeout - 2)
            } // '';
            my $r = FcgixTest::parse_response($raw);
            my $code = $r && $r->{complete} ? $r->{code} : 0;
            if (open my $fh, '>:raw', "$rdir/$i") {
                print $fh sprintf("%d %.3f\n", $code, time - $t0), ($r ? $r->{content} : '');
                close $fh;
            }
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    my $end = time + $timeout;
    my %left = map { $_ => 1 } @kids;
    while (%left && time < $end) {
        for my $k (keys %left) {
            delete $left{$k} if waitpid($k, POSIX::WNOHANG()) == $k;
        }
        $tick->() if $tick;
        sleep 0.05 if %left;
    }
    for my $k (keys %left) {    # our own clients only
        kill 'KILL', $k;
        waitpid($k, 0);
    }
    my @res;
    for my $i (0 .. $#$paths) {
        my $c = slurp("$rdir/$i");
        my ($code, $el, $body) = $c =~ /^(\d+) (\S+)\n(.*)\z/s;
        push @res, { code => $code // 0, elapsed => $el // -1, content => $body // '' };
    }
    return @res;
}

# Samples $count->() every 50 ms for $secs; returns (min, max) seen.
sub observe {
    my ($secs, $count) = @_;
    my ($min, $max);
    my $end = time + $secs;
    while (time < $end) {
        my $n = $count->();
        $min = $n if !defined $min || $n < $min;
        $max = $n if !defined $max || $n > $max;
        sleep 0.05;
    }
    return ($min, $max);
}

my $HELLO = "Hello, World\n";

sub base_conf {
    my ($cfg) = @_;
    return <<"EOF";
FastCgiIpcDir $ipc
FastCgiConfig $cfg
AddHandler fastcgi-script .fcgi
<Directory $d/htdocs/dyn>
    Options +ExecCGI
</Directory>
EOF
}

# ---------------------------------------------------------- the apps

my $hello = $t->install_app('hello', 'htdocs/dyn/hello.fcgi');
my $plain = $t->install_app('hello', 'htdocs/dyn/plain.fcgi', 0644);
$t->install_app('hello', 'htdocs/noexec/hello.fcgi');
my $slow_bin = $t->install_app('hello', 'bin/slow-hello');
my $slow = $t->write_file('htdocs/dyn/slow.fcgi',
    "#!/bin/sh\n# starts slowly: 2 s before the app accepts\n/bin/sleep 2\nexec $slow_bin\n", 0755);
my $upd = $t->install_app('hello', 'htdocs/dyn/upd.fcgi');
my $gone = $t->install_app('hello', 'htdocs/dyn/gone.fcgi');
my $resp = $t->install_app('respond', 'htdocs/dyn/respond.fcgi');
# A Perl FCGI app that puts SIGTERM back to its default action: it dies on
# it, as apps without libfcgi's handler do (Python's flup, Go's
# net/http/fcgi); libfcgi's handler would only cut its sleep short.
my $upd2 = $t->write_file('htdocs/dyn/upd2.fcgi', <<'EOF', 0755);
#!/usr/bin/perl
use strict;
use FCGI;
my $req = FCGI::Request();
while ($req->Accept() >= 0) {
    $SIG{TERM} = 'DEFAULT';
    my ($ms) = ($ENV{QUERY_STRING} // '') =~ /sleep_ms=(\d+)/;
    select(undef, undef, undef, $ms / 1000) if $ms;
    print "Content-Type: text/plain\r\n\r\nperl ok\n";
}
EOF

# ======================================================= configuration 1

{
    local $ENV{FCGIX_T22_FROM_HTTPD} = 'value from httpd';
    delete local $ENV{FCGIX_T22_UNSET};
    $t->start_httpd(base_conf('-startDelay 1 -maxClassProcesses 3 -autoUpdate -restart-delay 1 '
            . '-initial-env FCGIX_T22=hello-env -initial-env FCGIX_T22_EMPTY= '
            . '-initial-env FCGIX_T22_FROM_HTTPD -initial-env FCGIX_T22_UNSET'));
}
ok(pm_pid($t), 'fcgix-pm runs as a child of httpd') or diag $t->error_log;

# --- cold start
{
    is(scalar(instances($t, qr/\Q$hello\E/)), 0, 'hello.fcgi: no instance before the first request');
    my ($r, $el) = timed_get('/dyn/hello.fcgi');
    is($r->code, 200, 'cold dynamic app: first request 200') or diag $r->as_string, $t->error_log;
    is($r->content, $HELLO, 'cold dynamic app: body from the app');
    diag sprintf('first request to a cold dynamic hello app took %.3f s (mpm %s)', $el, $t->mpm);
    cmp_ok($el, '<', 0.5, 'cold dynamic app: first request well under a second');
    my @p = instances($t, qr/\Q$hello\E/);
    is(scalar(@p), 1, 'one instance after the first request') or diag "instances: @p";
    ($r, $el) = timed_get('/dyn/hello.fcgi');
    is($r->code, 200, 'second request 200');
    is_deeply([ instances($t, qr/\Q$hello\E/) ], \@p, 'second request served by the same instance');

    # --- -initial-env in the process environment
    my $env = @p ? proc_env($p[0]) : {};
    is($env->{FCGIX_T22}, 'hello-env', '-initial-env NAME=value reaches the process env');
    is($env->{FCGIX_T22_EMPTY}, '', '-initial-env NAME= defines NAME empty');
    is($env->{FCGIX_T22_FROM_HTTPD}, 'value from httpd', "-initial-env NAME passes httpd's value");
    is($env->{FCGIX_T22_UNSET}, '', '-initial-env NAME not in httpd env: defined, empty');
}

# --- Options ExecCGI missing
{
    my ($r, $el) = timed_get('/noexec/hello.fcgi');
    is($r->code, 403, 'no Options ExecCGI: 403');
    $t->log_like(qr/FCGIX0012:.*\Q$d\E\/htdocs\/noexec\/hello\.fcgi/, 'no ExecCGI: FCGIX0012 names the file');
    is(scalar(instances($t, qr/noexec/)), 0, 'no ExecCGI: nothing started');
}

# --- not executable / missing
{
    my ($r, $el) = timed_get('/dyn/plain.fcgi');
    diag sprintf('non-executable dynamic app: %d after %.3f s', $r->code, $el);
    cmp_ok($r->code, '>=', 400, 'non-executable file: error status') or diag $r->as_string;
    cmp_ok($el, '<', 5, 'non-executable file: answered within 5 s (no hang)');
    is(scalar(instances($t, qr/plain\.fcgi/)), 0, 'non-executable file: nothing runs');

    ($r, $el) = timed_get('/dyn/missing.fcgi');
    diag sprintf('missing dynamic app: %d after %.3f s', $r->code, $el);
    is($r->code, 404, 'missing file: 404');
    cmp_ok($el, '<', 5, 'missing file: answered within 5 s (no hang)');
}

# --- 20 concurrent first requests, slow-starting app
{
    my %seen;
    my $max = 0;
    my $count = sub {
        my @p = instances($t, qr/slow/);
        $seen{$_} = 1 for @p;
        $max = @p if @p > $max;
    };
    my $t0 = time;
    my @res = parallel_get([ ('/dyn/slow.fcgi') x 20 ], $count, 40);
    my $el = time - $t0;
    my @ok = grep { $_->{code} == 200 && $_->{content} eq $HELLO } @res;
    is(scalar(@ok), 20, '20 concurrent first requests to a slow-starting app: all 200 with the body')
        or diag join(' ', map { "$_->{code}/$_->{elapsed}" } @res), "\n", $t->error_log;
    $count->() for 1 .. 3;
    diag sprintf('20 concurrent first requests: %.2f s, at most %d instances at once, %d started',
        $el, $max, scalar(keys %seen));
    cmp_ok($max, '<=', 3, '-maxClassProcesses 3: never more than 3 instances at once');
    cmp_ok(scalar(keys %seen), '<=', 3, '-maxClassProcesses 3: no more than 3 instances started');
    cmp_ok(scalar(keys %seen), '>=', 2, '-startDelay 1: requests waiting longer made the PM start more');
}

# --- -autoUpdate
{
    my ($r) = timed_get('/dyn/upd.fcgi');
    is($r->code, 200, 'autoUpdate: app answers');
    is($r->content, $HELLO, 'autoUpdate: the old binary (hello) answers');
    my @old = instances($t, qr/\Q$upd\E/);
    is(scalar(@old), 1, 'autoUpdate: one instance of the old binary');

    # replace the file with another app, newer mtime (rename: no ETXTBSY)
    my $tmp = $t->install_app('printenv', 'htdocs/dyn/.upd.tmp');
    my $future = time + 5;
    utime $future, $future, $tmp;
    rename $tmp, $upd or die "rename: $!";

    my ($new, @codes) = first_answer('/dyn/upd.fcgi', 10, sub { $_[0] =~ /^SCRIPT_FILENAME=\Q$upd\E$/m });
    ok($new, 'autoUpdate: within 10 requests the new binary (printenv) answers')
        or diag "statuses: @codes\n", $t->error_log;
    diag "autoUpdate: new binary answered request #$new" if $new;
    is_deeply([ grep { $_ != 200 } @codes ], [], 'autoUpdate: no request failed during the replacement');
    $t->log_like(qr/FCGIX0437:.*\Q$upd\E/, 'autoUpdate: FCGIX0437 logged for the app');
    my $gone_ok = $t->wait_for(sub { !grep { kill 0, $_ } @old }, 5);
    ok($gone_ok, 'autoUpdate: the old process is gone') or diag "old: @old";
    my @after = map { $t->get('/dyn/upd.fcgi') } 1 .. 3;
    is(scalar(grep { $_->code == 200 && $_->content =~ /^SCRIPT_FILENAME=\Q$upd\E$/m } @after), 3,
        'autoUpdate: later requests all get the new binary');

    # rolled back: the old file put back with its older time (cp -p, a
    # package downgrade) is a change too
    my $back = $t->install_app('hello', 'htdocs/dyn/.upd.back');
    my $past = time - 86400;
    utime $past, $past, $back;
    rename $back, $upd or die "rename: $!";
    my ($rolled) = first_answer('/dyn/upd.fcgi', 10, sub { $_[0] eq $HELLO });
    ok($rolled, 'autoUpdate: a file put back with an older time is run within 10 requests')
        or diag $t->error_log;
}

# --- -autoUpdate while a request runs: it completes on the old process
{
    my $r = $t->get('/dyn/upd2.fcgi');
    is($r->code, 200, 'autoUpdate in flight: app answers');
    # the old processes are those on the first one's listen socket
    my ($first) = instances($t, qr/\Q$upd2\E/);
    my $old_sock = $first ? fd0_inode($first) : -1;
    my $slow = bg_get($t, '/dyn/upd2.fcgi?sleep_ms=3000', 20);
    sleep 0.5;
    my $future = time + 5;
    utime $future, $future, $upd2;
    # waits behind the slow request until -startDelay 1 brings a second
    # process; ending, it tells the PM that the file changed
    my $q = $t->get('/dyn/upd2.fcgi');
    is($q->code, 200, 'autoUpdate in flight: a request after the change answers')
        or diag $q->as_string;
    my @old = grep { (fd0_inode($_) // 0) == $old_sock } instances($t, qr/\Q$upd2\E/);
    $t->log_like(qr/FCGIX0437:.*\Q$upd2\E/, 'autoUpdate in flight: FCGIX0437 logged');
    my $s = bg_wait($slow, 10);
    ok($s && ok200($s) && $s->{body} eq "perl ok\n",
        'autoUpdate in flight: the request running when the change was seen completes (200)')
        or diag $s ? show($s) : 'no result', "\n", $t->error_log;
    cmp_ok($s ? $s->{t1} - $s->{t0} : 0, '>=', 2.9, '... in full (its 3 s, not cut short by a signal)');
    my $gone_ok = $t->wait_for(sub { !grep { kill 0, $_ } @old }, 5);
    ok(@old && $gone_ok, 'autoUpdate in flight: the old processes are gone once it completed')
        or diag "old: @old";
    my $n = $t->get('/dyn/upd2.fcgi');
    my @new = instances($t, qr/\Q$upd2\E/);
    ok($n->code == 200 && @new && !grep({ (fd0_inode($_) // 0) == $old_sock } @new),
        'autoUpdate in flight: later requests are served by new processes (on a new socket)')
        or diag "old: @old new: @new code ", $n->code;
}

# --- without -restart: a dead instance is replaced only by the next request
{
    my $r = $t->get('/dyn/gone.fcgi');
    is($r->code, 200, 'no -restart: app answers');
    my @p = instances($t, qr/\Q$gone\E/);
    is(scalar(@p), 1, 'no -restart: one instance');
    SKIP: {
        skip 'no instance to kill', 5 unless @p == 1;
        kill 'KILL', $p[0];    # a child of this test's fcgix-pm
        ok($t->wait_for(sub { !kill 0, $p[0] }, 5), 'no -restart: instance killed');
        my ($min, $max) = observe(3, sub { scalar instances($t, qr/\Q$gone\E/) });
        is($max, 0, 'no -restart: nothing restarts it by itself within 3 s');
        my ($r2, $el) = timed_get('/dyn/gone.fcgi');
        is($r2->code, 200, 'no -restart: the next request succeeds') or diag $t->error_log;
        is($r2->content, $HELLO, 'no -restart: next request body');
        my @q = instances($t, qr/\Q$gone\E/);
        ok(@q == 1 && $q[0] != $p[0], 'no -restart: the next request started a new instance')
            or diag "instances: @q";
    }
}

# --- without -restart: an app that exits after every request, 4 clients
# (PHP_FCGI_MAX_REQUESTS=1): a request queued when the process exits is one
# of the "next requests", so the class stays and a new process serves it.
{
    $t->install_app('respond', 'htdocs/dyn/exits.fcgi');
    my $load = load_start($t, '/dyn/exits.fcgi?exit=done', 4, 2);
    my @res = load_finish($load);
    my @bad = grep { !ok200($_) } @res;
    cmp_ok(scalar @res, '>', 50, 'no -restart, an app that exits after each request: the load ran ('
        . scalar(@res) . ' requests)');
    is(scalar @bad, 0, '... 4 clients: every request is a complete 200 (none queued on it is reset)')
        or diag scalar(@bad) . ' bad: ' . join(' ', map { $_->{code} } @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
    $t->log_unlike(qr/FCGIX0115:.*exits\.fcgi/, '... and it never backs off (each exit was judged served)');
}

# ======================================================= kill policy
# respond.fcgi?sleep_ms=1500 keeps an instance busy for 1.5 s.

sub load_and_idle {
    my ($label, $single) = @_;
    my $re = qr/\Q$resp\E/;
    my $r = $t->get('/dyn/respond.fcgi');
    is($r->code, 200, "$label: app answers") or diag $t->error_log;
    my $max = 0;
    my @res = parallel_get([ ('/dyn/respond.fcgi?sleep_ms=1500') x 6 ],
        sub { my $n = () = instances($t, $re); $max = $n if $n > $max }, 40);
    is(scalar(grep { $_->{code} == 200 && $_->{content} eq "respond ok\n" } @res), 6,
        "$label: 6 concurrent slow requests all succeed")
        or diag join(' ', map { "$_->{code}/$_->{elapsed}" } @res), "\n", $t->error_log;
    diag "$label: at most $max instances under load";
    cmp_ok($max, '>', 1, "$label: scaled to more than one instance under load");
    my $want = $single ? 0 : 1;
    my $t0 = time;
    my $ok = $t->wait_for(sub { instances($t, $re) == $want }, 15);
    ok($ok, "$label: idle, the count drops to $want") or diag 'instances: ', join(' ', instances($t, $re));
    diag sprintf('%s: count reached %d after %.1f s idle', $label, $want, time - $t0);
    return $ok;
}

# ======================================================= configuration 2
$t->start_httpd(base_conf('-killInterval 1 -updateInterval 1 -multiThreshold 100 -minProcesses 0 '
        . '-startDelay 1 -maxClassProcesses 3'));
{
    my $label = 'kill policy, -singleThreshold 0';
    load_and_idle($label, 0);
    my ($min, $max) = observe(3, sub { scalar instances($t, qr/\Q$resp\E/) });
    is($min, 1, "$label: the last instance stays (3 s more idle)");
    is($max, 1, "$label: and no other starts");
}

# ======================================================= configuration 3
$t->start_httpd(base_conf('-killInterval 1 -updateInterval 1 -multiThreshold 100 -minProcesses 0 '
        . '-singleThreshold 100 -startDelay 1 -maxClassProcesses 3'));
{
    my $label = 'kill policy, -singleThreshold 100';
    load_and_idle($label, 1);
    my ($r, $el) = timed_get('/dyn/respond.fcgi');
    is($r->code, 200, "$label: the next request starts the app again") or diag $t->error_log;
    is($r->content, "respond ok\n", "$label: and gets its answer");

    # An httpd child killed while its request talks to the app never gives
    # its in-flight count back; the idle class must still retire.
    my $b = bg_get($t, '/dyn/respond.fcgi?sleep_ms=1500', 10);
    sleep 0.7;
    my $pm = pm_pid($t);
    my @kids = grep { $_ != $pm } children($t->httpd_pid);
    $t->allow_log(qr/child pid $_ exit signal Killed/) for @kids;
    kill 'KILL', @kids;
    bg_wait($b, 10);
    my $t0 = time;
    my $ok = $t->wait_for(sub { instances($t, qr/\Q$resp\E/) == 0 }, 15);
    ok($ok, "$label: after an httpd child died mid-request, idle, the count still drops to 0")
        or diag 'instances: ', join(' ', instances($t, qr/\Q$resp\E/)), "\n", $t->error_log;
    diag sprintf('%s: count reached 0 after %.1f s', $label, time - $t0) if $ok;
    my $again = $t->get('/dyn/respond.fcgi');
    is($again->code, 200, "$label: and the next request starts it again") or diag $t->error_log;
}

# ======================================================= configuration 4
$t->start_httpd(base_conf('-restart -restart-delay 1'));
{
    my $r = $t->get('/dyn/hello.fcgi');
    is($r->code, 200, '-restart: app answers');
    my @p = instances($t, qr/\Q$hello\E/);
    is(scalar(@p), 1, '-restart: one instance');
    SKIP: {
        skip 'no instance to kill', 4 unless @p == 1;
        kill 'KILL', $p[0];    # a child of this test's fcgix-pm
        ok($t->wait_for(sub { !kill 0, $p[0] }, 5), '-restart: instance killed');
        my $t0 = time;
        my $new;
        $t->wait_for(sub { my @q = grep { $_ != $p[0] } instances($t, qr/\Q$hello\E/); $new = $q[0] }, 10);
        ok($new, '-restart: a new instance appears without any request')
            or diag $t->error_log;
        diag sprintf('-restart: replacement after %.1f s', time - $t0) if $new;
        my $r2 = $t->get('/dyn/hello.fcgi');
        is($r2->code, 200, '-restart: the replacement serves');
        is_deeply([ instances($t, qr/\Q$hello\E/) ], [ $new // -1 ], '-restart: served by the replacement');
    }
}

$t->done;
done_testing;
