# 52-review-attacks.t - an attacker's review of the issue 15/16 changes
# (module lifecycle, failing state, -watch, -vhost-only, X-Sendfile,
# X-Accel-Redirect, streaming, the client watch): each attack found,
# written as the failure it was, so that none comes back once fixed; and the
# attacks the review tried that the module withstood, so that they stay
# withstood. The attacker is a hostile application (it names the files
# X-Sendfile serves and owns what it writes below its -sendfile-root) or a
# client. Findings: /work/notes/review-15.md (R1, R2, ...).
#
#   1. (finding R1) The client watch (mod_fcgix_io.c poll_app) takes a
#      client that half-closed its side of the connection (shutdown(SHUT_WR)
#      after its request: `nc -N`, HTTP/1.0 scripts, a pipelining client
#      that sends all its requests and then its FIN) for a client gone, and
#      the handler then returns OK with nothing sent: the client gets
#      "200 OK, Content-Length: 0", a complete-looking empty answer, for
#      every request to an application that was silent for a moment (each
#      pipelined one too). httpd answers the same client for a static file;
#      a half-close is no hang-up. Must: 200 with the application's body.
#   2. (finding R2) The X-Sendfile file is sent as an APR file bucket with
#      mmap allowed (apr_brigade_insert_file's default; EnableMMAP is not
#      consulted). The file is the app's own (below its root, it may write
#      there): a filter that reads the bucket (mod_deflate here; mod_ssl on
#      every https response) reads the mapping, and when the app truncates
#      the file meanwhile the httpd child dies of SIGBUS, with every other
#      connection it serves (event/worker: all its threads). Driven
#      deterministically: the client stops reading while deflate is in the
#      middle of a 16 MB file, the file is truncated, the client reads on.
#      Must: the serving httpd child survives (no "exit signal Bus error").
#   3. (finding R3) An app's response that httpd's CGI header parser turns
#      into a 304 (the app's ETag meets the client's If-None-Match) returns
#      before fcgix_deliver_headers (mod_fcgix_response.c
#      headers_complete): X-Sendfile (the server-side path), X-Accel-
#      Redirect and X-Accel-Buffering stay in headers_out and reach the
#      client. Must: none of them in the 304.
#   4. (finding R4) -vhost-only keeps another virtual host's request
#      from the app by declining it in fixups (mod_fcgix.c fcgix_fixups);
#      where that host maps the same file and sets no handler for it (a
#      shared DocumentRoot, the default host reaching a site's directory by
#      IP), httpd's default handler then serves the application's file
#      itself: the executable, or a script's source with whatever secrets
#      it holds. Without -vhost-only the app would have answered. Must: not
#      200, never the file's bytes (404, as through a fastcgi-script
#      handler, FCGIX0016).
#   5. (withstood) X-Sendfile's refusals log the resolved
#      path unescaped, and a symbolic link below the root can give it a
#      newline; httpd's error log escapes it (\n): no forged line.
#   6. (withstood) X-Sendfile escapes: "..", a symbolic link out of the
#      root, /proc/self/root and /proc/self/cwd magic links, a root given
#      through a symbolic link that is later pointed elsewhere, a FIFO (no
#      hang: O_NONBLOCK) and a device below the root, a relative path, an
#      app without -sendfile-root: each refused (502, or 404 for a missing
#      file below the root), the outside file never sent, X-Sendfile never
#      shown to the client. A directory swapped with a symbolic link to
#      outside in a loop while requests name a file below it: never the
#      outside file.
#   7. (withstood) X-Accel-Redirect to a location that httpd denies
#      (Require all denied) or that a FastCgiAccessChecker guards: the
#      internal redirect runs the access checks again (403).
use strict;
use warnings;
use Test::More;
use POSIX ();
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in
    unpack_sockaddr_in);
use IO::Socket::IP;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
plan skip_all => 'needs root (apache2 runs as www-data, the test plays the app)'
    unless $> == 0;

my $root = "$d/files";       # the app's -sendfile-root
my $out  = "$d/outside";     # what it must never reach
mkdir $_ or die "$_: $!" for $root, $out, "$root/sub";
chmod 0755, $d, $root, $out, "$root/sub";
$t->write_file("$root/inside.txt", "INSIDE\n");
$t->write_file("$root/sub/f.txt", "INSIDE-SUB\n");
$t->write_file("$out/secret.txt", "SECRET\n");
$t->write_file("$out/f.txt", "SECRET-F\n");
$t->write_file("$h/static.txt", "STATIC\n");
symlink "$d/rootlink-target", "$d/rootlink";
mkdir "$d/rootlink-target";
$t->write_file("$d/rootlink-target/r.txt", "VIA-ROOTLINK\n");

$t->write_file("$h/denied/secret.txt", "DENIED-SECRET\n");
$t->write_file("$h/guarded/secret.txt", "GUARDED-SECRET\n");
my $app = $t->start_app(prog => 'respond');
my $authz = $t->start_app(prog => 'authz', name => 'authz');
$t->start_httpd(<<"EOF", modules => ['deflate']);
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/r.fcgi $app->{spec} -sendfile-root $root -sendfile-root $d/rootlink
FastCgiExternalServer $h/plain.fcgi $app->{spec}
FastCgiExternalServer $h/acc.fcgi $app->{spec} -accel-redirect
FastCgiExternalServer $d/auth/authz $authz->{spec}
<Location /denied>
    Require all denied
</Location>
<Location /guarded>
    FastCgiAccessChecker $d/auth/authz
</Location>
<Location /r.fcgi>
    SetOutputFilter DEFLATE
</Location>
EOF

sub q_esc {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9_.\/-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# GET /r.fcgi answering "X-Sendfile: PATH" (and the given extra headers).
sub sendfile_get {
    my ($path, %o) = @_;
    my $url = ($o{app} // '/r.fcgi') . '?hdr=' . q_esc("X-Sendfile: $path");
    $url .= '&hdr=' . q_esc($_) for @{ $o{hdr} || [] };
    return $t->get($url, %{ $o{headers} || {} });
}

# ------------------------------------------------------- 1. (R1) half-close

{
    my $st = FcgixTest::parse_response(
        scalar $t->raw("GET /static.txt HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", shutdown => 1));
    is $st && $st->{code}, 200, 'R1: httpd answers a half-closed client (static file)';
    is $st && $st->{content}, "STATIC\n", 'R1: ... with the file';
    # finding R1: fails on the module of 4a5b535 (200 with Content-Length: 0)
    my $r = FcgixTest::parse_response(scalar $t->raw(
        "GET /r.fcgi?sleep_ms=300 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", shutdown => 1));
    is $r && $r->{code}, 200, 'R1: a client that half-closed after its request gets an answer';
    is $r && $r->{content}, "respond ok\n", 'R1: ... with the application\'s body';
    # two pipelined requests, then the client's FIN
    my ($raw) = $t->raw("GET /r.fcgi?sleep_ms=300 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            . "GET /r.fcgi?size=100 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        shutdown => 1);
    my @bodies = $raw =~ /\r\n\r\n([^H]*)/g;
    is scalar(grep { length } @bodies), 2, 'R1: pipelined requests then a FIN: both answers have their body';
}

# ------------------------------ (withstood) log line injection via realpath

{
    my $evil = "$out/x\nAH00000: forged by the application";
    mkdir $evil or die "mkdir: $!";
    $t->write_file("$evil/f", "EVIL\n");
    symlink $evil, "$root/inj" or die "symlink: $!";
    my $r = sendfile_get("$root/inj/f");
    is $r->code, 502, 'withstood: X-Sendfile through a link out of the root: 502';
    unlike $r->content, qr/EVIL/, 'withstood: ... the file is not sent';
    $t->log_like(qr/FCGIX0150/, 'withstood: the refusal is logged');
    $t->log_unlike(qr/^AH00000: forged/m, 'withstood: no log line of the application\'s making');
}

# ------------------------------------------- 2. (R2) truncated while mapped

# The pid of the apache2 process that holds the server side of the TCP
# connection from local port $cport.
sub server_pid_of {
    my ($cport) = @_;
    my $want = sprintf(':%04X', $cport);
    my $inode;
    for my $l (split /\n/, slurp('/proc/net/tcp')) {
        my @f = split ' ', $l;
        next unless @f > 9 && $f[2] && $f[2] =~ /\Q$want\E$/ && $f[1] =~ /:([0-9A-F]{4})$/;
        next unless hex($1) == $t->port;
        $inode = $f[9];
    }
    return unless $inode;
    my $hp = $t->httpd_pid or return;
    opendir my $pd, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $pd) {
        my $st = slurp("/proc/$p/stat") // next;
        next unless $st =~ /\) \S+ (\d+)/ && $1 == $hp;
        opendir my $fd, "/proc/$p/fd" or next;
        for (readdir $fd) {
            my $l = readlink("/proc/$p/fd/$_") // next;
            return $p if $l eq "socket:[$inode]";
        }
    }
    return;
}

# The server side's unsent bytes (tx_queue) of that connection.
sub server_txq {
    my ($cport) = @_;
    my $want = sprintf(':%04X', $cport);
    for my $l (split /\n/, slurp('/proc/net/tcp')) {
        my @f = split ' ', $l;
        next unless @f > 9 && $f[2] =~ /\Q$want\E$/;
        my ($tx) = $f[4] =~ /^([0-9A-F]+):/ or next;
        return hex $tx;
    }
    return 0;
}

# Alive: not a zombie, and still holding its descriptors (a process dying
# of a signal closes them, and so the client's connection, before it
# becomes a zombie: after the client's EOF this is no race).
sub alive_not_zombie {
    my ($pid) = @_;
    my $st = slurp("/proc/$pid/stat") // return 0;
    return 0 unless $st =~ /\) ([^Z]) /;
    opendir my $fd, "/proc/$pid/fd" or return 0;
    return scalar(grep { /^\d+$/ } readdir $fd) > 0 ? 1 : 0;
}

{
    my $big = "$root/big.bin";
    open my $fh, '<', '/dev/urandom' or die;
    read $fh, my $bytes, 16 * 1024 * 1024;
    close $fh;
    $t->write_file($big, $bytes);
    $t->allow_log(qr/exit signal Bus error/);    # R2's own test reports it

    # a small receive window, set before the connection is made
    socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die "setsockopt: $!";
    connect($s, pack_sockaddr_in($t->port, inet_aton('127.0.0.1'))) or die "connect: $!";
    binmode $s;
    my $url = '/r.fcgi?ctype=text/plain&hdr=' . q_esc("X-Sendfile: $big");
    syswrite $s, "GET $url HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n"
        . "Connection: close\r\n\r\n";
    my ($cport) = unpack_sockaddr_in(getsockname($s));
    # the server is stuck writing to us: deflate is in the middle of the file
    ok $t->wait_for(sub { server_txq($cport) > 0 }, 10), 'R2: the response is under way';
    my $pid = server_pid_of($cport);
    ok $pid, 'R2: the httpd child serving it is found';
    truncate $big, 0 or die "truncate: $!";
    # read on to the end (bounded)
    my ($got, $end) = (0, time + 20);
    while (time < $end) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        select(my $rout = $rin, undef, undef, 0.5) or next;
        my $n = sysread $s, my $buf, 65536;
        next if !defined $n && ($!{EAGAIN} || $!{EINTR});
        last unless $n;
        $got += $n;
    }
    close $s;
    # finding R2: fails on the module of 4a5b535 (the child died of SIGBUS)
    ok $pid && alive_not_zombie($pid), 'R2: the httpd child survives the file truncated under it'
        or diag "R2: it died after $got bytes (the parent logs \"exit signal Bus error (7)\" when it reaps it)";
}

# -------------------------------------------------- 4. (withstood) escapes

{
    my $r = sendfile_get("$root/inside.txt");
    is $r->code, 200, 'withstood: a file below the root is served';
    is $r->content, "INSIDE\n", '... its content';
    ok !defined $r->header('X-Sendfile'), '... X-Sendfile not shown to the client';

    for my $case (
        ["$root/../outside/secret.txt", 'dot-dot'],
        ["$root/sub/../../outside/secret.txt", 'dot-dot below a subdirectory'],
        ["outside/secret.txt", 'a relative path'],
    ) {
        my $r = sendfile_get($case->[0]);
        is $r->code, 502, "withstood: $case->[1]: 502";
        unlike $r->content, qr/SECRET/, "withstood: $case->[1]: not sent";
    }
    symlink "$out/secret.txt", "$root/link-out" or die;
    symlink '/proc/self/root' . "$out/secret.txt", "$root/magic" or die;
    symlink '/proc/self/cwd', "$root/cwd" or die;
    for my $case (["$root/link-out", 'a link out of the root'],
        ["$root/magic", 'a /proc/self/root magic link'],
        ["/proc/self/root$root/link-out", 'the root named through /proc/self/root'],
        ["$root/cwd/etc/passwd", 'a /proc/self/cwd link'])
    {
        my $r = sendfile_get($case->[0]);
        ok $r->code == 502 || $r->code == 404, "withstood: $case->[1]: refused (" . $r->code . ')';
        unlike $r->content, qr/SECRET|root:/, "withstood: $case->[1]: not sent";
    }
    my $r2 = sendfile_get("$d/rootlink/r.txt");
    is $r2->content, "VIA-ROOTLINK\n", 'withstood: a root given through a link serves its files';
    unlink "$d/rootlink";
    symlink $out, "$d/rootlink" or die;
    $r2 = sendfile_get("$d/rootlink/secret.txt");
    is $r2->code, 502, 'withstood: the root\'s link pointed elsewhere later: 502';
    unlike $r2->content, qr/SECRET/, '... not sent';

    POSIX::mkfifo("$root/fifo", 0666) or die "mkfifo: $!";
    my $t0 = time;
    $r2 = sendfile_get("$root/fifo");
    is $r2->code, 502, 'withstood: a FIFO below the root: 502';
    ok time - $t0 < 10, '... at once (no open blocked)';
    system('mknod', "$root/zero", 'c', '1', '5') == 0 or die 'mknod';
    $r2 = sendfile_get("$root/zero");
    is $r2->code, 502, 'withstood: a device below the root: 502';
    $r2 = sendfile_get("$root/missing.txt");
    is $r2->code, 404, 'withstood: a missing file below the root: 404';
    $r2 = sendfile_get("$root/inside.txt", app => '/plain.fcgi');
    is $r2->code, 502, 'withstood: an app without -sendfile-root: 502';
    ok !defined $r2->header('X-Sendfile'), '... X-Sendfile not shown';
}

# the swap race: $root/race is a directory with f.txt, or a link to $out
{
    my $dir = "$root/race";
    mkdir $dir or die;
    $t->write_file("$dir/f.txt", "INSIDE-RACE\n");
    my $pid = fork // die;
    if (!$pid) {
        my $end = time + 60;
        while (time < $end) {
            symlink $out, "$root/race.l";
            rename $dir, "$root/race.d";
            rename "$root/race.l", $dir;
            rename "$root/race.d", "$root/race.x";
            unlink $dir;
            rename "$root/race.x", $dir;
        }
        POSIX::_exit(0);
    }
    my (%seen, $leak);
    for (1 .. 300) {
        my $r = sendfile_get("$dir/f.txt");
        $seen{ $r->code }++;
        $leak++ if $r->content =~ /SECRET/;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    ok !$leak, 'withstood: a directory swapped with a link out in a loop: never the outside file '
        . join(' ', map {"$_:$seen{$_}"} sort keys %seen);
}

# -------------------------------------------------- 3. (R3) 304

{
    my $r = sendfile_get("$root/inside.txt",
        hdr => ['ETag: "e1"', 'X-Accel-Buffering: no'],
        headers => { 'If-None-Match' => '"e1"' });
    is $r->code, 304, 'R3: the app\'s ETag met: 304';
    # finding R3: fails on the module of 4a5b535 (the headers reach the client)
    ok !defined $r->header('X-Sendfile'), 'R3: a 304 does not show X-Sendfile (a server path)';
    ok !defined $r->header('X-Accel-Buffering'), 'R3: ... nor X-Accel-Buffering';
    my $url = '/r.fcgi?hdr=' . q_esc('ETag: "e2"') . '&hdr=' . q_esc('X-Accel-Redirect: /internal/x');
    $r = $t->get($url, 'If-None-Match' => '"e2"');
    ok !defined $r->header('X-Accel-Redirect'), 'R3: ... nor X-Accel-Redirect';
}

# ------------------------------------------ (withstood) X-Accel-Redirect

{
    my $acc = sub { $t->get('/acc.fcgi?hdr=' . q_esc("X-Accel-Redirect: $_[0]")) };
    my $r = $acc->('/static.txt');
    is $r->code, 200, 'withstood: X-Accel-Redirect to a file: 200';
    is $r->content, "STATIC\n", '... its content';
    ok !defined $r->header('X-Accel-Redirect'), '... the header not shown';
    $r = $acc->('/denied/secret.txt');
    is $r->code, 403, 'withstood: X-Accel-Redirect to a Require all denied location: 403';
    unlike $r->content, qr/DENIED-SECRET/, '... not sent';
    $r = $acc->('/guarded/secret.txt');
    is $r->code, 403, 'withstood: X-Accel-Redirect to a FastCgiAccessChecker location: 403';
    unlike $r->content, qr/GUARDED-SECRET/, '... not sent';
}

# ------------------------------------------ 4. (R4) -vhost-only, no handler

# A second server: a.test declares the app -vhost-only; c.test maps the
# same directory and sets no handler for the file.
{
    my $t2 = FcgixTest->new;
    my $d2 = $t2->dir;
    my $h2 = "$d2/htdocs";
    my $port2 = $t2->port;
    my $only = $t2->install_app('printenv', "$h2/only.fcgi");
    $t2->start_httpd(<<"EOF");
FastCgiIpcDir $d2/ipc
<Directory $h2>
    Options +ExecCGI
</Directory>
<VirtualHost 127.0.0.1:$port2>
    ServerName a.test
    DocumentRoot $h2
    FastCgiServer $only -vhost-only
</VirtualHost>
<VirtualHost 127.0.0.1:$port2>
    ServerName c.test
    DocumentRoot $h2
</VirtualHost>
EOF
    my $r = $t2->get('/only.fcgi', Host => 'a.test');
    is $r->code, 200, 'R4: the declaring host reaches its -vhost-only app';
    $r = $t2->get('/only.fcgi', Host => 'c.test');
    # finding R4: fails on the module of 4a5b535 (200: the executable's bytes)
    isnt $r->code, 200, 'R4: another host without a handler for it: not 200 (' . $r->code . ')';
    ok $r->content !~ /^\x7fELF/, 'R4: ... the application\'s file itself is not sent';
    $t2->done;
}

$t->done;
done_testing;
