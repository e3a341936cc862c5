#!/usr/bin/env bash
# bench/run.sh - compare mod_fcgix with mod_proxy_fcgi and mod_fcgid.
#
# Not part of the test suite. See bench/README.md for what it measures.
#
#   bash bench/run.sh                       # defaults: 10 s per wrk run, c=1 and c=64
#   BENCH_DURATION=30 bash bench/run.sh
#
# Environment (all optional):
#   BENCH_DURATION    seconds per wrk run                     (10)
#   BENCH_WARMUP      seconds of unrecorded wrk before each app (2; 0 = none)
#   BENCH_CONNS       wrk concurrencies                        ("1 64")
#   BENCH_POOL        FastCGI processes per app (external pool and
#                     FcgidMaxProcessesPerClass)               (4)
#   BENCH_TRANSPORT   tcp (127.0.0.1:port) or unix (socket path) (tcp)
#   BENCH_FRONTENDS   legs to run        ("fcgix proxy_fcgi proxy_fcgi_reuse fcgid")
#   BENCH_MEMORY      1 = run the RSS measurements, 0 = skip   (1)
#   BENCH_MEM_FRONTENDS front ends measured for RSS    ("fcgix proxy_fcgi fcgid")
#   BENCH_STREAM_MIB  response size streamed for the RSS test  (100)
#   BENCH_SLOW_RATE   curl --limit-rate of the slow-client stream (25M; 100 MiB = 4 s)
#   BENCH_UPLOAD_MIB  chunked request body size for the RSS test (1024)
#   BENCH_REUSE_MAX   max= of the proxy_fcgi enablereuse worker, per child (BENCH_POOL/2)
#   BENCH_APPS_DIR    directory holding hello and respond      (t/apps/bin)
#   BENCH_RESULTS     results file  (bench/results-YYYY-MM-DD-HHMMSS.txt)
#   FCGIX_SO          module to load                           (build/mod_fcgix.so)
#   BENCH_NO_BUILD    1 = do not run make
#   BENCH_KEEP        1 = keep the temporary directory (configs, logs) for debugging
set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NOTE_TAG=bench
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-"1 64"}
POOL=${BENCH_POOL:-4}
TRANSPORT=${BENCH_TRANSPORT:-tcp}
FRONTENDS=${BENCH_FRONTENDS-"fcgix proxy_fcgi proxy_fcgi_reuse fcgid"}
MEMORY=${BENCH_MEMORY:-1}
MEM_FRONTENDS=${BENCH_MEM_FRONTENDS-"fcgix proxy_fcgi fcgid"}
STREAM_MIB=${BENCH_STREAM_MIB:-100}
UPLOAD_MIB=${BENCH_UPLOAD_MIB:-1024}
SLOW_RATE=${BENCH_SLOW_RATE:-25M}
APPS_DIR=${BENCH_APPS_DIR:-$REPO/t/apps/bin}
FCGIX_SO=${FCGIX_SO:-$REPO/build/mod_fcgix.so}
RESULTS=${BENCH_RESULTS:-$REPO/bench/results-$(date +%Y-%m-%d-%H%M%S).txt}
MODDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
BIG_SIZE=1048576
REUSE_MAX=${BENCH_REUSE_MAX:-$(( POOL / 2 > 0 ? POOL / 2 : 1 ))}
KEEP_TMP=${BENCH_KEEP:-0}

case $TRANSPORT in tcp | unix) ;; *) echo "BENCH_TRANSPORT must be tcp or unix" >&2; exit 2 ;; esac
for fe in $FRONTENDS $MEM_FRONTENDS; do
    case $fe in fcgix | proxy_fcgi | proxy_fcgi_reuse | fcgid) ;;
    *) echo "unknown front end '$fe' (fcgix proxy_fcgi proxy_fcgi_reuse fcgid)" >&2; exit 2 ;; esac
done

# ------------------------------------------------------------------ helpers
stop_httpd() {
    [ -n "$HTTPD_CONF" ] || return 0
    local pid=$HTTPD_PID
    [ -z "$pid" ] && [ -s "$TMP/httpd.pid" ] && pid=$(cat "$TMP/httpd.pid")
    apache2 -f "$HTTPD_CONF" -k stop >/dev/null 2>&1
    if [ -n "$pid" ] && ! wait_gone "$pid" 300; then
        note "httpd $pid did not stop; sending SIGKILL to it and its children"
        kill -KILL "$pid" $(children_of "$pid") 2>/dev/null
    fi
    HTTPD_CONF=""
    HTTPD_PID=""
}
install_traps stop_httpd_and_pools

children_of() { # pid -> pids whose parent it is
    local st ppid
    for st in /proc/[0-9]*/status; do
        ppid=$(sed -n 's/^PPid:[[:space:]]*//p' "$st" 2>/dev/null)
        [ "$ppid" = "$1" ] || continue
        st=${st#/proc/}
        echo "${st%/status}"
    done
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ------------------------------------------------------------------ build
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
    if [ -f "$REPO/Makefile.apxs" ] && [ -f "$REPO/mod_fcgix.c" ]; then
        note "building mod_fcgix (make -f Makefile.apxs)"
        make -s -C "$REPO" -f Makefile.apxs >&2 || { note "module build failed; fcgix legs skipped"; BUILD_FAILED=1; }
    fi
    if [ -f "$REPO/t/apps/Makefile" ]; then
        note "building test apps (make -C t/apps)"
        make -s -C "$REPO/t/apps" >&2 || note "app build failed"
    fi
fi

for a in hello respond upload; do
    [ -x "$APPS_DIR/$a" ] || die "$APPS_DIR/$a missing (build t/apps or set BENCH_APPS_DIR)"
done
need_commands wrk curl

HAVE_FCGIX=1
[ -f "$FCGIX_SO" ] || { HAVE_FCGIX=0; note "$FCGIX_SO not found; fcgix legs skipped"; }
[ "${BUILD_FAILED:-0}" = 1 ] && HAVE_FCGIX=0    # never measure a stale module

# ------------------------------------------------------------------ temp dir
make_tmp fcgix-bench
mkdir -p "$TMP/htdocs" "$TMP/sock" "$TMP/run" "$TMP/fcgid" "$TMP/fcgix-ipc" "$TMP/apps" "$TMP/logs"
# Private copies of the binaries: www-data must be able to execute them (mod_fcgid
# spawns them itself) and the docroot needs real files for mod_fcgid.
for a in hello respond upload; do
    cp "$APPS_DIR/$a" "$TMP/apps/$a"
    chmod 755 "$TMP/apps/$a"
    cp "$TMP/apps/$a" "$TMP/htdocs/$a.fcgi"
done

set_run_user "$TMP/fcgid" "$TMP/fcgix-ipc" "$TMP/run"
chmod 700 "$TMP/fcgix-ipc"

# The apps run in pools of bench/spawn.pl (a listening socket on fd 0 of POOL
# processes, loopback only).
start_pool() { # name app -> sets ADDR_<name>
    local name=$1 app=$2 spec
    if [ "$TRANSPORT" = tcp ]; then
        local port
        port=$(free_port) || die "no free port"
        spec="tcp:127.0.0.1:$port"
    else
        spec="unix:$TMP/sock/$name.sock"
    fi
    spawn_pool "$spec" "$TMP/logs/$name-app.log" "$TMP/logs/$name-spawn.log" "$app"
    if [ "$TRANSPORT" = tcp ]; then
        wait_port 127.0.0.1 "$port" 10 || die "pool $name did not come up"
        printf -v "ADDR_$name" '%s' "127.0.0.1:$port"
    else
        wait_socket "$TMP/sock/$name.sock" || die "pool $name did not come up"
        printf -v "ADDR_$name" '%s' "$TMP/sock/$name.sock"
    fi
}

# ------------------------------------------------------------------ httpd config
gen_conf() { # frontend conffile
    local fe=$1 conf=$2
    {
        one_httpd_conf_head "$fe"
        [ -n "$RUN_USER" ] && printf 'User %s\nGroup %s\n' "$RUN_USER" "$RUN_USER"
        # Two children, never more and never fewer: the RSS test compares the
        # same processes before and after, and the throughput runs see a fixed pool.
        cat <<EOF
ServerLimit 2
$(event_mpm_conf)
Timeout 120
LimitRequestBody 0
DocumentRoot "$TMP/htdocs"
<Directory />
    AllowOverride None
    Require all granted
</Directory>
EOF
        case $fe in
        fcgix)
            local opt
            cat <<EOF
LoadModule fcgix_module $FCGIX_SO
FastCgiIpcDir "$TMP/fcgix-ipc"
EOF
            for app in hello respond upload; do
                local var="ADDR_$app"
                if [ "$TRANSPORT" = tcp ]; then opt="-host ${!var}"; else opt="-socket ${!var}"; fi
                echo "FastCgiExternalServer \"$TMP/htdocs/$app.fcgi\" $opt -idle-timeout 120"
            done
            ;;
        proxy_fcgi | proxy_fcgi_reuse)
            # With reuse, each child keeps up to max= connections open, and a
            # libfcgi process serves one connection at a time: more pooled
            # connections than backend processes stall requests on connections
            # no process will ever accept. So max = pool size / ServerLimit.
            local reuse="enablereuse=off"
            [ "$fe" = proxy_fcgi_reuse ] && reuse="enablereuse=on max=$REUSE_MAX"

            cat <<EOF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_fcgi_module $MODDIR/mod_proxy_fcgi.so
EOF
            for app in hello respond upload; do
                local var="ADDR_$app" worker handler
                if [ "$TRANSPORT" = tcp ]; then
                    worker="fcgi://${!var}"
                    handler="proxy:fcgi://${!var}"
                else
                    worker="fcgi://$app"
                    handler="proxy:unix:${!var}|fcgi://$app"
                fi
                cat <<EOF
<Proxy "$worker">
    ProxySet $reuse timeout=120
</Proxy>
<Location "/$app.fcgi">
    SetHandler "$handler"
</Location>
EOF
            done
            ;;
        fcgid)
            cat <<EOF
LoadModule fcgid_module $MODDIR/mod_fcgid.so
FcgidIPCDir "$TMP/fcgid"
FcgidProcessTableFile "$TMP/fcgid/shm"
FcgidMaxProcesses $((POOL * 2))
FcgidMaxProcessesPerClass $POOL
FcgidMinProcessesPerClass $POOL
FcgidMaxRequestsPerProcess 0
FcgidIdleTimeout 600
FcgidProcessLifeTime 3600
FcgidIOTimeout 120
FcgidConnectTimeout 20
FcgidMaxRequestLen 2147483647
<Files "*.fcgi">
    SetHandler fcgid-script
    Options +ExecCGI
</Files>
EOF
            ;;
        esac
    } >"$conf"
}

start_httpd() { # frontend
    local i
    start_one_httpd "$1" || return 1
    # wait until both children exist
    for i in $(seq 1 100); do [ "$(child_pids | wc -w)" -ge 2 ] && break; sleep 0.05; done
    return 0
}

child_pids() { # worker children of the httpd master
    local pid exe threads
    exe=$(readlink -f "$(command -v apache2)")
    for pid in $(children_of "$HTTPD_PID"); do
        # only the apache2 binary (not mod_fcgid's apps) ...
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] || continue
        # ... with worker threads (not mod_fcgid's process manager)
        threads=$(status_kb "$pid" Threads)
        [ "${threads:-0}" -gt 1 ] || continue
        echo "$pid"
    done
}

status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$1/status" 2>/dev/null; }

declare -A RPS ERR LAT
WRK_DETAIL=()

run_wrk() { # fe app conns
    local fe=$1 app=$2 c=$3 url t log rps errs lat
    url=$(url_for "$app")
    t=$((c < 2 ? c : 2))
    log="$TMP/logs/wrk-$fe-$app-$c.log"
    wrk -t "$t" -c "$c" -d "${DURATION}s" --timeout 10s --latency "$url" >"$log" 2>&1
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$log")
    # wrk's "Avg" latency is unreliable at c=1 (it does not match 1/rate); use percentiles
    lat=$(awk '$1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } END { if (p50 != "") print p50 "/" p99 }' "$log")
    errs=$(awk '/Socket errors:/ { gsub(",", ""); n = $4 + $6 + $8 + $10 } /Non-2xx/ { n += $NF } END { print n + 0 }' "$log")
    RPS[$fe,$app,$c]=${rps:-0}
    LAT[$fe,$app,$c]=${lat:-?}
    ERR[$fe,$app,$c]=$errs
    if [ "$errs" != 0 ]; then
        WRK_DETAIL+=("$fe $app c=$c: $(grep -E 'Socket errors|Non-2xx' "$log" | tr -s ' ' | paste -sd';')")
    fi
    note "$fe $app c=$c: ${rps:-?} req/s, latency p50/p99 ${lat:-?}, errors $errs"
}

backend_conns() { # count established connections to the external pools
    if [ "$TRANSPORT" = tcp ]; then
        local n=0 app var port
        for app in hello respond upload; do
            var="ADDR_$app"; port=${!var##*:}
            n=$((n + $(ss -Htn state established "( dport = :$port )" 2>/dev/null | wc -l)))
        done
        echo $n
    else
        echo "?"
    fi
}

# ------------------------------------------------------------------ run
: >"$RESULTS" || die "cannot write $RESULTS"
start_pool hello "$TMP/apps/hello"
start_pool respond "$TMP/apps/respond"
start_pool upload "$TMP/apps/upload"

out "mod_fcgix benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
out "commit:     $(describe_commit)"
out "host:       $(describe_host)"
out "httpd:      $(apache_version), event MPM, 2 children x 64 threads, KeepAlive on"
out "wrk:        $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'), ${DURATION}s per run, ${WARMUP}s warm-up, concurrency: $CONNS"
out "backend:    libfcgi hello and respond?size=$BIG_SIZE, $POOL processes each (one pool, socket on fd 0), transport $TRANSPORT"
out "            proxy_fcgi+reuse: enablereuse=on max=$REUSE_MAX per child (2 children)"
out "            mod_fcgid spawns its own copies of the same binaries, FcgidMaxProcessesPerClass $POOL,"
out "            and always talks to them over Unix sockets (compare with BENCH_TRANSPORT=unix)"
out "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) at start (2 cpus: anything above ~0.3 skews the figures)"
out ""

for fe in $FRONTENDS; do
    if [ "$fe" = fcgix ] && [ $HAVE_FCGIX = 0 ]; then continue; fi
    note "=== $fe"
    if ! start_httpd "$fe"; then
        out "!! $fe: httpd did not start (see notes above)"
        continue
    fi
    for app in hello big; do
        url_ok "$fe" "$app" "$fe" || continue
        if [ "$WARMUP" != 0 ]; then
            wrk -t 2 -c 16 -d "${WARMUP}s" --timeout 10s "$(url_for "$app")" >/dev/null 2>&1
        fi
        for c in $CONNS; do
            run_wrk "$fe" "$app" "$c"
        done
    done
    note "$fe: established backend connections after the runs: $(backend_conns)"
    stop_httpd
    sleep 1
done

# ------------------------------------------------------------------ table
fmt_cell() { # fe app c
    local v=${RPS[$1,$2,$3]:-}
    if [ -z "$v" ]; then printf '%s' "-"; return; fi
    printf '%.0f' "$v"
    [ "${ERR[$1,$2,$3]:-0}" != 0 ] && printf '*'
}

out "Requests/s (wrk; * = errors or non-2xx responses, see below)"
line=$(printf '%-6s %5s %10s %11s %17s %9s   %12s %18s %12s' app conc fcgix proxy_fcgi "proxy_fcgi+reuse" fcgid \
    fcgix/proxy "fcgix/proxy+reuse" fcgid/proxy)
out "$line"
for app in hello big; do
    for c in $CONNS; do
        label=$app; [ "$app" = big ] && label=1MiB
        line=$(printf '%-6s %5s %10s %11s %17s %9s   %12s %18s %12s' "$label" "$c" \
            "$(fmt_cell fcgix $app $c)" "$(fmt_cell proxy_fcgi $app $c)" \
            "$(fmt_cell proxy_fcgi_reuse $app $c)" "$(fmt_cell fcgid $app $c)" \
            "$(ratio "${RPS[fcgix,$app,$c]:-}" "${RPS[proxy_fcgi,$app,$c]:-}")" \
            "$(ratio "${RPS[fcgix,$app,$c]:-}" "${RPS[proxy_fcgi_reuse,$app,$c]:-}")" \
            "$(ratio "${RPS[fcgid,$app,$c]:-}" "${RPS[proxy_fcgi,$app,$c]:-}")")
        out "$line"
    done
done
out ""
out "Latency p50/p99 (wrk)"
line=$(printf '%-6s %5s %17s %17s %17s %17s' app conc fcgix proxy_fcgi "proxy_fcgi+reuse" fcgid)
out "$line"
for app in hello big; do
    for c in $CONNS; do
        label=$app; [ "$app" = big ] && label=1MiB
        line=$(printf '%-6s %5s %17s %17s %17s %17s' "$label" "$c" "${LAT[fcgix,$app,$c]:--}" \
            "${LAT[proxy_fcgi,$app,$c]:--}" "${LAT[proxy_fcgi_reuse,$app,$c]:--}" "${LAT[fcgid,$app,$c]:--}")
        out "$line"
    done
done
if [ ${#WRK_DETAIL[@]} -gt 0 ]; then
    out ""
    out "wrk errors:"
    for d in "${WRK_DETAIL[@]}"; do out "  $d"; done
fi
out ""

# ------------------------------------------------------------------ memory
mem_test() { # fe
    local fe=$1 pids p after grow max_grow res code
    declare -A hwm0
    local kind
    for kind in stream slowstream upload; do
        if ! start_httpd "$fe"; then out "!! $fe: httpd did not start"; return; fi
        # one small request per child first so that baseline includes a served request
        for p in 1 2 3 4; do curl -sS -o /dev/null -m 10 "$(url_for hello)" 2>/dev/null; done
        pids=$(child_pids)
        for p in $pids; do hwm0[$p]=$(status_kb "$p" VmHWM); done
        local t0 t1
        t0=$(date +%s.%N)
        if [ $kind = stream ] || [ $kind = slowstream ]; then
            local rate=()
            what="stream ${STREAM_MIB} MiB response"
            if [ $kind = slowstream ]; then
                # a client slower than the app: the module must apply back-pressure
                # instead of buffering what the app writes
                rate=(--limit-rate "$SLOW_RATE")
                what="stream ${STREAM_MIB} MiB, client $SLOW_RATE/s"
            fi
            res=$(curl -sS -o /dev/null -m 600 "${rate[@]}" -w '%{http_code} %{size_download}' \
                "http://127.0.0.1:$HTTP_PORT/respond.fcgi?size=$((STREAM_MIB * 1048576))" 2>&1)
            want=$((STREAM_MIB * 1048576))
        else
            # t/apps/upload reads FCGI_STDIN to its end and answers length=N
            res=$(head -c $((UPLOAD_MIB * 1048576)) /dev/zero |
                curl -sS -o "$TMP/upload.out" -m 600 -T - -H 'Transfer-Encoding: chunked' \
                    -w '%{http_code} %{size_upload}' "http://127.0.0.1:$HTTP_PORT/upload.fcgi?bufsize=65536" 2>&1)
            want=$((UPLOAD_MIB * 1048576))
            grep -qx "length=$want" "$TMP/upload.out" 2>/dev/null || res="$res, app got $(grep '^length=' "$TMP/upload.out" 2>/dev/null || echo nothing)"
            what="upload ${UPLOAD_MIB} MiB chunked"
        fi
        t1=$(date +%s.%N)
        code=${res%% *}
        max_grow=0
        local detail=""
        for p in $pids; do
            after=$(status_kb "$p" VmHWM)
            [ -n "$after" ] || continue
            grow=$((after - ${hwm0[$p]:-0}))
            [ $grow -gt $max_grow ] && max_grow=$grow
            detail+=" $p:$(mib "${hwm0[$p]}")->$(mib "$after")"
        done
        local ok="ok"
        # size_upload counts the chunk framing too, hence -ge
        [ "$code" = 200 ] && [ "${res##* }" -ge "$want" ] 2>/dev/null || ok="FAILED (curl: $res)"
        line=$(printf '%-17s %-32s %8s MiB   %6.2fs  %s' "$fe" "$what" "$(mib $max_grow)" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$ok")
        out "$line"
        out "                  VmHWM per child (MiB):$detail"
        stop_httpd
        sleep 1
    done
}

if [ "$MEMORY" = 1 ]; then
    out "httpd child peak RSS growth (VmHWM after - before, largest child)"
    line=$(printf '%-17s %-32s %12s   %7s  %s' "front end" "transfer" "growth" "time" "result")
    out "$line"
    for fe in $MEM_FRONTENDS; do
        if [ "$fe" = fcgix ] && [ $HAVE_FCGIX = 0 ]; then out "fcgix: module not built, skipped"; continue; fi
        mem_test "$fe"
    done
    out ""
fi

out "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) at the end"
FINISHED=1
note "results written to $RESULTS"
