package FcgixMetrics;

# Helpers of the metrics tests (t/50-metrics.t, t/51-metrics-attacks.t).
#
#   samples($text)    the samples of a Prometheus text exposition: a list of
#                     [ name, { label => value (unescaped) }, value ]; a line
#                     that does not parse is [ '!unparsed', {}, line ]
#   val(\@samples, $name, %labels)
#                     the value of the one sample $name whose labels include
#                     %labels; undef when none or several
#   promtool($text)   runs `promtool check metrics` on it: (exit status,
#                     output), or () when promtool is not installed (the
#                     Debian package prometheus)
#   monotonic(\@samples, $hist, %labels)
#                     the _bucket values of histogram $hist (with %labels)
#                     in order, and whether they never decrease and end
#                     with le="+Inf": (ok, [values])
use strict;
use warnings;
use Exporter 'import';
use File::Temp ();

our @EXPORT = qw(samples val promtool monotonic);

our $PROMTOOL = '/usr/bin/promtool';

sub unesc {
    my ($v) = @_;
    $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
    return $v;
}

sub samples {
    my ($txt) = @_;
    my @s;
    for my $l (split /\n/, $txt) {
        next if $l =~ /^#/ || $l eq '';
        my ($name, $lab, $v) = $l =~ /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/ or do {
            push @s, [ '!unparsed', {}, $l ];
            next;
        };
        my %l;
        $l{$1} = unesc($2) while defined $lab && $lab =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
        push @s, [ $name, \%l, $v ];
    }
    return @s;
}

sub val {
    my ($s, $name, %want) = @_;
    my @m = grep {
        my $x = $_;
        $x->[0] eq $name && !grep { ($x->[1]{$_} // "\0") ne $want{$_} } keys %want
    } @$s;
    return @m == 1 ? $m[0][2] : undef;
}

sub promtool {
    my ($txt) = @_;
    return () unless -x $PROMTOOL;
    my $tmp = File::Temp->new;
    binmode $tmp;
    print $tmp $txt;
    close $tmp;
    my $out = `$PROMTOOL check metrics < $tmp 2>&1`;
    return ($?, $out);
}

sub monotonic {
    my ($s, $h, %want) = @_;
    my @b = grep {
        my $x = $_;
        $x->[0] eq "${h}_bucket" && !grep { ($x->[1]{$_} // "\0") ne $want{$_} } keys %want
    } @$s;
    my @v = map { $_->[2] } @b;
    my $ok = @b && $b[-1][1]{le} eq '+Inf' && !grep { $v[$_] < $v[ $_ - 1 ] } 1 .. $#v;
    return ($ok, \@v);
}

1;
