# 56-conf-fcgid.t - the shipped conf.d/fcgix.conf next to mod_fcgid: which
# module a request for a .fcgi file reaches.
#
# Debian's fcgid.conf maps .fcgi to fcgid-script; fcgix.conf maps it to
# fastcgi-script only when mod_fcgid is not loaded, so with both modules
# enabled mod_fcgid keeps .fcgi (before, mod_fcgix silently took it: Debian
# reads fcgix.conf after fcgid.conf). README's way to take .fcgi anyway is
# an AddHandler in the <Directory> that should use mod_fcgix.
#
# Each case is a real apache2 with the configuration files Debian reads:
# LoadModule of mod_fcgid (when loaded) and mod_fcgix, then
# /etc/apache2/mods-available/fcgid.conf (Debian's, when mod_fcgid is loaded)
# and this checkout's conf.d/fcgix.conf, in the order apache2.conf includes
# them. FastCgiIpcDir and mod_fcgid's IPC files are moved into the test dir
# after the includes, so nothing outside it is touched.
#
# Which module served is told by who runs the app: mod_fcgix runs a dynamic
# app as a child of its fcgix-pm, mod_fcgid as a child of its own process
# manager (an apache2 process); the response alone is the same from both.
#   1. both loaded: apache2 -t passes; /app/env.fcgi is a 200 from the app,
#      a process outside fcgix-pm runs it, none under fcgix-pm.
#   2. both loaded, `AddHandler fastcgi-script .fcgi` in the app's
#      <Directory> (README): a 200, the app runs under fcgix-pm.
#   3. mod_fcgid not loaded: fcgix.conf's own mapping: the app runs under
#      fcgix-pm.
use strict;
use warnings;
use Test::More;
use FcgixTest qw(slurp);
use FcgixPM;

my $FCGID_SO = '/usr/lib/apache2/modules/mod_fcgid.so';
my $FCGID_CONF = '/etc/apache2/mods-available/fcgid.conf';
plan skip_all => "mod_fcgid is not installed ($FCGID_SO missing; Debian package "
    . "libapache2-mod-fcgid, listed in .ci/packages)"
    unless -f $FCGID_SO && -f $FCGID_CONF;

my $t = FcgixTest->new;
my $d = $t->dir;
my $root = FcgixTest::root();
my $app = "$d/htdocs/app/env.fcgi";
$t->install_app('printenv', 'htdocs/app/env.fcgi', 0755);
mkdir "$d/fcgid";
chown((getpwnam('www-data'))[2, 3], "$d/fcgid") if $> == 0;

# The includes in Debian's order (every .load, then every .conf), then what
# keeps both modules' files in the test dir, then the app's directory.
sub config {
    my (%o) = @_;
    my $fcgid = $o{fcgid};
    my $pre = $fcgid ? "LoadModule fcgid_module $FCGID_SO\n" : '';
    my $frag = ($fcgid ? "Include $FCGID_CONF\n" : '') . "Include $root/conf.d/fcgix.conf\n";
    $frag .= "FastCgiIpcDir $d/ipc\n";
    $frag .= "FcgidIPCDir $d/fcgid\nFcgidProcessTableFile $d/fcgid/shm\n"
        if $fcgid;
    $frag .= "<Directory $d/htdocs/app>\n    Options +ExecCGI\n" . ($o{take} // '') . "</Directory>\n";
    return ($frag, pre => $pre);
}

# Processes running the app: those under our fcgix-pm, and all the others.
sub runners {
    my @under = app_pids($t, $app);
    my %pm = map { $_ => 1 } @under;
    my @other = grep { !$pm{$_} && alive($_) && is_app($_, $app) } all_pids();
    return (\@under, \@other);
}

sub served_by {
    my ($want, $name) = @_;
    my $r = $t->get('/app/env.fcgi?who=1');
    is($r->code, 200, "$name: 200") or diag $r->as_string;
    like($r->content, qr/^QUERY_STRING=who=1$/m, "$name: the app's own output") or diag $r->content;
    my ($under, $other);
    $t->wait_for(sub { ($under, $other) = runners(); @$under + @$other > 0 }, 5);
    if ($want eq 'fcgix') {
        is(scalar @$under, 1, "$name: the app runs under mod_fcgix's fcgix-pm");
        is(scalar @$other, 0, "$name: and nowhere else") or diag "others: @$other";
    }
    else {
        is(scalar @$under, 0, "$name: nothing under mod_fcgix's fcgix-pm runs the app");
        cmp_ok(scalar @$other, '>=', 1, "$name: mod_fcgid's process manager runs it") or diag "none";
        my $ppid = @$other ? pstat($other->[0])->[3] : 0;
        my $pcomm = $ppid ? pstat($ppid)->[1] : '';
        is($pcomm, 'apache2', "$name: its parent is an apache2 process (mod_fcgid's manager)");
    }
}

sub stop_and_wait {
    $t->stop_httpd;
    my $gone = $t->wait_for(sub { my ($u, $o) = runners(); !@$u && !@$o }, 10);
    ok($gone, 'after stop no process runs the app');
}

{
    my ($frag, %o) = config(fcgid => 1);
    my ($ok, $out) = $t->config_test($frag, %o);
    ok($ok, 'both modules with Debian\'s fcgid.conf and fcgix.conf: apache2 -t passes') or diag $out;
    $t->start_httpd($frag, %o);
    served_by('fcgid', 'both loaded');
    stop_and_wait();
}

{
    my ($frag, %o) = config(fcgid => 1, take => "    AddHandler fastcgi-script .fcgi\n");
    $t->start_httpd($frag, %o);
    served_by('fcgix', 'both loaded, AddHandler in the <Directory>');
    stop_and_wait();
}

{
    my ($frag, %o) = config(fcgid => 0);
    $t->start_httpd($frag, %o);
    served_by('fcgix', 'mod_fcgid not loaded');
    stop_and_wait();
}

$t->done;
done_testing;
