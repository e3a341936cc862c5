#!/usr/bin/env bash
# bench/auth.sh - a static file behind a FastCGI authorizer: mod_fcgix's
# FastCgiAuthorizer against mod_authnz_fcgi's authz provider, same app.
#
# Not part of the test suite. See bench/AUTH.md for what it measures.
#
#   bash bench/auth.sh                     # defaults: one 10 s wrk run per leg, c=64 (~4 min)
#   BENCH_DURATION=30 bash bench/auth.sh
#
# Environment (all optional):
#   BENCH_DURATION   seconds of the wrk run                        (10)
#   BENCH_WARMUP     seconds of unrecorded wrk before it            (2; 0 = none)
#   BENCH_CONNS      wrk connections                                (64)
#   BENCH_POOL       authorizer processes (one pool, socket on fd 0) (4)
#   BENCH_ROUNDS     run all legs this many times, in turn; figures over all rounds (1)
#   BENCH_TW_DRAIN   1 = before each leg, wait (<= 80 s) until at most
#                    BENCH_TW_MAX (2000) TCP sockets are in TIME_WAIT      (1)
#   BENCH_LEGS       legs to run      ("basic fcgix authnz_fcgi"; also fcgix_unix)
#   BENCH_RESULTS    results file  (bench/results-auth-YYYY-MM-DD-HHMMSS.txt)
#   FCGIX_SO         module to load                                 (build/mod_fcgix.so)
#   BENCH_NO_BUILD   1 = do not run make
#   BENCH_KEEP       1 = keep the temporary directory (configs, logs)
set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NOTE_TAG=bench-auth
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-64}
POOL=${BENCH_POOL:-4}
TW_DRAIN=${BENCH_TW_DRAIN:-1}
ROUNDS=${BENCH_ROUNDS:-1}
TW_MAX=${BENCH_TW_MAX:-2000}
LEGS=${BENCH_LEGS-"basic fcgix authnz_fcgi"}
FCGIX_SO=${FCGIX_SO:-$REPO/build/mod_fcgix.so}
RESULTS=${BENCH_RESULTS:-$REPO/bench/results-auth-$(date +%Y-%m-%d-%H%M%S).txt}
MODDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
KEEP_TMP=${BENCH_KEEP:-0}

for leg in $LEGS; do
    case $leg in basic | fcgix | fcgix_unix | authnz_fcgi) ;;
    *) echo "unknown leg '$leg' (basic fcgix fcgix_unix authnz_fcgi)" >&2; exit 2 ;; esac
done

stop_httpd() {
    [ -n "$HTTPD_CONF" ] || return 0
    local pid=$HTTPD_PID
    [ -z "$pid" ] && [ -s "$TMP/httpd.pid" ] && pid=$(cat "$TMP/httpd.pid")
    apache2 -f "$HTTPD_CONF" -k stop >>"$TMP/logs/stop.log" 2>&1 ||
        note "apache2 -k stop exited $? (see $TMP/logs/stop.log)"
    if [ -n "$pid" ] && ! wait_gone "$pid" 300; then
        # the master this script started: SIGTERM is what -k stop sends
        note "httpd $pid did not stop within 30 s of apache2 -k stop; sending it SIGTERM"
        out "!! httpd $pid ($HTTPD_CONF) did not stop within 30 s of apache2 -k stop"
        kill -TERM "$pid" 2>/dev/null
        wait_gone "$pid" 100
    fi
    HTTPD_CONF=""
    HTTPD_PID=""
}
install_traps stop_httpd_and_pools

# ------------------------------------------------------------------ build
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    note "building mod_fcgix and the test apps"
    make -s -C "$REPO" -f Makefile.apxs >&2 || die "module build failed"
    make -s -C "$REPO/t/apps" >&2 || die "app build failed"
fi
[ -x "$REPO/t/apps/bin/authz" ] || die "t/apps/bin/authz missing (make -C t/apps)"
[ -f "$FCGIX_SO" ] || die "$FCGIX_SO missing"
[ -f "$MODDIR/mod_authnz_fcgi.so" ] || die "$MODDIR/mod_authnz_fcgi.so missing"
need_commands wrk curl

# ------------------------------------------------------------------ temp dir
make_tmp fcgix-bench-auth
mkdir -p "$TMP/htdocs/prot" "$TMP/run" "$TMP/fcgix-ipc" "$TMP/apps" "$TMP/logs" "$TMP/sock"
cp "$REPO/t/apps/bin/authz" "$TMP/apps/authz"
chmod 755 "$TMP/apps/authz"
printf 'protected\n' >"$TMP/htdocs/prot/file.txt"
# mod_authn_file users in both legs ({SHA}: cheap to check, the same cost in each)
perl -MDigest::SHA=sha1 -MMIME::Base64 -e '
    for (["alice", "secret"], ["bob", "builder"]) {
        print "$_->[0]:{SHA}", encode_base64(sha1($_->[1]), ""), "\n";
    }' >"$TMP/users.passwd"
chmod 644 "$TMP/users.passwd"

set_run_user "$TMP/fcgix-ipc" "$TMP/run"
chmod 700 "$TMP/fcgix-ipc"

# The app pool: bench/spawn.pl, a listening socket on fd 0 of POOL processes,
# loopback only, one PID to stop. The app gets PATH as its only variable.
APP_CMD=(env -i PATH=/usr/bin:/bin "$TMP/apps/authz")

# A fresh pool per leg, on a fresh TCP port (or Unix socket): every request
# opens one connection to the app, and the TIME_WAIT sockets a leg leaves
# behind (tens of thousands: ip_local_port_range) must not slow the next
# leg's connects to the same address.
APP_PORT=""
POOL_PID=""
start_pool() { # leg
    if [ "$1" = fcgix_unix ]; then
        rm -f "$TMP/sock/authz.sock"
        spawn_pool "unix:$TMP/sock/authz.sock" "$TMP/logs/authz-$1.log" "$TMP/logs/spawn.log" "${APP_CMD[@]}"
        POOL_PID=${SPAWNER_PIDS[-1]}
        wait_socket "$TMP/sock/authz.sock"
        return
    fi
    APP_PORT=$(free_port) || return 1
    spawn_pool "tcp:127.0.0.1:$APP_PORT" "$TMP/logs/authz-$1.log" "$TMP/logs/spawn.log" "${APP_CMD[@]}"
    POOL_PID=${SPAWNER_PIDS[-1]}
    wait_port 127.0.0.1 "$APP_PORT" 10
}
stop_pool() {
    [ -n "$POOL_PID" ] || return 0
    stop_spawners "$POOL_PID"
    POOL_PID=""
}
timewait() { ss -Htn state time-wait 2>/dev/null | wc -l; }
# The number of TIME_WAIT sockets on the machine slows connect() (the
# ephemeral port search): each leg starts only once the previous legs' have
# expired (tcp_fin_timeout, 60 s), so no leg pays for another's.
drain_timewait() {
    local i n
    [ "$TW_DRAIN" = 1 ] || return 0
    for i in $(seq 1 80); do
        n=$(timewait)
        [ "$n" -le "$TW_MAX" ] && return 0
        [ "$i" = 1 ] && note "waiting for $n TIME_WAIT sockets to expire (<= $TW_MAX, at most 80 s)"
        sleep 1
    done
    note "still $(timewait) TIME_WAIT sockets after 80 s; going on"
}

# ------------------------------------------------------------------ httpd
gen_conf() { # leg conffile
    local leg=$1
    {
        one_httpd_conf_head "$leg"
        cat <<EOF
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authn_file_module $MODDIR/mod_authn_file.so
LoadModule auth_basic_module $MODDIR/mod_auth_basic.so
EOF
        [ -n "$RUN_USER" ] && printf 'User %s\nGroup %s\n' "$RUN_USER" "$RUN_USER"
        cat <<EOF
ServerLimit 2
$(event_mpm_conf)
Timeout 60
DocumentRoot "$TMP/htdocs"
<Directory />
    AllowOverride None
    Require all granted
</Directory>
EOF
        case $leg in
        basic)
            cat <<EOF
<Directory "$TMP/htdocs/prot">
    AuthType Basic
    AuthName "bench"
    AuthBasicProvider file
    AuthUserFile "$TMP/users.passwd"
    Require user alice
</Directory>
EOF
            ;;
        fcgix | fcgix_unix)
            local spec="-host 127.0.0.1:$APP_PORT"
            [ "$leg" = fcgix_unix ] && spec="-socket $TMP/sock/authz.sock"
            cat <<EOF
LoadModule fcgix_module $FCGIX_SO
FastCgiIpcDir "$TMP/fcgix-ipc"
FastCgiExternalServer "$TMP/apps/authz" $spec
<Directory "$TMP/htdocs/prot">
    AuthType Basic
    AuthName "bench"
    AuthBasicProvider file
    AuthUserFile "$TMP/users.passwd"
    FastCgiAuthorizer "$TMP/apps/authz"
    Require valid-user
</Directory>
EOF
            ;;
        authnz_fcgi)
            cat <<EOF
LoadModule authnz_fcgi_module $MODDIR/mod_authnz_fcgi.so
AuthnzFcgiDefineProvider authz benchauthz fcgi://127.0.0.1:$APP_PORT/
<Directory "$TMP/htdocs/prot">
    AuthType Basic
    AuthName "bench"
    AuthBasicProvider file
    AuthUserFile "$TMP/users.passwd"
    Require benchauthz
</Directory>
EOF
            ;;
        esac
    } >"$2"
}

URL_PATH=/prot/file.txt
AUTH_ALICE="Authorization: Basic $(printf 'alice:secret' | base64)"
AUTH_BOB="Authorization: Basic $(printf 'bob:builder' | base64)"

check_leg() { # leg -> 0 when alice gets the file and bob / nobody do not
    local url="http://127.0.0.1:$HTTP_PORT$URL_PATH" a b n body
    body=$(curl -sS -m 10 -H "$AUTH_ALICE" "$url" 2>&1)
    a=$(curl -sS -o /dev/null -m 10 -w '%{http_code}' -H "$AUTH_ALICE" "$url" 2>&1)
    b=$(curl -sS -o /dev/null -m 10 -w '%{http_code}' -H "$AUTH_BOB" "$url" 2>&1)
    n=$(curl -sS -o /dev/null -m 10 -w '%{http_code}' "$url" 2>&1)
    note "$1: alice -> $a, bob -> $b (the authorizer says no), no credentials -> $n"
    [ "$a" = 200 ] && [ "$body" = protected ] && [ "$b" = 401 ] && [ "$n" = 401 ]
}

# CPU accounting, to tell a quiet run from one that shared the cpus with
# something else: busy jiffies of the whole machine (/proc/stat) minus those
# of this run's own processes (httpd and its children, the app pools, wrk).
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
machine_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
tree_pids() { # pid... -> the pids and all their descendants
    local p
    for p in "$@"; do
        echo "$p"
        # shellcheck disable=SC2046
        [ -r "/proc/$p/task/$p/children" ] && tree_pids $(cat "/proc/$p/task/$p/children" 2>/dev/null)
    done
}
tree_jiffies() { # pid... -> utime + stime of their process trees
    local p sum=0 v
    for p in $(tree_pids "$@"); do
        v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

declare -A NREQ SECS HJ AJ XCPU WALL ERR LAT RLIST
run_wrk() { # leg round
    local leg=$1 log="$TMP/logs/wrk-$1-$2.log" url="http://127.0.0.1:$HTTP_PORT$URL_PATH"
    local b0 h0 a0 b1 h1 a1 w t0 t1 x n secs rps e
    if [ "$WARMUP" != 0 ]; then
        wrk -t 2 -c 16 -d "${WARMUP}s" --timeout 10s -H "$AUTH_ALICE" "$url" >/dev/null 2>&1
    fi
    b0=$(machine_busy); h0=$(tree_jiffies "$HTTPD_PID"); a0=$(tree_jiffies ${POOL_PID:+"$POOL_PID"}); t0=$(date +%s.%N)
    # bash's time keyword reports wrk's own cpu seconds (user, sys)
    w=$( { TIMEFORMAT='%U %S'; time wrk -t 2 -c "$CONNS" -d "${DURATION}s" --timeout 10s --latency \
        -H "$AUTH_ALICE" "$url" >"$log" 2>&1; } 2>&1)
    b1=$(machine_busy); h1=$(tree_jiffies "$HTTPD_PID"); a1=$(tree_jiffies ${POOL_PID:+"$POOL_PID"}); t1=$(date +%s.%N)
    # cpu seconds used by processes outside this run (machine busy - httpd - app - wrk)
    x=$(awk -v b="$((b1 - b0))" -v o="$((h1 - h0 + a1 - a0))" -v w="$w" -v hz="$HZ" '
        BEGIN { split(w, a, " "); x = (b - o) / hz - (a[1] + a[2]); printf "%.3f", x < 0 ? 0 : x }')
    n=$(awk '/requests in/ { print $1; exit }' "$log")
    secs=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4; exit }' "$log")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$log")
    e=$(awk '/Socket errors:/ { gsub(",", ""); n = $4 + $6 + $8 + $10 } /Non-2xx/ { n += $NF } END { print n + 0 }' "$log")
    NREQ[$leg]=$(( ${NREQ[$leg]:-0} + ${n:-0} ))
    SECS[$leg]=$(awk -v a="${SECS[$leg]:-0}" -v b="${secs:-0}" 'BEGIN { print a + b }')
    HJ[$leg]=$(( ${HJ[$leg]:-0} + h1 - h0 ))
    AJ[$leg]=$(( ${AJ[$leg]:-0} + a1 - a0 ))
    XCPU[$leg]=$(awk -v a="${XCPU[$leg]:-0}" -v b="$x" 'BEGIN { print a + b }')
    WALL[$leg]=$(awk -v a="${WALL[$leg]:-0}" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
    ERR[$leg]=$(( ${ERR[$leg]:-0} + e ))
    LAT[$leg]=$(awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } END { if (p50 != "") print p50 "/" p99 }' "$log")
    RLIST[$leg]="${RLIST[$leg]:+${RLIST[$leg]} }$(printf '%.0f' "${rps:-0}")"
    note "$leg round $2: ${rps:-?} req/s, p50/p99 ${LAT[$leg]:-?}, errors/non-2xx $e, other processes $x cpu-s"
}
# requests/s over all rounds; cpu microseconds per request; other processes' cpu share
rps_of() { awk -v n="${NREQ[$1]:-0}" -v s="${SECS[$1]:-0}" 'BEGIN { if (s > 0) printf "%.0f", n / s }'; }
us_per_req() { awk -v j="$2" -v hz="$HZ" -v n="${NREQ[$1]:-0}" 'BEGIN { if (n > 0) printf "%.1f", 1e6 * j / hz / n }'; }
other_pct() { awk -v x="${XCPU[$1]:-0}" -v w="${WALL[$1]:-0}" -v c="$(nproc)" 'BEGIN { if (w > 0) printf "%.1f", 100 * x / (w * c) }'; }

# ------------------------------------------------------------------ run
: >"$RESULTS" || die "cannot write $RESULTS"
out "FastCGI authorizer benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
out "commit:   $(describe_commit)"
out "host:     $(describe_host)"
out "httpd:    $(apache_version), event MPM, 2 children x 64 threads, KeepAlive on"
out "wrk:      ${DURATION}s x $ROUNDS round(s) per leg, c=$CONNS, 2 threads, ${WARMUP}s warm-up; GET $URL_PATH (10-byte static file) as alice"
out "app:      t/apps/authz (libfcgi), $POOL processes on one socket (fd 0); a fresh pool and TCP port per leg"
out "tcp:      ip_local_port_range $(tr '\t' ' ' </proc/sys/net/ipv4/ip_local_port_range), tcp_tw_reuse $(cat /proc/sys/net/ipv4/tcp_tw_reuse); one app connection per request"
out "auth:     AuthType Basic, mod_authn_file ({SHA}) authenticates in every leg; the authorizer app decides"
out "load avg: $(cut -d' ' -f1-3 /proc/loadavg) at start"
out ""

declare -A TW
for round in $(seq 1 "$ROUNDS"); do
    for leg in $LEGS; do
        note "=== $leg (round $round of $ROUNDS)"
        if [ "$leg" != basic ] && ! start_pool "$leg"; then out "!! $leg: the app pool did not come up"; stop_pool; continue; fi
        if ! start_one_httpd "$leg"; then out "!! $leg: httpd did not start"; stop_pool; continue; fi
        if ! check_leg "$leg"; then
            out "!! $leg: the sanity check failed (see notes); not measured"
            log_tail "$leg"
            stop_httpd
            stop_pool
            continue
        fi
        drain_timewait
        TW[$leg]="${TW[$leg]:+${TW[$leg]} }$(timewait)"
        run_wrk "$leg" "$round"
        stop_httpd
        stop_pool
        sleep 1
    done
done

declare -A DESC=(
    [basic]="mod_authn_file + Require user alice, no FastCGI (ceiling)"
    [fcgix]="mod_fcgix FastCgiAuthorizer, TCP"
    [fcgix_unix]="mod_fcgix FastCgiAuthorizer, Unix socket"
    [authnz_fcgi]="mod_authnz_fcgi authz provider (Require), TCP"
)
line=$(printf '%-12s %11s %17s %6s %10s %8s %7s  %s' leg "requests/s" "p50/p99" errors "httpd us/r" "app us/r" "other%" \
    configuration)
out "$line"
for leg in $LEGS; do
    line=$(printf '%-12s %11s %17s %6s %10s %8s %7s  %s' "$leg" "$(rps_of "$leg")" "${LAT[$leg]:--}" "${ERR[$leg]:--}" \
        "$(us_per_req "$leg" "${HJ[$leg]:-0}")" "$(us_per_req "$leg" "${AJ[$leg]:-0}")" "$(other_pct "$leg")" "${DESC[$leg]}")
    out "$line"
done
if [ "$ROUNDS" -gt 1 ]; then
    for leg in $LEGS; do out "  $leg per round (requests/s): ${RLIST[$leg]:-}"; done
fi
for leg in $LEGS; do out "  $leg: TIME_WAIT sockets at the start of each run: ${TW[$leg]:--}"; done
out "requests/s over all rounds; p50/p99 of the last round"
out "httpd us/r, app us/r = cpu microseconds per request spent in httpd (all its processes) and in the app pool;"
out "         the app's is a gauge of the machine's speed: the same app doing the same work"
out "other% = cpu used by processes outside this benchmark during the wrk run, in percent of"
out "         all cpus; above a few percent the legs did not run under the same conditions"
out ""
out "fcgix / authnz_fcgi:  $(ratio "$(rps_of fcgix)" "$(rps_of authnz_fcgi)") requests/s   (target >= 1.2)"
out "authnz_fcgi / fcgix:  $(ratio "$(us_per_req authnz_fcgi "${HJ[authnz_fcgi]:-0}")" "$(us_per_req fcgix "${HJ[fcgix]:-0}")") httpd cpu per request (above 1: mod_fcgix cheaper)"
out "app cpu per request, authnz_fcgi / fcgix:  $(ratio "$(us_per_req authnz_fcgi "${AJ[authnz_fcgi]:-0}")" "$(us_per_req fcgix "${AJ[fcgix]:-0}")") (not 1: the app worked harder under one module, or the machine's speed changed between the legs)"
case " $LEGS " in *" fcgix_unix "*)
    out "fcgix_unix / authnz_fcgi:  $(ratio "$(rps_of fcgix_unix)" "$(rps_of authnz_fcgi)")" ;;
esac
FINISHED=1
note "results in $RESULTS"
