/*
 * pm/pm.h - the process manager's whole public surface.
 *
 * The httpd parent creates the scoreboard, the doorbell and the control
 * channel once, forks the PM (fcgix-pm) and sends it the application
 * definitions of every configuration generation. The PM runs static and
 * dynamic applications, publishes their state in the scoreboard and answers
 * doorbell messages from the handlers by changing that state.
 *
 * Lifecycle, as the parent sees it (fcgix_pm_post_config):
 *   first start       fork a PM, send generation 1, wait for its ack
 *   graceful restart  send the new generation to the running PM, wait for
 *                     its ack (unchanged applications keep their processes)
 *   hard restart      stop the PM (it stops every application), start anew
 *   stop              stop the PM before httpd exits
 *   PM died           fork a new one (it replaces the old one's processes)
 * The ack means every static application's listen socket exists, so
 * requests queue in the backlog from the first moment httpd serves.
 */
#ifndef FCGIX_PM_H
#define FCGIX_PM_H

#include "mod_fcgix.h"

/* Longest application path the PM manages, NUL included (a class's
 * identity in the scoreboard and the doorbell), and longest socket address
 * it shows. pm_client.c checks both against the scoreboard's layout. */
#define FCGIX_PM_PATH_MAX 512
#define FCGIX_PM_ADDR_MAX 128

/* Doorbell messages: handlers -> PM, never answered directly (the PM
 * answers by changing what the client API below reads). */
enum {
    FCGIX_BELL_SPAWN = 1,      /* a dynamic class is needed */
    FCGIX_BELL_OVERLOADED = 2, /* a request waited past -startDelay */
    FCGIX_BELL_CHANGED = 3     /* -autoUpdate: the binary is newer */
};

/* ---- backend addresses (pm_addr.c) --------------------------------- */

/* One socket address of a backend: IPv4, IPv6 or a Unix socket. */
typedef struct {
    unsigned char sa[FCGIX_BACKEND_ADDR_MAX] __attribute__((aligned(8)));
    apr_uint32_t len;
} fcgix_addr_t;

/* Whether host is an IPv4 or IPv6 address literal (else a name). */
int fcgix_addr_is_literal(const char *host);
/* Every IPv4 and IPv6 address of host (duplicates once), port set, into
 * out (at most max; *more: there were more). The count, or -1 with err
 * filled. Blocks for as long as the resolver does. */
int fcgix_addr_resolve(const char *host, unsigned port, fcgix_addr_t *out,
                       int max, int *more, char *err, size_t errlen);
/* "1.2.3.4:80", "[::1]:80", "unix:/path" (whatever sa holds). */
void fcgix_addr_text(const void *sa, apr_uint32_t len, char *buf, size_t n);
/* A list being resolved again: appends to out (n so far, at most max) the
 * addresses the current list (ncur of them) has for target t, when t is
 * no name or its name did not resolve. The new count. */
int fcgix_addr_keep(const fcgix_addr_t *cur, const apr_uint32_t *cur_target,
                    int ncur, apr_uint32_t t, fcgix_addr_t *out,
                    apr_uint32_t *out_target, int n, int max);
/* Whether (sa, len) is a well-formed address of one of those families. */
int fcgix_addr_valid(const void *sa, apr_uint32_t len);

/* ---- httpd parent (pm_parent.c) ------------------------------------ */

/* Parent: set up and (re)start or update the PM for this configuration
 * generation, whose applications and FastCgiConfig are conf's (pm/ reads
 * no globals of the module). Returns !APR_SUCCESS (already logged) when
 * httpd must not start. Skipped on the first, pre-flight configuration
 * pass. */
apr_status_t fcgix_pm_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                  server_rec *s, const fcgix_globals_t *conf);

/* Parent, from the MPM's child_status hook: the httpd child pid has exited
 * and been reaped, so whatever it still had counted is given back. */
void fcgix_pm_child_exited(server_rec *s, pid_t pid);
/* Parent, from the child_status hook: the MPM started httpd child pid. */
void fcgix_pm_child_started(server_rec *s, pid_t pid);
/* Parent, from the monitor hook: frees spool entries of processes that are
 * no live httpd child (written there by a child, or never reported). */
void fcgix_pm_monitor(server_rec *s);

/* ---- httpd children: the client API (pm_client.c) ------------------ *
 * Handlers never see the scoreboard: they count their requests through a
 * class handle, which names a slot and the generation it had when looked
 * up (the PM reuses a retired class's slot and zeroes its counters, which
 * a late decrement would wrap), and read copies for the status page. */

/* Child: drop what only the parent may hold (the control channel, the
 * doorbell's read end); take this child's entry for spooled request
 * bodies. */
void fcgix_pm_child_init(apr_pool_t *pchild, server_rec *s);

/* The monotonic clock the handlers and the PM share (microseconds). */
apr_time_t fcgix_pm_clock(void);

/* 1 when the PM's heartbeat is fresh (within 5 s). */
int fcgix_pm_alive(void);

/* Ring the doorbell (never blocks; a full pipe drops the message, which
 * the requester's retry rings again). */
void fcgix_pm_ring(apr_uint32_t type, const char *path, apr_uint32_t uid,
                   apr_uint32_t gid);

/* The socket of a static class, a file name inside FastCgiIpcDir, and of
 * a dynamic class (in FastCgiIpcDir/dynamic): both named from the class
 * identity, so the handlers, the PM and a restarted PM agree on them. */
const char *fcgix_pm_static_socket(apr_pool_t *p, const char *path,
                                   apr_uint32_t uid, apr_uint32_t gid);
const char *fcgix_pm_dynamic_socket(apr_pool_t *p, const char *ipc_dir,
                                    const char *path, apr_uint32_t uid,
                                    apr_uint32_t gid);

/* A class as the PM published it: an opaque handle, valid while p lives. */
typedef struct fcgix_pm_class_t fcgix_pm_class_t;

/* The class of (path, uid, gid) now, or NULL when the PM published none.
 * reuse: a handle of an earlier lookup to fill again (a request that looks
 * once a second for as long as it waits allocates once), or NULL for a
 * new one from p. */
fcgix_pm_class_t *fcgix_pm_class_lookup(apr_pool_t *p, fcgix_pm_class_t *reuse,
                                        const char *path, apr_uint32_t uid,
                                        apr_uint32_t gid);
/* Whether the slot still holds the class the handle was looked up as. */
int fcgix_pm_class_current(const fcgix_pm_class_t *c);
/* A class with no process that keeps failing to start and backs off: its
 * socket may accept, but nothing answers before the back-off ends. 0 for
 * NULL. */
int fcgix_pm_class_backing_off(const fcgix_pm_class_t *c);
/* A request connected: counted in flight and begun. Returns 1 when
 * counted; then fcgix_pm_class_leave follows. */
int fcgix_pm_class_enter(fcgix_pm_class_t *c);
/* The request no longer holds its connection: busy time added, the
 * in-flight count given back (nothing once the slot was reused). */
void fcgix_pm_class_leave(fcgix_pm_class_t *c, apr_interval_time_t busy);
/* The app answered the request whole: the PM's proof that a process
 * served (pm_policy.h). */
void fcgix_pm_class_completed(fcgix_pm_class_t *c);
/* The request got no answer from the app. */
void fcgix_pm_class_failed(fcgix_pm_class_t *c);
/* -autoUpdate: whether the file's mtime (its 32 bits of seconds, as the
 * PM compares them) differs from that of the binary the class runs. */
int fcgix_pm_class_binary_changed(const fcgix_pm_class_t *c, apr_time_t mtime);

/* ---- kept connections (FCGI_KEEP_CONN) ------------------------------ *
 * A child holding an idle connection to a class counts it there, so that
 * all children together hold no more than the class's cap, and a request
 * that connects afresh while held connections fill the class asks every
 * holder to close them (their releaser threads wait on
 * fcgix_pm_release_wait). */
/* Handles that outlive a request (a connection kept in the child): an
 * empty one from p, or (p NULL) from the heap, never freed (NULL when out
 * of memory); it names no class until a copy fills it. And a copy. */
fcgix_pm_class_t *fcgix_pm_class_alloc(apr_pool_t *p);
void fcgix_pm_class_copy(fcgix_pm_class_t *dst, const fcgix_pm_class_t *src);
/* The class's running processes (0 when not current). */
apr_uint32_t fcgix_pm_class_procs(const fcgix_pm_class_t *c);
/* Counts one more idle connection held if the held ones, and the held ones
 * with the requests in flight, stay within cap: 1 when counted (*gen: the
 * class's release generation; fcgix_pm_class_unhold follows). */
int fcgix_pm_class_hold(fcgix_pm_class_t *c, apr_uint32_t cap,
                        apr_uint32_t *gen);
/* A held connection is taken for a request (reused) or closed. */
void fcgix_pm_class_unhold(fcgix_pm_class_t *c, int reused);
/* Whether a connection held since release generation gen must be closed:
 * its holders were asked to, or the class is no longer current and
 * active. */
int fcgix_pm_class_released(const fcgix_pm_class_t *c, apr_uint32_t gen);
/* A request counted in flight on a fresh connection: when held connections
 * and requests in flight exceed cap, asks the holders (if any) to close
 * theirs (one ring per release generation). */
void fcgix_pm_class_check_release(fcgix_pm_class_t *c, apr_uint32_t cap);
/* The release sequence now, and a wait (up to timeout_ms) for it to move
 * from seen; fcgix_pm_release_wake moves it (a child's releaser to stop). */
apr_uint32_t fcgix_pm_release_seq(void);
void fcgix_pm_release_wait(apr_uint32_t seen, int timeout_ms);
void fcgix_pm_release_wake(void);

/* ---- several backends (FastCgiExternalServer) ---------------------- *
 * Each request to an external application picks a backend here: its
 * in-flight count and state are shared by all children (the class's
 * backend set in the scoreboard, written by the PM and its prober), so
 * the choice is the least busy one server-wide. Without a published set
 * (no PM, or not yet) the configuration's list is used, round-robin. */
enum {
    FCGIX_BE_REFUSED = 0, /* connect refused or failed */
    FCGIX_BE_TIMEOUT,     /* connect timed out */
    FCGIX_BE_OVERLOADED,  /* answered FCGI_OVERLOADED */
    FCGIX_BE_RESET        /* closed before answering */
};
/* The backend for the next attempt of a request: among the n addresses
 * (the caller's own, from its configuration: never taken from the
 * scoreboard) not in tried (bit i: address i), the enabled one with the
 * fewest requests in flight per weight, equals in turn; when every untried
 * one is disabled, the one whose disable time ends first. The state of an
 * address is the class's set entry with the same bytes (*slot: its index,
 * -1 when none matches: then it counts as idle and enabled). Equals take
 * turns: a request's first pick (tried 0) takes the next turn into *turn,
 * its later picks start from the same one. The address's index, or -1
 * when every one was tried. */
int fcgix_pm_backend_pick(const fcgix_pm_class_t *c, const fcgix_addr_t *addr,
                          const apr_uint32_t *weight, int n, apr_uint32_t tried,
                          apr_uint32_t *turn, int *slot);
/* Backend i of the class's set now carries a request (enter) or no longer
 * (leave): its in-flight count (and requests begun). */
void fcgix_pm_backend_enter(const fcgix_pm_class_t *c, int i);
void fcgix_pm_backend_leave(const fcgix_pm_class_t *c, int i);
/* Backend i failed a request (FCGIX_BE_*); a refusal, time-out or overload
 * disables it for secs. 1 when this call disabled an enabled backend (the
 * caller logs it once). */
int fcgix_pm_backend_failed(const fcgix_pm_class_t *c, int i, int kind,
                            int secs);

/* Count kib more KiB of request bodies spooled by this httpd child, if the
 * server-wide total stays within limit_kib: 1 when counted, 0 when not
 * (then nothing is counted). A child that found no free entry at its start
 * (FCGIX0123) counts nothing and gets 0. */
int fcgix_pm_spool_take(apr_uint32_t kib, apr_uint32_t limit_kib);
/* Give back kib KiB taken by this child. */
void fcgix_pm_spool_give(apr_uint32_t kib);
/* KiB of request bodies spooled across the server now. */
apr_uint64_t fcgix_pm_spool_total(void);

/* ---- copies for the status page ------------------------------------ *
 * Each is copied out of shared memory and checked (strings terminated,
 * values in range): a writer that died half-way cannot make a reader go
 * out of bounds. */
typedef struct {
    apr_uint32_t pid, starts, generation;
    long heartbeat_age; /* seconds; -1: no heartbeat yet */
    int alive;
} fcgix_pm_info_t;

typedef struct {
    fcgix_app_kind_t kind;
    int draining; /* replaced or removed, finishing its requests */
    apr_uint32_t procs_running, procs_target, restarts;
    apr_uint32_t inflight, requests, failures;
    apr_uint32_t load_milli; /* load factor x1000 */
    apr_uint32_t idle_kept;  /* idle connections children hold */
    apr_uint32_t reuses;     /* requests served on a kept connection */
    apr_uint32_t slot, gen;  /* for fcgix_pm_backend_info */
    /* failing: processes in a row that died without serving (0: not
     * failing); the next start in retry_in s; why, in last_error */
    apr_uint32_t fail_streak, spawn_failures, retry_in;
    char last_error[128];
    char path[FCGIX_PM_PATH_MAX];
    char addr[FCGIX_PM_ADDR_MAX];
} fcgix_pm_class_info_t;

typedef struct {
    apr_uint32_t pid;
    int stopping;                 /* signalled, not reaped yet */
    apr_uint32_t started;         /* unix seconds */
    char path[FCGIX_PM_PATH_MAX]; /* its class's */
} fcgix_pm_proc_info_t;

/* A backend's last active probe (pm_prober.c). */
enum {
    FCGIX_PROBE_NONE = 0, /* not probed (yet) */
    FCGIX_PROBE_OK = 1,
    FCGIX_PROBE_FAILED = 2
};
/* Why a probe failed. */
enum {
    FCGIX_PROBE_WHY_CONNECT = 1, /* connect refused or failed */
    FCGIX_PROBE_WHY_TIMEOUT = 2, /* no (whole) answer in -probe-timeout */
    FCGIX_PROBE_WHY_CLOSED = 3,  /* closed before answering */
    FCGIX_PROBE_WHY_BAD = 4      /* answered something else than
                                    FCGI_GET_VALUES_RESULT */
};

/* One backend of an external class with several (FastCgiExternalServer). */
typedef struct {
    char addr[160]; /* fcgix_addr_text */
    apr_uint32_t weight, inflight, requests;
    apr_uint32_t refused, timeouts, overloaded, resets;
    apr_uint32_t down_for;         /* seconds it stays disabled; 0: up */
    apr_uint32_t probe, probe_why; /* FCGIX_PROBE_*, FCGIX_PROBE_WHY_* */
    long probe_age;                /* seconds since the last probe; -1 */
} fcgix_pm_backend_info_t;

/* A class's state as shown: "draining" (replaced or removed, finishing
 * its requests), "failing" (its processes keep dying without serving) or
 * "active". */
const char *fcgix_pm_class_state(const fcgix_pm_class_info_t *c);

/* Backend m (0, 1, ...) of class c as published: 1 with *out filled, 0
 * past the last one (or none published). */
int fcgix_pm_backend_info(const fcgix_pm_class_info_t *c, apr_uint32_t m,
                          fcgix_pm_backend_info_t *out);

/* The PM's own fields: 0 when there is no PM. */
int fcgix_pm_info(fcgix_pm_info_t *out);
/* The next published class (or process) at or after *pos: 1 with *out
 * filled and *pos moved past it, 0 at the end. Start with *pos = 0. */
int fcgix_pm_class_next(apr_uint32_t *pos, fcgix_pm_class_info_t *out);
int fcgix_pm_proc_next(apr_uint32_t *pos, fcgix_pm_proc_info_t *out);

#endif /* FCGIX_PM_H */
