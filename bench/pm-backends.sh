# bench/pm-backends.sh - section "backends" of bench/pm.sh (sourced by it, not
# run): several backends per FastCgiExternalServer (issue 14), against
# mod_proxy_balancer + mod_proxy_fcgi and lighttpd's mod_fastcgi, on the
# same two backends.
#
# The backends: two spawn-fcgi pools of t/apps/bin/slowcount (libfcgi; sleeps
# PM_BE_SLEEP_MS per request and appends "<time> <pid>" to its pool's log for
# every request it accepts), PM_BE_PROCS processes each, on 127.0.0.2:P and
# 127.0.0.3:P (one free port P). Four front ends, side by side, each with its
# own config on a free 127.0.0.1 port:
#   be_one       httpd, FastCgiExternalServer DOC/slow.fcgi -host A:P
#   be_two       httpd, the same with -host A:P -host B:P -disable-time D
#   be_proxy     httpd, mod_proxy_balancer lbmethod=bybusyness, two
#                BalancerMember fcgi://...:P retry=D
#   be_lighttpd  lighttpd -D, mod_fastcgi, fastcgi.balance least-connection,
#                two host/port entries with disable-time D
# a) throughput at PM_BE_CONNS (slices alternating, as section 1) and the
#    split of the requests between the backends from the apps' own logs;
# b) kill test: under wrk -c PM_BE_KILL_CONNS for PM_BE_KILL_SECS on
#    be_two, be_proxy, be_lighttpd in turn, B's processes get SIGKILL every
#    PM_BE_KILL_EVERY s and a new pool starts PM_BE_DOWN s later; failed
#    requests, and B's requests within D s of each kill (its log's times).
# lighttpd is installed (apt-get) when missing and the run is root, with a
# policy-rc.d that keeps Debian from starting its service.
# shellcheck shell=bash

BE_PROCS=${PM_BE_PROCS:-4}
BE_SLEEP_MS=${PM_BE_SLEEP_MS:-5}
BE_CONNS=${PM_BE_CONNS:-64}
BE_KILL_CONNS=${PM_BE_KILL_CONNS:-16}
BE_KILL_SECS=${PM_BE_KILL_SECS:-20}
BE_KILL_FIRST=${PM_BE_KILL_FIRST:-3}
BE_KILL_EVERY=${PM_BE_KILL_EVERY:-6}
BE_DOWN=${PM_BE_DOWN:-1}
BE_DISABLE=${PM_BE_DISABLE:-3}
BE_INSTALL=${PM_BE_INSTALL:-1}
BE_LEGS=${PM_BE_LEGS-"be_one be_two be_proxy be_lighttpd"}
BE_KILL_LEGS=${PM_BE_KILL_LEGS-"be_two be_proxy be_lighttpd"}
for v in BE_PROCS BE_CONNS BE_KILL_CONNS BE_KILL_SECS BE_KILL_EVERY BE_DOWN; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || { echo "PM_$v must be an integer >= 1" >&2; exit 2; }
done
for v in BE_SLEEP_MS BE_KILL_FIRST BE_DISABLE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "PM_$v must be a non-negative integer" >&2; exit 2; }
done
for fe in $BE_LEGS $BE_KILL_LEGS; do
    case $fe in be_one | be_two | be_proxy | be_lighttpd) ;;
    *) echo "unknown backends leg '$fe' (be_one be_two be_proxy be_lighttpd)" >&2; exit 2 ;; esac
done
# the kill times (s after wrk's start): each kill's disable window and some
# time after it lie within the run
BE_KILLS=()
for ((t = BE_KILL_FIRST; t + BE_DOWN + BE_DISABLE + 1 <= BE_KILL_SECS; t += BE_KILL_EVERY)); do BE_KILLS+=("$t"); done
if [[ $SECTIONS == *backends* ]] && [ ${#BE_KILLS[@]} = 0 ]; then
    echo "PM_BE_KILL_SECS too short for one kill (first + down + disable + 1 s)" >&2; exit 2
fi

BE_A=127.0.0.2 BE_B=127.0.0.3   # the two backends' addresses (the port: BE_PORT)
BE_PORT=""
BE_EXE=""                        # our copy of slowcount ($TMP/apps/be), by which its processes are known
BE_SO=""                         # our copy of FCGIX_SO: a module rebuilt in place meanwhile would crash httpd
declare -A BE_POOL               # address -> pid of its pool's wrapper ($TMP/pool.pl)
LIGHTTPD_BIN="" LIGHTTPD_PID="" LIGHTTPD_PORT=""
BE_RCD=""                        # policy-rc.d to undo: "", remove, restore
BE_RCD_FILE=/usr/sbin/policy-rc.d

be_roots() { echo "${BE_POOL[@]}" "$LIGHTTPD_PID"; } # for our_ticks: our processes

be_label() {
    case $1 in
    be_one) echo "a) fcgix, 1 backend" ;;
    be_two) echo "b) fcgix, 2 backends" ;;
    be_proxy) echo "c) proxy_balancer" ;;
    be_lighttpd) echo "d) lighttpd" ;;
    esac
}
be_log() { echo "$TMP/logs/app-$1.log"; }                 # address -> its pool's request log
be_count() { wc -l <"$(be_log "$1")"; }
be_url() {                                                # leg
    if [ "$1" = be_lighttpd ]; then echo "http://127.0.0.1:$LIGHTTPD_PORT/slow.fcgi"
    else echo "http://127.0.0.1:${INST_PORT[$1]}/slow.fcgi"; fi
}

# a port free on both backend addresses
be_free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 50) {
            my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => 0, Listen => 1, ReuseAddr => 1) or die "$!\n";
            my $p = $s->sockport;
            my $t = IO::Socket::INET->new(LocalAddr => $ARGV[1], LocalPort => $p, Listen => 1, ReuseAddr => 1) or next;
            print "$p\n"; exit 0;
        }
        exit 1;' "$BE_A" "$BE_B"
}

# ------------------------------------------------------------------ the backends
be_start() { # address: a pool of BE_PROCS slowcount on address:BE_PORT (its wrapper's pid in BE_POOL)
    local h=$1 name="be-$1" i
    local args=(-F "$BE_PROCS" -P "$TMP/pools/$name.pid" -a "$h" -p "$BE_PORT")
    [ -n "$RUN_USER" ] && args+=(-u "$RUN_USER" -g "$RUN_USER")
    rm -f "$TMP/pools/$name.ready" "$TMP/pools/$name.pid"
    "${SERVER_PIN[@]}" perl "$TMP/pool.pl" "$TMP/pools/$name.ready" "$TMP/pools/$name.pid" \
        spawn-fcgi "${args[@]}" -- "$BE_EXE" "$(be_log "$h")" "$BE_SLEEP_MS" >>"$TMP/logs/pool-$name.log" 2>&1 &
    BE_POOL[$h]=$!
    for i in $(seq 1 200); do
        [ -e "$TMP/pools/$name.ready" ] && return 0
        kill -0 "${BE_POOL[$h]}" 2>/dev/null || break
        sleep 0.05
    done
    note "backend $h:$BE_PORT did not come up:"; tail -5 "$TMP/logs/pool-$name.log" >&2
    be_stop_pool "$h"
    return 1
}

be_stop_pool() { # address: SIGTERM to its wrapper (it stops the processes), SIGKILL to all after 10 s
    local h=$1 w=${BE_POOL[$1]:-}
    [ -n "$w" ] || return 0
    kill -TERM "$w" 2>/dev/null
    if ! wait_gone "$w" 100; then
        note "pool wrapper $w ($h) did not exit; SIGKILL to it and its children"
        # shellcheck disable=SC2046 # a list of pids
        kill -KILL "$w" $(descendants_of "$w") 2>/dev/null
    fi
    wait "$w" 2>/dev/null
    unset "BE_POOL[$h]"
}

# SIGKILL to every process of the pool on address (those of its pid file that
# run our slowcount; BE_KILLED_AT: the time right after), then reaps its
# wrapper, which exits once they are gone
BE_KILLED_AT=""
be_kill() { # address
    local h=$1 p w=${BE_POOL[$1]:-} victims=()
    [ -n "$w" ] || return 1
    # spawn-fcgi ends the pid file without a newline
    while read -r p _ || [ -n "$p" ]; do
        [[ $p =~ ^[0-9]+$ ]] && [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$BE_EXE" ] && victims+=("$p")
    done <"$TMP/pools/be-$h.pid"
    [ ${#victims[@]} = "$BE_PROCS" ] || note "backend $h: ${#victims[@]} of $BE_PROCS processes found to kill"
    [ ${#victims[@]} -gt 0 ] && kill -KILL "${victims[@]}" 2>/dev/null
    BE_KILLED_AT=$EPOCHREALTIME
    wait_gone "$w" 50 || note "pool wrapper $w ($h) still runs 5 s after its processes got SIGKILL"
    be_stop_pool "$h"
}

be_stop_pools() { local h; for h in "${!BE_POOL[@]}"; do be_stop_pool "$h"; done; }

# waits (<= 5 s) until neither log grew for 0.3 s: requests still queued when
# wrk stopped are counted with the leg that sent them
be_settle() {
    local prev="" cur i
    for i in $(seq 1 50); do
        cur="$(be_count "$BE_A") $(be_count "$BE_B")"
        if [ "$cur" = "$prev" ]; then
            sleep 0.1
            [ "$cur" = "$(be_count "$BE_A") $(be_count "$BE_B")" ] && return 0
        fi
        prev=$cur
        sleep 0.2
    done
}

# ------------------------------------------------------------------ lighttpd
be_rcd_denies() { [ -x "$BE_RCD_FILE" ] && { "$BE_RCD_FILE" lighttpd start >/dev/null 2>&1; [ $? = 101 ]; }; }

be_rcd_undo() { # puts policy-rc.d back as it was before the install
    case $BE_RCD in
    remove) rm -f "$BE_RCD_FILE" ;;
    restore) mv -f "$TMP/policy-rc.d.saved" "$BE_RCD_FILE" ;;
    esac
    BE_RCD=""
}

be_rcd_deny() { # a policy-rc.d that exits 101 (none is started), unless one already does
    be_rcd_denies && return 0
    if [ -e "$BE_RCD_FILE" ]; then mv "$BE_RCD_FILE" "$TMP/policy-rc.d.saved"; BE_RCD=restore; else BE_RCD=remove; fi
    printf '#!/bin/sh\n# bench/pm-backends.sh: no service starts while it installs lighttpd\nexit 101\n' >"$BE_RCD_FILE"
    chmod 755 "$BE_RCD_FILE"
}

# the service just installed does not start at boot either (update-rc.d
# disables the init script's links and the systemd unit)
be_lighttpd_no_boot() { update-rc.d lighttpd disable >>"$TMP/logs/apt.log" 2>&1 || note "update-rc.d lighttpd disable failed"; }

# lighttpd, installed when missing (root, PM_BE_INSTALL=1) with a
# policy-rc.d that exits 101 so that Debian does not start its service
# (port 80); an existing one that already does is left alone.
be_lighttpd_ensure() {
    local lp
    LIGHTTPD_BIN=$(command -v lighttpd || true)
    [ -n "$LIGHTTPD_BIN" ] && return 0
    if [ "$BE_INSTALL" != 1 ] || [ "$(id -u)" != 0 ]; then
        note "lighttpd not installed (PM_BE_INSTALL=1 as root installs it)"; return 1
    fi
    be_rcd_deny
    note "installing lighttpd (apt-get install -y lighttpd; its service is not started)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q lighttpd >>"$TMP/logs/apt.log" 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$TMP/logs/apt.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q lighttpd >>"$TMP/logs/apt.log" 2>&1; }
    be_rcd_undo
    LIGHTTPD_BIN=$(command -v lighttpd || true)
    if [ -z "$LIGHTTPD_BIN" ]; then note "lighttpd install failed:"; tail -5 "$TMP/logs/apt.log" >&2; return 1; fi
    be_lighttpd_no_boot
    out "   (lighttpd was installed by this run: $(dpkg-query -W -f '${Version}' lighttpd 2>/dev/null); its service neither started nor starts at boot)"
    lp=$(pids_by_exe "$(readlink -f "$LIGHTTPD_BIN")" | paste -sd' ')
    [ -n "$lp" ] && out "!! a lighttpd not started by this run is running after the install (pids $lp): left alone"
    return 0
}

be_lighttpd_conf() { # conf doc
    local h n=0
    {
        cat <<EOF
server.document-root = "$2"
server.bind = "127.0.0.1"
server.port = $LIGHTTPD_PORT
server.errorlog = "$(be_errlog be_lighttpd)"
server.modules = ( "mod_fastcgi" )
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 30
server.max-connections = 1024
EOF
        [ -n "$RUN_USER" ] && printf 'server.username = "%s"\nserver.groupname = "%s"\n' "$RUN_USER" "$RUN_USER"
        printf 'fastcgi.balance = "least-connection"\nfastcgi.server = ( "/slow.fcgi" => (\n'
        for h in "$BE_A" "$BE_B"; do
            n=$((n + 1))
            printf '    "b%s" => ( "host" => "%s", "port" => %s, "check-local" => "disable", "disable-time" => %s )%s\n' \
                "$n" "$h" "$BE_PORT" "$BE_DISABLE" "$([ "$h" = "$BE_A" ] && echo ,)"
        done
        printf ') )\n'
    } >"$1"
}

be_lighttpd_start() {
    local conf="$TMP/lighttpd-be.conf" doc i
    doc=$(leg_doc be_lighttpd)
    mkdir -p "$TMP/logs/lighttpd"
    [ -n "$RUN_USER" ] && chown "$RUN_USER:$RUN_USER" "$TMP/logs/lighttpd"
    LIGHTTPD_PORT=$(free_port) || die "no free port"
    be_lighttpd_conf "$conf" "$doc"
    if ! "$LIGHTTPD_BIN" -tt -f "$conf" >"$TMP/logs/configtest-be_lighttpd.log" 2>&1; then
        note "lighttpd config test failed:"; cat "$TMP/logs/configtest-be_lighttpd.log" >&2; return 1
    fi
    "${SERVER_PIN[@]}" "$LIGHTTPD_BIN" -D -f "$conf" >>"$TMP/logs/lighttpd.out" 2>&1 &
    LIGHTTPD_PID=$!
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$LIGHTTPD_PORT/ok.txt")" = 200 ] && return 0
        kill -0 "$LIGHTTPD_PID" 2>/dev/null || break
        sleep 0.1
    done
    note "lighttpd did not come up:"; cat "$TMP/logs/lighttpd.out" "$(be_errlog be_lighttpd)" >&2 2>/dev/null
    be_lighttpd_stop
    return 1
}

be_lighttpd_stop() {
    [ -n "$LIGHTTPD_PID" ] || return 0
    kill -TERM "$LIGHTTPD_PID" 2>/dev/null
    wait_gone "$LIGHTTPD_PID" 100 || { note "lighttpd $LIGHTTPD_PID did not stop in 10 s; SIGKILL"; kill -KILL "$LIGHTTPD_PID" 2>/dev/null; }
    wait "$LIGHTTPD_PID" 2>/dev/null
    LIGHTTPD_PID=""
}

be_stop_all() { be_lighttpd_stop; be_stop_pools; be_rcd_undo; } # stop_everything's part

# ------------------------------------------------------------------ httpd configs (gen_conf)
be_httpd_conf() { # leg doc
    case $1 in
    be_one | be_two)
        local more=""
        [ "$1" = be_two ] && more=" -host $BE_B:$BE_PORT -disable-time $BE_DISABLE"
        cat <<EOF
LoadModule fcgix_module $BE_SO
FastCgiIpcDir "$(leg_ipc "$1")"
FastCgiExternalServer "$2/slow.fcgi" -host $BE_A:$BE_PORT$more
<Location "/fcgi-status">
    SetHandler fastcgi-status
</Location>
EOF
        ;;
    be_proxy)
        cat <<EOF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_fcgi_module $MODDIR/mod_proxy_fcgi.so
LoadModule proxy_balancer_module $MODDIR/mod_proxy_balancer.so
LoadModule slotmem_shm_module $MODDIR/mod_slotmem_shm.so
LoadModule lbmethod_bybusyness_module $MODDIR/mod_lbmethod_bybusyness.so
<Proxy "balancer://slow">
    BalancerMember "fcgi://$BE_A:$BE_PORT" retry=$BE_DISABLE
    BalancerMember "fcgi://$BE_B:$BE_PORT" retry=$BE_DISABLE
    ProxySet lbmethod=bybusyness
</Proxy>
ProxyPass "/slow.fcgi" "balancer://slow/slow.fcgi"
EOF
        ;;
    esac
}

# ------------------------------------------------------------------ a) throughput and split
be_body_ok() { # url -> 0 when it answers 200 "slow <pid>"
    local body code
    code=$(curl -sS -m 30 -o "$TMP/be-body" -w '%{http_code}' "$1" 2>&1)
    body=$(head -c 200 "$TMP/be-body" 2>/dev/null)
    [ "$code" = 200 ] && [[ $body =~ ^slow\ [0-9]+$ ]] && return 0
    note "$1 -> $code: $body"
    return 1
}

declare -A BE_REQ BE_SECS BE_ERR BE_P50S BE_P99 BE_SLRPS BE_NA BE_NB BE_TT BE_TF BE_RPS BE_LAT
BE_DETAIL=()

be_run_slice() { # leg slice
    local fe=$1 sl=$2 log a0 b0 rps err p reqs secs
    log="$TMP/logs/wrk-$fe-c$BE_CONNS-$sl.log"
    be_settle
    a0=$(be_count "$BE_A"); b0=$(be_count "$BE_B")
    run_measured "$log" "${CLIENT_PIN[@]}" wrk -t "$(wrk_threads "$BE_CONNS")" -c "$BE_CONNS" -d "${SLICE_SECS}s" \
        --timeout 10s --latency "$(be_url "$fe")"
    be_settle
    BE_NA[$fe]=$(( ${BE_NA[$fe]:-0} + $(be_count "$BE_A") - a0 ))
    BE_NB[$fe]=$(( ${BE_NB[$fe]:-0} + $(be_count "$BE_B") - b0 ))
    read -r rps err p reqs _ <<<"$(parse_wrk "$log")"
    secs=$(wrk_seconds "$log")
    BE_REQ[$fe]=$(( ${BE_REQ[$fe]:-0} + reqs ))
    BE_SECS[$fe]=$(awk -v a="${BE_SECS[$fe]:-0}" -v b="$secs" 'BEGIN { print a + b }')
    BE_ERR[$fe]=$(( ${BE_ERR[$fe]:-0} + err ))
    BE_TT[$fe]=$(( ${BE_TT[$fe]:-0} + MEASURED_T )); BE_TF[$fe]=$(( ${BE_TF[$fe]:-0} + MEASURED_F ))
    BE_P50S[$fe]="${BE_P50S[$fe]:-} ${p%/*}"
    BE_P99[$fe]=$(max_latency "${BE_P99[$fe]:-}" "${p#*/}")
    BE_SLRPS[$fe]="${BE_SLRPS[$fe]:-} $(printf '%.0f' "$rps")"
    [ "$err" != 0 ] && BE_DETAIL+=("$fe slice $sl: $(grep -E 'Socket errors|Non-2xx' "$log" | tr -s ' ' | paste -sd';')")
    note "backends c=$BE_CONNS slice $sl/$SLICES $fe: $rps req/s, p50/p99 $p, errors $err, other work ${MEASURED_FOREIGN}% cpu"
}

be_throughput() { # legs...
    local fe sl k legs=("$@")
    for fe in "${legs[@]}"; do
        [ "$WARMUP" != 0 ] && "${CLIENT_PIN[@]}" wrk -t "$(wrk_threads "$BE_CONNS")" -c "$BE_CONNS" -d "${WARMUP}s" \
            --timeout 10s "$(be_url "$fe")" >/dev/null 2>&1
    done
    for sl in $(seq 1 "$SLICES"); do
        wait_quiet "backends slice $sl"
        for k in "${!legs[@]}"; do be_run_slice "${legs[$(((k + sl - 1) % ${#legs[@]}))]}" "$sl"; done
    done
    for fe in "${legs[@]}"; do
        BE_RPS[$fe]=$(awk -v r="${BE_REQ[$fe]}" -v s="${BE_SECS[$fe]}" 'BEGIN { if (s > 0) printf "%.1f", r / s; else print 0 }')
        # shellcheck disable=SC2086
        BE_LAT[$fe]="$(median_latency ${BE_P50S[$fe]})/${BE_P99[$fe]}"
        local f
        f=$(awk -v t="${BE_TT[$fe]}" -v f="${BE_TF[$fe]}" 'BEGIN { printf "%.0f", (t > 0) ? 100 * f / t : 0 }')
        [ "$f" -gt 10 ] && BUSY_LEGS+=("backends $fe c=$BE_CONNS ($f% during its slices)")
    done
}

be_pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + b > 0) printf "%.1f", 100 * a / (a + b); else print "-" }'; }

# the split is even enough when each backend's share is within 10 % of an
# even share (45..55 % of two)
be_split_verdict() { # fe
    local n=$((${BE_NA[$1]:-0} + ${BE_NB[$1]:-0}))
    [ "$n" -gt 0 ] || { echo "-"; return; }
    awk -v a="${BE_NA[$1]}" -v n="$n" 'BEGIN { s = 100 * a / n; d = s - 50; if (d < 0) d = -d
        printf "%s (%.1f / %.1f %%)", (d <= 5 ? "met" : "NOT met"), s, 100 - s }'
}

# leg -> its fastcgi-status page's (?auto) backends, totals since httpd
# started: "address state, N requests, N refused, N resets; ..."
be_status_lines() {
    curl -s -m 10 "http://127.0.0.1:${INST_PORT[$1]}/fcgi-status?auto" 2>/dev/null | awk '
        match($1, /^Class[0-9]+Backend[0-9]+/) {
            id = substr($1, 1, RLENGTH); key = substr($1, RLENGTH + 1); sub(":$", "", key)
            if (!(id in seen)) { seen[id] = 1; ids[++n] = id }
            v[id, key] = $2 }
        END { for (i = 1; i <= n; i++) { id = ids[i]
            printf "%s%s %s, %s requests, %s refused, %s resets", (i > 1 ? "; " : ""), v[id, ""], v[id, "State"],
                v[id, "Requests"], v[id, "Refused"], v[id, "Resets"] } }'
}

# "!!" lines for the legs whose server is gone (a crash shows as a run of
# failed requests, and the error log says why)
be_gone_check() { # legs...
    local fe pid
    for fe in "$@"; do
        if [ "$fe" = be_lighttpd ]; then pid=$LIGHTTPD_PID; else pid=${INST_PID[$fe]:-}; fi
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
        out "!! $(be_label "$fe"): its server (pid ${pid:-?}) is gone; its error log ends:"
        tail -3 "$(be_errlog "$fe")" 2>/dev/null | cut -c1-200 | sed 's/^/     /' | tee -a "$RESULTS"
    done
}

be_throughput_table() { # legs...
    local fe r ceil
    ceil=$(awk -v p="$BE_PROCS" -v s="$BE_SLEEP_MS" 'BEGIN { if (s > 0) printf "%.0f", 2 * p * 1000 / s; else print "-" }')
    out "5. Several backends per app (issue 14): slowcount (libfcgi, sleeps $BE_SLEEP_MS ms per request), spawn-fcgi -F $BE_PROCS on $BE_A:$BE_PORT (A) and $BE_B:$BE_PORT (B)"
    out "   a) FastCgiExternalServer DOC/slow.fcgi -host A                b) the same, -host A -host B -disable-time $BE_DISABLE"
    out "   c) mod_proxy_balancer + mod_proxy_fcgi, lbmethod=bybusyness, BalancerMember fcgi://A and fcgi://B retry=$BE_DISABLE"
    out "   d) lighttpd ${LIGHTTPD_BIN:+$("$LIGHTTPD_BIN" -v 2>/dev/null | awk '{ print $1; exit }') }mod_fastcgi, fastcgi.balance least-connection, hosts A and B, disable-time $BE_DISABLE"
    out "   fcgix: $FCGIX_SO ($(stat -c '%y' "$FCGIX_SO" 2>/dev/null | cut -c1-19), copied before the start)"
    out "   every front end a new connection per request; all side by side; wrk -c $BE_CONNS -t $(wrk_threads "$BE_CONNS"), ${SLICES} x ${SLICE_SECS}s per leg (after ${WARMUP}s warm-up), slices alternate"
    out "   requests per backend: lines in each pool's own log (one per request accepted); ceiling with both: 2 x $BE_PROCS / $BE_SLEEP_MS ms = $ceil req/s"
    out "$(printf '   %-22s %8s %16s %13s %9s %7s %7s' leg req/s p50/p99 failed/reqs app-reqs A% B%)"
    for fe in "$@"; do
        [ -n "${BE_RPS[$fe]:-}" ] || continue
        out "$(printf '   %-22s %8.0f %16s %13s %9s %7s %7s' "$(be_label "$fe")" "${BE_RPS[$fe]}" "${BE_LAT[$fe]}" \
            "${BE_ERR[$fe]}/${BE_REQ[$fe]}" "$((BE_NA[$fe] + BE_NB[$fe]))" "$(be_pct "${BE_NA[$fe]}" "${BE_NB[$fe]}")" \
            "$(be_pct "${BE_NB[$fe]}" "${BE_NA[$fe]}")")"
    done
    out "   per slice req/s:$(for fe in "$@"; do [ -n "${BE_SLRPS[$fe]:-}" ] && printf '  %s:%s' "${fe#be_}" "${BE_SLRPS[$fe]}"; done)"
    r=$(ratio "${BE_RPS[be_two]:-}" "${BE_RPS[be_one]:-}")
    if [ "$r" = - ]; then out "   b/a: -"
    elif awk -v r="$r" 'BEGIN { exit !(r >= 1.8) }'; then out "   b/a $r (target >= 1.8: met)"
    else out "   b/a $r (target >= 1.8: NOT met)"; fi
    out "   b/c $(ratio "${BE_RPS[be_two]:-}" "${BE_RPS[be_proxy]:-}")   b/d $(ratio "${BE_RPS[be_two]:-}" "${BE_RPS[be_lighttpd]:-}")"
    out "   split (target: each backend within 10 % of an even share, 45..55 %): b $(be_split_verdict be_two)   c $(be_split_verdict be_proxy)   d $(be_split_verdict be_lighttpd)"
    if [ -n "${INST_PORT[be_two]:-}" ]; then
        r=$(be_status_lines be_two)
        out "   b's own counts (fastcgi-status ?auto, since it started): ${r:-(no Backend lines)}"
    fi
    if [ ${#BE_DETAIL[@]} -gt 0 ]; then
        out "   wrk errors:"
        local d
        for d in "${BE_DETAIL[@]}"; do out "     $d"; done
    fi
    be_gone_check "$@"
}

# ------------------------------------------------------------------ b) kill test
declare -A BK_REQ BK_ERR BK_WHY BK_NA BK_NB BK_IN BK_AFTER BK_PERKILL BK_ELOG BK_REFIN BK_REFLINE

be_sleep_until() { # base offset: sleeps until base + offset seconds (EPOCHREALTIME), if that is still ahead
    local d
    d=$(awk -v b="$1" -v o="$2" -v n="$EPOCHREALTIME" 'BEGIN { d = b + o - n; printf "%.3f", (d > 0 ? d : 0) }')
    sleep "$d"
}

# B's log lines after each kill: "in after first" per kill, where in counts
# those within BE_DISABLE s of the kill, after those later until the next
# kill (or the end), first is the seconds from the kill to the earliest
# (- when none)
be_windows() { # log end kills...
    local log=$1 end=$2
    shift 2
    awk -v ks="$*" -v d="$BE_DISABLE" -v end="$end" '
        BEGIN { n = split(ks, k, " "); k[n + 1] = end }
        { t = $1 + 0
          for (i = 1; i <= n; i++) if (t > k[i] && t <= k[i + 1]) {
              if (t <= k[i] + d) w[i]++; else a[i]++
              if (!(i in f) || t - k[i] < f[i]) f[i] = t - k[i]
              break } }
        END { for (i = 1; i <= n; i++) printf "%d %d %s\n", w[i] + 0, a[i] + 0, ((i in f) ? sprintf("%.2f", f[i]) : "-") }' "$log"
}

# lighttpd opens its error log as RUN_USER: in a directory of its own
# httpd error-log lines -> their times (seconds since the epoch), one a line
be_log_times() {
    local l
    while IFS= read -r l; do
        l=${l#[}; l=${l%%]*}
        date -d "$(awk '{ print $2, $3, $5, $4 }' <<<"$l")" +%s.%N 2>/dev/null
    done
}

be_errlog() { if [ "$1" = be_lighttpd ]; then echo "$TMP/logs/lighttpd/error.log"; else echo "$TMP/logs/error-$1.log"; fi; }

# what the leg's error log got during the run: for fcgix the FCGIX01xx
# counts, else the most frequent lines (times and pids removed)
be_errlog_summary() { # leg first-line
    local new
    new=$(tail -n +"$2" "$(be_errlog "$1")" 2>/dev/null)
    if [ -z "$new" ]; then echo "none"; return; fi
    case $1 in
    be_two)
        printf '%s lines:' "$(grep -c . <<<"$new")"
        for c in FCGIX0130 FCGIX0131 FCGIX0132 FCGIX0100 FCGIX0101 FCGIX0109 FCGIX0111; do
            printf ' %s %s' "$c" "$(grep -c "$c" <<<"$new")"
        done ;;
    *)
        printf '%s lines; most frequent: ' "$(grep -c . <<<"$new")"
        sed -E 's/^\[[^]]*\] //; s/^[0-9: -]+//; s/\[pid [0-9:a-z ]*\] //; s/\[client [^]]*\] //; s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/ADDR/g' <<<"$new" |
            sort | uniq -c | sort -rn | head -2 | awk '{ $1 = $1 "x"; print }' | cut -c1-140 | paste -sd'|' ;;
    esac
}

be_kill_leg() { # leg
    local fe=$1 log elog a0 b0 e0 t0 t1 tk tr k i w a f kills=() ups=() line=""
    [ -n "${BE_POOL[$BE_A]:-}" ] || be_start "$BE_A" || return 1
    [ -n "${BE_POOL[$BE_B]:-}" ] || be_start "$BE_B" || return 1
    wait_quiet "backends kill test $fe"
    note "=== backends kill test: $fe, ${BE_KILL_SECS}s at c=$BE_KILL_CONNS, SIGKILL to $BE_B at +${BE_KILLS[*]} s after the start"
    be_settle
    a0=$(be_count "$BE_A"); b0=$(be_count "$BE_B")
    elog=$(be_errlog "$fe")
    e0=$(( $(wc -l <"$elog" 2>/dev/null || echo 0) + 1 ))
    log="$TMP/logs/wrk-kill-$fe.log"
    t0=$EPOCHREALTIME
    "${CLIENT_PIN[@]}" wrk -t "$(wrk_threads "$BE_KILL_CONNS")" -c "$BE_KILL_CONNS" -d "${BE_KILL_SECS}s" --timeout 10s \
        "$(be_url "$fe")" >"$log" 2>&1 &
    WRK_PID=$!
    for k in "${BE_KILLS[@]}"; do
        be_sleep_until "$t0" "$k"
        be_kill "$BE_B"
        tk=$BE_KILLED_AT
        be_sleep_until "$tk" "$BE_DOWN"
        be_start "$BE_B" || note "$fe: backend $BE_B did not start again after the kill at +$k s"
        tr=$EPOCHREALTIME
        kills+=("$tk"); ups+=("$tr")
    done
    wait "$WRK_PID"
    WRK_PID=""
    t1=$EPOCHREALTIME
    be_settle
    BK_NA[$fe]=$(( $(be_count "$BE_A") - a0 ))
    BK_NB[$fe]=$(( $(be_count "$BE_B") - b0 ))
    local err reqs
    read -r _ err _ reqs _ <<<"$(parse_wrk "$log")"
    BK_ERR[$fe]=$err; BK_REQ[$fe]=$reqs
    BK_WHY[$fe]=$(awk '/Socket errors:/ { gsub(",", ""); printf "connect %s read %s write %s timeout %s", $4, $6, $8, $10 }
        /Non-2xx/ { n = $NF } END { printf "%snon-2xx %d", (NR ? "; " : ""), n }' "$log" | sed 's/^; //')
    BK_IN[$fe]=0; BK_AFTER[$fe]=0
    i=0
    while read -r w a f; do
        BK_IN[$fe]=$(( BK_IN[$fe] + w )); BK_AFTER[$fe]=$(( BK_AFTER[$fe] + a ))
        line+=$(awk -v k="${kills[$i]}" -v t0="$t0" -v u="${ups[$i]}" -v w="$w" -v a="$a" -v f="$f" 'BEGIN {
            printf "  +%.1fs: up after %.2fs, first request after %s%s, %d within, %d after;", k - t0, u - k, f, (f == "-" ? "" : "s"), w, a }')
        i=$((i + 1))
    done < <(tail -n +"$((b0 + 1))" "$(be_log "$BE_B")" | be_windows /dev/stdin "$t1" "${kills[@]}")
    BK_PERKILL[$fe]=${line%;}
    [ "$fe" = be_two ] && be_fcgix_disables "$fe" "$elog" "$e0" "$b0" "$t0" "$t1"
    BK_ELOG[$fe]=$(be_errlog_summary "$fe" "$e0")
    note "$fe: ${BK_REQ[$fe]} requests, ${BK_ERR[$fe]} failed (${BK_WHY[$fe]}); B got ${BK_IN[$fe]} within ${BE_DISABLE}s of a kill;${BK_PERKILL[$fe]}"
}

# fcgix: B's requests measured from the refusals that disabled it (FCGIX0130
# for B in the run's part of the error log) rather than from the kills
be_fcgix_disables() { # leg errlog first-line b0 t0 t1
    local fe=$1 w a f r i=0 refs=() line=""
    mapfile -t refs < <(tail -n +"$3" "$2" | grep 'FCGIX0130' | grep -F "backend $BE_B:" | be_log_times)
    BK_REFIN[$fe]=0
    [ ${#refs[@]} -gt 0 ] || { BK_REFLINE[$fe]=" no FCGIX0130 for B"; return 0; }
    while read -r w a f; do
        r=${refs[$i]}
        BK_REFIN[$fe]=$(( BK_REFIN[$fe] + w ))
        line+=$(awk -v r="$r" -v t0="$5" -v w="$w" -v f="$f" 'BEGIN {
            printf "  disabled at +%.2fs: first request after %s%s, %d within;", r - t0, f, (f == "-" ? "" : "s"), w }')
        i=$((i + 1))
    done < <(tail -n +"$(($4 + 1))" "$(be_log "$BE_B")" | be_windows /dev/stdin "$6" "${refs[@]}")
    BK_REFLINE[$fe]=${line%;}
}

be_kill_table() { # legs...
    local fe r
    out "5b. Kill test: wrk -c $BE_KILL_CONNS -t $(wrk_threads "$BE_KILL_CONNS"), ${BE_KILL_SECS}s per leg, one leg at a time; B's $BE_PROCS processes get SIGKILL at $(printf '+%s ' "${BE_KILLS[@]}")s"
    out "   after wrk's start and a new pool (spawn-fcgi again) starts ${BE_DOWN}s after each kill; disable time ${BE_DISABLE}s on every leg"
    out "   (fcgix -disable-time, BalancerMember retry=, lighttpd disable-time); failed = wrk's non-2xx + socket errors"
    out "   B's requests by its own log: within ${BE_DISABLE}s of a kill (the disable time) and after that until the next kill or the end"
    out "$(printf '   %-22s %9s %7s %8s %8s %12s %8s  %s' leg requests failed to-A to-B "B in disable" "B after" "failed detail")"
    for fe in "$@"; do
        [ -n "${BK_REQ[$fe]:-}" ] || continue
        out "$(printf '   %-22s %9s %7s %8s %8s %12s %8s  %s' "$(be_label "$fe")" "${BK_REQ[$fe]}" "${BK_ERR[$fe]}" "${BK_NA[$fe]}" \
            "${BK_NB[$fe]}" "${BK_IN[$fe]}" "${BK_AFTER[$fe]}" "${BK_WHY[$fe]}")"
    done
    out "   per kill:"
    for fe in "$@"; do
        [ -n "${BK_REQ[$fe]:-}" ] || continue
        out "     $(be_label "$fe"):${BK_PERKILL[$fe]}"
    done
    [ -n "${BK_REFLINE[be_two]:-}" ] &&
        out "     b) from B's FCGIX0130 (refused: disabled) instead of the kill, within ${BE_DISABLE}s:${BK_REFLINE[be_two]}"
    out "   error log during the run:"
    for fe in "$@"; do
        [ -n "${BK_REQ[$fe]:-}" ] || continue
        out "     $(be_label "$fe"): ${BK_ELOG[$fe]}"
    done
    if [ -n "${BK_REQ[be_two]:-}" ]; then
        if [ "${BK_IN[be_two]}" = 0 ] && [ "${BK_REFIN[be_two]:-0}" = 0 ]; then
            out "   b) the killed backend got no request during -disable-time ${BE_DISABLE}"
        else
            out "   !! b) the killed backend got requests during -disable-time ${BE_DISABLE}: ${BK_IN[be_two]} within it from a kill, ${BK_REFIN[be_two]:-0} from the FCGIX0130 that disabled it"
        fi
        [ "${BK_AFTER[be_two]}" = 0 ] && out "   !! b) the killed backend got no request after its disable time: it did not come back"
        [ "${BK_REQ[be_two]}" = 0 ] && out "   !! b) answered no request during the kill test"
        r=$(be_status_lines be_two)
        out "   b's own counts (fastcgi-status ?auto, since it started): ${r:-(no Backend lines)}"
    fi
    be_gone_check "$@"
}

# ------------------------------------------------------------------ the section
be_all_legs() { local fe; for fe in be_one be_two be_proxy be_lighttpd; do in_list "$fe" "$BE_LEGS $BE_KILL_LEGS" && echo "$fe"; done; }

be_start_leg() { # leg -> 0 when it serves slow.fcgi
    local fe=$1
    if [ "$fe" = be_lighttpd ]; then
        if [ -z "$LIGHTTPD_BIN" ]; then out "!! $(be_label "$fe"): skipped, lighttpd not installed"; return 1; fi
        be_lighttpd_start || { out "!! $(be_label "$fe"): lighttpd did not start (see notes on stderr)"; return 1; }
    elif ! start_httpd backends "$fe" "$fe"; then
        out "!! $(be_label "$fe"): httpd did not start: $(grep -v '^$' "$TMP/logs/configtest-$fe.log" 2>/dev/null | head -1 | cut -c1-200)"
        return 1
    fi
    be_body_ok "$(be_url "$fe")" && return 0
    out "!! $(be_label "$fe"): /slow.fcgi does not answer 200 \"slow PID\"; skipped"
    tail -3 "$(be_errlog "$fe")" 2>/dev/null | sed 's/^/   /' | tee -a "$RESULTS"
    return 1
}

section_backends() {
    local fe h m ready=() legs=() kl=()
    if [ ! -x "$APPS_DIR/slowcount" ]; then
        out "5. Several backends: skipped ($APPS_DIR/slowcount missing: make -f Makefile.apxs apps)"; out ""; return 0
    fi
    for m in mod_proxy_balancer mod_slotmem_shm mod_lbmethod_bybusyness; do
        [ -f "$MODDIR/$m.so" ] || die "$MODDIR/$m.so missing"
    done
    mkdir -p "$TMP/apps/be"
    BE_SO="$TMP/apps/be/mod_fcgix.so"
    cp "$FCGIX_SO" "$BE_SO"
    BE_EXE="$TMP/apps/be/slowcount"
    cp "$APPS_DIR/slowcount" "$BE_EXE"
    chmod 755 "$BE_EXE"
    wait_quiet "backends start"
    note "=== backends: two slowcount pools, front ends $(be_all_legs | paste -sd' ')"
    in_list be_lighttpd "$BE_LEGS $BE_KILL_LEGS" && be_lighttpd_ensure
    BE_PORT=$(be_free_port) || { out "!! backends: no port free on both $BE_A and $BE_B"; return 0; }
    for h in "$BE_A" "$BE_B"; do
        : >"$(be_log "$h")"
        [ -n "$RUN_USER" ] && chown "$RUN_USER:$RUN_USER" "$(be_log "$h")"
        be_start "$h" || { out "!! backends: the pool on $h:$BE_PORT did not start"; be_stop_pools; return 0; }
    done
    for fe in $(be_all_legs); do be_start_leg "$fe" && ready+=("$fe"); done
    for fe in $BE_LEGS; do in_list "$fe" "${ready[*]}" && legs+=("$fe"); done
    for fe in $BE_KILL_LEGS; do in_list "$fe" "${ready[*]}" && kl+=("$fe"); done
    if [ ${#legs[@]} -gt 0 ]; then
        be_throughput "${legs[@]}"
        be_throughput_table "${legs[@]}"
    fi
    for fe in "${kl[@]}"; do be_kill_leg "$fe"; done
    [ ${#kl[@]} -gt 0 ] && be_kill_table "${kl[@]}"
    for fe in "${ready[@]}"; do [ "$fe" != be_lighttpd ] && stop_httpd "$fe"; done
    be_lighttpd_stop
    be_stop_pools
    out "   after: $(load_note)"
    out ""
}
