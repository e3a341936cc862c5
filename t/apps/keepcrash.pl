#!/usr/bin/perl
# keepcrash.pl - (t/46) records every request it begins (a side effect, like a DB
# commit) in $LOG, then: ?crash and no marker yet -> create the marker and
# die without answering (a crash after the commit); otherwise answer 200.
use strict; use warnings; use FCGI; use POSIX ();
my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);
my $dir = $ENV{RV_DIR} // '/tmp';
while ($req->Accept() >= 0) {
    my $want = $env{CONTENT_LENGTH} || 0; my $body = '';
    while (length($body) < $want) { my $n = read(STDIN, my $b, $want - length $body); last unless $n; $body .= $b }
    open my $fh, '>>', "$dir/exec.log" or die; print $fh "$env{REQUEST_METHOD} $env{QUERY_STRING} body=$body pid=$$\n"; close $fh;
    if (($env{QUERY_STRING} // '') =~ /crash/ && !-e "$dir/marker") {
        open my $m, '>', "$dir/marker"; close $m;
        POSIX::_exit(0);
    }
    print "Content-Type: text/plain\r\n\r\nok pid=$$\n";
}
