# 59-sse.t - streaming that just works (issue 16), over HTTP/1.1.
#
# The app is t/apps/sse.c (libfcgi, one process, FastCgiExternalServer): it
# flushes one FCGI_STDOUT record per event, each event carrying the app's
# CLOCK_REALTIME at the write. "One by one" means: the client has event N
# before the app writes event N+1 (no absolute speed is asserted); events
# are 300 ms apart.
#
#  1. Content-Type text/event-stream, app WITHOUT -flush: events one by one.
#  2. the same through mod_deflate (AddOutputFilterByType DEFLATE
#     text/event-stream text/plain, client sends Accept-Encoding: gzip): the
#     response is gzip (so mod_deflate really is in the way), and the events,
#     inflated per read, still arrive one by one.
#  3. text/plain with X-Accel-Buffering: no (no -flush): one by one; the
#     header does not reach the client. Also through mod_deflate.
#  4. X-Accel-Buffering: yes on an app WITH -flush (text/plain and
#     text/event-stream): buffered: NOT one by one (some event reaches the
#     client only after the app wrote the next one; the module's flush when
#     the app is idle must go too); the header does not reach the client.
#     (Without any header and without -flush the module already passes each
#     record on when the app goes quiet, so there is no buffered control.)
#  5. a client that goes away after the first event while the app is silent
#     (pause_ms=10000 before event 2; the app waits in poll() on its
#     FastCGI connection): httpd closes the connection or aborts the request
#     within 3 s (the app logs "peer-gone after event 1"), and the
#     one-process app serves the next request within 3 s of the close; also
#     with -keep-conn 1 (the module may send FCGI_ABORT_REQUEST instead).
# Under the three MPMs.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use FcgixTest qw(slurp);
use FcgixStream;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $app = $t->start_app(prog => 'sse', count => 1);

$t->start_httpd(<<"EOF", modules => [qw(filter deflate)]);
FastCgiIpcDir $d/ipc
FastCgiExternalServer $h/sse.fcgi $app->{spec}
FastCgiExternalServer $h/flush.fcgi $app->{spec} -flush
FastCgiExternalServer $h/z/sse.fcgi $app->{spec}
FastCgiExternalServer $h/k/sse.fcgi $app->{spec} -keep-conn 1
<Location /z/>
    AddOutputFilterByType DEFLATE text/event-stream text/plain
</Location>
EOF

my $EV = 'count=5&interval_ms=300';

sub streamed {
    my ($name, $path, %o) = @_;
    my $s = FcgixStream::h1($t, $path, %o);
    is $s->{code}, 200, "$name: 200";
    my $why = FcgixStream::one_by_one($s->{events}, 5);
    ok !defined $why, "$name: the 5 events arrive one by one" or diag "$why\n" . FcgixStream::table($s);
    return $s;
}

sub buffered {
    my ($name, $path, %o) = @_;
    my $s = FcgixStream::h1($t, $path, %o);
    is $s->{code}, 200, "$name: 200";
    my $ev = $s->{events};
    is scalar @$ev, 5, "$name: all 5 events arrive";
    my $why = FcgixStream::one_by_one($ev, 5);
    ok @$ev == 5 && defined $why, "$name: buffered, not one by one" . ($why ? " ($why)" : '')
        or diag FcgixStream::table($s);
    return $s;
}

# 1, 2
my $s = streamed('event-stream, no -flush', "/sse.fcgi?$EV");
like $s->{headers}{'content-type'} // '', qr{^text/event-stream}, 'event-stream: Content-Type kept';
$s = streamed('event-stream through mod_deflate', "/z/sse.fcgi?$EV", gzip => 1);
is $s->{headers}{'content-encoding'}, 'gzip', 'mod_deflate: the response is gzip-encoded';
ok !$s->{inflate_error}, 'mod_deflate: the gzip stream inflates' or diag $s->{inflate_error};

# 3
$s = streamed('text/plain + X-Accel-Buffering: no', "/sse.fcgi?$EV&ctype=text/plain&xab=no");
ok !exists $s->{headers}{'x-accel-buffering'}, 'X-Accel-Buffering: no does not reach the client'
    or diag $s->{raw_headers};
$s = streamed('text/plain + X-Accel-Buffering: no through mod_deflate',
    "/z/sse.fcgi?$EV&ctype=text/plain&xab=no", gzip => 1);
is $s->{headers}{'content-encoding'}, 'gzip', 'mod_deflate: gzip-encoded (X-Accel-Buffering: no)';
ok !exists $s->{headers}{'x-accel-buffering'}, 'through mod_deflate: X-Accel-Buffering not passed on';
$s = streamed('event-stream + X-Accel-Buffering: no', "/sse.fcgi?$EV&xab=no");
ok !exists $s->{headers}{'x-accel-buffering'}, 'event-stream: X-Accel-Buffering: no not passed on';

# 4
$s = buffered('-flush + X-Accel-Buffering: yes', "/flush.fcgi?$EV&ctype=text/plain&xab=yes");
ok !exists $s->{headers}{'x-accel-buffering'}, 'X-Accel-Buffering: yes does not reach the client'
    or diag $s->{raw_headers};
$s = buffered('event-stream + -flush + X-Accel-Buffering: yes', "/flush.fcgi?$EV&xab=yes");
ok !exists $s->{headers}{'x-accel-buffering'}, 'event-stream: X-Accel-Buffering: yes not passed on';

# 5
for my $k ('', 'k/') {
    my $how = $k ? '-keep-conn 1 (FCGI_ABORT_REQUEST or close)' : 'no -keep-conn';
    my $log0 = length slurp($app->{log});
    $s = FcgixStream::h1($t, "/${k}sse.fcgi?count=3&pause_ms=10000", stop => sub { @{ $_[0] } >= 1 });
    my $closed = $s->{end};
    is scalar @{ $s->{events} }, 1, "$how: client going away: it got the first event, then closed";
    my $gone = $t->wait_for(sub { substr(slurp($app->{log}), $log0) =~ /sent (\d+) of 3: ([^\n]*)/ ? "$1 $2" : '' }, 12);
    my $noticed = time - $closed;
    like $gone, qr/^1 peer-gone after event 1/,
        "$how: the app, silent between events, sees its connection closed or the request aborted";
    ok $gone && $noticed < 3, sprintf('%s: ... promptly (%.2f s after the client left; the app would '
        . 'have stayed silent 10 s)', $how, $noticed);
    my $r = FcgixStream::h1($t, "/${k}sse.fcgi?count=1", timeout => 8);
    my $served = time - $closed;
    is scalar @{ $r->{events} }, 1, "$how: the one-process app then serves the next request";
    ok $served < 4, sprintf('%s: ... %.2f s after the client left (not after the 10 s pause)', $how, $served);
    $t->wait_for(sub { substr(slurp($app->{log}), $log0) =~ /sent 1 of 1: complete/ }, 15);
}

$t->done;
done_testing;
