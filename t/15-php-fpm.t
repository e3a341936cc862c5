# 15-php-fpm.t - PHP-FPM (php-fpm8.2) behind mod_fcgix.
#
# The test starts its own php-fpm8.2 (-F -R -y CONF, generated global + two
# static pools of 2 children, user/group www-data): pool "unix" on a Unix
# socket in the test dir (listen.owner/group www-data, mode 0660), pool "tcp"
# on 127.0.0.1:<free port>. It is killed (process group) at cleanup.
#
#  1. a .php page declared with FastCgiExternalServer is served over the Unix
#     socket and over TCP (each by the right pool);
#  2. the classic mod_fastcgi PHP-FPM recipe (AddHandler/Action/Alias to a
#     virtual file + FastCgiExternalServer ... -pass-header Authorization),
#     over the socket and over TCP: PATH_INFO for /page.php/extra/info,
#     $_GET, urlencoded $_POST, multipart $_FILES, PHP_AUTH_USER/PW;
#  3. the same recipe without -pass-header: no credentials reach PHP.
#
# Skips only when php-fpm8.2 is not installed.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use HTTP::Request::Common ();
use IO::Socket::INET;
use FcgixTest;

my $FPM = '/usr/sbin/php-fpm8.2';
plan skip_all => "php-fpm8.2 not installed ($FPM missing)" unless -x $FPM;

my $t = FcgixTest->new;
my $d = $t->dir;
my $h = "$d/htdocs";
my $root = $> == 0;

# ------------------------------------------------------------------ php-fpm
my $sock = "$d/sock/php.sock";
my $fpm_port = $t->free_port;
my $fpm_log = "$d/logs/php-fpm.log";

sub pool {
    my ($name, $listen, @extra) = @_;
    my $c = "[$name]\n";
    $c .= "user = www-data\ngroup = www-data\n" if $root;
    $c .= "listen = $listen\n";
    $c .= "$_\n" for @extra;
    $c .= <<"EOF";
pm = static
pm.max_children = 2
catch_workers_output = yes
env[FCGIX_POOL] = $name
EOF
    return $c;
}

my $fpm_conf = $t->write_file('php-fpm.conf', join("\n",
    <<"EOF",
[global]
pid = $d/php-fpm.pid
error_log = $fpm_log
daemonize = no
log_level = notice
EOF
    pool('unix', $sock,
        ($root ? ('listen.owner = www-data', 'listen.group = www-data') : ()),
        'listen.mode = 0660'),
    pool('tcp', "127.0.0.1:$fpm_port", 'listen.allowed_clients = 127.0.0.1'),
));

my $fpm = $t->spawn([$FPM, '-F', '-R', '-y', $fpm_conf], name => 'php-fpm');
my $fpm_up = $t->wait_for(sub {
    -S $sock && IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $fpm_port, Timeout => 1);
}, 15);
if (!ok $fpm_up, 'php-fpm8.2 listens on the Unix socket and on TCP') {
    diag("php-fpm output:\n" . FcgixTest::slurp($fpm->{log}) . "\nphp-fpm error_log:\n" . FcgixTest::slurp($fpm_log));
    $t->done;
    done_testing;
    exit 1;
}
my @st = stat $sock;
is sprintf('%04o', $st[2] & 07777), '0660', 'php-fpm socket has mode 0660';
if ($root) {
    is scalar(getpwuid $st[4]), 'www-data', 'php-fpm socket owned by www-data';
}

# ------------------------------------------------------------------ PHP pages
# One script reports everything as JSON.
my $php = <<'EOF';
<?php
header('Content-Type: application/json');
$files = [];
foreach ($_FILES as $k => $f) {
    $files[$k] = [
        'name' => $f['name'], 'type' => $f['type'], 'size' => $f['size'],
        'error' => $f['error'],
        'md5' => ($f['error'] === UPLOAD_ERR_OK) ? md5_file($f['tmp_name']) : null,
    ];
}
$s = [];
foreach (['PATH_INFO', 'SCRIPT_FILENAME', 'SCRIPT_NAME', 'REQUEST_METHOD', 'QUERY_STRING',
          'REQUEST_URI', 'PHP_AUTH_USER', 'PHP_AUTH_PW', 'HTTP_AUTHORIZATION',
          'CONTENT_TYPE', 'CONTENT_LENGTH'] as $k) {
    $s[$k] = $_SERVER[$k] ?? null;
}
echo json_encode([
    'php' => 'ok',
    'pool' => getenv('FCGIX_POOL'),
    'script' => __FILE__,
    'server' => $s,
    'get' => $_GET,
    'post' => $_POST,
    'files' => (object)$files,
], JSON_UNESCAPED_SLASHES), "\n";
EOF
$t->write_file("htdocs/$_", $php) for qw(page.php unix/page.php tcp/page.php);

my $json = JSON::PP->new->utf8;

# GET/POST and decode; returns (HTTP::Response, data or undef)
sub call {
    my ($r) = @_;
    my $data = eval { $json->decode($r->content) };
    if (!$data) {
        diag('status ' . $r->code . ', body: ' . substr($r->content, 0, 2000));
        diag("error log:\n" . $t->error_log);
    }
    return ($r, $data);
}

sub fetch {
    my ($method, $path, %o) = @_;
    return call($t->request($method, $path, %o));
}

sub fetch_req {    # a prepared HTTP::Request with a relative URL
    my ($req) = @_;
    $req->uri($t->base_url . $req->uri);
    return call($t->ua->request($req));
}

my $ipc = "$d/ipc";
mkdir $ipc, 0700 or die "mkdir $ipc: $!";
if ($root) {
    my (undef, undef, $uid, $gid) = getpwnam('www-data');
    chown $uid, $gid, $ipc;
}

# ------------------------------------------------------------------ 1. direct
$t->start_httpd(<<"EOF");
FastCgiIpcDir $ipc
FastCgiExternalServer $h/unix/page.php -socket $sock
FastCgiExternalServer $h/tcp/page.php -host 127.0.0.1:$fpm_port
EOF

for my $via (qw(unix tcp)) {
    my ($r, $j) = fetch('GET', "/$via/page.php?via=$via");
    is $r->code, 200, "$via: declared .php page answers 200";
    like $r->header('Content-Type') // '', qr{^application/json}, "$via: PHP's Content-Type";
    is $j && $j->{php}, 'ok', "$via: page executed by PHP";
    is $j && $j->{pool}, $via, "$via: served by the $via pool";
    is $j && $j->{script}, "$h/$via/page.php", "$via: PHP ran the requested file";
    is $j && $j->{get}{via}, $via, "$via: query string in \$_GET";
}

# ------------------------------------------------------------------ 2./3. recipe
my $cgibin = "$d/cgi-bin";
mkdir $cgibin, 0755 or die "mkdir $cgibin: $!";    # the directory exists, php-fcgi does not

sub recipe {
    my ($spec, $pass) = @_;
    my $opt = $pass ? ' -pass-header Authorization' : '';
    return <<"EOF";
FastCgiIpcDir $ipc
AddHandler php-fcgi .php
Action php-fcgi /php-fcgi
Alias /php-fcgi $cgibin/php-fcgi
FastCgiExternalServer $cgibin/php-fcgi $spec$opt
<Directory $cgibin>
    Require all granted
</Directory>
EOF
}

my $upload = join('', map { chr(($_ * 7 + 3) % 256) } 0 .. 99_999) . "\r\n--not-a-boundary\r\n";
my $upload_md5 = FcgixTest::md5_hex($upload);
my $auth = 'Basic ' . encode_base64('alice:pa:ss word', '');

for my $via (qw(unix tcp)) {
    my $spec = $via eq 'unix' ? "-socket $sock" : "-host 127.0.0.1:$fpm_port";
    $t->start_httpd(recipe($spec, 1));
    ok !-e "$cgibin/php-fcgi", "$via recipe: the FastCGI file is virtual";

    # PATH_INFO
    my ($r, $j) = fetch('GET', '/page.php/extra/info');
    is $r->code, 200, "$via recipe: /page.php/extra/info answers 200";
    is $j && $j->{pool}, $via, "$via recipe: served by the $via pool";
    is $j && $j->{script}, "$h/page.php", "$via recipe: PHP ran htdocs/page.php";
    is $j && $j->{server}{PATH_INFO}, '/extra/info', "$via recipe: \$_SERVER['PATH_INFO']";

    # $_GET
    ($r, $j) = fetch('GET', '/page.php?x=1&y=two%20words&arr[]=a&arr[]=b&e=%C3%A9');
    is $r->code, 200, "$via recipe: GET with query answers 200";
    is_deeply $j && $j->{get}, { x => '1', y => 'two words', arr => ['a', 'b'], e => "\x{e9}" },
        "$via recipe: query string in \$_GET";
    is $j && $j->{server}{REQUEST_METHOD}, 'GET', "$via recipe: REQUEST_METHOD GET";

    # urlencoded POST
    my $form = 'name=Bob+Smith&amount=12.50&note=a%26b%3Dc&e=%C3%A9';
    ($r, $j) = fetch('POST', '/page.php?q=1', body => $form,
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is $r->code, 200, "$via recipe: urlencoded POST answers 200";
    is_deeply $j && $j->{post}, { name => 'Bob Smith', amount => '12.50', note => 'a&b=c', e => "\x{e9}" },
        "$via recipe: form fields in \$_POST";
    is $j && $j->{get}{q}, '1', "$via recipe: POST keeps its query string in \$_GET";
    is $j && $j->{server}{REQUEST_METHOD}, 'POST', "$via recipe: REQUEST_METHOD POST";

    # multipart upload
    my $req = HTTP::Request::Common::POST('/page.php',
        Content_Type => 'form-data',
        Content => [
            title => 'my file',
            f => [undef, 'data.bin', 'Content-Type' => 'application/octet-stream', Content => $upload],
        ]);
    ($r, $j) = fetch_req($req);
    is $r->code, 200, "$via recipe: multipart POST answers 200";
    is $j && $j->{post}{title}, 'my file', "$via recipe: multipart text field in \$_POST";
    my $f = $j && $j->{files}{f};
    is $f && $f->{error}, 0, "$via recipe: \$_FILES upload without error";
    is $f && $f->{name}, 'data.bin', "$via recipe: \$_FILES name";
    is $f && $f->{size}, length $upload, "$via recipe: \$_FILES size";
    is $f && $f->{md5}, $upload_md5, "$via recipe: \$_FILES content intact";

    # Basic auth through -pass-header Authorization
    ($r, $j) = fetch('GET', '/page.php', headers => { Authorization => $auth });
    is $r->code, 200, "$via recipe: request with Authorization answers 200";
    is $j && $j->{server}{PHP_AUTH_USER}, 'alice', "$via recipe: -pass-header gives PHP_AUTH_USER";
    is $j && $j->{server}{PHP_AUTH_PW}, 'pa:ss word', "$via recipe: -pass-header gives PHP_AUTH_PW";
}

# without -pass-header, the credentials do not reach PHP
$t->start_httpd(recipe("-socket $sock", 0));
my ($r, $j) = fetch('GET', '/page.php/x', headers => { Authorization => $auth });
is $r->code, 200, 'no -pass-header: request answers 200';
is $j && $j->{server}{PATH_INFO}, '/x', 'no -pass-header: still the recipe (PATH_INFO)';
ok $j && !defined $j->{server}{PHP_AUTH_USER}, 'no -pass-header: no PHP_AUTH_USER';
ok $j && !defined $j->{server}{PHP_AUTH_PW}, 'no -pass-header: no PHP_AUTH_PW';
ok $j && !defined $j->{server}{HTTP_AUTHORIZATION}, 'no -pass-header: no HTTP_AUTHORIZATION';

$t->stop_httpd;
$t->stop_app($fpm);
ok !kill(0, $fpm->{pids}[0]), 'php-fpm stopped';
unlike FcgixTest::slurp($fpm_log), qr/\b(?:ERROR|ALERT)\b/, 'php-fpm error_log has no ERROR/ALERT'
    or diag(FcgixTest::slurp($fpm_log));

$t->done;
done_testing;
