#!/usr/bin/perl
# bench/spawn.pl - a minimal process manager for the benchmarks (bench/run.sh,
# bench/auth.sh): a listening socket on fd 0 of N children, like mod_fastcgi's
# PM or cgi-fcgi -start would do it, but bound to loopback only and killable
# through one PID (SIGTERM -> children get SIGTERM, then SIGKILL). A child
# that exits is replaced (at most 100 times).
#
#   perl spawn.pl unix:PATH|tcp:HOST:PORT N USER|- LOG COMMAND ARGS...
use strict;
use warnings;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use POSIX ();

my ($listen, $n, $user, $log, @cmd) = @ARGV;
my $sock;
if ($listen =~ m{^unix:(.+)$}) {
    my $path = $1;
    unlink $path;
    $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path, Listen => 1024)
        or die "spawn: listen $path: $!\n";
    chmod 0666, $path;
} elsif ($listen =~ m{^tcp:(.+):(\d+)$}) {
    $sock = IO::Socket::INET->new(LocalAddr => $1, LocalPort => $2, Listen => 1024,
                                  ReuseAddr => 1, Proto => 'tcp')
        or die "spawn: listen $1:$2: $!\n";
} else {
    die "spawn: bad listen spec $listen\n";
}
my ($uid, $gid);
if ($user ne '-') {
    (undef, undef, $uid, $gid) = getpwnam($user) or die "spawn: no user $user\n";
}

my %kids;
my $stopping = 0;
my $respawns = 0;

sub spawn_one {
    my $pid = fork;
    die "spawn: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        $SIG{TERM} = $SIG{INT} = 'DEFAULT';
        POSIX::dup2(fileno($sock), 0) or POSIX::_exit(126);
        open(STDOUT, '>>', $log) or POSIX::_exit(126);
        open(STDERR, '>&', \*STDOUT) or POSIX::_exit(126);
        if (defined $uid) {
            POSIX::setgid($gid) or POSIX::_exit(126);
            $) = "$gid $gid";
            POSIX::setuid($uid) or POSIX::_exit(126);
        }
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    $kids{$pid} = 1;
}

setpgrp(0, 0);    # the bench falls back to killing this process group
$SIG{TERM} = $SIG{INT} = sub { $stopping = 1 };
spawn_one() for 1 .. $n;

while (%kids) {
    if ($stopping) {
        kill 'TERM', keys %kids;
        my $deadline = time + 5;
        while (%kids && time < $deadline) {
            my $pid = waitpid(-1, POSIX::WNOHANG());
            if ($pid > 0) { delete $kids{$pid} } else { select(undef, undef, undef, 0.05) }
        }
        kill 'KILL', keys %kids;
        while (%kids) { my $pid = waitpid(-1, 0); last if $pid <= 0; delete $kids{$pid} }
        last;
    }
    # Perl restarts a blocking waitpid after a signal, so poll: select() is
    # interrupted by SIGTERM and $stopping is seen at once.
    my $pid = waitpid(-1, POSIX::WNOHANG());
    if ($pid <= 0) { select(undef, undef, undef, 0.2); next }
    next unless delete $kids{$pid};
    if (!$stopping && $respawns++ < 100) {
        print STDERR "spawn: child $pid exited (status $?), respawning\n";
        spawn_one();
    }
}
exit 0;
