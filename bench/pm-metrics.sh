# bench/pm-metrics.sh - section "metrics" of bench/pm.sh (issue 15): the
# cost of FastCgiMetrics. Sourced by bench/pm.sh, which provides
# start_httpd, measure_slices, out, note, ratio, ...
#
#   PM_SECTIONS=metrics bash bench/pm.sh
#   PM_SECTIONS=metrics PM_DURATION=2 PM_SLICES=2 bash bench/pm.sh   # a smoke run
#
# Two httpds side by side, the same FastCgiServer hello -processes PM_PROCS:
# leg fcgix (FastCgiMetrics On, the default) and leg fcgixm0 (FastCgiMetrics
# Off: no outcome, wait or histogram writes in the request path); wrk at
# each of PM_METRICS_CONNS, the slices alternating between the legs
# (measure_slices), so that whatever else the machine does hits both alike.
# The figure is On/Off of requests/s (target: no measurable cost, >= 0.98).
# After the runs, each leg's fastcgi-metrics page is read: the On leg must
# have counted the requests, the Off leg must say fcgix_metrics_enabled 0.
#
#   PM_METRICS_CONNS   wrk concurrencies ("1 16")
# shellcheck shell=bash

METRICS_CONNS=${PM_METRICS_CONNS:-"1 16"}
MX_SCRAPE=0   # gen_conf (bench/pm.sh): a fastcgi-metrics URL in the fcgix legs

declare -A MX_RPS MX_LAT MX_ERR MX_REQ   # "c,leg"
MX_DETAIL=()

mx_measure() { # conns: measure_slices for fes, results into MX_*
    local c=$1 fe
    # shellcheck disable=SC2034 # measure_slices fills them (dynamic scope)
    declare -A REQ SECS ERRS TT TF P50S P99MAX SLICE_RPS CYC INS CSW MIG HELD
    measure_slices "$c" 0
    for fe in "${fes[@]}"; do
        [ -n "${RPS[$fe,hello]:-}" ] || continue
        MX_RPS[$c,$fe]=${RPS[$fe,hello]}
        MX_LAT[$c,$fe]=${LAT[$fe,hello]}
        MX_ERR[$c,$fe]=${ERRS[$fe,hello]:-0}
        MX_REQ[$c,$fe]=${REQ[$fe,hello]:-0}
    done
    local d
    for d in "${WRK_DETAIL[@]}"; do MX_DETAIL+=("c=$c $d"); done
}

mx_cell() { # c leg -> "req/s  p50/p99  failed/requests"
    if [ -z "${MX_RPS[$1,$2]:-}" ]; then printf '%-36s' -; return; fi
    printf '%8.0f %15s %11s' "${MX_RPS[$1,$2]}" "${MX_LAT[$1,$2]}" "${MX_ERR[$1,$2]}/${MX_REQ[$1,$2]}"
}

# What the leg's fastcgi-metrics page says: "enabled=E counted=N" (N: the
# hello app's fcgix_requests_total, all codes).
mx_scrape() { # leg
    use_httpd "$1"
    curl -s -m 10 "http://127.0.0.1:$HTTP_PORT/fcgix-metrics" | awk '
        /^fcgix_metrics_enabled / { e = $2 }
        /^fcgix_requests_total\{app="[^"]*\/hello\.fcgi"/ { n += $2 }
        END { printf "enabled=%s counted=%d\n", (e == "" ? "?" : e), n }'
}

section_metrics() {
    local fe c
    # shellcheck disable=SC2034 # apps: read by measure_slices
    local -a ready=() fes=(fcgix fcgixm0) apps=(hello)
    MX_SCRAPE=1
    for fe in "${fes[@]}"; do
        wait_quiet "metrics $fe start"
        note "=== metrics: starting $fe"
        if ! start_httpd static "$fe" "mx-$fe"; then out "!! $fe: httpd did not start"; continue; fi
        url_ok "$fe" hello "$CUR_LEG" || continue
        bring_up "$fe" hello
        ready+=("$fe,hello")
    done
    # shellcheck disable=SC2034 # read by gen_conf (bench/pm.sh)
    MX_SCRAPE=0
    is_ready() { local x; for x in "${ready[@]}"; do [ "$x" = "$1,$2" ] && return 0; done; return 1; }
    leg_of() { echo "mx-$1"; }
    # shellcheck disable=SC2034 # read by measure_slices (dynamic scope)
    local MEASURE_WHAT=metrics
    for c in $METRICS_CONNS; do mx_measure "$c"; done
    local on off
    on=$(mx_scrape mx-fcgix)
    off=$(mx_scrape mx-fcgixm0)
    leg_of() { echo "tp-$1"; }
    for fe in "${fes[@]}"; do stop_httpd "mx-$fe"; done
    mx_table "$on" "$off"
}

mx_table() { # scrape-of-On scrape-of-Off
    local c hdr r verdict
    hdr=$(printf '%8s %15s %11s' req/s p50/p99 failed/reqs)
    out "5. FastCgiMetrics: hello (FastCgiServer -processes $PROCS), metrics On (default) vs Off, one httpd each, side by side"
    out "   wrk -t 1|2, ${SLICES} x ${SLICE_SECS}s per cell (after ${WARMUP}s warm-up), slices alternating between the legs"
    out "$(printf '   %5s   %-36s   %-36s %8s' c "FastCgiMetrics On" "FastCgiMetrics Off" On/Off)"
    out "$(printf '   %5s   %s   %s' '' "$hdr" "$hdr")"
    for c in $METRICS_CONNS; do
        r=$(ratio "${MX_RPS[$c,fcgix]:-}" "${MX_RPS[$c,fcgixm0]:-}")
        verdict="NOT met"
        awk -v r="$r" 'BEGIN { exit !(r != "-" && r >= 0.98) }' && verdict=met
        out "$(printf '   %5s   %s   %s %8s' "$c" "$(mx_cell "$c" fcgix)" "$(mx_cell "$c" fcgixm0)" "$r")   (target >= 0.98: $verdict)"
    done
    out "   fastcgi-metrics after the runs: On leg $1; Off leg $2"
    case $1 in enabled=1\ counted=0 | enabled=0*) out "   !! the On leg counted nothing: the comparison is void" ;; esac
    case $2 in enabled=0*) ;; *) out "   !! the Off leg does not say fcgix_metrics_enabled 0: the comparison is void" ;; esac
    if [ ${#MX_DETAIL[@]} -gt 0 ]; then
        out "   wrk errors:"
        local d
        for d in "${MX_DETAIL[@]}"; do out "     $d"; done
    fi
    out "   after: $(load_note)"
    out ""
}
