# bench/pm-send.sh - sections "sendfile" and "sse" of bench/pm.sh (sourced by
# it, not run): response delivery (issue 16). Results: bench/SEND.md.
#
# sendfile: one httpd (fcgix), the 10 MiB file $TMP/files/big.bin (the
#   pattern of t/apps/respond.c) three ways, each at wrk -c PM_SEND_CONNS for
#   PM_DURATION s after PM_WARMUP s:
#     xsendfile  respond.fcgi answers "X-Sendfile: $TMP/files/big.bin"
#                (FastCgiServer ... -sendfile-root $TMP/files)
#     stdout     respond.fcgi?size=10485760 writes the same bytes itself
#     static     /files/big.bin, httpd serves the file directly (Alias)
#   EnableSendfile PM_SEND_SENDFILE (On). For each: requests/s, httpd's CPU
#   per request (on-CPU time of the apache2 processes, from
#   /proc/PID/schedstat before/after, ns resolution), and the app processes'
#   on-CPU time per request.
# sse: t/apps/sse.c, PM_SSE_EVENTS events (1000) PM_SSE_INTERVAL_MS apart
#   (10), each carrying the app's CLOCK_REALTIME at the write; a client
#   (curl -N into a Perl reader that stamps each complete event on the same
#   clock) computes arrival - send per event: p50, p99, max, over
#   PM_SSE_STREAMS streams at once (1), for each leg over HTTP/1.1 and HTTP/2
#   (h2c prior knowledge: every httpd has Protocols h2c http/1.1):
#     fcgix       FastCgiServer sse.fcgi (no option: text/event-stream flushes)
#     proxy_fcgi  mod_proxy_fcgi to a spawn-fcgi pool of sse, flushpackets=on
#     fcgid       mod_fcgid, FcgidOutputBufferSize 0 (its streaming setting)
# shellcheck shell=bash

SEND_SIZE=${PM_SEND_SIZE:-10485760}
SEND_CONNS=${PM_SEND_CONNS:-16}
SEND_LEGS=${PM_SEND_LEGS-"xsendfile stdout static"}
SEND_SENDFILE=${PM_SEND_SENDFILE:-On}
SSE_EVENTS=${PM_SSE_EVENTS:-1000}
SSE_INTERVAL_MS=${PM_SSE_INTERVAL_MS:-10}
SSE_STREAMS=${PM_SSE_STREAMS:-1}
SSE_LEGS=${PM_SSE_LEGS-"fcgix proxy_fcgi fcgid"}
SSE_PROTOS=${PM_SSE_PROTOS-"h1 h2"}
for v in SEND_SIZE SEND_CONNS SSE_EVENTS SSE_STREAMS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || { echo "PM_$v must be an integer >= 1" >&2; exit 2; }
done
[[ $SSE_INTERVAL_MS =~ ^[0-9]+$ ]] || { echo "PM_SSE_INTERVAL_MS must be a non-negative integer" >&2; exit 2; }
for fe in $SEND_LEGS; do
    case $fe in xsendfile | stdout | static) ;;
    *) echo "unknown sendfile leg '$fe' (xsendfile stdout static)" >&2; exit 2 ;; esac
done
for fe in $SSE_LEGS; do
    case $fe in fcgix | proxy_fcgi | fcgid) ;;
    *) echo "unknown sse leg '$fe' (fcgix proxy_fcgi fcgid)" >&2; exit 2 ;; esac
done
for p in $SSE_PROTOS; do
    case $p in h1 | h2) ;; *) echo "unknown sse protocol '$p' (h1 h2)" >&2; exit 2 ;; esac
done

# gen_conf's part for the kinds send and sse (leg fe, document root DOC)
send_httpd_conf() { # kind fe doc
    local kind=$1 fe=$2 doc=$3
    echo "LoadModule http2_module $MODDIR/mod_http2.so"
    echo "Protocols h2c http/1.1"
    case $kind,$fe in
    send,*)
        cat <<EOF
LoadModule alias_module $MODDIR/mod_alias.so
LoadModule fcgix_module $FCGIX_SO
EnableSendfile $SEND_SENDFILE
FastCgiIpcDir "$(leg_ipc "$CUR_LEG")"
FastCgiServer "$doc/respond.fcgi" -processes $PROCS -sendfile-root "$TMP/files"
Alias /files/ "$TMP/files/"
EOF
        ;;
    sse,fcgix)
        cat <<EOF
LoadModule fcgix_module $FCGIX_SO
FastCgiIpcDir "$(leg_ipc "$CUR_LEG")"
FastCgiServer "$doc/sse.fcgi" -processes $PROCS
EOF
        ;;
    sse,proxy_fcgi)
        cat <<EOF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_fcgi_module $MODDIR/mod_proxy_fcgi.so
<Proxy "unix:$SSE_POOL|fcgi://sse">
    ProxySet flushpackets=on
</Proxy>
<Location "/sse.fcgi">
    SetHandler "proxy:unix:$SSE_POOL|fcgi://sse"
</Location>
EOF
        ;;
    sse,fcgid)
        cat <<EOF
LoadModule fcgid_module $MODDIR/mod_fcgid.so
FcgidIPCDir "$TMP/fcgid"
FcgidProcessTableFile "$TMP/fcgid/shm-sse"
FcgidMaxProcessesPerClass $PROCS
FcgidOutputBufferSize 0
FcgidIOTimeout 600
<Files "sse.fcgi">
    SetHandler fcgid-script
    Options +ExecCGI
</Files>
EOF
        ;;
    esac
}

# on-CPU nanoseconds of these processes together, all their threads
# (/proc/PID/task/TID/schedstat, field 1; /proc/PID/schedstat is the main
# thread's only). Threads that exit meanwhile are lost (httpd's stay).
oncpu_ns() {
    local p
    for p in "$@"; do cat /proc/"$p"/task/*/schedstat 2>/dev/null; done | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
httpd_pids() { # the current httpd's apache2 processes (master + children, not fcgix-pm)
    local p
    for p in "$HTTPD_PID" $(descendants_of "$HTTPD_PID"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = apache2 ] && echo "$p"
    done
}

send_url() { # leg
    local f
    f=$(perl -MURI::Escape -e 'print uri_escape("X-Sendfile: $ARGV[0]")' "$TMP/files/big.bin")
    case $1 in
    xsendfile) echo "http://127.0.0.1:$HTTP_PORT/respond.fcgi?hdr=$f" ;;
    stdout) echo "http://127.0.0.1:$HTTP_PORT/respond.fcgi?size=$SEND_SIZE" ;;
    static) echo "http://127.0.0.1:$HTTP_PORT/files/big.bin" ;;
    esac
}

send_check() { # leg -> 0 when it answers 200 with SEND_SIZE bytes equal to the file
    local res sum want
    want=$(md5sum <"$TMP/files/big.bin" | cut -d' ' -f1)
    res=$(curl -sS -m 60 -o "$TMP/logs/send-check.out" -w '%{http_code} %{size_download}' "$(send_url "$1")" 2>&1)
    sum=$(md5sum <"$TMP/logs/send-check.out" | cut -d' ' -f1)
    rm -f "$TMP/logs/send-check.out"
    [ "$res" = "200 $SEND_SIZE" ] && [ "$sum" = "$want" ] && return 0
    out "!! sendfile $1: $(send_url "$1") -> $res (md5 $sum, want $want); skipped"
    log_tail "$CUR_LEG"
    return 1
}

section_sendfile() {
    local fe log h0 a0 h1 a1 rps err lat reqs app
    mkdir -p "$TMP/files"
    perl -e 'my $p = join("", 0 .. 9, "a" .. "z", "A" .. "Z") . "\n"; my $s = $p x (int($ARGV[0] / length $p) + 1);
        print substr($s, 0, $ARGV[0])' "$SEND_SIZE" >"$TMP/files/big.bin"
    chmod -R a+rX "$TMP/files"
    wait_quiet "sendfile start"
    start_httpd send fcgix send || { out "!! sendfile: httpd did not start (see notes)"; return; }
    app="$(leg_doc "$CUR_LEG")/respond.fcgi"
    out "S1. A $((SEND_SIZE / 1048576)) MiB file at wrk -c $SEND_CONNS, ${DURATION}s each (after ${WARMUP}s warm-up); respond app, $PROCS processes; EnableSendfile $SEND_SENDFILE"
    out "    httpd CPU and app CPU: on-CPU time per request of the apache2 processes resp. the app's (schedstat)"
    out "$(printf '%-10s %10s %8s %12s %14s %14s %7s' leg 'req/s' 'MiB/s' 'p50/p99' 'httpd CPU/req' 'app CPU/req' errors)"
    for fe in $SEND_LEGS; do
        send_check "$fe" || continue
        [ "$WARMUP" != 0 ] && "${CLIENT_PIN[@]}" wrk -t 2 -c "$SEND_CONNS" -d "${WARMUP}s" --timeout 30s "$(send_url "$fe")" >/dev/null 2>&1
        log="$TMP/logs/send-$fe.wrk"
        # shellcheck disable=SC2046 # lists of pids
        { h0=$(oncpu_ns $(httpd_pids)); a0=$(oncpu_ns $(pids_by_exe "$app")); }
        "${CLIENT_PIN[@]}" wrk -t 2 -c "$SEND_CONNS" -d "${DURATION}s" --timeout 30s --latency "$(send_url "$fe")" >"$log" 2>&1
        # shellcheck disable=SC2046
        { h1=$(oncpu_ns $(httpd_pids)); a1=$(oncpu_ns $(pids_by_exe "$app")); }
        read -r rps err lat reqs _ <<<"$(parse_wrk "$log")"
        out "$(awk -v fe="$fe" -v rps="$rps" -v size="$SEND_SIZE" -v lat="$lat" -v n="$reqs" -v h=$((h1 - h0)) -v a=$((a1 - a0)) -v e="$err" 'BEGIN {
            if (n + 0 == 0) n = 1e18
            printf "%-10s %10.1f %8.0f %12s %11.0f us %11.0f us %7d", fe, rps, rps * size / 1048576, lat, h / 1000 / n, a / 1000 / n, e }')"
    done
    out "    (app CPU/req for static: the idle app, ~0; for xsendfile the app only writes headers)"
    stop_httpd
    out ""
}

# ------------------------------------------------------------------ sse
SSE_POOL=""

# the client: curl -N | perl; prints one line "delay_us ..." per event
sse_reader() {
    cat >"$TMP/sse-reader.pl" <<'PERL'
use strict;
use warnings;
use Time::HiRes qw(time);
# reads curl's output on stdin, prints "N DELAY_US" per complete event
my ($buf, $scan) = ('', 0);
$| = 1;
while (sysread(STDIN, my $b, 65536)) {
    my $at = time;
    $buf .= $b;
    pos($buf) = $scan;
    while ($buf =~ /\Gid: \d+\ndata: (\d+) (\d+\.\d+)[^\n]*\n\n/gc) {
        printf "%d %.0f\n", $1, ($at - $2) * 1e6;
        $scan = pos($buf);
    }
}
PERL
}

sse_stream() { # proto url out-file: one stream, its events' delays into out-file
    local flag=--http1.1
    [ "$1" = h2 ] && flag=--http2-prior-knowledge
    curl -sS -N "$flag" -m $((SSE_EVENTS * SSE_INTERVAL_MS / 1000 + 60)) "$2" 2>>"$3.err" |
        perl "$TMP/sse-reader.pl" >"$3"
}

sse_stats() { # files... -> "events p50 p99 max" (us) over all of them
    cat "$@" | awk '{ print $2 }' | sort -n | awk '{ v[NR] = $1 } END {
        if (!NR) { print "0 - - -"; exit }
        i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
        printf "%d %d %d %d\n", NR, v[i50], v[i99], v[NR] }'
}

sse_leg() { # fe: its httpd up (and pool), streams over each protocol, table rows
    local fe=$1 p i url ev p50 p99 max files spids
    if [ "$fe" = proxy_fcgi ]; then
        cp "$APPS_DIR/sse" "$TMP/apps/unix/sse"
        start_pool sse-unix unix sse || { out "!! sse $fe: spawn-fcgi pool did not start"; return; }
        SSE_POOL=$POOL_ADDR
    fi
    local doc
    doc=$(leg_doc "sse-$fe")
    cp "$APPS_DIR/sse" "$doc/sse.fcgi"
    chmod 755 "$doc/sse.fcgi"
    start_httpd sse "$fe" "sse-$fe" || { out "!! sse $fe: httpd did not start (see notes)"; return; }
    url="http://127.0.0.1:$HTTP_PORT/sse.fcgi?count=$SSE_EVENTS&interval_ms=$SSE_INTERVAL_MS"
    for p in $SSE_PROTOS; do
        # one short stream first: processes started, a stream works
        sse_stream "$p" "http://127.0.0.1:$HTTP_PORT/sse.fcgi?count=2&interval_ms=0" "$TMP/logs/sse-$fe-$p-probe"
        read -r ev _ <<<"$(sse_stats "$TMP/logs/sse-$fe-$p-probe")"
        if [ "$ev" != 2 ]; then
            out "!! sse $fe $p: a 2-event probe stream gave $ev events; skipped"
            log_tail "$CUR_LEG"
            continue
        fi
        files=()
        spids=()
        for i in $(seq 1 "$SSE_STREAMS"); do
            sse_stream "$p" "$url" "$TMP/logs/sse-$fe-$p-$i" &
            spids+=($!)
            files+=("$TMP/logs/sse-$fe-$p-$i")
        done
        wait "${spids[@]}"   # (not a bare wait: the pools' reapers are children too)
        read -r ev p50 p99 max <<<"$(sse_stats "${files[@]}")"
        out "$(printf '%-11s %-6s %8s/%-8s %10s %10s %10s' "$fe" "$p" "$ev" "$((SSE_EVENTS * SSE_STREAMS))" "$p50" "$p99" "$max")"
    done
    stop_httpd
    [ "$fe" = proxy_fcgi ] && stop_pools
    return 0
}

section_sse() {
    local fe
    [ -x "$APPS_DIR/sse" ] || { out "!! sse: $APPS_DIR/sse missing (make -f Makefile.apxs apps)"; return; }
    [ -f "$MODDIR/mod_http2.so" ] || { out "!! sse: $MODDIR/mod_http2.so missing"; return; }
    sse_reader
    wait_quiet "sse start"
    out "S2. SSE: $SSE_EVENTS events ${SSE_INTERVAL_MS} ms apart per stream, $SSE_STREAMS stream(s) at once; delay = client arrival - app send (us, same clock)"
    out "    (fcgix: no option; proxy_fcgi: flushpackets=on; fcgid: FcgidOutputBufferSize 0; h2 = h2c prior knowledge)"
    out "$(printf '%-11s %-6s %17s %10s %10s %10s' leg proto events p50 p99 max)"
    for fe in $SSE_LEGS; do sse_leg "$fe"; done
    out ""
}
