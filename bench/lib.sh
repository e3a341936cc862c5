# bench/lib.sh - helpers shared by bench/run.sh, bench/pm.sh and bench/auth.sh.
# Sourced, not run. The caller provides:
#   NOTE_TAG        prefix of its notes on stderr ("[NOTE_TAG] ...")
#   RESULTS         the results file; FINISHED=1 once the run is complete
#   TMP             its temporary directory (make_tmp sets it), with logs/
#   KEEP_TMP        1 = on_exit keeps TMP
# and, for some helpers: HTTP_PORT, BIG_SIZE, HELLO_SIZE (url_for, check_url),
# POOL, RUN_USER, SPAWNER_PIDS (spawn_pool), gen_conf and stop_httpd
# (start_one_httpd).
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# state of the run, read and set by these helpers and the scripts
TMP=""
FINISHED=0
SPAWNER_PIDS=()  # spawn_pool's spawners
SERVER_PIN=()    # command prefix for apache2 -k start and pools (e.g. taskset -c 1)
# shellcheck disable=SC2034 # used by the scripts that source this file
CLIENT_PIN=()    # command prefix for the load generator (e.g. taskset -c 0)
HTTPD_CONF=""    # the current httpd's config file and master pid
HTTPD_PID=""
HTTP_PORT=""     # and its port

note() { printf '[%s] %s\n' "$NOTE_TAG" "$*" >&2; }
die() { note "FATAL: $*"; exit 1; }
out() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# ------------------------------------------------------------------ run lifecycle
# The EXIT trap: marks the results of an unfinished run as partial, stops what
# the run started (the function given to install_traps), removes TMP (unless
# KEEP_TMP=1).
EXIT_STOP=""
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$FINISHED" != 1 ] && [ -s "$RESULTS" ]; then
        printf '\n!! run did not finish (exit status %s): figures above are partial\n' "$rc" >>"$RESULTS"
    fi
    "$EXIT_STOP"
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        if [ "$KEEP_TMP" = 1 ]; then note "kept $TMP"; else rm -rf "$TMP"; fi
    fi
    exit $rc
}
install_traps() { # function that stops what the run started
    EXIT_STOP=$1
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

make_tmp() { # name -> TMP=/tmp/name.XXXXXX, mode 755
    TMP=$(mktemp -d "/tmp/$1.XXXXXX") || die "mktemp failed"
    chmod 755 "$TMP"
}

need_commands() { # command... -> dies unless each is installed
    local c
    for c in "$@"; do command -v "$c" >/dev/null || die "$c not installed (as root: bash bench/deps.sh)"; done
}

# RUN_USER: www-data when running as root (httpd's User, the apps' user), and
# the given directories become its; empty otherwise
set_run_user() { # dir...
    RUN_USER=""
    if [ "$(id -u)" = 0 ]; then
        RUN_USER=www-data
        id "$RUN_USER" >/dev/null 2>&1 || die "user www-data missing"
        chown "$RUN_USER:$RUN_USER" "$@"
    fi
}

# lines of the results header
describe_commit() {
    printf '%s%s' "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (dirty tree)')"
}
describe_host() {
    printf '%s, %s cpus, %s' "$(uname -sr)" "$(nproc)" "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
}
apache_version() { apache2 -v | awk -F': ' '/version/ { print $2 }'; }

# ------------------------------------------------------------------ processes, ports
wait_gone() { # pid tenths -> 0 once the process is gone, 1 if it still runs after tenths x 0.1 s
    local _
    for _ in $(seq 1 "$2"); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$1" 2>/dev/null
}

free_port() {
    perl -MIO::Socket::INET -e \
        'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1, ReuseAddr => 1) or die "$!\n"; print $s->sockport, "\n";'
}

wait_port() { # host port seconds
    perl -MIO::Socket::INET -MTime::HiRes=sleep -e '
        my ($h, $p, $t) = @ARGV;
        for (1 .. $t * 20) { exit 0 if IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p); sleep 0.05 }
        exit 1;' "$1" "$2" "$3"
}

wait_socket() { # path -> 0 once the Unix socket exists (<= 5 s)
    local _
    for _ in $(seq 1 100); do
        [ -S "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

# ------------------------------------------------------------------ app pools
# spawn_pool listen-spec app-log spawner-log command...: POOL processes of the
# command on one listening socket (bench/spawn.pl, as RUN_USER), in the
# background; the spawner's pid is appended to SPAWNER_PIDS
spawn_pool() {
    local spec=$1 log=$2 err=$3
    shift 3
    perl "$BENCH_DIR/spawn.pl" "$spec" "$POOL" "${RUN_USER:--}" "$log" "$@" 2>>"$err" &
    SPAWNER_PIDS+=($!)
}

# install_traps' function for the scripts with one httpd at a time: their
# stop_httpd, then the pools
stop_httpd_and_pools() {
    stop_httpd
    stop_spawners "${SPAWNER_PIDS[@]}"
}

stop_spawners() { # pid...: SIGTERM, after 10 s SIGKILL to the process group; reaps them
    local p
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for p in "$@"; do
        # a spawner leads its own process group (itself and its app processes)
        wait_gone "$p" 100 || kill -KILL -- "-$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

# ------------------------------------------------------------------ httpd
apache_configtest() { # conf name -> 0 when apache2 -t passes (else shows its output)
    apache2 -t -f "$1" >"$TMP/logs/configtest-$2.log" 2>&1 && return 0
    note "config test failed for $2:"; cat "$TMP/logs/configtest-$2.log" >&2
    return 1
}

apache_start() { # conf name -> 0 when apache2 -k start succeeds (else shows its output)
    "${SERVER_PIN[@]}" apache2 -f "$1" -k start >"$TMP/logs/start-$2.log" 2>&1 && return 0
    note "apache2 failed to start for $2"; cat "$TMP/logs/start-$2.log" >&2
    return 1
}

wait_pidfile() { # file tries -> the pid in it, once there (<= tries x 50 ms)
    local _
    for _ in $(seq 1 "$2"); do
        [ -s "$1" ] && break
        sleep 0.05
    done
    cat "$1" 2>/dev/null
}

apache_answers() { # name pid port -> 0 when the pid is known and the port answers (<= 10 s)
    [ -n "$2" ] && wait_port 127.0.0.1 "$3" 10 && return 0
    note "apache2 did not come up for $1"; tail -20 "$TMP/logs/error-$1.log" >&2
    return 1
}

# httpd.conf of every benchmark: the event MPM with 2 children x 64 threads
# (ServerLimit and Timeout are the caller's), keep-alive without limits
event_mpm_conf() {
    cat <<'EOF'
StartServers 2
ThreadsPerChild 64
MaxRequestWorkers 128
MinSpareThreads 64
MaxSpareThreads 256
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
EOF
}

# httpd.conf head: where it listens and keeps its files, the event MPM,
# authz_core. The default Mutex mechanism, as in Debian's stock
# configuration: with `Mutex file:` mod_fcgid's process-table lock fails
# under the event MPM.
httpd_conf_head() { # name pidfile runtime-dir
    cat <<EOF
ServerRoot "$TMP"
ServerName 127.0.0.1
Listen 127.0.0.1:$HTTP_PORT
PidFile "$2"
DefaultRuntimeDir "$3"
ErrorLog "$TMP/logs/error-$1.log"
LogLevel warn
LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
EOF
}

# the same for the scripts with one httpd at a time (start_one_httpd)
one_httpd_conf_head() { httpd_conf_head "$1" "$TMP/httpd.pid" "$TMP/run"; } # name

# One httpd at a time, PidFile $TMP/httpd.pid: a free port (HTTP_PORT), the
# config (gen_conf NAME CONF), apache2 -t, -k start; waits until it answers.
# Sets HTTPD_CONF and HTTPD_PID; stops it again (stop_httpd) on failure.
start_one_httpd() { # name
    local name=$1 conf="$TMP/httpd-$1.conf"
    HTTP_PORT=$(free_port) || die "no free port"
    gen_conf "$name" "$conf"
    apache_configtest "$conf" "$name" || return 1
    rm -f "$TMP/httpd.pid"
    # shellcheck disable=SC2034 # the caller's stop_httpd reads it
    HTTPD_CONF=$conf
    apache_start "$conf" "$name" || { stop_httpd; return 1; }
    HTTPD_PID=$(wait_pidfile "$TMP/httpd.pid" 100)
    apache_answers "$name" "$HTTPD_PID" "$HTTP_PORT" || { stop_httpd; return 1; }
}

# ------------------------------------------------------------------ requests
url_for() { # app
    case $1 in
    hello) echo "http://127.0.0.1:$HTTP_PORT/hello.fcgi" ;;
    big) echo "http://127.0.0.1:$HTTP_PORT/respond.fcgi?size=$BIG_SIZE" ;;
    static) echo "http://127.0.0.1:$HTTP_PORT/ok.txt" ;; # a file httpd serves itself
    php) echo "http://127.0.0.1:$HTTP_PORT/hello.php" ;;  # bench/pm-fpm.sh: "hello\n"
    esac
}

# app -> 0 if status 200 and the expected body size: BIG_SIZE for big;
# for hello HELLO_SIZE when set, else any non-empty body
check_url() {
    local url res code size
    url=$(url_for "$1")
    res=$(curl -sS -o /dev/null -m 30 -w '%{http_code} %{size_download}' "$url" 2>&1)
    code=${res%% *}; size=${res##* }
    if [ "$code" != 200 ]; then note "$url -> $res"; return 1; fi
    if [ "$1" = big ] && [ "$size" != "$BIG_SIZE" ]; then note "$url -> $size bytes, want $BIG_SIZE"; return 1; fi
    if [ "$1" = php ] && [ "$size" != 6 ]; then note "$url -> $size bytes, want 6 (hello)"; return 1; fi
    if [ "$1" = hello ]; then
        if [ -n "${HELLO_SIZE:-}" ] && [ "$size" != "$HELLO_SIZE" ]; then
            note "$url -> $size bytes, want $HELLO_SIZE"; return 1
        fi
        if [ -z "${HELLO_SIZE:-}" ] && [ "$size" = 0 ]; then note "$url -> empty body"; return 1; fi
    fi
    return 0
}

# app's URL answers (check_url); else a "!!" line in the results with the
# tail of the error log NAME, and 1
url_ok() { # front-end app name
    check_url "$2" && return 0
    out "!! $1: $2 does not answer 200 with the expected body; skipped"
    log_tail "$3"
    return 1
}

log_tail() { # name -> the last lines of error log NAME into the results, indented
    tail -5 "$TMP/logs/error-$1.log" | sed 's/^/   /' | tee -a "$RESULTS"
}

ratio() { # a b -> a/b with 2 decimals, or -
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}
