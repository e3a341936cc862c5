package FcgixTest;

=head1 NAME

FcgixTest - black-box test harness for mod_fcgix (apache2 + real FastCGI apps)

=head1 SYNOPSIS

    use strict; use warnings;
    use Test::More;
    use FcgixTest;

    my $t   = FcgixTest->new;                       # temp dir, free port
    my $app = $t->start_app(prog => 'hello');       # Unix socket in test dir
    $t->start_httpd(<<"EOF");
    FastCgiIpcDir @{[ $t->dir ]}/ipc
    FastCgiExternalServer @{[ $t->dir ]}/htdocs/hello.fcgi -socket $app->{socket}
    EOF
    my $r = $t->get('/hello.fcgi');
    is $r->code, 200;
    is $r->content, "Hello, World\n";
    $t->done;                 # optional: also run from DESTROY / END
    done_testing;

Run: C<prove -I t/lib t/*.t> from the repository root.

=head1 ENVIRONMENT

  FCGIX_SO    absolute path of mod_fcgix.so (default <repo>/build/mod_fcgix.so)
  FCGIX_MPM   prefork | event | worker (default event)
  FCGIX_ASAN  1: module built with ASan/UBSan; apache2 gets LD_PRELOAD of
              gcc's libasan.so + libubsan.so, ASAN_OPTIONS/UBSAN_OPTIONS with
              log_path=<testdir>/asan resp. <testdir>/ubsan
  FCGIX_KEEP  1: keep the test dir (configs, logs, sockets) after the test
  FCGIX_NO_MODULE 1: do not load mod_fcgix (harness self-check against plain apache2)

If the module file does not exist, new() does C<plan skip_all> (unless
FCGIX_NO_MODULE=1 or new(module => 0)).

=head1 API

=over

=item FcgixTest->new(%o)

Creates a temp dir under /tmp (mode 0755), subdirs htdocs/ and sock/, picks a
free 127.0.0.1 port. Options: module => 0 (do not load mod_fcgix).
Accessors: dir, port, apps_dir (absolute t/apps/bin), so, mpm, root (repo
root), conf_file, error_log_file, base_url ("http://127.0.0.1:PORT").

=item $t->free_port($family)

A currently free TCP port on 127.0.0.1 (or ::1 when $family eq 'inet6').

=item $t->have_ipv6

True when ::1 can be bound.

=item $t->write_file($rel, $content, $mode)

Writes a file inside the test dir (creates subdirs); returns its absolute path.
$mode defaults to 0644. Absolute $rel is used as is.

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

=item $t->conf($fragment, %o)

Writes a complete httpd.conf (returns its path). Options:
  loglevel => 'info'          (default 'warn fcgix:debug' when the module is
                               loaded, else 'warn')
  mpm      => 'prefork'       (default FCGIX_MPM)
  mpm_conf => '...'           replaces the default MPM sizing directives
  modules  => [ 'rewrite', ... ] extra /usr/lib/apache2/modules/mod_NAME.so
  module   => 0               do not load mod_fcgix
  timeout  => N               httpd Timeout (default 20)
  pre      => '...'           text inserted before the module LoadModule lines
The config has: ServerRoot, Listen 127.0.0.1:PORT, ServerName, PidFile,
ErrorLog, LogLevel, DefaultRuntimeDir, Mutex file:DIR, the MPM, authz_core,
authz_host, mime, alias, actions, env, setenvif, dir, cgi (prefork) or cgid
(ScriptSock in DIR), headers, log_config, mod_fcgix, DocumentRoot DIR/htdocs
(<Directory> Require all granted), User/Group www-data when root, Timeout,
KeepAlive on, a CustomLog DIR/access.log, then the fragment.

=item $t->start_httpd($fragment, %o)

conf() + `apache2 -f CONF -k start`, waits (<=10 s) until the port answers;
dies with the command output and error log on failure.

=item $t->start_external(servers => [ 'FILE OPTIONS', ... ], %o)

start_app(%o), then start_httpd with FastCgiIpcDir DIR/ipc and, per entry,
FastCgiExternalServer DIR/htdocs/FILE for that app, followed by the entry's
OPTIONS. Returns the app.

=item $t->try_start_httpd($fragment, %o)

Like start_httpd but does not die: returns (ok, output). ok is true only when
the start command exited 0 AND the server answers within the wait time.

=item $t->restart_httpd($fragment, %o)

Rewrites the config (when $fragment is defined) and runs `apache2 -k graceful`
(or `-k restart` with graceful => 0); waits (<=10 s) for a new
"resuming normal operations" line and the port to answer; dies otherwise.
(start_httpd on a running server stops it first.)

=item $t->config_test($fragment, %o)

conf() + `apache2 -t -f CONF`; returns (exit_ok, combined stdout+stderr).

=item $t->stop_httpd

`apache2 -f CONF -k stop`, waits (<=15 s) for the PidFile's pid to go away.

=item $t->httpd_running

True when the PidFile's pid is alive.

=item $t->get($path, %headers) / $t->head($path, %headers)

=item $t->request($method, $path, headers => {...}, body => $bytes, chunked => 1, chunk_size => N, timeout => s)

Fresh LWP::UserAgent request; returns an HTTP::Response (->code, ->header,
->content). chunked => 1 sends the body with Transfer-Encoding: chunked and no
Content-Length. $path may also be a full URL.

=item $t->ua

The harness' LWP::UserAgent (keep_alive, timeout 30).

=item $t->conn(%o)

A persistent HTTP/1.1 connection (FcgixHttp::Conn) to the server:
  my $c = $t->conn;  my $r = $c->request('GET', '/x', headers => {...}, body => ...);
  $r->{code}, $r->{headers}{lc name}, $r->{content}, $r->{raw_headers};
  $c->local_port; $c->close;
$r is FcgixHttp::parse()'s hash. request() dies if the connection was
closed before a full response arrived.
Options: timeout => s (default 30), host => '127.0.0.1', port => N.

=item $t->raw($bytes, timeout => s, shutdown => 1)

Sends raw bytes on a fresh TCP connection and returns everything read until
close or timeout (default 10 s). Full duplex: reads while it writes, so a
server answering early never blocks on this client. shutdown => 1 half-closes
after sending. In list context returns ($data, $closed_by_peer,
$elapsed_seconds, $bytes_written). See parse_response() below.

=item $t->error_log / $t->access_log

Current contents.

=item $t->log_like($re, $name, timeout => s) / $t->log_unlike($re, $name)

log_like waits (default <= 5 s) for $re to match the error log; it is a test.
log_unlike is a test too (no waiting).

=item $t->wait_for(sub { ... }, $timeout)

Polls the code ref every 50 ms until true or timeout; returns its last value.

=item $t->allow_log($re)

Error log lines matching $re are exempt from the crash checks in done (e.g. a
test that deliberately kills something).

=item $t->done

(Also: the harness installs INT/TERM/HUP/PIPE handlers that stop httpd and
the apps before the test process dies of the signal; the test dir is kept.)

Cleanup (idempotent; also run from DESTROY and END, including after die):
stops httpd, kills tracked apps (TERM, then KILL), then adds FAILING tests if
the error log holds a sanitizer report ("AddressSanitizer", "runtime error:",
"LeakSanitizer"), "Segmentation fault" or "exit signal", if asan.* / ubsan.*
files exist in the test dir, or if any process started by this test (apps,
apache2 with this CONF) is still alive. After a failure it prints the last
lines of the error log. Removes the test dir unless FCGIX_KEEP=1.

=item FcgixTest::parse_response($raw, $method)

Parses raw response bytes (as raw() returns them) with FcgixHttp::parse():
{ code, status_line, headers, header_list, content, complete, rest, ... },
or undef when there is no status line and header block (see below).

=item FcgixTest::slurp($path, $default)

The file's contents; $default (when given, else '') when it cannot be opened.
Exported on request: C<use FcgixTest qw(slurp);>.

=item FcgixTest::md5_hex($bytes), FcgixTest::pattern($n)

Helpers: hex MD5; $n bytes of the pattern respond.c emits for size=N
("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n" repeated).

=back

=cut

use strict;
use warnings;
use Test::More ();
use Test::Builder;
use File::Temp ();
use File::Path qw(make_path remove_tree);
use File::Basename qw(dirname);
use File::Spec;
use Cwd qw(abs_path);
use Socket qw(:all);
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Socket::UNIX;
use IO::Select;
use POSIX qw(:sys_wait_h setsid);
use Time::HiRes qw(time sleep);
use Digest::MD5 ();
use Scalar::Util qw(weaken);
use LWP::UserAgent;
use HTTP::Request;
use Exporter 'import';
use FcgixHttp ();

our $VERSION = '0.1';
our @EXPORT_OK = qw(slurp);

my $ROOT = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..'));
my $MODDIR = '/usr/lib/apache2/modules';
my @LIVE;    # weak refs to live harness objects, for END

sub root { $ROOT }

sub new {
    my ($class, %o) = @_;
    my $so = $ENV{FCGIX_SO} || "$ROOT/build/mod_fcgix.so";
    $so = abs_path($so) // $so if -e $so;
    my $module = exists $o{module} ? $o{module} : !$ENV{FCGIX_NO_MODULE};
    if ($module && !-f $so) {
        Test::More::plan(skip_all => "mod_fcgix not built ($so missing)");
    }
    my $mpm = $ENV{FCGIX_MPM} || 'event';
    die "FCGIX_MPM must be prefork|event|worker\n" unless $mpm =~ /^(prefork|event|worker)$/;
    my $dir = File::Temp::tempdir('fcgix-XXXXXX', DIR => '/tmp', CLEANUP => 0);
    chmod 0755, $dir;
    my $self = bless {
        dir      => $dir,
        so       => $so,
        mpm      => $mpm,
        module   => $module,
        asan     => $ENV{FCGIX_ASAN} ? 1 : 0,
        apps     => [],
        app_seq  => 0,
        owner    => $$,
        allow    => [],
        done     => 0,
        httpd_started => 0,
    }, $class;
    make_path("$dir/htdocs", "$dir/sock", "$dir/logs", { mode => 0755 });
    chmod 0755, "$dir/htdocs", "$dir/sock", "$dir/logs";
    $self->{port} = $self->free_port;
    push @LIVE, $self;
    weaken($LIVE[-1]);
    _install_signal_handlers();
    return $self;
}

# A test killed by a signal (Ctrl-C, timeout(1), prove's stdout closed) runs
# no END blocks: stop what we started anyway, then die of the same signal.
my $handlers_installed;
sub _install_signal_handlers {
    return if $handlers_installed++;
    my $owner = $$;
    for my $sig (qw(INT TERM HUP PIPE)) {
        next if ref $SIG{$sig} || ($SIG{$sig} // '') eq 'IGNORE';
        $SIG{$sig} = sub {
            if ($$ == $owner) {
                for my $t (grep { defined } @LIVE) {
                    next if $t->{done};
                    $t->{done} = 1;
                    eval { $t->stop_httpd if $t->{httpd_started} };
                    eval { $t->stop_app($_) for @{ $t->{apps} } };
                }
            }
            $SIG{$sig} = 'DEFAULT';
            kill $sig, $$;
            POSIX::_exit(128 + 1);
        };
    }
}

sub dir       { $_[0]{dir} }
sub port      { $_[0]{port} }
sub so        { $_[0]{so} }
sub mpm       { $_[0]{mpm} }
sub apps_dir  { "$ROOT/t/apps/bin" }
sub conf_file { "$_[0]{dir}/httpd.conf" }
sub error_log_file { "$_[0]{dir}/logs/error.log" }
sub pid_file  { "$_[0]{dir}/logs/httpd.pid" }
sub base_url  { "http://127.0.0.1:$_[0]{port}" }

sub free_port {
    my ($self, $family) = @_;
    my $host = ($family && $family eq 'inet6') ? '::1' : '127.0.0.1';
    for (1 .. 50) {
        my $s = IO::Socket::IP->new(LocalHost => $host, LocalPort => 0, Listen => 1, ReuseAddr => 0)
            or die "cannot bind $host:0: $!\n";
        my $p = $s->sockport;
        close $s;
        next if $self->{used_ports}{$p}++;    # never hand out the same port twice
        return $p;
    }
    die "free_port: no unused port found\n";
}

sub have_ipv6 {
    my $s = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
    return $s ? 1 : 0;
}

sub write_file {
    my ($self, $rel, $content, $mode) = @_;
    my $path = File::Spec->file_name_is_absolute($rel) ? $rel : "$self->{dir}/$rel";
    make_path(dirname($path), { mode => 0755 });
    open my $fh, '>:raw', $path or die "write $path: $!\n";
    print $fh $content;
    close $fh or die "close $path: $!\n";
    chmod(defined $mode ? $mode : 0644, $path);
    return $path;
}

sub slurp {
    my ($path, @default) = @_;
    open my $fh, '<:raw', $path or return @default ? $default[0] : '';
    local $/;
    my $c = <$fh>;
    return defined $c ? $c : '';
}

sub md5_hex { Digest::MD5::md5_hex($_[0]) }

sub pattern {
    my ($n) = @_;
    my $p = join('', '0' .. '9', 'a' .. 'z', 'A' .. 'Z') . "\n";
    my $s = $p x (int($n / length $p) + 1);
    return substr($s, 0, $n);
}

sub app_path {
    my ($self, $name) = @_;
    return $name if File::Spec->file_name_is_absolute($name);
    my $p = $name =~ /\./ ? "$ROOT/t/apps/$name" : "$ROOT/t/apps/bin/$name";
    system('make', '-s', '-C', "$ROOT/t/apps") if !-f $p && $name !~ /\./;
    die "test app $p missing (run make -C t/apps)\n" unless -f $p;
    return $p;
}

sub install_app {
    my ($self, $name, $dst, $mode) = @_;
    my $bin = slurp($self->app_path($name));
    die "cannot read $name\n" unless length $bin;
    return $self->write_file($dst, $bin, $mode // 0755);
}

# ------------------------------------------------------------------ apps

sub start_app {
    my ($self, %o) = @_;
    my $prog = $self->app_path($o{prog} // die "start_app: prog required\n");
    my $n = ++$self->{app_seq};
    my $name = $o{name} // "app$n";
    my $count = $o{count} // 1;
    my $backlog = $o{backlog} // 128;
    my $app = { name => $name, pids => [], log => "$self->{dir}/logs/$name.log" };
    my $lsock;
    if ($o{tcp} || $o{host}) {
        my $host = $o{host} // '127.0.0.1';
        my $port = $o{port} // $self->free_port($host =~ /:/ ? 'inet6' : 'inet');
        $lsock = IO::Socket::IP->new(LocalHost => $host, LocalPort => $port,
            Listen => $backlog, ReuseAddr => 1)
            or die "start_app: listen $host:$port: $@\n";
        $app->{host} = $host;
        $app->{port} = $port;
        $app->{hostport} = $host =~ /:/ ? "[$host]:$port" : "$host:$port";
        $app->{spec} = "-host $app->{hostport}";
    }
    else {
        my $path = $o{socket} // "$self->{dir}/sock/$name.sock";
        unlink $path;
        $lsock = IO::Socket::UNIX->new(Local => $path, Type => SOCK_STREAM, Listen => $backlog)
            or die "start_app: listen $path: $!\n";
        chmod 0666, $path;
        $app->{socket} = $path;
        $app->{spec} = "-socket $path";
    }
    $app->{lsock} = $lsock if $o{keep_socket};
    my %env = (PATH => '/usr/local/bin:/usr/bin:/bin', %{ $o{env} || {} });
    my ($uid, $gid);
    if ($o{user} && $> == 0) {
        (undef, undef, $uid, $gid) = getpwnam($o{user}) or die "no user $o{user}\n";
    }
    for (1 .. $count) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if (!$pid) {
            eval {
                setpgrp(0, 0);
                POSIX::dup2(fileno($lsock), 0) // die "dup2: $!";
                open STDOUT, '>>', $app->{log} or die "stdout: $!";
                open STDERR, '>&', \*STDOUT or die "stderr: $!";
                if (defined $uid) {
                    $( = $) = "$gid $gid";
                    $< = $> = $uid;
                }
                %ENV = %env;
                if ($prog =~ /\.pl$/) {
                    exec { $^X } $^X, $prog, @{ $o{args} || [] };
                }
                else {
                    exec { $prog } $prog, @{ $o{args} || [] };
                }
                die "exec $prog: $!";
            };
            print STDERR "start_app child: $@\n";
            POSIX::_exit(127);
        }
        push @{ $app->{pids} }, $pid;
    }
    close $lsock unless $o{keep_socket};
    push @{ $self->{apps} }, $app;
    return $app;
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

# ------------------------------------------------------------------ httpd

sub conf {
    my ($self, $frag, %o) = @_;
    $frag //= '';
    my $d = $self->{dir};
    my $mpm = $o{mpm} // $self->{mpm};
    my $module = exists $o{module} ? $o{module} : $self->{module};
    my $loglevel = $o{loglevel} // ($module ? 'warn fcgix:debug' : 'warn');
    my $timeout = $o{timeout} // 20;
    my $mpm_conf = $o{mpm_conf} // ($mpm eq 'prefork'
        ? "StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\nServerLimit 16\nMaxRequestWorkers 16\n"
        : "ServerLimit 4\nStartServers 2\nThreadsPerChild 10\nThreadLimit 10\nMinSpareThreads 10\nMaxSpareThreads 40\nMaxRequestWorkers 40\n");
    my @mods = (
        "mpm_$mpm", qw(authz_core authz_host mime alias actions env setenvif dir),
        ($mpm eq 'prefork' ? 'cgi' : 'cgid'), qw(headers log_config),
        @{ $o{modules} || [] },
    );
    my $load = join '', map { "<IfModule !${_}_module>\n    LoadModule ${_}_module $MODDIR/mod_$_.so\n</IfModule>\n" } @mods;
    $load .= "LoadModule fcgix_module $self->{so}\n" if $module;
    my $user = $> == 0 ? "User www-data\nGroup www-data\n" : '';
    my $cgid = $mpm eq 'prefork' ? '' : "ScriptSock $d/logs/cgisock\n";
    my $pre = $o{pre} // '';
    my $conf = <<"EOF";
# generated by FcgixTest
ServerRoot /etc/apache2
DefaultRuntimeDir $d/logs
Mutex file:$d/logs default
PidFile $d/logs/httpd.pid
Listen 127.0.0.1:$self->{port}
ServerName 127.0.0.1
ErrorLog $d/logs/error.log
LogLevel $loglevel
$pre
$load
$mpm_conf
$user
$cgid
Timeout $timeout
KeepAlive On
MaxKeepAliveRequests 1000
KeepAliveTimeout 5
TypesConfig /etc/mime.types
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" fcgixtest
CustomLog $d/logs/access.log fcgixtest
DocumentRoot $d/htdocs
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory $d/htdocs>
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
DirectoryIndex index.html

$frag
EOF
    $self->write_file('httpd.conf', $conf, 0644);
    return $self->conf_file;
}

sub _env_prefix {
    my ($self) = @_;
    my %e;
    if ($self->{asan}) {
        my $asan = `gcc -print-file-name=libasan.so`; chomp $asan;
        my $ubsan = `gcc -print-file-name=libubsan.so`; chomp $ubsan;
        $e{LD_PRELOAD} = "$asan $ubsan";
        $e{ASAN_OPTIONS} = "detect_leaks=0:abort_on_error=0:log_path=$self->{dir}/asan";
        $e{UBSAN_OPTIONS} = "print_stacktrace=1:log_path=$self->{dir}/ubsan";
    }
    return %e;
}

# run a command with extra env, capture combined output; returns (exit_status, output)
sub _run {
    my ($self, @cmd) = @_;
    my %e = $self->_env_prefix;
    local @ENV{ keys %e } = values %e;
    local $ENV{LANG} = 'C';
    my $pid = open(my $fh, '-|');
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        open STDIN, '<', '/dev/null';
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return ($?, $out // '');
}

sub config_test {
    my ($self, $frag, %o) = @_;
    my $conf = $self->conf($frag, %o);
    my ($st, $out) = $self->_run('/usr/sbin/apache2', '-t', '-f', $conf);
    return ($st == 0 ? 1 : 0, $out);
}

sub _port_answers {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port},
        Proto => 'tcp', Timeout => 1);
    return $s ? 1 : 0;
}

sub try_start_httpd {
    my ($self, $frag, %o) = @_;
    $self->stop_httpd if $self->{httpd_started} && $self->httpd_running;
    my $conf = $self->conf($frag, %o);
    unlink $self->pid_file;
    $self->{httpd_started} = 1;
    my ($st, $out) = $self->_run('/usr/sbin/apache2', '-f', $conf, '-k', 'start');
    return (0, $out) if $st != 0;
    my $wait = $o{wait} // 10;
    my $end = time + $wait;
    while (time < $end) {
        if (-s $self->pid_file && $self->_port_answers) {
            my $pid = $self->httpd_pid;
            return (1, $out) if $pid && kill(0, $pid);
        }
        sleep 0.1;
    }
    return (0, $out);
}

sub start_httpd {
    my ($self, $frag, %o) = @_;
    my ($ok, $out) = $self->try_start_httpd($frag, %o);
    return 1 if $ok;
    my $log = $self->error_log;
    die "apache2 failed to start (mpm $self->{mpm}):\n--- output:\n$out\n--- error log:\n$log\n";
}

sub start_external {
    my ($self, %o) = @_;
    my $servers = delete $o{servers} // [];
    my $app = $self->start_app(%o);
    my $h = "$self->{dir}/htdocs";
    my $conf = "FastCgiIpcDir $self->{dir}/ipc\n";
    for my $s (@$servers) {
        my ($file, $opts) = split / /, $s, 2;
        $conf .= "FastCgiExternalServer $h/$file $app->{spec}" . (defined $opts ? " $opts" : '') . "\n";
    }
    $self->start_httpd($conf);
    return $app;
}

sub restart_httpd {
    my ($self, $frag, %o) = @_;
    my $how = $o{graceful} // 1 ? 'graceful' : 'restart';
    my $re = qr/resuming normal operations/;
    my $before = () = $self->error_log =~ /$re/g;
    $self->conf($frag, %o) if defined $frag;
    my ($st, $out) = $self->_run('/usr/sbin/apache2', '-f', $self->conf_file, '-k', $how);
    die "apache2 -k $how failed:\n$out\n" if $st != 0;
    my $ok = $self->wait_for(sub {
        my $n = () = $self->error_log =~ /$re/g;
        $n > $before && $self->_port_answers;
    }, $o{wait} // 10);
    die "apache2 did not come back after -k $how:\n" . _tail($self->error_log, 40) unless $ok;
    return 1;
}

sub httpd_pid {
    my ($self) = @_;
    my $p = slurp($self->pid_file);
    return $p =~ /(\d+)/ ? $1 : undef;
}

sub httpd_running {
    my ($self) = @_;
    my $pid = $self->httpd_pid;
    return $pid && kill(0, $pid) ? 1 : 0;
}

# pids of all processes whose command line mentions our config file
sub httpd_pids {
    my ($self) = @_;
    my $conf = $self->conf_file;
    my @pids;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $cl = slurp("/proc/$p/cmdline");
        next unless length $cl;
        my @a = split /\0/, $cl;
        next unless grep { $_ eq $conf } @a;
        my $stat = slurp("/proc/$p/stat");
        next if $stat =~ /^\d+ \(.*?\) Z/s;    # zombie
        push @pids, $p;
    }
    return @pids;
}

sub stop_httpd {
    my ($self) = @_;
    return 1 unless -f $self->conf_file;
    my $pid = $self->httpd_pid;
    if (!$pid || !kill(0, $pid)) {
        return 1;
    }
    $self->_run('/usr/sbin/apache2', '-f', $self->conf_file, '-k', 'stop');
    my $end = time + 15;
    while (time < $end) {
        return 1 unless kill 0, $pid;
        sleep 0.1;
    }
    return 0;
}

sub error_log  { slurp($_[0]->error_log_file) }
sub access_log { slurp("$_[0]{dir}/logs/access.log") }

sub wait_for {
    my ($self, $code, $timeout) = @_;
    my $end = time + ($timeout // 5);
    my $v;
    while (1) {
        $v = $code->();
        return $v if $v || time >= $end;
        sleep 0.05;
    }
}

sub log_like {
    my ($self, $re, $name, %o) = @_;
    my $ok = $self->wait_for(sub { $self->error_log =~ $re }, $o{timeout} // 5);
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $tb = Test::Builder->new;
    $tb->ok($ok, $name // "error log matches $re")
        or $tb->diag("error log:\n" . _tail($self->error_log, 40));
    return $ok;
}

sub log_unlike {
    my ($self, $re, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $tb = Test::Builder->new;
    my $log = $self->error_log;
    my $ok = $log !~ $re;
    $tb->ok($ok, $name // "error log does not match $re")
        or $tb->diag("error log:\n" . _tail($log, 40));
    return $ok;
}

sub _tail {
    my ($s, $n) = @_;
    my @l = split /\n/, $s;
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l) . "\n";
}

sub allow_log { push @{ $_[0]{allow} }, $_[1] }

# ------------------------------------------------------------------ HTTP client

sub ua {
    my ($self) = @_;
    $self->{ua} ||= LWP::UserAgent->new(keep_alive => 4, timeout => 30, max_redirect => 0,
        agent => 'FcgixTest/1.0');
    return $self->{ua};
}

sub _url {
    my ($self, $path) = @_;
    return $path if $path =~ m{^https?://};
    return $self->base_url . $path;
}

sub get {
    my ($self, $path, %h) = @_;
    return $self->request('GET', $path, headers => \%h);
}

sub head {
    my ($self, $path, %h) = @_;
    return $self->request('HEAD', $path, headers => \%h);
}

sub request {
    my ($self, $method, $path, %o) = @_;
    my $req = HTTP::Request->new($method => $self->_url($path));
    my $h = $o{headers} || {};
    $req->header($_ => $h->{$_}) for keys %$h;
    if (defined $o{body}) {
        if ($o{chunked}) {
            my $body = $o{body};
            my $cs = $o{chunk_size} || 65536;
            my $pos = 0;
            $req->content(sub {
                return '' if $pos >= length $body;
                my $c = substr($body, $pos, $cs);
                $pos += length $c;
                return $c;
            });
        }
        else {
            $req->content($o{body});
            $req->header('Content-Length' => length $o{body});
        }
    }
    my $ua = $self->ua;
    local $ua->{timeout} = $o{timeout} if $o{timeout};
    return $ua->request($req);
}

sub conn {
    my ($self, %o) = @_;
    return FcgixHttp::Conn->new(host => $o{host} // '127.0.0.1', port => $o{port} // $self->{port},
        timeout => $o{timeout} // 30);
}

sub raw {
    my ($self, $bytes, %o) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $timeout = $o{timeout} // 10;
    my $t0 = time;
    my $s = IO::Socket::IP->new(PeerHost => $o{host} // '127.0.0.1',
        PeerPort => $o{port} // $self->{port}, Timeout => 5)
        or die "raw: connect: $@\n";
    binmode $s;
    $s->blocking(0);
    my $off = 0;
    my $wdone = length($bytes) == 0;
    shutdown($s, 1) if $wdone && $o{shutdown};
    my $data = '';
    my $closed = 0;
    my $end = $t0 + $timeout;
    # full duplex: keep reading while writing, so a server that answers
    # before it has read the whole request is never blocked by this client
    while ((my $left = $end - time) > 0) {
        my $rs = IO::Select->new($s);
        my $ws = $wdone ? undef : IO::Select->new($s);
        my ($r, $w) = IO::Select->select($rs, $ws, undef, $left);
        if ($w && @$w) {
            my $n = syswrite($s, $bytes, 65536 < length($bytes) - $off ? 65536 : length($bytes) - $off, $off);
            if (defined $n) {
                $off += $n;
            }
            elsif (!$!{EAGAIN} && !$!{EWOULDBLOCK} && !$!{EINTR}) {
                $wdone = 1;    # peer reset / closed: just read what it sent
            }
            if ($off >= length $bytes && !$wdone) {
                $wdone = 1;
                shutdown($s, 1) if $o{shutdown};
            }
        }
        if ($r && @$r) {
            my $n = sysread($s, my $buf, 65536);
            if (defined $n && $n == 0) { $closed = 1; last }
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                $closed = 1;
                last;
            }
            $data .= $buf;
        }
    }
    close $s;
    return wantarray ? ($data, $closed, time - $t0, $off) : $data;
}

=head2 FcgixTest::parse_response($raw, $method)

FcgixHttp::parse() of bytes read until the server closed (as raw() returns
them), so a body delimited by the close counts as complete: its hash, or
undef when no status line and header block arrived. $method 'HEAD' means
no body.

=cut

sub parse_response {
    my ($raw, $method) = @_;
    my $r = FcgixHttp::parse($raw, method => $method // 'GET', eof => 1);
    return $r->{headers_done} && defined $r->{code} ? $r : undef;
}

# ------------------------------------------------------------------ cleanup

sub _comm {
    my ($pid) = @_;
    my $c = slurp("/proc/$pid/comm");
    chomp $c;
    return $c;
}

# Live processes (not zombies, not this test) whose working directory,
# executable or command line lies in the test directory.
sub procs_in_dir {
    my ($self) = @_;
    my $dir = $self->{dir};
    my @p;
    opendir my $dh, '/proc' or return;
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        next if $pid == $$;
        my $stat = slurp("/proc/$pid/stat");
        next if $stat eq '' || $stat =~ /^\d+ \(.*\) Z/s;
        my $cwd = readlink("/proc/$pid/cwd") // '';
        my $exe = readlink("/proc/$pid/exe") // '';
        my $cmd = slurp("/proc/$pid/cmdline") // '';
        push @p, $pid
            if index($cwd, $dir) == 0 || index($exe, $dir) == 0 || index($cmd, $dir) >= 0;
    }
    closedir $dh;
    return @p;
}

sub done {
    my ($self) = @_;
    return if $self->{done} || $$ != $self->{owner};
    $self->{done} = 1;
    my $tb = Test::Builder->new;
    my @problems;

    if ($self->{httpd_started}) {
        $self->stop_httpd or push @problems, "apache2 did not stop within 15 s";
    }
    for my $app (@{ $self->{apps} }) {
        $self->stop_app($app);
    }
    # anything of ours still alive?
    if ($self->{httpd_started}) {
        my $end = time + 5;
        my @left;
        while (1) {
            @left = $self->httpd_pids;
            last if !@left || time > $end;
            sleep 0.1;
        }
        if (@left) {
            push @problems, "apache2 processes still alive after stop: @left";
            kill 'KILL', $_ for @left;
        }
    }
    # processes the module started (fcgix-pm, the apps it ran from this
    # test's directory) must be gone too; the PM gives apps 3 s to exit
    if ($self->{httpd_started}) {
        my $end = time + 6;
        my @left;
        while (1) {
            @left = $self->procs_in_dir;
            last if !@left || time > $end;
            sleep 0.1;
        }
        if (@left) {
            push @problems, "processes of this test still alive after stop: "
                . join(', ', map { "$_ (" . _comm($_) . ")" } @left);
            kill 'KILL', $_ for @left;
        }
    }
    for my $app (@{ $self->{apps} }) {
        for my $pid (@{ $app->{pids} }) {
            if (kill(0, $pid) || kill(0, -$pid)) {
                push @problems, "app $app->{name} pid $pid (or its process group) still alive";
                kill 'KILL', -$pid;
                kill 'KILL', $pid;
            }
        }
    }
    # crash / sanitizer evidence
    my $log = $self->error_log;
    my @bad;
    for my $line (split /\n/, $log) {
        next unless $line =~ /AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault|exit signal/;
        next if grep { $line =~ $_ } @{ $self->{allow} };
        push @bad, $line;
    }
    push @problems, "error log shows a crash or sanitizer report:\n" . join("\n", @bad[0 .. ($#bad < 19 ? $#bad : 19)])
        if @bad;
    opendir my $dh, $self->{dir};
    my @san = grep { /^(asan|ubsan)\./ } readdir $dh;
    closedir $dh;
    for my $f (@san) {
        my $c = slurp("$self->{dir}/$f");
        push @problems, "sanitizer log $f:\n" . substr($c, 0, 4000);
    }
    for my $p (@problems) {
        $tb->ok(0, "cleanup: no crash, no leftovers (mpm $self->{mpm})");
        $tb->diag($p);
    }
    if (@problems || !$tb->is_passing) {
        # the log is what a failure leaves behind (CI has no test dir to look at)
        $tb->diag("error log ($self->{dir}/logs), last lines:\n" . _tail($log, 60));
    }
    if ($ENV{FCGIX_KEEP}) {
        $tb->diag("test dir kept: $self->{dir}");
    }
    else {
        remove_tree($self->{dir});
    }
}

sub DESTROY {
    my ($self) = @_;
    local ($@, $!, $?);
    eval { $self->done };
}

END {
    my $st = $?;
    for my $t (grep { defined } @LIVE) {
        eval { $t->done };
    }
    $? = $st;
}

1;
