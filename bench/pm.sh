#!/usr/bin/env bash
# bench/pm.sh - benchmark of mod_fcgix's process manager against mod_fcgid
# (and mod_proxy_fcgi in front of spawn-fcgi).
#
# Not part of the test suite. See bench/PM.md for what it measures.
#
#   bash bench/pm.sh                        # all three sections, about 6 minutes
#   PM_DURATION=30 bash bench/pm.sh         # longer wrk runs
#   PM_SECTIONS=cold bash bench/pm.sh       # only the cold-start section
#   PM_SECTIONS=throughput PM_CONNS="1 4 16 64 256" \
#     PM_FRONTENDS="fcgix fcgix0 proxy_unix proxy_reuse" bash bench/pm.sh
#                                           # kept connections by concurrency
#   PM_SECTIONS=fpm bash bench/pm.sh        # php-fpm, -keep-conn on and off
#   PM_SECTIONS=backends bash bench/pm.sh   # several backends per app (issue 14),
#                                           # bench/pm-backends.sh
#   PM_SECTIONS="sendfile sse" bash bench/pm.sh  # response delivery (issue 16):
#                                           # X-Sendfile, SSE delays; bench/pm-send.sh
#   PM_SECTIONS=metrics bash bench/pm.sh    # FastCgiMetrics On vs Off (issue 15),
#                                           # bench/pm-metrics.sh
#
# Environment (all optional):
#   PM_SECTIONS        sections to run ("throughput cold graceful"; also: fpm,
#                      backends, metrics, sendfile, sse)
#   PM_DURATION        measured seconds per throughput cell (10)
#   PM_WARMUP          seconds of unrecorded wrk before each measured run (2)
#   PM_CONNS           wrk connections for throughput, or a list of them
#                      ("1 4 16 64 256"): every leg at each, one table per
#                      concurrency and a summary                    (64)
#   PM_SLICES          slices the PM_DURATION is cut into, alternating legs (5)
#   PM_PROCS           processes per static app (N)       (4)
#   PM_BIG_SIZE        body size of the large response     (102400)
#   PM_FRONTENDS       throughput legs        ("fcgix fcgid proxy_unix proxy_tcp";
#                      also: fcgix0 = fcgix with -keep-conn 0, proxy_reuse =
#                      proxy_unix with enablereuse=on, on its own pool)
#   PM_REUSE_MAX       max= of proxy_reuse's workers, per httpd child
#                      (PM_PROCS/2, at least 1)
#   PM_FPM             php-fpm binary                (/usr/sbin/php-fpm*, newest)
#   PM_FPM_PROCS       workers of the fpm section's static pools       (4)
#   PM_FPM_CONNS       its wrk concurrencies                        ("4 64")
#   PM_FPM_STARVE_PROCS pm.max_children (and -keep-conn) of the starvation case (2)
#   PM_FPM_STARVE_CONNS its wrk concurrency                           (64)
#   PM_BE_*            section backends: see bench/pm-backends.sh and
#                      bench/README.md
#   PM_SEND_*, PM_SSE_* sections sendfile and sse: see bench/pm-send.sh
#   PM_METRICS_CONNS   section metrics: its wrk concurrencies ("1 16")
#   PM_COLD_RUNS       cold starts per module and variant  (10)
#   PM_GRACEFULS       graceful restarts under load        (10)
#   PM_GRACEFUL_INTERVAL seconds between two gracefuls     (1)
#   PM_GRACEFUL_CLIENTS  concurrent clients, keep-alive off (4)
#   PM_GRACEFUL_FRONTENDS modules put through the restarts ("fcgix fcgid")
#   PM_GRACEFUL_CHANGE 1 = before each graceful, change the hello app's
#                      FastCgiServer line (-initial-env BENCH_GEN=i), so every
#                      restart replaces its processes (mod_fcgid replaces them
#                      at every graceful anyway)                          (0)
#   PM_WAIT_QUIET      seconds to wait for an idle CPU before starting (120)
#   PM_APPS_DIR        where hello and respond are        (t/apps/bin)
#   FCGIX_SO           module to load                     (build/mod_fcgix.so)
#   PM_RESULTS         results file      (bench/results-pm-YYYY-MM-DD-HHMMSS.txt)
#   PM_NO_BUILD        1 = do not run make
#   PM_KEEP            1 = keep the temporary directory (configs, logs)
#   PM_PERF            1 = count CPU cycles, instructions, context switches and
#                      CPU migrations per request with perf stat -a (default: 1
#                      when perf works)
#   PM_PIN             1 = pin the server side (httpd, its children, the PM and
#                      every app, spawn-fcgi pools) to CPU 1 and wrk to CPU 0,
#                      so the scheduler cannot move them between CPUs; at
#                      PM_CONNS=1 the unpinned figure mostly measures where it
#                      places the tasks (bench/PM.md)                    (0)
set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NOTE_TAG=pm
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
SECTIONS=${PM_SECTIONS-"throughput cold graceful"}
DURATION=${PM_DURATION:-10}
WARMUP=${PM_WARMUP:-2}
CONNS_LIST=${PM_CONNS:-64}
SLICES=${PM_SLICES:-5}
PROCS=${PM_PROCS:-4}
BIG_SIZE=${PM_BIG_SIZE:-102400}
FRONTENDS=${PM_FRONTENDS-"fcgix fcgid proxy_unix proxy_tcp"}
COLD_RUNS=${PM_COLD_RUNS:-10}
GRACEFULS=${PM_GRACEFULS:-10}
GRACEFUL_INTERVAL=${PM_GRACEFUL_INTERVAL:-1}
GRACEFUL_CHANGE=${PM_GRACEFUL_CHANGE:-0}
GRACEFUL_CLIENTS=${PM_GRACEFUL_CLIENTS:-4}
GRACEFUL_FRONTENDS=${PM_GRACEFUL_FRONTENDS-"fcgix fcgid"}
WAIT_QUIET=${PM_WAIT_QUIET:-120}
# shellcheck source=bench/pm-fpm.sh
. "$REPO/bench/pm-fpm.sh"   # section fpm, its settings (PM_FPM_*)
# shellcheck source=bench/pm-backends.sh
. "$REPO/bench/pm-backends.sh"   # section backends, its settings (PM_BE_*)
# shellcheck source=bench/pm-send.sh
. "$REPO/bench/pm-send.sh"   # sections sendfile and sse (PM_SEND_*, PM_SSE_*)
# shellcheck source=bench/pm-metrics.sh
. "$REPO/bench/pm-metrics.sh"   # section metrics, its settings (PM_METRICS_*)
# PM_PIN=1: the server side on CPU 1 (apache2 -k start and the spawn-fcgi
# pools: every child, the PM and the apps inherit it), wrk on CPU 0
if [ "${PM_PIN:-0}" = 1 ]; then
    SERVER_PIN=(taskset -c 1)
    CLIENT_PIN=(taskset -c 0)
fi
APPS_DIR=${PM_APPS_DIR:-$REPO/t/apps/bin}
FCGIX_SO=${FCGIX_SO:-$REPO/build/mod_fcgix.so}
RESULTS=${PM_RESULTS:-$REPO/bench/results-pm-$(date +%Y-%m-%d-%H%M%S).txt}
MODDIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules)
KEEP_TMP=${PM_KEEP:-0}
if [ -z "${PM_PERF:-}" ]; then
    PM_PERF=0
    perf stat -a -x, -e cycles,instructions,context-switches,cpu-migrations -o /dev/null -- true >/dev/null 2>&1 && PM_PERF=1
fi
HELLO_SIZE=13    # check_url: "Hello, World\n"
FLOOR_LEG=

for s in $SECTIONS; do
    case $s in throughput | cold | graceful | fpm | backends | metrics | sendfile | sse) ;;
    *) echo "unknown section '$s' (throughput cold graceful fpm backends metrics sendfile sse)" >&2; exit 2 ;; esac
done
# every throughput leg, in the order of the table's columns
ALL_LEGS="fcgix fcgix0 fcgid proxy_unix proxy_reuse proxy_tcp"
for fe in $FRONTENDS; do
    case " $ALL_LEGS " in *" $fe "*) ;;
    *) echo "unknown front end '$fe' ($ALL_LEGS)" >&2; exit 2 ;; esac
done
for fe in $GRACEFUL_FRONTENDS; do
    case $fe in fcgix | fcgid) ;;
    *) echo "unknown graceful front end '$fe' (fcgix fcgid)" >&2; exit 2 ;; esac
done
for v in DURATION WARMUP SLICES PROCS BIG_SIZE COLD_RUNS GRACEFULS GRACEFUL_INTERVAL GRACEFUL_CLIENTS WAIT_QUIET; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "PM_$v must be a non-negative integer" >&2; exit 2; }
done
[ "$PROCS" -ge 1 ] && [ "$DURATION" -ge 1 ] && [ "$SLICES" -ge 1 ] ||
    { echo "PM_PROCS, PM_DURATION, PM_SLICES must be >= 1" >&2; exit 2; }
MAX_CONNS=0
for c in $CONNS_LIST; do
    [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] || { echo "PM_CONNS must be a list of integers >= 1" >&2; exit 2; }
    [ "$c" -gt "$MAX_CONNS" ] && MAX_CONNS=$c
done
[ "$MAX_CONNS" -ge 1 ] || { echo "PM_CONNS is empty" >&2; exit 2; }
REUSE_MAX=${PM_REUSE_MAX:-$(( PROCS / 2 > 0 ? PROCS / 2 : 1 ))}
[[ $REUSE_MAX =~ ^[0-9]+$ ]] && [ "$REUSE_MAX" -ge 1 ] || { echo "PM_REUSE_MAX must be >= 1" >&2; exit 2; }
# wrk threads for N connections: 2, or 1 for one (wrk needs a connection
# per thread)
wrk_threads() { echo $(( $1 < 2 ? $1 : 2 )); }
# seconds per slice (at least 1); the measured time per cell is SLICES x SLICE_SECS
SLICE_SECS=$(( DURATION / SLICES > 0 ? DURATION / SLICES : 1 ))

# ------------------------------------------------------------------ helpers
# HTTPD_CONF, HTTPD_PID, HTTP_PORT (bench/lib.sh): the current httpd (see use_httpd)
declare -A INST_CONF INST_PID INST_PORT   # every running httpd, by leg name
declare -A POOL_ADDRS   # "leg,app" -> the address of the spawn-fcgi pool it proxies to
POOL_PIDS=()     # pool reapers (perl), one per spawn-fcgi pool
WRK_PID=""       # background wrk of the graceful test

# pid... -> every descendant pid of each (one ps snapshot)
descendants_of() {
    ps -e -o pid=,ppid= | awk -v roots="$*" '
        { kids[$2] = kids[$2] " " $1 }
        END {
            n = split(roots, q, " ")
            for (i = 1; i <= n; i++) {
                m = split(kids[q[i]], k, " ")
                for (j = 1; j <= m; j++) { q[++n] = k[j]; print k[j] }
            }
        }'
}

# processes whose executable is $1 (a path under $TMP, so only ours)
pids_by_exe() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/exe" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
    done
}

use_httpd() { # leg: make that running httpd the current one
    CUR_LEG=$1
    HTTPD_CONF=${INST_CONF[$1]}
    HTTPD_PID=${INST_PID[$1]}
    HTTP_PORT=${INST_PORT[$1]}
}

stop_httpd() { # [leg] (default: the current one)
    local leg=${1:-$CUR_LEG}
    [ -n "$leg" ] && [ -n "${INST_CONF[$leg]:-}" ] || return 0
    local conf=${INST_CONF[$leg]} pid=${INST_PID[$leg]} desc p i left
    [ -z "$pid" ] && [ -s "$TMP/run/$leg/httpd.pid" ] && pid=$(cat "$TMP/run/$leg/httpd.pid")
    # everything this httpd started (children, fcgix-pm / fcgid PM, apps)
    desc=""
    [ -n "$pid" ] && desc=$(descendants_of "$pid")
    apache2 -f "$conf" -k stop >/dev/null 2>&1
    if [ -n "$pid" ] && ! wait_gone "$pid" 300; then
        note "httpd $pid did not stop in 30 s; SIGKILL to it and its descendants"
        kill -KILL "$pid" $desc 2>/dev/null
    fi
    # processes of this httpd that outlive it (apps, process managers)
    for i in $(seq 1 100); do
        left=""
        for p in $desc; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    if [ -n "$left" ]; then
        note "left behind by httpd $pid after 10 s:$left ($(ps -o comm= -p "${left// /,}" 2>/dev/null | paste -sd,)); SIGKILL"
        STRAGGLERS+=("$leg:$left")
        kill -KILL $left 2>/dev/null
    fi
    unset "INST_CONF[$leg]" "INST_PID[$leg]" "INST_PORT[$leg]"
    if [ "$leg" = "$CUR_LEG" ]; then HTTPD_CONF=""; HTTPD_PID=""; fi
}

stop_all_httpd() {
    local leg
    for leg in "${!INST_CONF[@]}"; do stop_httpd "$leg"; done
}

stop_pools() {
    local p
    for p in "${POOL_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${POOL_PIDS[@]}"; do
        if ! wait_gone "$p" 100; then
            note "pool reaper $p did not exit; SIGKILL to it and its children"
            # shellcheck disable=SC2046 # a list of pids
            kill -KILL "$p" $(descendants_of "$p") 2>/dev/null
        fi
        wait "$p" 2>/dev/null
    done
    POOL_PIDS=()
}

stop_everything() {
    if [ -n "$WRK_PID" ]; then kill -TERM "$WRK_PID" 2>/dev/null; wait "$WRK_PID" 2>/dev/null; fi
    stop_all_httpd
    stop_pools
    stop_fpm
    be_stop_all
}
install_traps stop_everything

# percentage of CPU time not idle over $1 seconds (all cpus)
cpu_busy() {
    local a b
    a=$(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    sleep "${1:-1}"
    b=$(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]; i = y[2] - x[2];
        if (t <= 0) print 0; else printf "%.0f", 100 * (t - i) / t }'
}

load_note() { printf 'load avg %s, cpu busy %s%% (1 s sample)' "$(cut -d' ' -f1-3 /proc/loadavg)" "$(cpu_busy 1)"; }


# ------------------------------------------------------------------ build
if [ "${PM_NO_BUILD:-0}" != 1 ]; then
    note "building mod_fcgix and the test apps (make -f Makefile.apxs; make -f Makefile.apxs apps)"
    make -s -C "$REPO" -f Makefile.apxs >&2 || die "module build failed"
    make -s -C "$REPO" -f Makefile.apxs apps >&2 || die "app build failed"
fi
[ -f "$FCGIX_SO" ] || die "$FCGIX_SO missing (build it or set FCGIX_SO)"
for a in hello respond; do
    [ -x "$APPS_DIR/$a" ] || die "$APPS_DIR/$a missing (make -f Makefile.apxs apps, or set PM_APPS_DIR)"
done
need_commands wrk curl perl apache2 spawn-fcgi
for m in mod_mpm_event mod_authz_core mod_mime mod_fcgid mod_proxy mod_proxy_fcgi; do
    [ -f "$MODDIR/$m.so" ] || die "$MODDIR/$m.so missing"
done

# ------------------------------------------------------------------ temp dir
make_tmp fcgix-pm-bench
# Every httpd gets its own document root, $TMP/doc/<leg> (see leg_doc), with
# its own copies of the apps, and each spawn-fcgi transport its own copies in
# $TMP/apps/<transport>: app processes are told apart by their executable.
mkdir -p "$TMP/doc" "$TMP/apps/unix" "$TMP/apps/tcp" "$TMP/apps/reuse" "$TMP/sock" "$TMP/run" "$TMP/fcgid" "$TMP/fcgix-ipc" "$TMP/logs" "$TMP/pools"
for tr in unix tcp reuse; do
    for a in hello respond; do
        cp "$APPS_DIR/$a" "$TMP/apps/$tr/$a"
        chmod 755 "$TMP/apps/$tr/$a"
    done
done
chmod -R a+rX "$TMP/doc" "$TMP/apps"

set_run_user "$TMP/fcgid" "$TMP/fcgix-ipc" "$TMP/run" "$TMP/sock"
chmod 700 "$TMP/fcgix-ipc"

# A pool of spawn-fcgi processes that the script can stop through one PID.
# spawn-fcgi -F N forks N daemons and exits; this wrapper makes itself a
# child subreaper first, so the daemons become its children (not init's, which
# may not reap them here), and on SIGTERM it TERMs them (KILL after 3 s).
cat >"$TMP/pool.pl" <<'PERL'
use strict;
use warnings;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
my ($ready, $pidfile, @cmd) = @ARGV;
# prctl(PR_SET_CHILD_SUBREAPER = 36, 1); x86_64 SYS_prctl = 157, from syscall.ph if present
my $nr = eval { require 'syscall.ph'; &SYS_prctl } // 157;
syscall($nr, 36, 1, 0, 0, 0) == 0 or die "pool: prctl(PR_SET_CHILD_SUBREAPER): $!\n";
my $term = 0;
$SIG{TERM} = $SIG{INT} = sub { $term = 1 };
my $pid = fork // die "pool: fork: $!\n";
if (!$pid) { exec @cmd or POSIX::_exit(127) }
waitpid($pid, 0);
my $rc = $?;
my %live;
if (open my $fh, '<', $pidfile) { for (<$fh>) { $live{$1} = 1 if /^(\d+)/ } }
sub reap { while ((my $w = waitpid(-1, WNOHANG)) > 0) { delete $live{$w} } }
if ($rc == 0 && %live) {
    open my $r, '>', $ready or die; close $r;
    while (!$term) { reap(); last unless %live; sleep 0.2 }
} else {
    warn "pool: spawn-fcgi failed (status $rc)\n";
}
reap();
kill 'TERM', keys %live;
my $end = time + 3;
while (%live && time < $end) { reap(); sleep 0.05 }
kill 'KILL', keys %live;
while (waitpid(-1, 0) > 0) { }
exit($rc == 0 ? 0 : 1);
PERL

# transport: tcp (127.0.0.1), unix, or reuse (a Unix socket too, with its own
# copies of the apps: proxy_reuse's pool, which its held connections occupy)
start_pool() { # name transport app -> sets POOL_ADDR
    local name=$1 transport=$2 app=$3 args=() port
    args=(-F "$PROCS" -P "$TMP/pools/$name.pid")
    [ -n "$RUN_USER" ] && args+=(-u "$RUN_USER" -g "$RUN_USER")
    if [ "$transport" = tcp ]; then
        port=$(free_port) || die "no free port"
        args+=(-a 127.0.0.1 -p "$port")
        POOL_ADDR=127.0.0.1:$port
    else
        args+=(-s "$TMP/sock/$name.sock" -M 0600)
        [ -n "$RUN_USER" ] && args+=(-U "$RUN_USER" -G "$RUN_USER")
        POOL_ADDR=$TMP/sock/$name.sock
    fi
    rm -f "$TMP/pools/$name.ready" "$TMP/pools/$name.pid"
    "${SERVER_PIN[@]}" perl "$TMP/pool.pl" "$TMP/pools/$name.ready" "$TMP/pools/$name.pid" \
        spawn-fcgi "${args[@]}" -- "$TMP/apps/$transport/$app" >>"$TMP/logs/pool-$name.log" 2>&1 &
    POOL_PIDS+=($!)
    local i
    for i in $(seq 1 200); do
        [ -e "$TMP/pools/$name.ready" ] && return 0
        kill -0 "${POOL_PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    note "pool $name did not come up:"; cat "$TMP/logs/pool-$name.log" >&2
    return 1
}

# ------------------------------------------------------------------ httpd
CUR_LEG=""
STRAGGLERS=()

leg_doc() { # leg -> its document root, created on first use
    local d="$TMP/doc/$1" a
    if [ ! -d "$d" ]; then
        mkdir -p "$d/dyn"
        for a in hello respond; do
            cp "$APPS_DIR/$a" "$d/$a.fcgi"
            chmod 755 "$d/$a.fcgi"
        done
        echo ok >"$d/ok.txt"
        printf '<?php echo "hello\\n";\n' >"$d/hello.php"
        chmod -R a+rX "$d"
    fi
    echo "$d"
}

# leg -> its own FastCgiIpcDir (fcgix legs run side by side), created on first use
leg_ipc() {
    local d="$TMP/fcgix-ipc/$1"
    if [ ! -d "$d" ]; then
        mkdir -p "$d"
        [ -n "$RUN_USER" ] && chown "$RUN_USER:$RUN_USER" "$d"
        chmod 700 "$d"
    fi
    echo "$d"
}

# established Unix-socket connections whose server end is a socket whose path
# starts with $1 (and, given $2, held by a process of that name): the
# connections open to an app (held idle ones, between runs)
held_conns() { # path-prefix [command name]
    ss -xpH 2>/dev/null | awk -v p="$1" -v c="${2:+((\"$2\",}" 'index($5, p) == 1 && (c == "" || index($0, c)) { n++ } END { print n + 0 }'
}

# gen_conf kind fe conf
#   kind: static (FastCgiServer / fcgid class / proxy to a pool, hello and respond)
#         dynamic (AddHandler on DOC/dyn, module defaults)
#   DOC: the leg's own document root
gen_conf() {
    local kind=$1 fe=$2 conf=$3 DOC
    DOC=$(leg_doc "$CUR_LEG")
    {
        httpd_conf_head "$CUR_LEG" "$TMP/run/$CUR_LEG/httpd.pid" "$TMP/run/$CUR_LEG"
        cat <<EOF
LoadModule mime_module $MODDIR/mod_mime.so
TypesConfig /dev/null
EOF
        [ -n "$RUN_USER" ] && printf 'User %s\nGroup %s\n' "$RUN_USER" "$RUN_USER"
        # Two children x 64 threads serve; ServerLimit leaves scoreboard room
        # for children that finish their requests after a graceful restart.
        cat <<EOF
ServerLimit 8
$(event_mpm_conf)
Timeout 120
DocumentRoot "$DOC"
<Directory />
    AllowOverride None
    Require all granted
</Directory>
EOF
        case $kind,$fe in
        static,fcgix | static,fcgix0 | static,fcgixm0)
            local keep=""
            [ "$fe" = fcgix0 ] && keep=" -keep-conn 0"
            cat <<EOF
LoadModule fcgix_module $FCGIX_SO
FastCgiIpcDir "$(leg_ipc "$CUR_LEG")"
FastCgiServer "$DOC/hello.fcgi" -processes $PROCS$keep
FastCgiServer "$DOC/respond.fcgi" -processes $PROCS$keep
EOF
            # section metrics (bench/pm-metrics.sh)
            if [ "$fe" = fcgixm0 ]; then echo "FastCgiMetrics Off"; fi
            if [ "$MX_SCRAPE" = 1 ]; then
                printf '<Location "/fcgix-metrics">\n    SetHandler fastcgi-metrics\n</Location>\n'
            fi
            ;;
        backends,*)
            be_httpd_conf "$fe" "$DOC" # bench/pm-backends.sh
            ;;
        send,* | sse,*)
            send_httpd_conf "$kind" "$fe" "$DOC" # bench/pm-send.sh
            ;;
        fpm,*)
            # php-fpm's pool FPM_POOL_<leg> (bench/pm-fpm.sh), -keep-conn FPM_KEEP_<leg>
            local pool="FPM_POOL_$fe" kc="FPM_KEEP_$fe"
            cat <<EOF
LoadModule fcgix_module $FCGIX_SO
FastCgiIpcDir "$(leg_ipc "$CUR_LEG")"
FastCgiExternalServer "$DOC/hello.php" -socket "$TMP/sock/fpm-${!pool}.sock"${!kc:+ -keep-conn ${!kc}}
EOF
            ;;
        static,fcgid)
            cat <<EOF
LoadModule fcgid_module $MODDIR/mod_fcgid.so
FcgidIPCDir "$TMP/fcgid"
FcgidProcessTableFile "$TMP/fcgid/shm"
FcgidMaxProcesses $((PROCS * 2))
FcgidMaxProcessesPerClass $PROCS
FcgidMinProcessesPerClass $PROCS
FcgidMaxRequestsPerProcess 0
FcgidIdleTimeout 600
FcgidProcessLifeTime 3600
<Files "*.fcgi">
    SetHandler fcgid-script
    Options +ExecCGI
</Files>
EOF
            ;;
        static,proxy_unix | static,proxy_tcp | static,proxy_reuse)
            cat <<EOF
LoadModule proxy_module $MODDIR/mod_proxy.so
LoadModule proxy_fcgi_module $MODDIR/mod_proxy_fcgi.so
EOF
            local app var
            for app in hello respond; do
                var="ADDR_$app"
                case $fe in
                proxy_tcp)
                    printf '<Location "/%s.fcgi">\n    SetHandler "proxy:fcgi://%s"\n</Location>\n' "$app" "${!var}" ;;
                proxy_unix)
                    printf '<Location "/%s.fcgi">\n    SetHandler "proxy:unix:%s|fcgi://%s"\n</Location>\n' "$app" "${!var}" "$app" ;;
                proxy_reuse)
                    # a libfcgi process serves one connection at a time: more
                    # pooled connections (max= per child, 2 children) than
                    # processes would stall requests on connections no
                    # process accepts (bench/README.md)
                    printf '<Proxy "unix:%s|fcgi://%s">\n    ProxySet enablereuse=on max=%s\n</Proxy>\n' "${!var}" "$app" "$REUSE_MAX"
                    printf '<Location "/%s.fcgi">\n    SetHandler "proxy:unix:%s|fcgi://%s"\n</Location>\n' "$app" "${!var}" "$app" ;;
                esac
            done
            ;;
        dynamic,fcgix)
            cat <<EOF
LoadModule fcgix_module $FCGIX_SO
FastCgiIpcDir "$TMP/fcgix-ipc"
<Directory "$DOC/dyn">
    Options +ExecCGI
    AddHandler fastcgi-script .fcgi
</Directory>
EOF
            ;;
        dynamic,fcgid)
            cat <<EOF
LoadModule fcgid_module $MODDIR/mod_fcgid.so
FcgidIPCDir "$TMP/fcgid"
FcgidProcessTableFile "$TMP/fcgid/shm"
<Directory "$DOC/dyn">
    Options +ExecCGI
    AddHandler fcgid-script .fcgi
</Directory>
EOF
            ;;
        esac
    } >"$conf"
}

start_httpd() { # kind fe leg-name; the new httpd becomes the current one
    local kind=$1 fe=$2 leg=$3 port conf pid i
    stop_httpd "$leg"
    CUR_LEG=$leg
    port=$(free_port) || die "no free port"
    HTTP_PORT=$port
    conf="$TMP/httpd-$leg.conf"
    mkdir -p "$TMP/run/$leg"
    [ -n "$RUN_USER" ] && chown "$RUN_USER:$RUN_USER" "$TMP/run/$leg"
    gen_conf "$kind" "$fe" "$conf"
    apache_configtest "$conf" "$leg" || return 1
    rm -f "$TMP/run/$leg/httpd.pid"
    INST_CONF[$leg]=$conf; INST_PID[$leg]=""; INST_PORT[$leg]=$port
    use_httpd "$leg"
    apache_start "$conf" "$leg" || { stop_httpd "$leg"; return 1; }
    pid=$(wait_pidfile "$TMP/run/$leg/httpd.pid" 200)
    INST_PID[$leg]=$pid
    use_httpd "$leg"
    apache_answers "$leg" "$pid" "$port" || { stop_httpd "$leg"; return 1; }
    # serving: a static file answers
    for i in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port/ok.txt")" = 200 ] && return 0
        sleep 0.05
    done
    note "apache2 does not serve /ok.txt for $leg"; stop_httpd "$leg"; return 1
}

app_exe() { # fe app -> path of the executable serving it (none for php-fpm's pools)
    local f=hello; [ "$2" = big ] && f=respond
    case $1 in proxy_*) echo "$TMP/apps/${1#proxy_}/$f" ;; fpm_* | starve_*) ;; *) echo "$TMP/doc/$CUR_LEG/$f.fcgi" ;; esac
}

count_procs() { if [ -n "$1" ]; then pids_by_exe "$1" | wc -l; else echo -; fi; }

# where the app's connections end: held_conns' arguments (its sockets' path,
# or that of a directory of them and the app's command name)
app_socket_prefix() { # fe app
    local f=hello; [ "$2" = big ] && f=respond
    case $1 in
    fcgix | fcgix0 | fcgixm0) echo "$TMP/fcgix-ipc/$CUR_LEG/ $f.fcgi" ;;
    proxy_unix | proxy_reuse) echo "${POOL_ADDRS[$1,$2]:-}" ;;
    fpm_* | starve_*) local pool="FPM_POOL_$1"; echo "$TMP/sock/fpm-${!pool}.sock" ;;
    *) ;;
    esac
}

# wait until the app has PROCS processes; for mod_fcgid, load it until it
# spawned them (it starts processes on demand only)
bring_up() { # fe app
    local exe n i c
    exe=$(app_exe "$1" "$2")
    [ -n "$exe" ] || return 0
    for i in $(seq 1 60); do
        n=$(count_procs "$exe")
        [ "$n" -ge "$PROCS" ] && return 0
        if [ "$1" = fcgid ]; then
            # at least 2 x PROCS connections: at PM_CONNS=1 mod_fcgid would
            # never need a second process
            c=$(( MAX_CONNS > 2 * PROCS ? MAX_CONNS : 2 * PROCS ))
            "${CLIENT_PIN[@]}" wrk -t "$(wrk_threads "$c")" -c "$c" -d 1s --timeout 10s "$(url_for "$2")" >/dev/null 2>&1
        else
            sleep 0.5
        fi
    done
    note "$1 $2: only $n of $PROCS processes after waiting"
    return 1
}

# ------------------------------------------------------------------ wrk
declare -A RPS LAT NPROC FOREIGN
WRK_DETAIL=()

parse_wrk() { # log -> "rps errs p50/p99 requests max-latency"
    awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "Latency" && NF >= 4 { max = $4 }
        /requests in/ { reqs = $1 }
        $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
        /Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
        /Non-2xx/ { e += $NF }
        END { printf "%s %d %s %s %s\n", (rps == "" ? 0 : rps), e, (p50 == "" ? "?" : p50 "/" p99), (reqs == "" ? 0 : reqs), (max == "" ? "?" : max) }' "$1"
}

# CPU accounting, to tell how much of the machine something else used while
# we measured. All in clock ticks (USER_HZ), as in /proc/stat.
cpu_ticks() { # -> "total busy" of all cpus (busy = not idle, not iowait; steal counts as busy)
    awk '/^cpu / { t = $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; print t, t - $5 - $6 }' /proc/stat
}
our_ticks() { # CPU used by this script's processes: the httpd tree, the pools, php-fpm, and
    # this shell's reaped children (wrk, curl, ...). utime+stime+cutime+cstime of
    # every live process of the trees (cutime: descendants that already exited).
    local pids="$$" roots="" r
    for r in "${INST_PID[@]}" "${POOL_PIDS[@]}" "$FPM_PID" $(be_roots); do
        [ -n "$r" ] && roots="$roots $r"
    done
    [ -n "$roots" ] && pids="$pids $roots $(descendants_of $roots)"
    # shellcheck disable=SC2086 # pid list
    ticks_of $pids
}
# run_measured LOGFILE command... : runs it and sets MEASURED_FOREIGN to the
# percentage of all CPU time that processes other than ours used meanwhile
MEASURED_FOREIGN=0 MEASURED_T=0 MEASURED_F=0
run_measured() {
    local log=$1 t0 b0 o0 t1 b1 o1
    shift
    read -r t0 b0 <<<"$(cpu_ticks)"; o0=$(our_ticks)
    if [ "$PM_PERF" = 1 ]; then
        perf stat -a -x, -e cycles,instructions,context-switches,cpu-migrations -o "$log.perf" -- "$@" >"$log" 2>&1
    else
        "$@" >"$log" 2>&1
    fi
    read -r t1 b1 <<<"$(cpu_ticks)"; o1=$(our_ticks)
    MEASURED_T=$((t1 - t0))
    MEASURED_F=$(((b1 - b0) - (o1 - o0)))
    [ "$MEASURED_F" -lt 0 ] && MEASURED_F=0
    MEASURED_FOREIGN=$(awk -v t=$MEASURED_T -v f=$MEASURED_F 'BEGIN { printf "%.0f", (t > 0) ? 100 * f / t : 0 }')
}

perf_counts() { # perf stat -x, output -> "cycles instructions context-switches migrations" (0 when absent)
    awk -F, '$3 == "cycles" { c = $1 } $3 == "instructions" { i = $1 } $3 == "context-switches" { s = $1 }
        $3 == "cpu-migrations" { m = $1 } END { printf "%.0f %.0f %.0f %.0f\n", c, i, s, m }' "$1" 2>/dev/null || echo "0 0 0 0"
}

# CPU time by part, for the "CPU time per request" table: the client (wrk),
# the leg's httpd (its process tree without the app's processes) and the app.
# Clock ticks (USER_HZ) from /proc/PID/stat: utime+stime+cutime+cstime.
ticks_of() { # pid... -> their summed ticks (0 for none)
    [ $# -gt 0 ] || { echo 0; return; }
    # shellcheck disable=SC2046 # one stat file per pid
    (cd /proc && awk '{ sub(/^.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }' \
        $(for p in "$@"; do echo "$p/stat"; done) 2>/dev/null)
}
part_ticks() { # leg app-exe -> "httpd app" ticks
    local root=${INST_PID[$1]:-} a h app_pids="" others
    [ -n "$2" ] && app_pids=$(pids_by_exe "$2")
    # shellcheck disable=SC2086,SC2116 # the pids as one spaced word
    others=$(descendants_of "$root" | awk -v skip=" $(echo $app_pids) " 'index(skip, " " $1 " ") == 0')
    # shellcheck disable=SC2086 # pid lists
    a=$(ticks_of $app_pids)
    # shellcheck disable=SC2086
    h=$(ticks_of $root $others)
    echo "$h $a"
}
# CLIENT_CPU FILE command... runs the command (also under perf, so a
# command, not a function); FILE gets the ticks it and its children used
# shellcheck disable=SC2016 # expanded by the inner sh
CLIENT_CPU=(sh -c 'f=$1; shift; "$@"; rc=$?; read -r s </proc/$$/stat; echo "${s##*) }" | awk "{ print \$14 + \$15 }" >"$f"; exit $rc' sh)
declare -A CPU_C CPU_H CPU_A   # key -> ticks of client, httpd, app over the slices
add_parts() { # key leg app-exe before("h a") client-ticks-file: adds what LEG used since BEFORE
    local h0 a0 h1 a1 c
    read -r h0 a0 <<<"$4"
    read -r h1 a1 <<<"$(part_ticks "$2" "$3")"
    c=$(cat "$5" 2>/dev/null || echo 0)
    CPU_C[$1]=$(( ${CPU_C[$1]:-0} + c )); CPU_H[$1]=$(( ${CPU_H[$1]:-0} + h1 - h0 ))
    CPU_A[$1]=$(( ${CPU_A[$1]:-0} + a1 - a0 ))
}

to_us() { # wrk latency ("68.00us", "1.06ms", "2.00s", "1.10m") -> microseconds
    awk -v x="$1" 'BEGIN { v = x + 0
        if (x ~ /us$/) m = 1; else if (x ~ /ms$/) m = 1000; else if (x ~ /s$/) m = 1000000; else if (x ~ /m$/) m = 60000000; else m = 0
        printf "%.0f\n", v * m }'
}
max_latency() { # a b -> the larger (either may be empty)
    if [ -z "$1" ]; then echo "$2"; return; fi
    if [ "$(to_us "$2")" -gt "$(to_us "$1")" ]; then echo "$2"; else echo "$1"; fi
}
median_latency() { # latencies... -> the (lower) median
    local x
    for x in "$@"; do echo "$(to_us "$x") $x"; done | sort -n | awk '{ v[NR] = $2 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'
}
wrk_seconds() { # log -> duration of the run in seconds ("N requests in 2.00s, ...")
    awk '/requests in/ { d = $4; sub(",", "", d)
        if (d ~ /ms$/) { sub("ms", "", d); d /= 1000 } else if (d ~ /m$/) { sub("m", "", d); d *= 60 }
        else sub("s", "", d); print d + 0 }' "$1"
}

# Waits (at most PM_WAIT_QUIET s) until the CPUs are less than 25 % busy
# without us; sets QUIET_BUSY to the last sample (percent).
QUIET_BUSY=0
BUSY_LEGS=()
wait_quiet() { # what
    local end
    QUIET_BUSY=$(cpu_busy 2)
    if [ "$QUIET_BUSY" -gt 25 ] && [ "$WAIT_QUIET" -gt 0 ]; then
        note "cpu ${QUIET_BUSY}% busy before $1 (something else runs); waiting up to ${WAIT_QUIET}s"
        end=$((SECONDS + WAIT_QUIET))
        while [ "$QUIET_BUSY" -gt 25 ] && [ $SECONDS -lt $end ]; do QUIET_BUSY=$(cpu_busy 5); done
    fi
    [ "$QUIET_BUSY" -gt 25 ] && BUSY_LEGS+=("$1 (${QUIET_BUSY}% before)")
    return 0
}

# ------------------------------------------------------------------ start
: >"$RESULTS" || die "cannot write $RESULTS"
wait_quiet "the run"
busy=$QUIET_BUSY
START_NOTE="$(load_note)"

out "mod_fcgix process-manager benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
out "commit:     $(describe_commit)"
out "host:       $(describe_host)"
out "httpd:      $(apache_version), event MPM, 2 children x 64 threads, KeepAlive on${RUN_USER:+, User $RUN_USER}"
out "wrk:        $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'); spawn-fcgi $(spawn-fcgi -v 2>&1 | awk '/^spawn-fcgi/ { print $2; exit }')"
out "pinning:    $( [ "${PM_PIN:-0}" = 1 ] && echo "httpd, PM, apps and pools on CPU 1, wrk on CPU 0 (PM_PIN=1)" || echo "none (the scheduler places every task)")"
out "at start:   $START_NOTE"
[ "$busy" -gt 25 ] && out "            !! the machine was busy when the run started: figures are skewed"
out ""

# ------------------------------------------------------------------ 1. throughput
# Shared by the throughput and fpm sections: the caller sets fes (legs) and
# apps, defines is_ready FE APP, and declares the associative arrays REQ SECS
# ERRS TT TF P50S P99MAX SLICE_RPS CYC INS CSW MIG HELD, which this fills (for
# conns C); it also sets RPS LAT NPROC FOREIGN and WRK_DETAIL afresh.
# floor=1: the perf floor (a static file) once per slice (throughput only).
MEASURE_WHAT=throughput   # the section, in the notes on skewed figures
measure_slices() { # conns floor
    local conns=$1 floor=$2 threads fe app sl k n log rps err p reqs secs parts
    threads=$(wrk_threads "$conns")
    RPS=(); LAT=(); NPROC=(); FOREIGN=(); WRK_DETAIL=()
    for app in "${apps[@]}"; do
        for fe in "${fes[@]}"; do
            is_ready "$fe" "$app" || continue
            use_httpd "$(leg_of "$fe")"
            [ "$WARMUP" != 0 ] && "${CLIENT_PIN[@]}" wrk -t "$threads" -c "$conns" -d "${WARMUP}s" --timeout 10s "$(url_for "$app")" >/dev/null 2>&1
            NPROC[$fe,$app]=$(count_procs "$(app_exe "$fe" "$app")")
            # what the leg holds open to its app once the load stopped
            p=$(app_socket_prefix "$fe" "$app")
            HELD[$fe,$app]=-
            # shellcheck disable=SC2086 # path [name]
            [ -n "$p" ] && HELD[$fe,$app]=$(held_conns $p)
        done
    done

    # slice k runs every leg once per app, in an order rotated by k, so that
    # whatever else the machine does at some moment hits every leg alike
    local c_ i_ s_ m_
    add_perf() { # key log: adds the perf counts of LOG to KEY
        [ "$PM_PERF" = 1 ] || return 0
        read -r c_ i_ s_ m_ <<<"$(perf_counts "$2.perf")"
        CYC[$1]=$(( ${CYC[$1]:-0} + c_ )); INS[$1]=$(( ${INS[$1]:-0} + i_ )); CSW[$1]=$(( ${CSW[$1]:-0} + s_ ))
        MIG[$1]=$(( ${MIG[$1]:-0} + m_ ))
    }
    for sl in $(seq 1 "$SLICES"); do
        wait_quiet "$MEASURE_WHAT slice $sl (c=$conns)"
        for app in "${apps[@]}"; do
            for k in "${!fes[@]}"; do
                fe=${fes[$(((k + sl - 1) % ${#fes[@]}))]}
                is_ready "$fe" "$app" || continue
                use_httpd "$(leg_of "$fe")"
                log="$TMP/logs/wrk-$fe-$app-c$conns-$sl.log"
                parts=$(part_ticks "$(leg_of "$fe")" "$(app_exe "$fe" "$app")")
                run_measured "$log" "${CLIENT_CPU[@]}" "$log.cpu" "${CLIENT_PIN[@]}" wrk -t "$threads" -c "$conns" -d "${SLICE_SECS}s" --timeout 10s --latency "$(url_for "$app")"
                add_parts "$fe,$app" "$(leg_of "$fe")" "$(app_exe "$fe" "$app")" "$parts" "$log.cpu"
                read -r rps err p reqs _ <<<"$(parse_wrk "$log")"
                secs=$(wrk_seconds "$log")
                REQ[$fe,$app]=$(( ${REQ[$fe,$app]:-0} + reqs ))
                SECS[$fe,$app]=$(awk -v a="${SECS[$fe,$app]:-0}" -v b="$secs" 'BEGIN { print a + b }')
                ERRS[$fe,$app]=$(( ${ERRS[$fe,$app]:-0} + err ))
                TT[$fe,$app]=$(( ${TT[$fe,$app]:-0} + MEASURED_T ))
                TF[$fe,$app]=$(( ${TF[$fe,$app]:-0} + MEASURED_F ))
                P50S[$fe,$app]="${P50S[$fe,$app]:-} ${p%/*}"
                P99MAX[$fe,$app]=$(max_latency "${P99MAX[$fe,$app]:-}" "${p#*/}")
                SLICE_RPS[$fe,$app]="${SLICE_RPS[$fe,$app]:-} $(printf '%.0f' "$rps")"
                add_perf "$fe,$app" "$log"
                if [ "$err" != 0 ]; then
                    WRK_DETAIL+=("$fe $app slice $sl: $(grep -E 'Socket errors|Non-2xx' "$log" | tr -s ' ' | paste -sd';')")
                fi
                note "c=$conns slice $sl/$SLICES $fe $app: $rps req/s, p50/p99 $p, errors $err, other work ${MEASURED_FOREIGN}% cpu"
            done
            # the floor: the same load on a small file httpd serves itself
            # (no FastCGI at all), on the first leg's httpd, once per slice
            if [ "$floor" = 1 ] && [ "$PM_PERF" = 1 ] && [ "$app" = hello ]; then
                for fe in "${fes[@]}"; do
                    is_ready "$fe" hello || continue
                    use_httpd "$(leg_of "$fe")"
                    log="$TMP/logs/wrk-floor-c$conns-$sl.log"
                    parts=$(part_ticks "$(leg_of "$fe")" "")
                    run_measured "$log" "${CLIENT_CPU[@]}" "$log.cpu" "${CLIENT_PIN[@]}" wrk -t "$threads" -c "$conns" -d "${SLICE_SECS}s" --timeout 10s "$(url_for static)"
                    add_parts floor "$(leg_of "$fe")" "" "$parts" "$log.cpu"
                    read -r rps err p reqs _ <<<"$(parse_wrk "$log")"
                    REQ[floor]=$(( ${REQ[floor]:-0} + reqs ))
                    SECS[floor]=$(awk -v a="${SECS[floor]:-0}" -v b="$(wrk_seconds "$log")" 'BEGIN { print a + b }')
                    add_perf floor "$log"
                    FLOOR_LEG=$fe
                    note "c=$conns slice $sl/$SLICES floor (static file on $fe's httpd): $rps req/s"
                    break
                done
            fi
        done
    done
    for fe in "${fes[@]}"; do
        for app in "${apps[@]}"; do
            is_ready "$fe" "$app" || continue
            use_httpd "$(leg_of "$fe")"
            n=$(count_procs "$(app_exe "$fe" "$app")")
            [ "$n" != "${NPROC[$fe,$app]}" ] && NPROC[$fe,$app]="${NPROC[$fe,$app]}->$n"
            RPS[$fe,$app]=$(awk -v r="${REQ[$fe,$app]}" -v s="${SECS[$fe,$app]}" 'BEGIN { if (s > 0) printf "%.1f", r / s; else print 0 }')
            FOREIGN[$fe,$app]=$(awk -v t="${TT[$fe,$app]}" -v f="${TF[$fe,$app]}" 'BEGIN { printf "%.0f", (t > 0) ? 100 * f / t : 0 }')
            # shellcheck disable=SC2086
            LAT[$fe,$app]="$(median_latency ${P50S[$fe,$app]})/${P99MAX[$fe,$app]}"
            [ "${FOREIGN[$fe,$app]}" -gt 10 ] && BUSY_LEGS+=("$MEASURE_WHAT $fe $app c=$conns (${FOREIGN[$fe,$app]}% during its slices)")
        done
    done
    return 0
}

leg_of() { echo "tp-$1"; } # a leg's httpd name
lbl() { if [ "$1" = big ]; then echo "$((BIG_SIZE / 1024))KiB"; else echo "$1"; fi; }
fmt_cell() { # key -> requests/s (rounded), * when wrk saw errors, - when not run
    if [ -z "${RPS[$1]:-}" ]; then echo -; return; fi
    printf '%.0f%s' "${RPS[$1]}" "$( [ "${ERRS[$1]:-0}" != 0 ] && echo '*')"
}
in_list() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; } # word list

declare -A SUM_RPS SUM_LAT SUM_ERR   # "c,fe,app": the per-concurrency summary

section_throughput() {
    local fe app c
    local -a ready=() fes=() apps=(hello big)
    # 1. every leg's httpd (and pools) up at once, each app with its processes
    for fe in $FRONTENDS; do
        wait_quiet "throughput $fe start"
        note "=== throughput: starting $fe"
        case $fe in
        proxy_unix | proxy_tcp | proxy_reuse)
            local tr=${fe#proxy_}
            start_pool "hello-$tr" "$tr" hello || { out "!! $fe: spawn-fcgi pool did not start"; continue; }
            # shellcheck disable=SC2034 # read by gen_conf through ${!var}
            ADDR_hello=$POOL_ADDR
            POOL_ADDRS[$fe,hello]=$POOL_ADDR
            start_pool "respond-$tr" "$tr" respond || { out "!! $fe: spawn-fcgi pool did not start"; continue; }
            # shellcheck disable=SC2034
            ADDR_respond=$POOL_ADDR
            POOL_ADDRS[$fe,big]=$POOL_ADDR
            ;;
        esac
        if ! start_httpd static "$fe" "tp-$fe"; then
            out "!! $fe: httpd did not start (see notes on stderr)"
            continue
        fi
        for app in "${apps[@]}"; do
            url_ok "$fe" "$app" "$CUR_LEG" || continue
            bring_up "$fe" "$app"
            ready+=("$fe,$app")
        done
    done
    is_ready() { local x; for x in "${ready[@]}"; do [ "$x" = "$1,$2" ] && return 0; done; return 1; }
    for fe in $FRONTENDS; do fes+=("$fe"); done

    # 2. the measurement and a table, per concurrency
    local first=1
    for c in $CONNS_LIST; do
        [ "$first" = 1 ] || out ""
        first=0
        declare -A REQ SECS ERRS TT TF P50S P99MAX SLICE_RPS CYC INS CSW MIG HELD
        REQ=(); SECS=(); ERRS=(); TT=(); TF=(); P50S=(); P99MAX=(); SLICE_RPS=(); CYC=(); INS=(); CSW=(); MIG=(); HELD=()
        CPU_C=(); CPU_H=(); CPU_A=()
        measure_slices "$c" 1
        throughput_table "$c"
        for fe in "${fes[@]}"; do
            for app in "${apps[@]}"; do
                [ -n "${RPS[$fe,$app]:-}" ] || continue
                SUM_RPS[$c,$fe,$app]=${RPS[$fe,$app]}
                SUM_LAT[$c,$fe,$app]=${LAT[$fe,$app]#*/}
                SUM_ERR[$c,$fe,$app]=${ERRS[$fe,$app]:-0}
            done
        done
    done
    for fe in "${fes[@]}"; do stop_httpd "tp-$fe"; done
    stop_pools
    if [ "$(wc -w <<<"$CONNS_LIST")" -gt 1 ]; then out ""; throughput_summary; fi
    out "   after: $(load_note)"
    out ""
}

# the columns of the tables: the four default legs always, the others when run
table_legs() {
    local fe
    for fe in $ALL_LEGS; do
        case $fe in fcgix | fcgid | proxy_unix | proxy_tcp) echo "$fe" ;; *) in_list "$fe" "$FRONTENDS" && echo "$fe" ;; esac
    done
}

throughput_table() { # conns
    local conns=$1 fe app hdr line x
    local -a cols=() others=()
    mapfile -t cols < <(table_legs)
    for fe in "${cols[@]}"; do [ "$fe" != fcgix ] && others+=("$fe"); done
    out "1. Throughput: requests/s, wrk -c $conns -t $(wrk_threads "$conns"), ${SLICES} x ${SLICE_SECS}s per cell (after ${WARMUP}s warm-up), $PROCS processes per app"
    out "   fcgix: FastCgiServer APP -processes $PROCS (kept connections: the default -keep-conn)      fcgid: FcgidMin/MaxProcessesPerClass $PROCS, warmed up"
    in_list fcgix0 "$FRONTENDS" && out "   fcgix0: the same with -keep-conn 0 (a new connection per request)"
    out "   proxy_unix / proxy_tcp: mod_proxy_fcgi (enablereuse off) -> spawn-fcgi -F $PROCS, Unix socket / 127.0.0.1"
    in_list proxy_reuse "$FRONTENDS" && out "   proxy_reuse: mod_proxy_fcgi, <Proxy \"unix:SOCK|fcgi://APP\"> ProxySet enablereuse=on max=$REUSE_MAX (per child) -> its own spawn-fcgi -F $PROCS pool, Unix socket"
    out "   all legs run side by side; the slices alternate between them (* = wrk saw errors or non-2xx answers)"
    hdr=$(printf '%-8s' app)
    for fe in "${cols[@]}"; do hdr+=$(printf ' %11s' "$fe"); done
    hdr+="  "
    for fe in "${others[@]}"; do hdr+=$(printf ' %*s' $(( ${#fe} + 6 > 11 ? ${#fe} + 6 : 11 )) "fcgix/$fe"); done
    out "$hdr"
    for app in hello big; do
        line=$(printf '%-8s' "$(lbl $app)")
        for fe in "${cols[@]}"; do line+=$(printf ' %11s' "$(fmt_cell "$fe,$app")"); done
        line+="  "
        for fe in "${others[@]}"; do
            line+=$(printf ' %*s' $(( ${#fe} + 6 > 11 ? ${#fe} + 6 : 11 )) "$(ratio "${RPS[fcgix,$app]:-}" "${RPS[$fe,$app]:-}")")
        done
        out "$line"
    done
    out "   wrk latency, median of the slices' p50 / worst slice's p99:"
    for app in hello big; do
        line=$(printf '%-8s' "$(lbl $app)")
        for fe in "${cols[@]}"; do line+=$(printf ' %15s' "${LAT[$fe,$app]:--}"); done
        out "$line"
    done
    out "   per slice: req/s; [app processes]; share of the CPU time other work used during the slices; connections open to the app after the warm-up"
    for fe in "${cols[@]}"; do
        for app in hello big; do
            [ -n "${RPS[$fe,$app]:-}" ] || continue
            out "$(printf '     %-11s %-7s %-44s [%s] %s%%  held %s' "$fe" "$(lbl $app)" "${SLICE_RPS[$fe,$app]# }" "${NPROC[$fe,$app]}" "${FOREIGN[$fe,$app]}" "${HELD[$fe,$app]:--}")"
        done
    done
    # The machine's speed can change between slices (a 2x swing was seen on a
    # shared VM); within a slice the legs of one app run back to back, so the
    # slice-by-slice ratio shows whether a total was made by one fast phase.
    for x in fcgid fcgix0 proxy_reuse; do
        in_list "$x" "$FRONTENDS" || continue
        out "   fcgix/$x slice by slice (the legs of an app run within one slice):"
        for app in hello big; do
            [ -n "${SLICE_RPS[fcgix,$app]:-}" ] && [ -n "${SLICE_RPS[$x,$app]:-}" ] || continue
            out "$(printf '     %-7s %s' "$(lbl $app)" "$(slice_ratios "${SLICE_RPS[fcgix,$app]# }" "${SLICE_RPS[$x,$app]# }")")"
        done
    done
    for app in hello big; do
        local rt
        rt=$(ratio "${RPS[fcgix,$app]:-}" "${RPS[fcgid,$app]:-}")
        [ "$rt" = - ] && continue
        if awk -v r="$rt" 'BEGIN { exit !(r >= 1.2) }'; then
            out "   target fcgix >= 1.2x fcgid, $(lbl $app): met ($rt)"
        else
            out "   target fcgix >= 1.2x fcgid, $(lbl $app): NOT met ($rt)"
        fi
    done
    perf_table
    parts_table
    if [ ${#WRK_DETAIL[@]} -gt 0 ]; then
        out "   wrk errors:"
        local d
        for d in "${WRK_DETAIL[@]}"; do out "     $d"; done
    fi
}

slice_ratios() { # "a1 a2 ..." "b1 b2 ..." -> each ai/bi and their median
    awk -v a="$1" -v b="$2" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); m = 0
        for (i = 1; i <= n; i++) if (y[i] > 0) { r[++m] = x[i] / y[i]; line = line sprintf("%.2f ", r[m]) }
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        med = m ? ((m % 2) ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2) : 0
        printf "%s  median %.2f", line, med }'
}

perf_table() {
    [ "$PM_PERF" = 1 ] && [ -n "${REQ[floor]:-}" ] || return 0
    # Cycles move with the machine's phase too; instructions hardly do.
    # The floor is what httpd and wrk cost without FastCGI: what a leg
    # costs above it is the module, the app and their sockets.
    out "   CPU per request (perf stat -a over the slices: the whole machine, wrk included):"
    out "$(printf '     %-24s %10s %13s %13s %11s %10s' leg cycles instructions ctx-switches migrations "cycles above floor")"
    per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print 0 }'; }
    local fl_c fl_i key lc fe app
    fl_c=$(per "${CYC[floor]}" "${REQ[floor]}")
    fl_i=$(per "${INS[floor]}" "${REQ[floor]}")
    out "$(printf '     %-24s %10s %13s %13s %11s' "static file ($FLOOR_LEG)" "$fl_c" "$fl_i" \
        "$(awk -v a="${CSW[floor]}" -v b="${REQ[floor]}" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" \
        "$(awk -v a="${MIG[floor]}" -v b="${REQ[floor]}" 'BEGIN { printf "%.2f", b ? a / b : 0 }')")"
    for app in hello big; do
        for fe in "${fes[@]}"; do
            key="$fe,$app"
            [ -n "${CYC[$key]:-}" ] && [ "${REQ[$key]:-0}" -gt 0 ] || continue
            lc=$(per "${CYC[$key]}" "${REQ[$key]}")
            out "$(printf '     %-24s %10s %13s %13s %11s %10s' "$fe $(lbl $app)" "$lc" "$(per "${INS[$key]}" "${REQ[$key]}")" \
                "$(awk -v a="${CSW[$key]}" -v b="${REQ[$key]}" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" \
                "$(awk -v a="${MIG[$key]}" -v b="${REQ[$key]}" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" "$((lc - fl_c))")"
        done
        if [ -n "${CYC[fcgix,$app]:-}" ] && [ -n "${CYC[fcgid,$app]:-}" ]; then
            local xc dc xi di
            xc=$(per "${CYC[fcgix,$app]}" "${REQ[fcgix,$app]}"); dc=$(per "${CYC[fcgid,$app]}" "${REQ[fcgid,$app]}")
            xi=$(per "${INS[fcgix,$app]}" "${REQ[fcgix,$app]}"); di=$(per "${INS[fcgid,$app]}" "${REQ[fcgid,$app]}")
            out "     $(lbl $app): fcgid/fcgix cycles $(ratio "$dc" "$xc"), instructions $(ratio "$di" "$xi"), cycles above the floor $(ratio "$((dc - fl_c))" "$((xc - fl_c))")"
        fi
    done
}

# CPU time per request by part, from /proc (works without a PMU), and the
# static file's rate next to the target (where the machine caps every leg
# at that rate, the target is beyond what it can show)
parts_table() {
    [ -n "${REQ[floor]:-}" ] && [ "${REQ[floor]}" -gt 0 ] || return 0
    local hz key fe app fl_c fl_h a fl_rps
    hz=$(getconf CLK_TCK)
    us() { awk -v t="$1" -v r="$2" -v hz="$hz" 'BEGIN { if (r > 0) printf "%.1f", t * 1000000 / hz / r; else print 0 }'; }
    fl_c=$(us "${CPU_C[floor]:-0}" "${REQ[floor]}"); fl_h=$(us "${CPU_H[floor]:-0}" "${REQ[floor]}")
    fl_rps=$(awk -v r="${REQ[floor]}" -v s="${SECS[floor]:-0}" 'BEGIN { if (s > 0) printf "%.0f", r / s; else print 0 }')
    out "   httpd's own static file (3 bytes) in the same slices: $fl_rps req/s$( [ -n "${RPS[fcgid,hello]:-}" ] && printf '; 1.3 x fcgid hello = %.0f req/s (%s x the static file)' "$(awk -v r="${RPS[fcgid,hello]}" 'BEGIN { print 1.3 * r }')" "$(ratio "$(awk -v r="${RPS[fcgid,hello]}" 'BEGIN { print 1.3 * r }')" "$fl_rps")")"
    out "   CPU time per request, us (/proc accounting: client = wrk, httpd = the leg's httpd tree without the app, app = the app's processes):"
    out "$(printf '     %-24s %8s %8s %8s %8s %12s %10s' leg client httpd app total "above floor" "CPUs busy")"
    out "$(printf '     %-24s %8s %8s %8s %8s %12s %10s' "static file ($FLOOR_LEG)" "$fl_c" "$fl_h" - \
        "$(awk -v a="$fl_c" -v b="$fl_h" 'BEGIN { printf "%.1f", a + b }')" - -)"
    for app in hello big; do
        for fe in "${fes[@]}"; do
            key="$fe,$app"
            [ "${REQ[$key]:-0}" -gt 0 ] && [ -n "${CPU_C[$key]:-}" ] || continue
            local c h t
            c=$(us "${CPU_C[$key]}" "${REQ[$key]}"); h=$(us "${CPU_H[$key]}" "${REQ[$key]}"); a=$(us "${CPU_A[$key]}" "${REQ[$key]}")
            t=$(awk -v c="$c" -v h="$h" -v a="$a" 'BEGIN { printf "%.1f", c + h + a }')
            out "$(printf '     %-24s %8s %8s %8s %8s %12s %10s' "$fe $(lbl $app)" "$c" "$h" "$a" "$t" \
                "$(awk -v t="$t" -v f="$fl_c" -v g="$fl_h" 'BEGIN { printf "%.1f", t - f - g }')" \
                "$(awk -v t="$t" -v r="${RPS[$key]}" 'BEGIN { printf "%.2f", t * r / 1000000 }')")"
        done
    done
}

# PM_CONNS with several concurrencies: requests/s and the worst slice's p99
# of every leg by concurrency, and fcgix's ratio to its own baseline
# (fcgix0) and to mod_proxy_fcgi with reuse
throughput_summary() {
    local app c fe line w=20
    local -a cols=() rcols=()
    for fe in $ALL_LEGS; do in_list "$fe" "$FRONTENDS" && cols+=("$fe"); done
    for fe in fcgix0 proxy_reuse; do in_list "$fe" "$FRONTENDS" && rcols+=("$fe"); done
    out "1+. By concurrency: requests/s / worst slice's p99 (* = errors), N = $PROCS processes per app"
    for app in hello big; do
        line=$(printf '%-8s %5s' "$(lbl $app)" c)
        for fe in "${cols[@]}"; do line+=$(printf ' %*s' "$w" "$fe"); done
        for fe in "${rcols[@]}"; do line+=$(printf ' %17s' "fcgix/$fe"); done
        out "$line"
        for c in $CONNS_LIST; do
            line=$(printf '%-8s %5s' "" "$c")
            for fe in "${cols[@]}"; do
                if [ -n "${SUM_RPS[$c,$fe,$app]:-}" ]; then
                    line+=$(printf ' %*s' "$w" "$(printf '%.0f%s / %s' "${SUM_RPS[$c,$fe,$app]}" \
                        "$( [ "${SUM_ERR[$c,$fe,$app]}" != 0 ] && echo '*')" "${SUM_LAT[$c,$fe,$app]}")")
                else
                    line+=$(printf ' %*s' "$w" -)
                fi
            done
            for fe in "${rcols[@]}"; do
                line+=$(printf ' %17s' "$(ratio "${SUM_RPS[$c,fcgix,$app]:-}" "${SUM_RPS[$c,$fe,$app]:-}")")
            done
            out "$line"
        done
    done
}

# ------------------------------------------------------------------ 2. cold start
declare -A COLD COLDFAIL

# time of one first request to DOC/dyn/NAME.fcgi (a fresh copy of hello) of
# the current httpd, in ms
cold_request() { # name -> prints ms, or FAIL:...
    local name=$1 res code size t DOC="$TMP/doc/$CUR_LEG"
    cp "$APPS_DIR/hello" "$DOC/dyn/$name.fcgi"
    chmod 755 "$DOC/dyn/$name.fcgi"
    res=$(curl -sS -o /dev/null -m 60 -w '%{http_code} %{size_download} %{time_total}' \
        "http://127.0.0.1:$HTTP_PORT/dyn/$name.fcgi" 2>&1)
    read -r code size t <<<"$res"
    if [ "$code" != 200 ] || [ "$size" != 13 ]; then echo "FAIL:$res"; return 1; fi
    # the answer must come from a process of this very file, started for it
    [ -n "$(pids_by_exe "$DOC/dyn/$name.fcgi")" ] || note "no process runs $DOC/dyn/$name.fcgi after its first request"
    awk -v t="$t" 'BEGIN { printf "%.1f\n", t * 1000 }'
}

stats() { # numbers... -> "median max min"
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f %.1f %.1f\n", m, v[NR], v[1] }'
}

section_cold() {
    local fe i ms vals fails
    for fe in fcgix fcgid; do
        wait_quiet "cold start $fe"
        # (a) a fresh httpd for every first request
        note "=== cold start: $fe, fresh httpd x $COLD_RUNS"
        vals=(); fails=0
        for i in $(seq 1 "$COLD_RUNS"); do
            if ! start_httpd dynamic "$fe" "cold-$fe"; then fails=$((fails + 1)); continue; fi
            sleep 1    # let the module's process manager settle; only the app start is timed
            if ms=$(cold_request "fresh$i"); then vals+=("$ms"); else
                fails=$((fails + 1)); note "$fe fresh httpd run $i: $ms"
            fi
            stop_httpd
        done
        COLD[$fe,fresh]="${vals[*]:-}"
        COLDFAIL[$fe,fresh]=$fails
        note "$fe fresh httpd: ${vals[*]:-} ms"
        # (b) one httpd, a never-started app (new file name) each time
        note "=== cold start: $fe, one httpd, $COLD_RUNS new apps"
        vals=(); fails=0
        if start_httpd dynamic "$fe" "cold-$fe-new"; then
            sleep 1
            for i in $(seq 1 "$COLD_RUNS"); do
                if ms=$(cold_request "new$i"); then vals+=("$ms"); else
                    fails=$((fails + 1)); note "$fe new app run $i: $ms"
                fi
                sleep 0.5
            done
            stop_httpd
        else
            fails=$COLD_RUNS
        fi
        COLD[$fe,new]="${vals[*]:-}"
        COLDFAIL[$fe,new]=$fails
        note "$fe new app: ${vals[*]:-} ms"
    done

    out "2. Cold start: first request to a never-started dynamic app (hello), curl time_total in ms"
    out "   fcgix: AddHandler fastcgi-script + Options ExecCGI, no FastCgiConfig   fcgid: AddHandler fcgid-script, defaults"
    out "$(printf '%-6s %-22s %5s %9s %9s %9s %6s' module variant runs median max min failed)"
    local v s med mx mn
    declare -A MED MAX
    for v in fresh new; do
        for fe in fcgix fcgid; do
            # shellcheck disable=SC2086
            read -r med mx mn <<<"$(stats ${COLD[$fe,$v]})"
            MED[$fe,$v]=$med; MAX[$fe,$v]=$mx
            s="fresh httpd each time"; [ "$v" = new ] && s="one httpd, new app"
            out "$(printf '%-6s %-22s %5s %9s %9s %9s %6s' "$fe" "$s" "$COLD_RUNS" "$med" "$mx" "$mn" "${COLDFAIL[$fe,$v]}")"
        done
    done
    for v in fresh new; do
        s="fresh httpd"; [ "$v" = new ] && s="new app"
        local rm rx
        rm=$(ratio "${MED[fcgix,$v]}" "${MED[fcgid,$v]}")
        rx=$(ratio "${MAX[fcgix,$v]}" "${MAX[fcgid,$v]}")
        local verdict="NOT met"
        awk -v r="$rm" 'BEGIN { exit !(r != "-" && r <= 1.0) }' && verdict=met
        out "   $s: fcgix/fcgid median $rm, max $rx   (target fcgix no slower than fcgid: $verdict)"
    done
    out "   samples (ms):"
    for v in fresh new; do
        for fe in fcgix fcgid; do out "     $fe $v: ${COLD[$fe,$v]:--}"; done
    done
    out "   after: $(load_note)"
    out ""
}

# ------------------------------------------------------------------ 3. graceful restarts
declare -A GR

section_graceful() {
    local fe i log before after gen_ok errs
    local total=$((GRACEFULS * GRACEFUL_INTERVAL + 5))
    for fe in $GRACEFUL_FRONTENDS; do
        wait_quiet "graceful $fe"
        note "=== graceful restarts under load: $fe (cpu ${QUIET_BUSY}% busy before)"
        if ! start_httpd static "$fe" "graceful-$fe"; then out "!! $fe: httpd did not start"; continue; fi
        check_url hello || { out "!! $fe: hello does not answer"; stop_httpd; continue; }
        bring_up "$fe" hello
        before=$(pids_by_exe "$(app_exe "$fe" hello)" | sort -n | paste -sd' ')
        log="$TMP/logs/wrk-graceful-$fe.log"
        wrk -t "$(wrk_threads "$GRACEFUL_CLIENTS")" -c "$GRACEFUL_CLIENTS" -d "${total}s" --timeout 10s -H 'Connection: close' \
            "$(url_for hello)" >"$log" 2>&1 &
        WRK_PID=$!
        sleep 2
        gen_ok=0
        for i in $(seq 1 "$GRACEFULS"); do
            if [ "$GRACEFUL_CHANGE" = 1 ] && [ "$fe" = fcgix ]; then
                sed -i -E "s|^(FastCgiServer \"[^\"]*/hello\.fcgi\" -processes [0-9]+).*|\1 -initial-env BENCH_GEN=$i|" "$HTTPD_CONF"
            fi
            if apache2 -f "$HTTPD_CONF" -k graceful >>"$TMP/logs/graceful-$fe.log" 2>&1; then
                gen_ok=$((gen_ok + 1))
            else
                note "$fe: apache2 -k graceful #$i failed"
            fi
            sleep "$GRACEFUL_INTERVAL"
        done
        wait "$WRK_PID"
        WRK_PID=""
        after=$(pids_by_exe "$(app_exe "$fe" hello)" | sort -n | paste -sd' ')
        local rps err reqs maxlat
        read -r rps err _ reqs maxlat <<<"$(parse_wrk "$log")"
        GR[$fe,reqs]=$reqs
        GR[$fe,maxlat]=$maxlat
        GR[$fe,failed]=$err
        GR[$fe,detail]=$(awk '/Socket errors:/ { gsub(",", ""); printf "connect %s read %s write %s timeout %s", $4, $6, $8, $10 }
            /Non-2xx/ { n = $NF } END { printf "%snon-2xx %d", (NR ? "; " : ""), n }' "$log" | sed 's/^; //')
        GR[$fe,graceful]="$gen_ok/$GRACEFULS"
        if [ "$before" = "$after" ]; then GR[$fe,pids]="same ($(wc -w <<<"$before"))"
        else
            local kept
            kept=$(comm -12 <(tr ' ' '\n' <<<"$before" | sort) <(tr ' ' '\n' <<<"$after" | sort) | grep -c .)
            GR[$fe,pids]="$kept of $(wc -w <<<"$before") kept, $(wc -w <<<"$after") now"
        fi
        check_url hello || GR[$fe,pids]="${GR[$fe,pids]}; NOT answering afterwards"
        errs=$(grep -cE '\[(error|crit|alert|emerg)\]|exit signal|Segmentation' "$TMP/logs/error-$CUR_LEG.log" 2>/dev/null)
        GR[$fe,logerr]=${errs:-0}
        if ! kill -0 "$HTTPD_PID" 2>/dev/null; then GR[$fe,pids]="${GR[$fe,pids]}, httpd gone!"; fi
        note "$fe: $reqs requests, $err failed (${GR[$fe,detail]}), app pids ${GR[$fe,pids]}, error-log lines ${GR[$fe,logerr]}"
        [ "${GR[$fe,logerr]}" != 0 ] && grep -E '\[(error|crit|alert|emerg)\]|exit signal|Segmentation' \
            "$TMP/logs/error-$CUR_LEG.log" | sort | uniq -c | sort -rn | head -5 | sed 's/^/[pm]    /' >&2
        GR[$fe,top]=$(grep -E '\[(error|crit|alert|emerg)\]' "$TMP/logs/error-$CUR_LEG.log" 2>/dev/null |
            sed -E 's/^\[[^]]*\] //; s/\[pid [0-9:a-z ]*\] //; s/\[client [^]]*\] //' | sort | uniq -c | sort -rn | head -3)
        stop_httpd
        sleep 1
    done

    out "3. Graceful restarts under load: $GRACEFULS x 'apache2 -k graceful', ${GRACEFUL_INTERVAL}s apart, during wrk -c $GRACEFUL_CLIENTS"
    out "   (Connection: close, ${total}s, hello app with $PROCS processes; failed = non-2xx + socket errors; target 0 for fcgix)"
    [ "$GRACEFUL_CHANGE" = 1 ] && out "   (PM_GRACEFUL_CHANGE=1: each graceful changes fcgix's hello line, so its processes are replaced every time)"
    out "$(printf '%-6s %9s %7s %10s %9s  %-44s %-22s %s' module requests failed gracefuls 'max lat' detail 'app pids' 'error-log lines')"
    for fe in $GRACEFUL_FRONTENDS; do
        [ -n "${GR[$fe,reqs]:-}" ] || continue
        out "$(printf '%-6s %9s %7s %10s %9s  %-44s %-22s %s' "$fe" "${GR[$fe,reqs]}" "${GR[$fe,failed]}" "${GR[$fe,graceful]}" "${GR[$fe,maxlat]}" \
            "${GR[$fe,detail]}" "${GR[$fe,pids]}" "${GR[$fe,logerr]}")"
        if [ -n "${GR[$fe,top]}" ]; then
            out "   $fe error log (most frequent):"
            while IFS= read -r l; do out "     $(cut -c1-200 <<<"$l")"; done <<<"${GR[$fe,top]}"
        fi
    done
    if [ -n "${GR[fcgix,failed]:-}" ]; then
        if [ "${GR[fcgix,failed]}" = 0 ]; then out "   target 0 failed requests for fcgix: met"
        else out "   target 0 failed requests for fcgix: NOT met"; fi
    fi
    out "   after: $(load_note)"
    out ""
}

for s in $SECTIONS; do
    note "--- section $s ($(load_note))"
    "section_$s"
done

if [ ${#BUSY_LEGS[@]} -gt 0 ]; then
    out "!! other work on the machine used more than 25 % of the CPUs before, or more than 10 % during,"
    out "   these legs (their figures are skewed):"
    for b in "${BUSY_LEGS[@]}"; do out "     $b"; done
fi
if [ ${#STRAGGLERS[@]} -gt 0 ]; then
    out "!! processes that outlived their httpd by 10 s (killed): ${STRAGGLERS[*]}"
fi
out "at end:     $(load_note)"
FINISHED=1
note "results written to $RESULTS"
