# 41-pm-inputs.t - what the process manager (fcgix-pm) takes from those it
# cannot trust: the doorbell, which every httpd child can write (and so any
# code a child runs, as www-data), and its applications' stdout and stderr.
#
#   doorbell read end: the httpd children (MPM workers) hold the doorbell's
#     write end, never its read end (/proc/PID/fdinfo flags), so a child
#     cannot take other children's messages.
#   doorbell flood: a process running as www-data, writing through a
#     child's write end (/proc/CHILD/fd/N) for 8 s as fast as it can,
#     well-formed but bogus messages (SPAWN of files that do not exist, with
#     a newline and a forged "[core:emerg]" line in the path, OVERLOADED and
#     CHANGED for them, unknown types, a wrong magic, a path without NUL):
#       - the status page's heartbeat stays fresh (age <= 2 s, alive) all
#         along: the PM's timer work runs on time;
#       - requests to a static app all get 200;
#       - at most a handful of lines about the flood reach the error log,
#         then one FCGIX0450 line with the count;
#       - the logged path is escaped (\x0a), and no line of the error log
#         starts with the forged text;
#       - afterwards the same PM still starts a dynamic app on request.
#   applications' stdout and stderr (t/apps/outside.c, 2 processes):
#       - each process's fds 1 and 2 are a pipe, not the error log;
#       - its startup lines on fd 1 and fd 2 appear in the error log as
#         FCGIX0302 lines tagged with the app's path and the process's pid;
#       - control bytes (ESC, NUL, CR) come out as \xHH; a newline followed
#         by forged "[...] [core:emerg]" text is a line of its own that
#         still begins with the PM's prefix and tag;
#       - a 5000-byte line is cut at 1024 bytes, marked "[line cut]";
#       - ftruncate() on its fd 2 fails, and the error log keeps its lines;
#       - a 4 MB flood on fd 2 (over 3 s): the request completes, a static app keeps
#         answering 200 meanwhile, the heartbeat stays fresh, at most the
#         per-process budget (16 KiB per 10 s, 100-byte lines) of it is
#         logged, and one FCGIX0303 line counts the rest.
use strict;
use warnings;
use Test::More;
use POSIX ();
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixPM;

my $t   = FcgixTest->new;
my $d   = $t->dir;
my $h   = "$d/htdocs";
my $ipc = "$d/ipc";
my (undef, undef, $www_uid, $www_gid) = getpwnam('www-data');
plan skip_all => 'needs root (opens the doorbell through /proc, drops to www-data)'
    unless $> == 0 && defined $www_uid;

my $hello   = $t->install_app('hello', "$h/hello/hello.fcgi");
my $outside = $t->install_app('outside', "$h/out/outside.fcgi");
my $dyn     = $t->install_app('hello', "$h/dyn/dyn.fcgi");

$t->start_httpd(<<"EOF");
FastCgiIpcDir $ipc
FastCgiServer $hello
FastCgiServer $outside -processes 2 -init-start-delay 0
AddHandler fastcgi-script .fcgi
<Directory $h/dyn>
    Options +ExecCGI
</Directory>
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
EOF

my $pm = pm_pid($t);
ok($pm, 'the process manager runs') or BAIL_OUT('no fcgix-pm');

# ------------------------------------------------------------ helpers

# [fd, link target] of every open fd of $pid
sub fds {
    my ($pid) = @_;
    opendir my $dh, "/proc/$pid/fd" or return ();
    my @r = map { [$_, readlink("/proc/$pid/fd/$_") // ''] } grep { /^\d+$/ } readdir $dh;
    closedir $dh;
    return @r;
}

# the access mode of an fd: 0 read, 1 write, 2 both (fdinfo flags, octal)
sub fd_mode {
    my ($pid, $fd) = @_;
    my ($f) = slurp("/proc/$pid/fdinfo/$fd") =~ /^flags:\s+([0-7]+)/m;
    return defined $f ? oct($f) & 3 : -1;
}

# the MPM's worker processes: the httpd parent's apache2 children that
# hold httpd's listening socket (the test's port in /proc/net/tcp)
sub workers {
    my $hp = $t->httpd_pid or return ();
    my $port = sprintf('%04X', $t->port);
    my %listen;
    for my $l (split /\n/, slurp('/proc/net/tcp')) {
        my @f = split ' ', $l;
        $listen{"socket:[$f[9]]"} = 1 if @f > 9 && $f[1] =~ /:$port$/ && $f[3] eq '0A';
    }
    return grep {
        my $f = pstat($_);
        $f && $f->[1] eq 'apache2' && grep { $listen{ $_->[1] } } fds($_)
    } children($hp);
}

# the status page's process-manager lines
sub pm_status {
    my $c = $t->get('/fcgi-status?auto')->content;
    my %s = $c =~ /^(FcgixPM\w+): (-?\d+)$/mg;
    return \%s;
}

# Calls $probe->() every 0.2 s until $done->() is true or $secs pass.
sub during {
    my ($secs, $done, $probe) = @_;
    my $end = time + $secs;
    while (time < $end && !$done->()) {
        $probe->();
        sleep 0.2;
    }
}

sub log_lines { grep { $_[0]->($_) } split /\n/, $t->error_log }

my $FORGED = '[Mon Jan 01 00:00:00 2024] [core:emerg] [pid 1]';

# ------------------------------------------------ the doorbell's ends

# The workers' ends of the PM's pipes whose read end the PM holds (the
# doorbell; the PM's other pipes are its apps' output): "pid/fd" lists of
# the read ends and of the write ends, and one write end as [pid, fd].
sub bell_ends {
    my %pm_read = map { $_->[1] => 1 }
        grep { $_->[1] =~ /^pipe:/ && fd_mode($pm, $_->[0]) == 0 } fds($pm);
    my (@read_ends, @write_ends, $one);
    for my $c (workers()) {
        for my $f (grep { $pm_read{ $_->[1] } } fds($c)) {
            if (fd_mode($c, $f->[0]) == 1) {
                push @write_ends, "$c/$f->[0]";
                $one = [$c, $f->[0]];
            } else {
                push @read_ends, "$c/$f->[0]";
            }
        }
    }
    return (\@read_ends, \@write_ends, $one);
}

my ($bell_child, $bell_fd);
{
    ok(scalar(workers()) >= 1, 'found the httpd workers');
    # A worker closes the read end in its child_init, just after the fork:
    # wait for the workers to be past it (a sanitizer build is slow there).
    my ($r, $w, $one);
    $t->wait_for(sub { ($r, $w, $one) = bell_ends(); @$w && !@$r }, 10);
    ok(@$w >= 1, 'the httpd workers hold the doorbell\'s write end');
    is_deeply($r, [], 'no httpd worker holds the doorbell\'s read end')
        or diag "read ends in workers: @$r";
    ($bell_child, $bell_fd) = @$one if $one;
}

# ------------------------------------------------ the doorbell flood

SKIP: {
    skip 'no doorbell write end found', 9 unless $bell_child;
    my $MAGIC = 0x4c4c4542;
    open my $bell, '>', "/proc/$bell_child/fd/$bell_fd"
        or die "open the doorbell through /proc/$bell_child/fd/$bell_fd: $!";
    binmode $bell;
    my $writer = fork // die "fork: $!";
    if (!$writer) {
        $) = "$www_gid $www_gid";    # no supplementary groups of root's
        POSIX::setgid($www_gid);
        POSIX::setuid($www_uid);
        POSIX::_exit(1) if $> == 0 || $< == 0 || grep { $_ == 0 } split ' ', $);
        # batches of 7 messages (3696 bytes: one atomic write each), made
        # before the flood so that it runs at the pipe's speed
        my @batches;
        for my $i (1 .. 32) {
            my $path = "/nonexistent/fcgix-flood-$i\n$FORGED FORGED-BY-BELL";
            push @batches, join '', (
                pack('L4 a512', $MAGIC, 1, $www_uid, $www_gid, $path),  # SPAWN
                pack('L4 a512', $MAGIC, 2, $www_uid, $www_gid, $path),  # OVERLOADED
                pack('L4 a512', $MAGIC, 3, $www_uid, $www_gid, $path),  # CHANGED
                pack('L4 a512', $MAGIC, 77, $www_uid, $www_gid, $path), # unknown
                pack('L4 a512', 0x12345678, 1, $www_uid, $www_gid, $path),
                pack('L4', $MAGIC, 1, $www_uid, $www_gid) . ('A' x 512), # no NUL
                pack('L4 a512', $MAGIC, 1, 0, 0, "/bin/sh\n$FORGED FORGED-ROOT"),
            );
        }
        # Non-blocking, retried at once when the pipe is full: a blocked
        # writer waits to be woken while the PM empties the pipe, and the PM
        # would get its pauses from the scheduler, not from its own bounds.
        my $fl = fcntl($bell, F_GETFL, 0) // POSIX::_exit(2);
        fcntl($bell, F_SETFL, $fl | O_NONBLOCK) // POSIX::_exit(2);
        my $end = time + 8;
        my $i = 0;
        while (time < $end) {
            for (1 .. 100) {
                my $n = syswrite($bell, $batches[ $i % @batches ]);
                POSIX::_exit(2) if !defined $n && !$!{EAGAIN};
                $i++ if defined $n;
            }
        }
        POSIX::_exit(0);
    }
    close $bell;
    my (@codes, @beats, @alive, $wstatus);
    my $writer_done = sub {
        return 1 if defined $wstatus;
        $wstatus = $? if waitpid($writer, POSIX::WNOHANG()) == $writer;
        return defined $wstatus;
    };
    during(9, $writer_done, sub {
        my $r = http_once($t, '/hello/hello.fcgi', 5);
        push @codes, $r->{code};
        my $s = pm_status();
        push @beats, $s->{FcgixPMHeartbeatAge} // 99;
        push @alive, $s->{FcgixPMAlive} // 0;
    });
    if (!$writer_done->()) {
        kill 'KILL', $writer;
        waitpid($writer, 0);
        $wstatus = $?;
    }
    is($wstatus, 0, 'the flooding process wrote as www-data until the end');
    my @bad = grep { $_ != 200 } @codes;
    ok(@codes >= 10 && !@bad, 'requests during the doorbell flood: all 200')
        or diag scalar(@codes) . " requests, codes: @codes";
    my $max = (sort { $b <=> $a } @beats)[0] // 99;
    ok(@beats >= 10 && $max <= 2, "heartbeat stays fresh during the flood (oldest seen: $max s)")
        or diag "ages: @beats";
    ok(!grep({ !$_ } @alive), 'the process manager counts as alive all along') or diag "@alive";
    $t->log_like(qr/FCGIX0450: doorbell: [1-9]\d* more refused requests not logged and [1-9]\d* malformed/,
        'one line counts the refused and malformed messages not logged', timeout => 15);
    my @flood = log_lines(sub { $_[0] =~ /fcgix-flood-|FORGED-ROOT|FCGIX0450/ });
    ok(@flood >= 2 && @flood <= 12, 'the flood left a bounded number of log lines (' . scalar(@flood) . ')')
        or diag join("\n", @flood[0 .. ($#flood < 20 ? $#flood : 20)]);
    ok((grep { /FCGIX0435: refused to start \/nonexistent\/fcgix-flood-\d+\\x0a\[Mon Jan 01/ } @flood),
        'the refused path is logged escaped');
    my @forged = log_lines(sub { $_[0] =~ /^\Q$FORGED\E/ });
    is(scalar @forged, 0, 'no error log line starts with the forged text') or diag "@forged[0 .. 2]";
    is(pm_pid($t), $pm, 'the same process manager runs');
    my $r = http_once($t, '/dyn/dyn.fcgi', 15);
    ok(ok200($r) && $r->{body} eq "Hello, World\n", 'after the flood a dynamic app is started on request')
        or diag show($r);
}

# ------------------------------------------- the apps' stdout and stderr

my @op = wait_pids($t, $outside, 2, 10);
is(scalar @op, 2, 'the outside app runs 2 processes');
my $log_file = $t->error_log_file;
for my $p (@op) {
    my $l1 = readlink("/proc/$p/fd/1") // '';
    my $l2 = readlink("/proc/$p/fd/2") // '';
    like($l2, qr/^pipe:\[\d+\]$/, "pid $p: fd 2 is a pipe ($l2)");
    is($l1, $l2, "pid $p: fd 1 is the same pipe");
}
for my $p (@op) {
    $t->log_like(qr/FCGIX0302: \Q$outside\E \(pid $p\): outside: hello on stdout$/m,
        "pid $p: its stdout reaches the error log, tagged with the app and pid");
    $t->log_like(qr/FCGIX0302: \Q$outside\E \(pid $p\): outside: hello on stderr$/m,
        "pid $p: its stderr too");
}

{
    my $say = "evil \e[31mred\0nul\r\ninj\n$FORGED FORGED-BY-APP\n";
    (my $q = $say) =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
    my $r = http_once($t, "/out/outside.fcgi?say=$q&long=5000", 10);
    ok(ok200($r), 'a request that writes outside the protocol: 200') or diag show($r);
    $t->log_like(qr/FCGIX0302: \Q$outside\E \(pid \d+\): evil \\x1b\[31mred\\x00nul$/m,
        'control bytes come out escaped, CR LF ends the line');
    $t->log_like(qr/\] FCGIX0302: \Q$outside\E \(pid \d+\): \Q$FORGED\E FORGED-BY-APP$/m,
        'a forged line after a newline is an app line with the PM\'s prefix');
    my @forged = log_lines(sub { $_[0] =~ /^\Q$FORGED\E/ });
    is(scalar @forged, 0, 'no error log line starts with the forged text') or diag "@forged";
    $t->log_like(qr/FCGIX0302: \Q$outside\E \(pid \d+\): L{1024} \[line cut\]$/m,
        'a 5000-byte line is cut at 1024 bytes and marked');
}

{
    my $before = -s $log_file;
    my $r = http_once($t, '/out/outside.fcgi?truncate=1', 10);
    ok(ok200($r), 'truncate request: 200') or diag show($r);
    like($r->{body}, qr/^ftruncate: (?!ok)/m, 'ftruncate() on the app\'s fd 2 fails') or diag $r->{body};
    cmp_ok(-s $log_file, '>=', $before, 'the error log is not truncated');
    like(slurp($log_file), qr/resuming normal operations/, 'the error log keeps its first lines');
}

{
    my $n = 4_000_000;
    my $bg = bg_get($t, "/out/outside.fcgi?flood=$n&flood_ms=3000", 60);
    my (@codes, @beats);
    during(60, sub { bg_done($bg) }, sub {
        push @codes, http_once($t, '/hello/hello.fcgi', 5)->{code};
        push @beats, pm_status()->{FcgixPMHeartbeatAge} // 99;
    });
    my $r = bg_wait($bg, 5, kill => 1);
    ok($r && $r->{code} == 200 && $r->{body} =~ /^wrote $n$/m, 'the request that wrote 4 MB to stderr completed')
        or diag $r ? "code $r->{code}: $r->{body}" : 'no answer';
    ok(@codes >= 5 && !grep({ $_ != 200 } @codes),
        'requests to another app during the flood: all 200 (' . scalar(@codes) . ')')
        or diag "@codes";
    ok(!grep({ $_ > 2 } @beats), 'heartbeat fresh during the flood') or diag "@beats";
    $t->log_like(qr/FCGIX0303: \Q$outside\E \(pid \d+\): \d+ bytes of its stdout\/stderr not logged/,
        'one line counts the output not logged', timeout => 15);
    my @lines = log_lines(sub { $_[0] =~ /outside flood / });
    # the budget is 16384 bytes per process and 10 s (the lines that cross
    # it are logged whole): two intervals at most while the flood lasted
    cmp_ok(scalar @lines, '<=', 2 * (16384 / 100 + 1), 'at most the budget of the flood is logged');
    cmp_ok(scalar @lines, '>=', 10, 'the start of the flood is logged');
    my $dropped = 0;
    $dropped += $_ for map { /: (\d+) bytes of its stdout/ ? $1 : 0 } log_lines(sub { $_[0] =~ /FCGIX0303: \Q$outside\E/ });
    cmp_ok($dropped, '>=', $n - 2 * 16500, 'FCGIX0303 counts what was not logged');
}

$t->done;
done_testing;
