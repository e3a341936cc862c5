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

=item Apps and processes: app_path, install_app, start_app, spawn, stop_app

See L<FcgixTest::Apps>.

=item apache2: conf, start_httpd, start_external, try_start_httpd, restart_httpd, config_test, stop_httpd, httpd_running, httpd_pid, httpd_env

See L<FcgixTest::Httpd>.

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
# the methods that start and stop apps and apache2 live in their own modules
use parent qw(FcgixTest::Apps FcgixTest::Httpd);

our $VERSION = '0.1';
our @EXPORT_OK = qw(slurp);

my $ROOT = abs_path(File::Spec->catdir(dirname(abs_path(__FILE__)), '..', '..'));
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
    my @problems = ($self->_stop_all, $self->_leftovers, $self->_crash_evidence);
    for my $p (@problems) {
        $tb->ok(0, "cleanup: no crash, no leftovers (mpm $self->{mpm})");
        $tb->diag($p);
    }
    if (@problems || !$tb->is_passing) {
        # the log is what a failure leaves behind (CI has no test dir to look at)
        $tb->diag("error log ($self->{dir}/logs), last lines:\n" . _tail($self->error_log, 60));
    }
    if ($ENV{FCGIX_KEEP}) {
        $tb->diag("test dir kept: $self->{dir}");
    }
    else {
        remove_tree($self->{dir});
    }
}

# Stops httpd and the apps this test started; the problems seen.
sub _stop_all {
    my ($self) = @_;
    my @problems;
    if ($self->{httpd_started}) {
        $self->stop_httpd or push @problems, "apache2 did not stop within 15 s";
    }
    $self->stop_app($_) for @{ $self->{apps} };
    return @problems;
}

# Polls $list (a code ref giving pids) for up to $secs; kills and reports
# what is still alive then.
sub _wait_gone {
    my ($list, $secs, $what) = @_;
    my $end = time + $secs;
    my @left;
    while (1) {
        @left = $list->();
        last if !@left || time > $end;
        sleep 0.1;
    }
    return () unless @left;
    my $problem = $what->(@left);    # (names them while they are alive)
    kill 'KILL', $_ for @left;
    return $problem;
}

# Anything of ours still alive after the stop: apache2 processes, what the
# module started (fcgix-pm, the apps it ran from this test's directory: the
# PM gives apps 3 s to exit), the apps the harness started.
sub _leftovers {
    my ($self) = @_;
    my @problems;
    if ($self->{httpd_started}) {
        push @problems, _wait_gone(sub { $self->httpd_pids }, 5,
            sub { "apache2 processes still alive after stop: @_" });
        push @problems, _wait_gone(sub { $self->procs_in_dir }, 6,
            sub { "processes of this test still alive after stop: " . join(', ', map { "$_ (" . _comm($_) . ")" } @_) });
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
    return @problems;
}

# Crash or sanitizer evidence: error log lines (not exempted by allow_log)
# and asan.* / ubsan.* files in the test dir.
sub _crash_evidence {
    my ($self) = @_;
    my @problems;
    my @bad;
    for my $line (split /\n/, $self->error_log) {
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
    return @problems;
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
