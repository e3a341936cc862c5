# 02-log-tags.t - every log message at warn level and above carries a tag
# FCGIXnnnn literally at the start of its format string, and no two messages
# share a tag: an administrator can grep a tag and find the one place that
# wrote it. (No httpd needed.)
#
# Checked in the module's C sources (*.c, pm/*.c, proto/*.c), comments
# removed, calls split into their arguments:
#   - ap_log_error/rerror/perror/cerror/cserror at APLOG_WARNING, ERR, CRIT,
#     ALERT or EMERG, or at a level that is not a constant (it may be one of
#     those): the format is a string literal starting "FCGIXnnnn: ";
#   - the PM's log functions (every variadic function that hands its format
#     to fcgix_pm_vlog; the PM's lines go to the error log whatever they
#     say): the same;
#   - the one way round that: a format starting with "%s" whose first
#     argument is a parameter of the function making the call, where every
#     call of that function passes, in that place, a literal starting
#     "FCGIXnnnn: " (followed through further such wrappers). A parameter
#     that is anything else (a variable, a computed string, a function never
#     called directly) fails.
use strict;
use warnings;
use Test::More;
use FindBin;

my $root = "$FindBin::Bin/..";
my @files = map { glob("$root/$_") } qw(*.c pm/*.c proto/*.c);
ok(@files >= 8, 'found the module sources') or diag "@files";

my $TAG = qr/^FCGIX\d{4}: /;
my $QUIET = qr/^\s*(?:APLOG_(?:STARTUP|NOERRNO)\s*\|\s*)*APLOG_(?:NOTICE|INFO|DEBUG|TRACE\d)\s*$/;
# where the format is among an ap_log_* call's arguments (APLOG_MARK is one)
my %AP_FMT = (ap_log_error => 4, ap_log_rerror => 4, ap_log_perror => 4, ap_log_cerror => 4,
    ap_log_cserror => 5);

# ------------------------------------------------------------ a small C reader

# The source with comments blanked (newlines kept, so offsets give lines).
sub strip_comments {
    my ($src) = @_;
    $src =~ s{("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|(/\*.*?\*/|//[^\n]*)}
             { defined $1 ? $1 : ($2 =~ tr/\n//cr) =~ s/[^\n]/ /gr }gse;
    return $src;
}

# The arguments of the call whose "(" is at $pos: [text, ...] split at the
# top-level commas, and the offset after the ")".
sub call_args {
    my ($src, $pos) = @_;
    my ($depth, $cur, @args) = (0, '');
    pos($src) = $pos;
    while ($src =~ /\G("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[(\[{]|[)\]}]|,|[^"'(\[{)\]},]+)/gc) {
        my $tok = $1;
        if ($tok =~ /^[(\[{]$/) {
            $cur .= $tok if $depth++;
        }
        elsif ($tok =~ /^[)\]}]$/) {
            if (--$depth == 0) {
                push @args, $cur;
                return (\@args, pos($src));
            }
            $cur .= $tok;
        }
        elsif ($tok eq ',' && $depth == 1) {
            push @args, $cur;
            $cur = '';
        }
        else {
            $cur .= $tok;
        }
    }
    return ([], $pos);
}

# The strings an argument can be: adjacent string literals (with APR's
# *_FMT macros between them, which are format pieces too), or a conditional
# "c ? A : B" of such; each alternative once. Empty when it is anything else.
sub literals {
    my ($arg) = @_;
    my @top = split_ternary($arg);
    return map { literals($_) } @top[1, 2] if @top;
    my $piece = qr/"(?:\\.|[^"\\])*"|\bAPR_[A-Z0-9_]*_FMT\b/;
    return () unless $arg =~ /^\s*(?:$piece\s*)+$/s;
    my $s = '';
    while ($arg =~ /($piece)/gs) {
        my $p = $1;
        $s .= $p =~ /^"(.*)"$/s ? $1 : '%?';
    }
    return ($s);
}

# (cond, then, else) of a top-level "cond ? then : else", else ().
sub split_ternary {
    my ($arg) = @_;
    my ($depth, $q, @cut) = (0, 0);
    while ($arg =~ /("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[(\[{]|[)\]}]|[?:])/g) {
        my ($tok, $at) = ($1, $-[1]);
        if ($tok =~ /^[(\[{]$/) { $depth++ }
        elsif ($tok =~ /^[)\]}]$/) { $depth-- }
        elsif ($depth == 0 && $tok eq '?') { push @cut, $at if $q++ == 0 }
        elsif ($depth == 0 && $tok eq ':' && --$q == 0) { push @cut, $at; last }
    }
    return () unless @cut == 2;
    return (substr($arg, 0, $cut[0]), substr($arg, $cut[0] + 1, $cut[1] - $cut[0] - 1),
        substr($arg, $cut[1] + 1));
}

# Every top-level function definition: { name, params => [names], variadic,
# body, start (offset of the body), file }.
sub functions {
    my ($file, $src) = @_;
    my @f;
    my ($depth, $start, $last_end) = (0, 0, 0);
    while ($src =~ /("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[{};])/g) {
        my ($tok, $at) = ($1, $-[1]);
        if ($tok eq '{') {
            $start = $at if $depth++ == 0;
            next;
        }
        if ($tok eq '}' && --$depth == 0) {
            my $head = substr($src, $last_end, $start - $last_end);
            $last_end = $at + 1;
            next unless $head =~ /\b(\w+)\s*\(([^()]*)\)\s*$/s;
            my ($name, $plist) = ($1, $2);
            my @params = map { /(\w+)\s*(?:\[\s*\w*\s*\])?\s*$/ ? $1 : $_ } split /,/, $plist;
            push @f, { name => $name, params => \@params, variadic => ($plist =~ /\.\.\.\s*$/ ? 1 : 0),
                body => substr($src, $start, $at - $start), start => $start, file => $file };
        }
        elsif ($tok eq ';' && $depth == 0) {
            $last_end = $at + 1;
        }
    }
    return @f;
}

sub line_of { my ($src, $off) = @_; return 1 + (substr($src, 0, $off) =~ tr/\n//) }

# ------------------------------------------------------------ read the tree

my (%raw, %src, @funcs);
for my $f (@files) {
    open my $fh, '<', $f or die "$f: $!";
    my $text = do { local $/; <$fh> };
    (my $short = $f) =~ s{^\Q$root\E/}{};
    $raw{$short} = $text;
    $src{$short} = strip_comments($text);
    push @funcs, functions($short, $src{$short});
}

# Every call of $name: [ { args, file, line, caller (function) } ].
sub calls_of {
    my ($name) = @_;
    my @c;
    for my $fn (@funcs) {
        my $body = $fn->{body};
        while ($body =~ /\b\Q$name\E\s*\(/g) {
            my $open = $+[0] - 1;
            my ($args) = call_args($body, $open);
            push @c, { args => $args, file => $fn->{file}, caller => $fn,
                line => line_of($src{ $fn->{file} }, $fn->{start} + $open) };
            pos($body) = $open + 1;
        }
    }
    return @c;
}

# The PM's log functions: variadic, their format handed to fcgix_pm_vlog.
my %pm_fmt;
for my $fn (grep { $_->{variadic} && $_->{body} =~ /\bfcgix_pm_vlog\s*\(/ } @funcs) {
    $pm_fmt{ $fn->{name} } = @{ $fn->{params} } - 2;    # the one before "..."
}
ok(scalar keys %pm_fmt, 'found the PM log functions: ' . join(', ', sort keys %pm_fmt));

# Why the argument text $arg, in function $fn, is not a string that starts
# with a tag, or undef when it is one: a literal "FCGIXnnnn: ...", or a
# parameter of $fn that every call of $fn binds to such a string.
sub untagged_arg {
    my ($arg, $fn, $depth) = @_;
    my @lit = literals($arg);
    if (@lit) {
        my ($bad) = grep { $_ !~ $TAG } @lit;
        return defined $bad ? "\"$bad\" has no FCGIXnnnn: tag" : undef;
    }
    (my $p = $arg) =~ s/^\s+|\s+$//g;
    my ($idx) = grep { $fn->{params}[$_] eq $p } 0 .. $#{ $fn->{params} };
    return "$p is neither a string literal nor a parameter of $fn->{name}()" unless defined $idx;
    return "$fn->{name}(): wrappers nested too deep" if $depth > 4;
    my @calls = calls_of($fn->{name});
    return "$fn->{name}() is never called directly" unless @calls;
    for my $c (@calls) {
        my $why = untagged_arg($c->{args}[$idx] // '', $c->{caller}, $depth + 1);
        return "$fn->{name}() called at $c->{file}:$c->{line}: $why" if $why;
    }
    return undef;
}

# Why the message of a log call made in $fn with the format argument $fmt
# and first argument $first is not tagged, or undef when it is.
sub untagged {
    my ($fmt, $first, $fn) = @_;
    my @lit = literals($fmt);
    return "the format is not a string literal: $fmt" unless @lit;
    for my $lit (grep { $_ !~ $TAG } @lit) {
        return "the format \"$lit\" has no FCGIXnnnn: tag" unless $lit =~ /^%s/ && defined $first;
        my $why = untagged_arg($first, $fn, 0);
        return "the format \"$lit\" takes its tag from $first: $why" if $why;
    }
    return undef;
}

# ------------------------------------------------------------ the checks

my ($ap_calls, $pm_calls) = (0, 0);
for my $name (sort(keys %AP_FMT), sort(keys %pm_fmt)) {
    my $pm = exists $pm_fmt{$name};
    for my $c (calls_of($name)) {
        my $a = $c->{args};
        if (!$pm) {
            my $level = $a->[1] // '';
            next if $level =~ $QUIET;
            # a level that is not one of the constants may well be warn+
        }
        my $i = $pm ? $pm_fmt{$name} : $AP_FMT{$name};
        $pm ? $pm_calls++ : $ap_calls++;
        my $why = untagged($a->[$i] // '', $a->[$i + 1], $c->{caller});
        ok(!$why, "$c->{file}:$c->{line}: $name() message has a tag") or diag $why;
    }
}
ok($ap_calls >= 20, "checked $ap_calls warn+ ap_log_* calls");
ok($pm_calls >= 10, "checked $pm_calls PM log calls");

# every tag literal, for uniqueness (comments included, as a tag quoted in
# a comment points a reader to a second place too)
my %seen;
for my $f (sort keys %raw) {
    push @{ $seen{$1} }, $f while $raw{$f} =~ /"(FCGIX\d{4}):/g;
}
for my $tag (sort keys %seen) {
    is(scalar @{ $seen{$tag} }, 1, "$tag is used once") or diag "@{ $seen{$tag} }";
}
done_testing;
