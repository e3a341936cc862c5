#!/usr/bin/perl
# ssiself.pl - (t/46) outer: emits an SSI include of itself (?inner), flushes, then
# the rest after 300 ms; inner: a short body.
use strict; use warnings; use FCGI; use Time::HiRes qw(sleep);
my %env; my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);
while ($req->Accept() >= 0) {
    if (($env{QUERY_STRING} // '') eq 'inner') { print "Content-Type: text/plain\r\n\r\nINNER\n"; next }
    print "Content-Type: text/html\r\n\r\nbefore <!--#include virtual=\"$env{SCRIPT_NAME}?inner\" --> middle\n";
    $req->Flush; sleep 0.3; print "after\n";
}
