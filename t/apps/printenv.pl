#!/usr/bin/perl
# printenv.pl - Perl FCGI (FCGI.pm) app accepting on fd 0, printing its
# request environment exactly like printenv.c: sorted NAME=value lines
# (values: '\' -> "\\", LF -> "\n", CR -> "\r"), then #body_length,
# #body_md5 and #body_eof for exactly CONTENT_LENGTH bytes of stdin.
use strict;
use warnings;
use FCGI;
use Digest::MD5;

my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);

while ($req->Accept() >= 0) {
    my $want = $env{CONTENT_LENGTH} || 0;
    my ($got, $eof) = (0, 0);
    my $md5 = Digest::MD5->new;
    binmode STDIN;
    while ($got < $want) {
        my $k = $want - $got;
        $k = 65536 if $k > 65536;
        my $n = read(STDIN, my $buf, $k);
        if (!$n) { $eof = 1; last }
        $md5->add($buf);
        $got += $n;
    }
    my $out = "Content-Type: text/plain\r\n\r\n";
    for my $k (sort keys %env) {
        my $v = "$k=$env{$k}";
        $v =~ s/\\/\\\\/g;
        $v =~ s/\n/\\n/g;
        $v =~ s/\r/\\r/g;
        $out .= "$v\n";
    }
    $out .= "#body_length=$got\n#body_md5=" . $md5->hexdigest . "\n#body_eof=$eof\n";
    print $out;
}
