/*
 * pm/pm_state.h - the state of the process manager (the fcgix-pm process)
 * and what its files share about it.
 *
 * Everything the PM knows is in one pm_t, made once in pm_main.c and passed
 * to every function that reads or changes it. Files, by concern:
 *   pm_main.c       setup, identity, control channel, signals, loop,
 *                   shutdown
 *   pm_reconcile.c  definitions applied to the class table; draining
 *   pm_class.c      the class table: new, listen, stop, retire, publish
 *   pm_start.c      starting application processes
 *   pm_reap.c       reaping, verdicts on ended processes
 *   pm_bell.c       the doorbell, dynamic applications and their policy
 *   pm_probe.c      connections the kernel holds for an application
 *
 * Three counters with similar names mean different things:
 *   defs->generation        configuration generation: one per httpd
 *                           configuration the parent sends (acked, and
 *                           shown as sb->pm_generation)
 *   pub_class[i].gen        published slot generation: handlers check it
 *                           before they release a count on a class; it
 *                           stays when the same application returns to the
 *                           slot it left (fcgix_pm_class_new)
 *   class[i].run            class run number: one per fcgix_pm_class_new
 *                           of the slot, so that a process of an earlier
 *                           run is not counted on a later one
 */
#ifndef FCGIX_PM_STATE_H
#define FCGIX_PM_STATE_H

#include <stdio.h>
#include <sys/un.h>

#include "pm/pm_int.h"
#include "pm/pm_log.h"

#define FCGIX_PM_TICK_MS 250
/* A process that ends before its class's completed count moved, while
 * handlers are still busy with the class, may have served a request whose
 * handler has not counted it yet: the verdict waits for that count this
 * long at most (then: it did not serve). */
#define FCGIX_PM_VERDICT_WAIT_MS 500
#define FCGIX_PM_VERDICT_POLL_MS 5
/* A process told to stop (SIGTERM) gets this long, then SIGKILL: one that
 * ignores SIGTERM (an app's owner can write one) would otherwise keep its
 * process slot, and a draining class's slot, for as long as it likes. */
#define FCGIX_PM_STOP_GRACE_MS 3000

typedef char fcgix_sockpath_t[sizeof(((struct sockaddr_un *)0)->sun_path)];

/* A class's socket path is published whole in its scoreboard address, and
 * a path a doorbell message names fits a class's path whole. */
_Static_assert(FCGIX_SB_ADDR >= sizeof(fcgix_sockpath_t),
               "the scoreboard's address field holds any socket path");
_Static_assert(sizeof(((fcgix_bell_t *)0)->path) <=
                   sizeof(((fcgix_sb_class_t *)0)->path),
               "a class holds the path a doorbell message names");

/* What the PM keeps about a class beside what it publishes. */
typedef struct {
    int listen_fd;
    const fcgix_def_app_t *def; /* static/external: current definition */
    fcgix_sockpath_t sockpath;
    fcgix_sockpath_t sockaddr; /* its listen socket's address (pm_spawn.h) */
    unsigned port;
    unsigned want;                  /* processes wanted */
    apr_time_t next_start;          /* no start before */
    unsigned failures;              /* consecutive deaths without serving */
    apr_uint32_t completed_at_fail; /* the class's completed count then */
    int draining;
    apr_time_t drain_deadline;
    apr_uint32_t run; /* class run number (see the top of this file) */
    /* dynamic */
    double smooth_busy;
    apr_uint32_t last_busy;
} pm_class_t;

/* What the PM keeps about a process beside what it publishes. */
typedef struct {
    apr_time_t started;
    apr_uint32_t requests_at_start; /* class's completed count then */
    int killed;                     /* we asked it to stop */
    apr_time_t kill_at;             /* then: SIGKILL if still there; 0 done */
    int shared; /* another process of its class ran during its life */
    apr_uint32_t class_run; /* its class's run number at the start */
    /* ended; whether it served is not known yet (FCGIX_PM_VERDICT_WAIT_MS) */
    int verdict_pending;
    apr_time_t verdict_by;
    int exec_failed; /* its start failed before the app ran */
    int status;      /* its wait status */
    long lived_ms;
    long pid;
} pm_proc_t;

typedef struct {
    fcgix_sb_t *sb;
    /* The PM's own copy of every field it writes. It acts only on these
     * and publishes them (fcgix_pm_publish); it never reads back what it
     * published, since every httpd child can write the shared memory. From
     * the scoreboard it reads only the handlers' counters, as plain
     * numbers. Index i of each array is scoreboard slot i. */
    fcgix_sb_class_t pub_class[FCGIX_SB_CLASSES];
    fcgix_sb_proc_t pub_proc[FCGIX_SB_PROCS];
    pm_class_t class[FCGIX_SB_CLASSES];
    pm_proc_t proc[FCGIX_SB_PROCS];
    int verdicts_pending; /* procs with verdict_pending set */
    fcgix_defs_t *cur;    /* current definitions */
    apr_pool_t *cur_pool; /* and their pool */
    apr_pool_t *pool;     /* the PM's */
    apr_uint32_t parent;  /* the httpd parent's pid */
    int ctl_fd, bell_fd, sig_fd;
    int privileged;         /* kept root for a wrapper */
    pid_t prober_pid;       /* pm_prober.c; 0: none running */
    apr_time_t prober_next; /* start it (again) then; 0: not due */
    int stopping;
    apr_time_t next_update, next_kill; /* dynamic policy's timers */
    const char *watch_seen; /* -watch files as the PM saw them last */
    apr_time_t watch_next;  /* when it looks again (-autoUpdate) */
    struct {                /* pm_gen.c */
        apr_time_t notice;  /* the generation ended; 0: none */
        unsigned long long notice_ticks; /* then, in /proc's unit */
        char parent_comm[64];            /* the parent's process name */
        apr_time_t seen;     /* a sign of the next generation; 0: none */
        apr_time_t leave_by; /* leaving: every app stops by then */
    } gen;
    struct {
        apr_time_t until; /* the end of this interval, 0: none begun */
        unsigned logged;
        unsigned long quiet, malformed; /* refused but not logged; ignored */
    } bell_log;
} pm_t;

/* ---- pm_probe.c ---------------------------------------------------- */

/* Connections in /proc/net/unix text (f) at the application end of the
 * Unix socket bound as path: queued or accepted. -1 for a relative path. */
int fcgix_pm_count_unix(FILE *f, const char *path);
/* Connections in /proc/net/tcp text (f) whose local port is port, in a
 * state where the application end is still open. */
int fcgix_pm_count_tcp(FILE *f, unsigned port);
/* Requests the handlers count in flight on class idx (never "negative"). */
apr_uint32_t fcgix_pm_inflight_of(const pm_t *pm, int idx);
/* Whether requests are in flight on class idx (handlers' count, unless the
 * kernel shows no connection at the application end). */
int fcgix_pm_in_flight(const pm_t *pm, int idx);
/* Gives back idle-connection counts no connection stands for any more. */
void fcgix_pm_kept_tick(pm_t *pm, apr_time_t now);

/* ---- pm_class.c ---------------------------------------------------- */

apr_uint32_t fcgix_pm_now_sec(void);
int fcgix_pm_total_dynamic(const pm_t *pm);
int fcgix_pm_find_class(const pm_t *pm, const char *path, apr_uint32_t uid,
                        apr_uint32_t gid);
int fcgix_pm_class_new(pm_t *pm, apr_uint32_t kind, const char *path,
                       apr_uint32_t uid, apr_uint32_t gid, const char *addr);
int fcgix_pm_class_listen(pm_t *pm, int idx, int backlog);
void fcgix_pm_proc_stop(pm_t *pm, int p);
void fcgix_pm_kill_stuck(pm_t *pm, apr_time_t now);
void fcgix_pm_class_stop_procs(pm_t *pm, int idx, unsigned keep);
int fcgix_pm_queue_pending(const pm_t *pm, int idx);
int fcgix_pm_unname_if_queue_empty(pm_t *pm, int idx);
void fcgix_pm_class_retire(pm_t *pm, int idx);
void fcgix_pm_class_drain(pm_t *pm, int idx, apr_time_t now);
void fcgix_pm_disown_socket(pm_t *pm, const char *sockpath);
void fcgix_pm_check_sockets(pm_t *pm);

/* A failing class one of whose processes has served since its last
 * failure is failing no more (pm_reap.c). */
void fcgix_pm_failing_tick(pm_t *pm);

/* Replaces the processes of every dynamic class that has some: they
 * finish the requests they have, new ones take the rest (pm_bell.c). */
void fcgix_pm_recycle_dynamic(pm_t *pm, apr_time_t now);

/* ---- pm_watch.c: -watch files ---------------------------------------- */

/* After new definitions (prev: the ones before, or NULL): a changed
 * FastCgiConfig -watch file recycles the dynamic applications. */
void fcgix_pm_watch_defs(pm_t *pm, const char *prev_sig, apr_time_t now);
/* Timer: under -autoUpdate, the -watch files as the PM sees them now. */
void fcgix_pm_watch_tick(pm_t *pm, apr_time_t now);

/* ---- pm_gen.c: leaving with the module ------------------------------ */

/* The parent said the configuration generation ends (a graceful restart). */
void fcgix_pm_gen_ends(pm_t *pm, apr_time_t now);
/* Definitions came: the module is still loaded. */
void fcgix_pm_gen_defs(pm_t *pm);
/* Timer: once the next generation runs without sending definitions, lets
 * the requests in flight finish and sets pm->stopping. */
void fcgix_pm_gen_tick(pm_t *pm, apr_time_t now);
void fcgix_pm_publish(pm_t *pm);

/* ---- pm_start.c ---------------------------------------------------- */

int fcgix_pm_spawn_one(pm_t *pm, int idx);
void fcgix_pm_start_due(pm_t *pm, apr_time_t now);

/* ---- pm_reap.c ----------------------------------------------------- */

/* What to do about a process that ended (a pure decision). */
typedef enum {
    FCGIX_EXIT_FORGET, /* its class is gone: nothing */
    FCGIX_EXIT_NONE,   /* we stopped it, or its class is going */
    FCGIX_EXIT_RETIRE, /* dynamic without -restart: retire the class if
                          nothing waits in its queue, else judge */
    FCGIX_EXIT_WAIT, /* wait for the handlers' count (FCGIX_PM_VERDICT_WAIT_MS)
                      */
    FCGIX_EXIT_JUDGE /* judge it now */
} fcgix_exit_action_t;

typedef struct {
    int class_here; /* its class run is still in the slot */
    int killed, stopping, draining;
    apr_uint32_t kind;     /* FCGIX_APP_* */
    int dyn_restart;       /* -restart of dynamic applications */
    unsigned running;      /* processes of the class left running */
    int in_flight;         /* fcgix_pm_in_flight of the class */
    int counted;           /* a completed request counted since its start */
    apr_uint32_t inflight; /* handlers' in-flight count */
    int queue_waits;       /* a connection waits in its queue (found when
                              FCGIX_EXIT_RETIRE was tried) */
} fcgix_exit_facts_t;

fcgix_exit_action_t fcgix_pm_exit_action(const fcgix_exit_facts_t *f);

/* The verdict on an ended process (a pure decision). */
typedef struct {
    int status; /* wait status */
    long lived_ms;
    int counted;         /* a completed request counted since its start */
    int shared;          /* another process of its class ran meanwhile */
    apr_uint32_t kind;   /* FCGIX_APP_* */
    int min_server_life; /* static -min-server-life, s */
    int restart_delay;   /* -restart-delay of its class, s */
    unsigned failures;   /* the class's consecutive failures before */
} fcgix_verdict_in_t;

typedef struct {
    int served;        /* it served (or lived long enough) */
    unsigned failures; /* the class's consecutive failures now */
    int delay;         /* seconds before its replacement starts */
} fcgix_verdict_t;

fcgix_verdict_t fcgix_pm_verdict(const fcgix_verdict_in_t *in);

void fcgix_pm_reap(pm_t *pm);
void fcgix_pm_settle_verdicts(pm_t *pm, apr_time_t now);

/* ---- pm_reconcile.c ------------------------------------------------ */

/* What a definition does to the class its application has (a pure
 * decision). */
typedef enum {
    FCGIX_APPLY_KEEP,   /* same bytes: keep the class and its processes */
    FCGIX_APPLY_NEW,    /* no class yet (or one draining): a new one */
    FCGIX_APPLY_DRAIN,  /* changed: the old one drains, a new one binds */
    FCGIX_APPLY_REPLACE /* changed: the old one stops now, a new one */
} fcgix_apply_action_t;

typedef struct {
    int exists; /* a class was found */
    int draining;
    apr_uint32_t kind; /* FCGIX_APP_* */
    int has_sockpath;  /* it listens on a Unix socket */
    unsigned procs_running;
    const fcgix_def_app_t *def; /* its definition, NULL: none */
} fcgix_class_facts_t;

fcgix_apply_action_t fcgix_pm_apply_action(const fcgix_class_facts_t *c,
                                           const fcgix_def_app_t *a);

/* What happens to an active class its definitions no longer name. */
typedef enum {
    FCGIX_UNLISTED_KEEP,   /* dynamic: runs on under the new template */
    FCGIX_UNLISTED_RETIRE, /* gone now (external, or nothing running) */
    FCGIX_UNLISTED_DRAIN   /* finishes its requests, then stops */
} fcgix_unlisted_action_t;

fcgix_unlisted_action_t fcgix_pm_unlisted_action(apr_uint32_t kind,
                                                 unsigned procs_running);
/* Processes a definition wants running. */
unsigned fcgix_pm_procs_wanted(const fcgix_def_app_t *a);

void fcgix_pm_apply_defs(pm_t *pm, fcgix_defs_t *d, apr_pool_t *dpool);
void fcgix_pm_drain_tick(pm_t *pm, apr_time_t now);

/* ---- pm_prober.c --------------------------------------------------- */

/* Starts the prober if the current definitions want one (and none runs). */
void fcgix_pm_prober_start(pm_t *pm);
/* Stops it (SIGKILL, reaped): before definitions change the classes. */
void fcgix_pm_prober_stop(pm_t *pm);
/* pid was reaped: 1 when it was the prober (started again later). */
int fcgix_pm_prober_reaped(pm_t *pm, pid_t pid);
void fcgix_pm_prober_tick(pm_t *pm, apr_time_t now);

/* ---- pm_bell.c ----------------------------------------------------- */

void fcgix_pm_read_bells(pm_t *pm);
void fcgix_pm_bell_log_tick(pm_t *pm, apr_time_t now);
void fcgix_pm_dynamic_policy(pm_t *pm, apr_time_t now);

#endif /* FCGIX_PM_STATE_H */
