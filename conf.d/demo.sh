#!/bin/bash
# Starts (or stops) a demo apache2 with mod_fcgix on 127.0.0.1:${FCGIX_DEMO_PORT:-8089}:
#   /hello.fcgi      a C FastCGI app (libfcgi), run by mod_fcgix (FastCgiServer)
#   /fcgi-status     the process manager's scoreboard
#   /info.php        PHP through PHP-FPM with the classic mod_fastcgi recipe
# Usage: conf.d/demo.sh start | stop      (run from the repository root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${FCGIX_DEMO_PORT:-8089}
demo=${FCGIX_DEMO_DIR:-/tmp/fcgix-demo}
so=${FCGIX_SO:-$root/build/mod_fcgix.so}
mods=/usr/lib/apache2/modules
fpm=$(command -v php-fpm8.2 || command -v php-fpm || true)
user=www-data

stop() {
    [ -f "$demo/httpd.conf" ] && apache2 -f "$demo/httpd.conf" -k stop >/dev/null 2>&1 || true
    for f in "$demo"/run/*.pid; do
        [ -f "$f" ] || continue
        for pid in $(cat "$f"); do kill "$pid" 2>/dev/null || true; done
        rm -f "$f"
    done
}

if [ "${1:-start}" = stop ]; then stop; echo "demo stopped"; exit 0; fi
stop
rm -rf "$demo"
mkdir -p "$demo"/{htdocs,run,logs,cgi-bin}
chmod 755 "$demo" "$demo"/htdocs "$demo"/cgi-bin
chown "$user:$user" "$demo/run" "$demo/logs"

# The C app is a static application: mod_fcgix's process manager starts two
# processes at server start and keeps them running.
install -m 755 "$root/t/apps/bin/hello" "$demo/cgi-bin/hello.fcgi"

php_lines="# php-fpm not installed: no PHP demo"
if [ -n "$fpm" ]; then
    cat > "$demo/php-fpm.conf" <<EOC
[global]
pid = $demo/run/php-fpm.pid
error_log = $demo/logs/php-fpm.log
daemonize = yes
[demo]
user = $user
group = $user
listen = $demo/run/php.sock
listen.owner = $user
listen.group = $user
listen.mode = 0600
pm = static
pm.max_children = 2
EOC
    "$fpm" -R -y "$demo/php-fpm.conf"
    cat > "$demo/htdocs/info.php" <<'EOC'
<?php
header('Content-Type: text/plain');
echo "PHP ", PHP_VERSION, " via ", php_sapi_name(), " behind mod_fcgix\n";
echo "PATH_INFO=", $_SERVER['PATH_INFO'] ?? '', "\n";
echo "QUERY_STRING=", $_SERVER['QUERY_STRING'] ?? '', "\n";
EOC
    php_lines="AddHandler php-fcgi .php
Action php-fcgi /php-fcgi
Alias /php-fcgi $demo/cgi-bin/php-fcgi
FastCgiExternalServer $demo/cgi-bin/php-fcgi -socket $demo/run/php.sock -pass-header Authorization
<Directory $demo/cgi-bin>
    Require all granted
</Directory>"
fi

cat > "$demo/htdocs/index.html" <<EOC
<h1>mod_fcgix demo</h1>
<ul><li><a href="/hello.fcgi">/hello.fcgi</a> (C, libfcgi)</li>
<li><a href="/info.php/path/info?x=1">/info.php</a> (PHP-FPM)</li>
<li><a href="/fcgi-status">/fcgi-status</a> (process manager)</li></ul>
EOC
cat > "$demo/httpd.conf" <<EOC
ServerRoot $demo
ServerName localhost
Listen 127.0.0.1:$port
PidFile $demo/logs/httpd.pid
ErrorLog $demo/logs/error.log
LogLevel warn
DefaultRuntimeDir $demo/logs
Mutex file:$demo/logs
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
LoadModule alias_module $mods/mod_alias.so
LoadModule actions_module $mods/mod_actions.so
LoadModule dir_module $mods/mod_dir.so
LoadModule fcgix_module $so
TypesConfig /etc/mime.types
DirectoryIndex index.html
User $user
Group $user
DocumentRoot $demo/htdocs
<Directory $demo/htdocs>
    Require all granted
</Directory>
FastCgiIpcDir $demo/ipc
FastCgiServer $demo/cgi-bin/hello.fcgi -processes 2
Alias /hello.fcgi $demo/cgi-bin/hello.fcgi
<Location /fcgi-status>
    SetHandler fastcgi-status
</Location>
$php_lines
EOC
apache2 -f "$demo/httpd.conf" -k start
for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "mod_fcgix demo on http://127.0.0.1:$port/"
echo "  curl http://127.0.0.1:$port/hello.fcgi"
curl -s "http://127.0.0.1:$port/hello.fcgi"
if [ -n "$fpm" ]; then
    echo "  curl http://127.0.0.1:$port/info.php/path/info?x=1"
    curl -s "http://127.0.0.1:$port/info.php/path/info?x=1"
fi
echo "  curl http://127.0.0.1:$port/fcgi-status?auto"
echo "stop it with: $0 stop"
