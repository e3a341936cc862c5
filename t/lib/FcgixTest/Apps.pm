package FcgixTest::Apps;

=head1 NAME

FcgixTest::Apps - the test apps and other processes a FcgixTest starts

=head1 DESCRIPTION

Methods of the harness object (FcgixTest inherits them): finding and
installing the apps of t/apps, starting them the way a process manager
does, starting any command, stopping what was started. Everything started
here is tracked in $t->{apps} and stopped by $t->done.

=over

=item $t->app_path($name)

Absolute path of a built test app (t/apps/bin/NAME) or of t/apps/NAME when
NAME contains a dot (e.g. printenv.pl). Runs `make -C t/apps` once if a
binary is missing; dies if it is still missing.

=item $t->install_app($name, $dst, $mode)

Copies the test app $name (as app_path finds it) to $dst (relative to the
test dir, or absolute; subdirs are created) with $mode (default 0755); returns
the absolute path. Dies when the app cannot be read.

=item $t->start_app(%o)

Starts an external FastCGI app like a process manager: the harness creates the
listening socket and fork+execs the app with it as fd 0.
  prog    => 'hello' | 'printenv.pl' | absolute path    (required)
  args    => [ ... ]          extra argv
  env     => { K => V }       environment (default: PATH + the given keys only)
  count   => N                N processes sharing one socket (default 1)
  tcp     => 1                TCP on 127.0.0.1 (or host => '::1' for IPv6)
  host    => '127.0.0.1'|'::1'
  port    => N                (default: a free one)
  socket  => path             Unix socket path (default <dir>/sock/appN.sock)
  keep_socket => 1            the harness keeps its copy of the listen socket
                              open (default: closed after fork, so connections
                              are refused once all app processes are gone)
  user    => 'www-data'       drop privileges in the child (when root)
  backlog => N                listen backlog (default 128)
Returns a hashref: { socket => path | undef, host, port, hostport
("127.0.0.1:port" or "[::1]:port"), spec ("-socket PATH" or "-host H:P"),
pids => [..], log => <file with the apps' stdout+stderr>, name }.
All pids are tracked and killed at cleanup.

=item $t->spawn(\@cmd, name => ..., env => {...}, log => file)

Starts any command (stdin /dev/null, stdout+stderr appended to the log,
default <dir>/logs/NAME.log), tracked and killed at cleanup like an app
(e.g. php-fpm -F -y CONF). env given: PATH + those keys only; else the
current environment. Returns { name, pids => [pid], log }; stop_app() works
on it.

=item $t->stop_app($app, $signal)

Kills the app's processes (default TERM, then KILL after 3 s) and reaps them.

=back

=cut

use strict;
use warnings;
use File::Spec;
use IO::Socket::IP;
use IO::Socket::UNIX;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

sub app_path {
    my ($self, $name) = @_;
    return $name if File::Spec->file_name_is_absolute($name);
    my $apps = $self->root . '/t/apps';
    my $p = $name =~ /\./ ? "$apps/$name" : "$apps/bin/$name";
    system('make', '-s', '-C', $apps) if !-f $p && $name !~ /\./;
    die "test app $p missing (run make -C t/apps)\n" unless -f $p;
    return $p;
}

sub install_app {
    my ($self, $name, $dst, $mode) = @_;
    my $bin = FcgixTest::slurp($self->app_path($name));
    die "cannot read $name\n" unless length $bin;
    return $self->write_file($dst, $bin, $mode // 0755);
}

# ------------------------------------------------------------------ apps

sub start_app {
    my ($self, %o) = @_;
    my $prog = $self->app_path($o{prog} // die "start_app: prog required\n");
    my $n = ++$self->{app_seq};
    my $name = $o{name} // "app$n";
    my $app = { name => $name, pids => [], log => "$self->{dir}/logs/$name.log" };
    my $lsock = $self->_app_listen($app, %o);
    $app->{lsock} = $lsock if $o{keep_socket};
    my %env = (PATH => '/usr/local/bin:/usr/bin:/bin', %{ $o{env} || {} });
    my @ids;
    if ($o{user} && $> == 0) {
        @ids = (getpwnam($o{user}))[2, 3] or die "no user $o{user}\n";
    }
    my @argv = ($prog =~ /\.pl$/ ? ($^X, $prog) : ($prog), @{ $o{args} || [] });
    for (1 .. $o{count} // 1) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        _app_child($lsock, $app->{log}, \%env, \@ids, @argv) if !$pid;
        push @{ $app->{pids} }, $pid;
    }
    close $lsock unless $o{keep_socket};
    push @{ $self->{apps} }, $app;
    return $app;
}

# The app's listen socket (TCP with tcp/host, else Unix); fills in the
# app's address fields.
sub _app_listen {
    my ($self, $app, %o) = @_;
    my $backlog = $o{backlog} // 128;
    if ($o{tcp} || $o{host}) {
        my $host = $o{host} // '127.0.0.1';
        my $port = $o{port} // $self->free_port($host =~ /:/ ? 'inet6' : 'inet');
        my $lsock = IO::Socket::IP->new(LocalHost => $host, LocalPort => $port,
            Listen => $backlog, ReuseAddr => 1)
            or die "start_app: listen $host:$port: $@\n";
        $app->{host} = $host;
        $app->{port} = $port;
        $app->{hostport} = $host =~ /:/ ? "[$host]:$port" : "$host:$port";
        $app->{spec} = "-host $app->{hostport}";
        return $lsock;
    }
    my $path = $o{socket} // "$self->{dir}/sock/$app->{name}.sock";
    unlink $path;
    my $lsock = IO::Socket::UNIX->new(Local => $path, Type => SOCK_STREAM, Listen => $backlog)
        or die "start_app: listen $path: $!\n";
    chmod 0666, $path;
    $app->{socket} = $path;
    $app->{spec} = "-socket $path";
    return $lsock;
}

# In the forked child: the listen socket on fd 0 (as a process manager
# hands it over), output to the log, the user's ids, then exec. Never
# returns.
sub _app_child {
    my ($lsock, $log, $env, $ids, @argv) = @_;
    eval {
        setpgrp(0, 0);
        POSIX::dup2(fileno($lsock), 0) // die "dup2: $!";
        open STDOUT, '>>', $log or die "stdout: $!";
        open STDERR, '>&', \*STDOUT or die "stderr: $!";
        if (@$ids) {
            my ($uid, $gid) = @$ids;
            $( = $) = "$gid $gid";
            $< = $> = $uid;
        }
        %ENV = %$env;
        exec { $argv[0] } @argv;
        die "exec $argv[0]: $!";
    };
    print STDERR "start_app child: $@\n";
    POSIX::_exit(127);
}

sub spawn {
    my ($self, $cmd, %o) = @_;
    my $n = ++$self->{app_seq};
    my $name = $o{name} // "proc$n";
    my $app = { name => $name, pids => [], log => $o{log} // "$self->{dir}/logs/$name.log" };
    my %env = $o{env} ? (PATH => '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', %{ $o{env} }) : %ENV;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        eval {
            setpgrp(0, 0);
            open STDIN, '<', '/dev/null' or die "stdin: $!";
            open STDOUT, '>>', $app->{log} or die "stdout: $!";
            open STDERR, '>&', \*STDOUT or die "stderr: $!";
            %ENV = %env;
            exec { $cmd->[0] } @$cmd;
            die "exec $cmd->[0]: $!";
        };
        print STDERR "spawn child: $@\n";
        POSIX::_exit(127);
    }
    push @{ $app->{pids} }, $pid;
    push @{ $self->{apps} }, $app;
    return $app;
}

sub _reap {
    my ($pid, $timeout) = @_;
    my $end = time + $timeout;
    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        return 1 if $r == $pid || $r == -1;
        sleep 0.05;
    }
    return 0;
}

sub stop_app {
    my ($self, $app, $sig) = @_;
    $sig //= 'TERM';
    # each app process leads its own process group (setpgrp in the child),
    # so its own children (e.g. php-fpm workers) go with it
    for my $pid (@{ $app->{pids} }) {
        next if $app->{reaped}{$pid};
        kill $sig, -$pid;
        kill $sig, $pid;
    }
    for my $pid (@{ $app->{pids} }) {
        next if $app->{reaped}{$pid};
        if (!_reap($pid, 3)) {
            kill 'KILL', -$pid;
            kill 'KILL', $pid;
            _reap($pid, 3);
        }
        $app->{reaped}{$pid} = 1;
    }
    for my $pid (@{ $app->{pids} }) {
        my $end = time + 3;
        sleep 0.05 while kill(0, -$pid) && time < $end;
        kill 'KILL', -$pid if kill 0, -$pid;
    }
    close $app->{lsock} if $app->{lsock};
    delete $app->{lsock};
}

1;
