#!/usr/bin/perl
# noterm.pl - Perl FCGI (FCGI.pm) app accepting on fd 0 that ignores
# SIGTERM, as an application's owner can write one: it answers
# "pid=<its pid>\nv=<$V>\n" and only SIGKILL ends it.
use strict;
use warnings;
use FCGI;

$SIG{TERM} = 'IGNORE';
my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);

while ($req->Accept() >= 0) {
    print "Content-Type: text/plain\r\n\r\npid=$$\nv=" . ($ENV{V} // '') . "\n";
}
