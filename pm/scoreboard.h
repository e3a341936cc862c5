/*
 * pm/scoreboard.h - the shared-memory scoreboard: layout and accessors.
 *
 * One anonymous shared mapping, created by the httpd parent before anything
 * forks and kept (in the process pool) across graceful restarts. Plain data
 * only: fixed arrays, indices and fixed-size strings; no pointers.
 *
 * One writer per field. The PM writes structure and state; handlers touch
 * only the counters marked "handlers", and only with apr_atomic_*32 (the
 * metrics blocks' 64-bit counters: __atomic builtins). Every reader
 * copies a slot out and checks what it copied (a writer that died half-way
 * can leave anything): strings are NUL-terminated inside their array,
 * indices are below their array's length.
 */
#ifndef FCGIX_SCOREBOARD_H
#define FCGIX_SCOREBOARD_H

#include "apr.h"
#include "apr_atomic.h"
#include "apr_time.h"

#include <time.h>

#define FCGIX_SB_MAGIC 0x58474346u /* "FCGX" */
/* bump the layout when it changes, or the unit of a field */
#define FCGIX_SB_LAYOUT 7u
#define FCGIX_SB_CLASSES 512 /* static + dynamic + external classes */
#define FCGIX_SB_PROCS 2048  /* application processes */
#define FCGIX_SB_PATH 512    /* longest application path + NUL */
#define FCGIX_SB_ADDR 128    /* socket path or host:port + NUL */
#define FCGIX_SB_ERR 128     /* why a start failed + NUL */
/* httpd children that can hold spooled request bodies at once: ServerLimit
 * up to 2048, doubled while a graceful restart's old children finish. */
#define FCGIX_SB_CHILDREN 4096

/* Class slot states. A slot goes FREE -> ACTIVE -> (DRAINING ->) GONE and
 * GONE slots are reused; GONE keeps lookups probing past it. */
enum {
    FCGIX_CLASS_FREE = 0,
    FCGIX_CLASS_ACTIVE = 1,
    FCGIX_CLASS_DRAINING = 2,
    FCGIX_CLASS_GONE = 3
};

/* Process slot states. */
enum {
    FCGIX_PROC_FREE = 0,
    FCGIX_PROC_RUNNING = 1,
    FCGIX_PROC_STOPPING = 2 /* signalled, not reaped yet */
};

typedef struct {
    /* PM */
    apr_uint32_t state;
    apr_uint32_t kind; /* FCGIX_APP_* (mod_fcgix.h) */
    apr_uint32_t gen;  /* bumped whenever the slot gets another app */
    apr_uint32_t uid, gid;
    apr_uint32_t procs_target;   /* processes the PM wants */
    apr_uint32_t procs_running;  /* processes alive */
    apr_uint32_t restarts;       /* processes restarted after dying */
    apr_uint32_t backoff_until;  /* fcgix_clock() seconds: no start before */
    apr_uint32_t load_milli;     /* load factor x1000 (dynamic policy) */
    apr_uint32_t started;        /* unix seconds the class was created */
    apr_uint32_t bin_mtime;      /* dynamic: the binary's mtime at start */
    apr_uint32_t fail_streak;    /* processes in a row that died without
                                    serving (it is failing while > 0) */
    apr_uint32_t spawn_failures; /* starts that failed: fork, exec */
    char path[FCGIX_SB_PATH];
    char addr[FCGIX_SB_ADDR];
    char last_error[FCGIX_SB_ERR]; /* why the last process failed */
    /* handlers (apr_atomic_*32 only) */
    volatile apr_uint32_t inflight;  /* requests talking to it now */
    volatile apr_uint32_t requests;  /* requests begun */
    volatile apr_uint32_t failures;  /* requests that got no answer */
    volatile apr_uint32_t busy_ms;   /* time connected (load factor) */
    volatile apr_uint32_t completed; /* requests the app answered whole */
    /* kept connections (FCGI_KEEP_CONN, mod_fcgix_keep.c) */
    volatile apr_uint32_t idle_kept;   /* held idle by all children now */
    volatile apr_uint32_t reuses;      /* requests served on a kept one */
    volatile apr_uint32_t release_gen; /* bumped: holders, close them */
} fcgix_sb_class_t;

typedef struct {
    /* PM */
    apr_uint32_t state;
    apr_uint32_t class_idx;
    apr_uint32_t pid;
    apr_uint32_t started; /* unix seconds */
} fcgix_sb_proc_t;

/* Several backends of one external class (FastCgiExternalServer with more
 * than one address, or a name): one set per class slot, same index. */
#define FCGIX_SB_BACKENDS 16

typedef struct {
    /* writer of the list (see fcgix_sb_bset_t) */
    apr_uint32_t weight;
    apr_uint32_t addr_len; /* of addr */
    unsigned char addr[112] __attribute__((aligned(8)));
    /* prober */
    volatile apr_uint32_t probe;     /* FCGIX_PROBE_* (pm.h) */
    volatile apr_uint32_t probe_why; /* FCGIX_PROBE_WHY_* of a failure */
    volatile apr_uint32_t probe_at;  /* fcgix_clock() s of the last one */
    /* handlers (apr_atomic_*32 only); the prober zeroes down_until when a
     * probe succeeds */
    volatile apr_uint32_t down_until; /* fcgix_clock() in tenths of a
                                         second: skipped until */
    volatile apr_uint32_t inflight, requests;
    volatile apr_uint32_t refused, timeouts, overloaded, resets;
} fcgix_sb_backend_t;

/* The backend list is written by the PM when it creates the class (before
 * it publishes it), then only by the prober (names resolved again), each
 * time between two increments of seq: odd while it changes. A reader
 * copies what it needs and reads seq again. gen: the class slot's gen the
 * list belongs to (a handle of a reused slot finds another). */
typedef struct {
    volatile apr_uint32_t seq;
    volatile apr_uint32_t gen;
    volatile apr_uint32_t count; /* backends in b[] */
    volatile apr_uint32_t rr;    /* handlers: round-robin among equals */
    fcgix_sb_backend_t b[FCGIX_SB_BACKENDS];
} fcgix_sb_bset_t;

/* The request-body bytes one httpd child holds spooled (memory or temp
 * file), counted against FastCgiSpoolLimit. An entry belongs to a child
 * process, not to a request, so that bytes counted by a child that dies
 * without running its cleanups (SIGKILL, the OOM killer) can be given back:
 * the httpd parent learns from the MPM when it has reaped a child (the
 * child_status hook) and only then frees that child's entry. Only a dead
 * child's entry is ever reset, so a live child never sees its own count
 * change under it, and a pid is reused only after its reaping. */
typedef struct {
    /* the owning httpd child, at its start (CAS from 0); the httpd parent
     * sets 0 again once that child has been reaped */
    volatile apr_uint32_t pid;
    /* owner (apr_atomic_*32 only); the parent zeroes it, owner dead, before
     * it frees the entry */
    volatile apr_uint32_t kib;
} fcgix_sb_spool_t;

/* Metrics of one class slot (mod_fcgix_metrics.c shows them): one block
 * per class slot, same index, appended after everything else so that the
 * slot's own fields keep their place. gen: the class slot's gen the
 * counters belong to; the PM zeroes them and sets it whenever the slot
 * gets another application, and readers show nothing of a block whose gen
 * is not the slot's. Handlers (FastCgiMetrics On) write the rest with
 * __atomic builtins only (64-bit: a sum of microseconds wraps a 32-bit
 * counter in an hour). Any httpd child can write any of it: readers clamp
 * what they read (pm/pm_metrics.c, mod_fcgix_mfmt.c). */
#define FCGIX_SB_HBUCKETS 14 /* 13 bounds (mod_fcgix_mfmt.c) and +Inf */
#define FCGIX_SB_OUTCOMES 9  /* FCGIX_OUT_* (pm/pm_metrics.h) */

typedef struct {
    /* per bucket, not cumulative: the reader sums them */
    volatile apr_uint64_t n[FCGIX_SB_HBUCKETS];
    volatile apr_uint64_t sum_us;
} fcgix_sb_hist_t;

typedef struct {
    volatile apr_uint32_t gen;     /* PM */
    volatile apr_uint32_t waiting; /* requests waiting for a process */
    volatile apr_uint64_t outcome[FCGIX_SB_OUTCOMES + 1]; /* (one spare) */
    fcgix_sb_hist_t wait; /* waiting to connect (fcgix_connect) */
    fcgix_sb_hist_t app;  /* connected to END_REQUEST */
} fcgix_sb_metrics_t;

typedef struct {
    /* parent, once at creation */
    apr_uint32_t magic, layout, size;
    /* parent */
    volatile apr_uint32_t pm_pid;
    volatile apr_uint32_t pm_starts; /* PMs started by the parent */
    /* PM */
    volatile apr_uint32_t pm_heartbeat;  /* fcgix_clock() s of its last loop */
    volatile apr_uint32_t pm_generation; /* definitions generation applied */
    /* handlers: bumped with a class's release_gen; the children holding
     * kept connections wait on it (a futex word on Linux) */
    volatile apr_uint32_t release_seq;
    fcgix_sb_class_t classes[FCGIX_SB_CLASSES];
    fcgix_sb_proc_t procs[FCGIX_SB_PROCS];
    fcgix_sb_spool_t spool[FCGIX_SB_CHILDREN]; /* see fcgix_sb_spool_t */
    fcgix_sb_bset_t bsets[FCGIX_SB_CLASSES];   /* see fcgix_sb_bset_t */
    /* see fcgix_sb_metrics_t */
    fcgix_sb_metrics_t metrics[FCGIX_SB_CLASSES];
} fcgix_sb_t;

/* Tests write the scoreboard as an httpd child could (t/42, t/49, t/51):
 * they find the blocks from its end. */
_Static_assert(sizeof(fcgix_sb_metrics_t) == 328, "metrics block size");

/* Microseconds on CLOCK_MONOTONIC, the same in every process of the
 * machine: every deadline and interval of the handlers and the PM, and the
 * times they compare through the scoreboard (back-off end, heartbeat), so
 * that setting the system clock moves none of them. Wall-clock time is
 * only shown (start times) and logged. */
static inline apr_time_t fcgix_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* A copy of a class slot, checked: 1 when idx names an ACTIVE or DRAINING
 * slot whose strings are terminated, else 0. */
int fcgix_sb_class_copy(const fcgix_sb_t *sb, apr_uint32_t idx,
                        fcgix_sb_class_t *out);

/* Finds the class for (path, uid, gid): slots are placed by
 * fcgix_sb_hash() with linear probing. A class changed at a graceful
 * restart drains while its successor, with the same identity, is active
 * further along the chain: the active one wins. Returns the index or -1. */
int fcgix_sb_class_find(const fcgix_sb_t *sb, const char *path,
                        apr_uint32_t uid, apr_uint32_t gid);
/* The same probe over any table of FCGIX_SB_CLASSES slots (the PM probes
 * its private copy, never the shared one). */
int fcgix_sb_class_probe(const fcgix_sb_class_t *classes, const char *path,
                         apr_uint32_t uid, apr_uint32_t gid);
/* Where a new class for (path, uid, gid) goes in such a table, so that the
 * probe finds it: the first FREE or GONE slot from its hash position.
 * Returns the index, or -1 when every slot is taken. */
int fcgix_sb_class_place(const fcgix_sb_class_t *classes, const char *path,
                         apr_uint32_t uid, apr_uint32_t gid);

/* 64-bit FNV-1a of the class identity; also names the class socket. */
apr_uint64_t fcgix_sb_hash(const char *path, apr_uint32_t uid,
                           apr_uint32_t gid);

/* ---- spooled request bodies (FastCgiSpoolLimit) -------------------- */

/* httpd child: takes a free entry for pid (or the entry a dead process with
 * the same pid left). Returns its index, or -1 when every entry is taken. */
int fcgix_sb_spool_claim(fcgix_sb_t *sb, apr_uint32_t pid);

/* httpd child: counts kib more KiB on its entry idx if the total of all
 * entries stays within limit_kib; 1 when counted, 0 when not (nothing
 * counted). Lock-free: each taker adds first, then sums every entry, and
 * backs off when over; with sequentially consistent atomics two takers
 * cannot both miss each other's addition, so the total never passes the
 * limit (near it, two concurrent takers may both back off). */
int fcgix_sb_spool_take(fcgix_sb_t *sb, int idx, apr_uint32_t kib,
                        apr_uint32_t limit_kib);

/* httpd child: gives back kib KiB counted on its entry idx (never below
 * zero, whatever the entry holds). */
void fcgix_sb_spool_give(fcgix_sb_t *sb, int idx, apr_uint32_t kib);

/* KiB counted on all entries now. */
apr_uint64_t fcgix_sb_spool_total(fcgix_sb_t *sb);

/* httpd parent: the child pid is gone (reaped): zero and free its entry.
 * Returns the KiB it still held (bytes its cleanups never gave back). */
apr_uint32_t fcgix_sb_spool_release(fcgix_sb_t *sb, apr_uint32_t pid);

/* ---- metrics blocks ------------------------------------------------ */

/* PM: class slot idx gets another application, of gen: its metrics block
 * starts from zero and belongs to gen. */
void fcgix_sb_metrics_reset(fcgix_sb_t *sb, int idx, apr_uint32_t gen);

#endif /* FCGIX_SCOREBOARD_H */
