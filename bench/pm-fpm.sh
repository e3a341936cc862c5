# bench/pm-fpm.sh - section "fpm" of bench/pm.sh (sourced by it, not run):
# php-fpm behind FastCgiExternalServer, with and without -keep-conn.
#
# One php-fpm master of its own (-F -y CONF, a config in the temporary
# directory, never the system's service) with four static pools, each on its
# own Unix socket in $TMP/sock, each behind its own httpd:
#   fpm_keep       pool "keep",    PM_FPM_PROCS workers, -keep-conn PM_FPM_PROCS
#   fpm_nokeep     pool "nokeep",  PM_FPM_PROCS workers, no -keep-conn (off)
#   starve_keep    pool "starve",  PM_FPM_STARVE_PROCS workers, -keep-conn the same
#   starve_nokeep  pool "starve0", PM_FPM_STARVE_PROCS workers, no -keep-conn
# Separate pools: an idle connection one httpd keeps occupies a worker that
# the other httpd's requests could not get (the release of held connections
# works within one httpd).
# shellcheck shell=bash

FPM_BIN=${PM_FPM:-}
if [ -z "$FPM_BIN" ]; then
    FPM_BIN=$(find /usr/sbin -maxdepth 1 -name 'php-fpm*' 2>/dev/null | sort -V | tail -1)
fi
FPM_PROCS=${PM_FPM_PROCS:-4}
FPM_CONNS=${PM_FPM_CONNS:-"4 64"}
FPM_STARVE_PROCS=${PM_FPM_STARVE_PROCS:-2}
FPM_STARVE_CONNS=${PM_FPM_STARVE_CONNS:-64}
for v in FPM_PROCS FPM_STARVE_PROCS FPM_STARVE_CONNS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || { echo "PM_$v must be an integer >= 1" >&2; exit 2; }
done
for c in $FPM_CONNS; do
    [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || { echo "PM_FPM_CONNS must be a list of integers >= 1" >&2; exit 2; }
done

# each leg's pool and -keep-conn (empty: the option is not given, keeping is off);
# read by gen_conf and app_socket_prefix through ${!var}
# shellcheck disable=SC2034
{
    FPM_POOL_fpm_keep=keep FPM_KEEP_fpm_keep=$FPM_PROCS
    FPM_POOL_fpm_nokeep=nokeep FPM_KEEP_fpm_nokeep=
    FPM_POOL_starve_keep=starve FPM_KEEP_starve_keep=$FPM_STARVE_PROCS
    FPM_POOL_starve_nokeep=starve0 FPM_KEEP_starve_nokeep=
}
FPM_PID=""

fpm_pool_conf() { # name workers
    printf '[%s]\n' "$1"
    [ -n "$RUN_USER" ] && printf 'user = %s\ngroup = %s\nlisten.owner = %s\nlisten.group = %s\n' \
        "$RUN_USER" "$RUN_USER" "$RUN_USER" "$RUN_USER"
    cat <<EOF
listen = $TMP/sock/fpm-$1.sock
listen.mode = 0660
pm = static
pm.max_children = $2
EOF
}

start_fpm() { # -> FPM_PID, once every pool's socket exists (<= 15 s)
    local conf="$TMP/php-fpm.conf" p
    {
        cat <<EOF
[global]
pid = $TMP/run/php-fpm.pid
error_log = $TMP/logs/php-fpm.log
daemonize = no
log_level = notice
EOF
        fpm_pool_conf keep "$FPM_PROCS"
        fpm_pool_conf nokeep "$FPM_PROCS"
        fpm_pool_conf starve "$FPM_STARVE_PROCS"
        fpm_pool_conf starve0 "$FPM_STARVE_PROCS"
    } >"$conf"
    # -R: php-fpm refuses to start as root without it (the pools run as RUN_USER)
    "${SERVER_PIN[@]}" "$FPM_BIN" -F -R -y "$conf" >>"$TMP/logs/php-fpm.out" 2>&1 &
    FPM_PID=$!
    for p in keep nokeep starve starve0; do
        for _ in $(seq 1 300); do
            [ -S "$TMP/sock/fpm-$p.sock" ] && break
            kill -0 "$FPM_PID" 2>/dev/null || break
            sleep 0.05
        done
        [ -S "$TMP/sock/fpm-$p.sock" ] && continue
        note "php-fpm did not come up:"; cat "$TMP/logs/php-fpm.out" "$TMP/logs/php-fpm.log" >&2 2>/dev/null
        stop_fpm
        return 1
    done
}

stop_fpm() { # SIGTERM to the master (it stops its workers), SIGKILL to all after 10 s
    [ -n "$FPM_PID" ] || return 0
    local desc
    desc=$(descendants_of "$FPM_PID")
    kill -TERM "$FPM_PID" 2>/dev/null
    if ! wait_gone "$FPM_PID" 100; then
        note "php-fpm $FPM_PID did not stop in 10 s; SIGKILL to it and its workers"
        # shellcheck disable=SC2086 # a list of pids
        kill -KILL "$FPM_PID" $desc 2>/dev/null
    fi
    wait "$FPM_PID" 2>/dev/null
    FPM_PID=""
}

# error-level lines (and worse) in a leg's error log
log_errors() { grep -cE '\[[a-z_]*:(error|crit|alert|emerg)\]|\[(error|crit|alert|emerg)\]' "$TMP/logs/error-$1.log" 2>/dev/null || true; }

declare -A FPM_RPS FPM_LAT FPM_ERR FPM_REQ FPM_HELD   # "c,leg"
FPM_DETAIL=()   # wrk's error lines, all measurements

fpm_measure() { # conns: measure_slices for the legs in fes, results into FPM_*
    local c=$1 fe
    # shellcheck disable=SC2034 # measure_slices fills them (dynamic scope)
    declare -A REQ SECS ERRS TT TF P50S P99MAX SLICE_RPS CYC INS CSW MIG HELD
    measure_slices "$c" 0
    for fe in "${fes[@]}"; do
        [ -n "${RPS[$fe,php]:-}" ] || continue
        FPM_RPS[$c,$fe]=${RPS[$fe,php]}
        FPM_LAT[$c,$fe]=${LAT[$fe,php]}
        FPM_ERR[$c,$fe]=${ERRS[$fe,php]:-0}
        FPM_REQ[$c,$fe]=${REQ[$fe,php]:-0}
        FPM_HELD[$c,$fe]=${HELD[$fe,php]:--}
    done
    local d
    for d in "${WRK_DETAIL[@]}"; do FPM_DETAIL+=("c=$c $d"); done
}

fpm_cell() { # c leg -> "req/s  p50/p99  failed/requests"
    if [ -z "${FPM_RPS[$1,$2]:-}" ]; then printf '%-36s' -; return; fi
    printf '%8.0f %15s %11s' "${FPM_RPS[$1,$2]}" "${FPM_LAT[$1,$2]}" "${FPM_ERR[$1,$2]}/${FPM_REQ[$1,$2]}"
}

section_fpm() {
    local fe c
    # shellcheck disable=SC2034 # apps: read by measure_slices
    local -a ready=() fes=() apps=(php)
    if [ -z "$FPM_BIN" ] || [ ! -x "$FPM_BIN" ]; then
        out "4. php-fpm: skipped (no php-fpm in /usr/sbin; set PM_FPM)"; out ""; return 0
    fi
    wait_quiet "fpm start"
    note "=== fpm: starting $FPM_BIN and four httpds"
    start_fpm || { out "!! php-fpm did not start (see notes on stderr)"; return 0; }
    for fe in fpm_keep fpm_nokeep starve_keep starve_nokeep; do
        if ! start_httpd fpm "$fe" "$(leg_of "$fe")"; then out "!! $fe: httpd did not start"; continue; fi
        url_ok "$fe" php "$CUR_LEG" && ready+=("$fe,php")
    done
    is_ready() { local x; for x in "${ready[@]}"; do [ "$x" = "$1,$2" ] && return 0; done; return 1; }
    # shellcheck disable=SC2034 # read by measure_slices (dynamic scope)
    local MEASURE_WHAT=fpm
    fes=(fpm_keep fpm_nokeep)
    for c in $FPM_CONNS; do fpm_measure "$c"; done
    fes=(starve_keep starve_nokeep)
    fpm_measure "$FPM_STARVE_CONNS"
    local -A logerr
    for fe in fpm_keep fpm_nokeep starve_keep starve_nokeep; do
        logerr[$fe]=$(log_errors "$(leg_of "$fe")")
        stop_httpd "$(leg_of "$fe")"
    done
    stop_fpm
    fpm_table
}

fpm_table() {
    local c hdr r
    hdr=$(printf '%8s %15s %11s' req/s p50/p99 failed/reqs)
    out "4. php-fpm ($("$FPM_BIN" -v 2>/dev/null | awk 'NR == 1 { print $1, $2 }'), pm = static) behind FastCgiExternalServer DOC/hello.php -socket SOCK; hello.php echoes \"hello\""
    out "   each leg its own pool and httpd, side by side; wrk -t 2, ${SLICES} x ${SLICE_SECS}s per cell (after ${WARMUP}s warm-up)"
    out "   failed = wrk's non-2xx answers + socket errors; p50 = median of the slices' p50, p99 = worst slice's"
    out "   a) pool of $FPM_PROCS workers:"
    out "$(printf '   %5s   %-36s   %-36s %12s' c "-keep-conn $FPM_PROCS" "no -keep-conn (off)" keep/off)"
    out "$(printf '   %5s   %s   %s' '' "$hdr" "$hdr")"
    for c in $FPM_CONNS; do
        out "$(printf '   %5s   %s   %s %12s' "$c" "$(fpm_cell "$c" fpm_keep)" "$(fpm_cell "$c" fpm_nokeep)" \
            "$(ratio "${FPM_RPS[$c,fpm_keep]:-}" "${FPM_RPS[$c,fpm_nokeep]:-}")")"
    done
    c=$FPM_STARVE_CONNS
    out "   b) starvation: pm.max_children = $FPM_STARVE_PROCS, c = $c:"
    out "$(printf '   %5s   %-36s   %-36s %12s' c "-keep-conn $FPM_STARVE_PROCS" "no -keep-conn (off)" keep/off)"
    out "$(printf '   %5s   %s   %s' '' "$hdr" "$hdr")"
    out "$(printf '   %5s   %s   %s %12s' "$c" "$(fpm_cell "$c" starve_keep)" "$(fpm_cell "$c" starve_nokeep)" \
        "$(ratio "${FPM_RPS[$c,starve_keep]:-}" "${FPM_RPS[$c,starve_nokeep]:-}")")"
    if [ -n "${FPM_ERR[$c,starve_keep]:-}" ]; then
        r="NOT met"; [ "${FPM_ERR[$c,starve_keep]}" = 0 ] && r=met
        out "   target 0 failed requests with -keep-conn $FPM_STARVE_PROCS on $FPM_STARVE_PROCS workers at c = $c: $r (${FPM_ERR[$c,starve_keep]})"
    fi
    out "   connections open to the pool after each warm-up (c: keep / off):$(
        for c in $FPM_CONNS; do printf '  %s: %s / %s' "$c" "${FPM_HELD[$c,fpm_keep]:--}" "${FPM_HELD[$c,fpm_nokeep]:--}"; done
        c=$FPM_STARVE_CONNS; printf ';  starvation %s: %s / %s' "$c" "${FPM_HELD[$c,starve_keep]:--}" "${FPM_HELD[$c,starve_nokeep]:--}")"
    out "   error-log lines at error level or worse: fpm_keep ${logerr[fpm_keep]:--}, fpm_nokeep ${logerr[fpm_nokeep]:--}, starve_keep ${logerr[starve_keep]:--}, starve_nokeep ${logerr[starve_nokeep]:--}"
    if [ ${#FPM_DETAIL[@]} -gt 0 ]; then
        out "   wrk errors:"
        local d
        for d in "${FPM_DETAIL[@]}"; do out "     $d"; done
    fi
    out "   after: $(load_note)"
    out ""
}
