# Every log message at warn level and above carries a tag FCGIXnnnn inside
# its format literal, and no two messages share a tag: an administrator can
# grep a tag and find the one place that wrote it. (No httpd needed.)
use strict;
use warnings;
use Test::More;
use FindBin;

my $root = "$FindBin::Bin/..";
my @files = (glob("$root/*.c"), glob("$root/pm/*.c"));
ok(@files >= 8, 'found the module sources') or diag "@files";

my (%seen, $calls);
for my $f (@files) {
    open my $fh, '<', $f or die "$f: $!";
    my $src = do { local $/; <$fh> };
    (my $short = $f) =~ s{.*/(pm/)?}{$1 // ''}e;
    # every tag literal, for uniqueness
    while ($src =~ /"(FCGIX\d{4}):/g) {
        push @{ $seen{$1} }, $short;
    }
    # every warn+ ap_log_*error call must have a tag in its format
    while ($src =~ /ap_log_r?error\(\s*APLOG_MARK,\s*APLOG_(WARNING|ERR|CRIT|ALERT|EMERG)\b(.*?)\);/sg) {
        my $args = $2;
        $calls++;
        like($args, qr/"FCGIX\d{4}: |"%s: %s"/, "$short: warn+ message has a tag")
            or diag $args;
    }
    # the PM's own log lines (fcgix_pm_log) too
    while ($src =~ /fcgix_pm_log\(\s*"(.*?)"/sg) {
        like($1, qr/^FCGIX\d{4}: /, "$short: PM message has a tag") or diag $1;
    }
}
ok($calls >= 20, "checked $calls warn+ calls");
for my $tag (sort keys %seen) {
    is(scalar @{ $seen{$tag} }, 1, "$tag is used once") or diag "@{ $seen{$tag} }";
}
done_testing;
