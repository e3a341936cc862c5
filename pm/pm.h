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
#include "pm/scoreboard.h"

/* Doorbell: handlers -> PM, fixed-size messages no larger than PIPE_BUF
 * (atomic writes, no lock), never answered directly. */
enum {
    FCGIX_BELL_SPAWN = 1,      /* a dynamic class is needed */
    FCGIX_BELL_OVERLOADED = 2, /* a request waited past -startDelay */
    FCGIX_BELL_CHANGED = 3     /* -autoUpdate: the binary is newer */
};

#define FCGIX_BELL_MAGIC 0x4c4c4542u /* "BELL" */

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t type;
    apr_uint32_t uid, gid;
    char path[FCGIX_SB_PATH];
} fcgix_bell_t;

/* Parent: set up and (re)start or update the PM for this configuration
 * generation. Returns !APR_SUCCESS (already logged) when httpd must not
 * start. Skipped on the first, pre-flight configuration pass. */
apr_status_t fcgix_pm_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                  server_rec *s);

/* Child: drop what only the parent may hold (the control channel, the
 * doorbell's read end); take this child's entry for spooled request
 * bodies. */
void fcgix_pm_child_init(apr_pool_t *pchild, server_rec *s);

/* The scoreboard, or NULL when there is no PM (no managed applications). */
fcgix_sb_t *fcgix_pm_scoreboard(void);

/* Handlers: ring the doorbell (never blocks; a full pipe drops the
 * message, which the requester's retry rings again). */
void fcgix_pm_ring(apr_uint32_t type, const char *path, apr_uint32_t uid,
                   apr_uint32_t gid);

/* Handlers: 1 when the PM's heartbeat is fresh (within 5 s). */
int fcgix_pm_alive(void);

/* Handlers: count kib more KiB of request bodies spooled by this httpd
 * child, if the server-wide total stays within limit_kib: 1 when counted,
 * 0 when not (then nothing is counted). A child that found no free entry
 * at its start (FCGIX0123) counts nothing and gets 0. */
int fcgix_pm_spool_take(apr_uint32_t kib, apr_uint32_t limit_kib);
/* Handlers: give back kib KiB taken by this child. */
void fcgix_pm_spool_give(apr_uint32_t kib);
/* KiB of request bodies spooled across the server now. */
apr_uint64_t fcgix_pm_spool_total(void);

/* Parent, from the MPM's child_status hook: the httpd child pid has exited
 * and been reaped, so whatever it still had counted is given back. */
void fcgix_pm_child_exited(server_rec *s, pid_t pid);
/* Parent, from the child_status hook: the MPM started httpd child pid. */
void fcgix_pm_child_started(server_rec *s, pid_t pid);
/* Parent, from the monitor hook: frees spool entries of processes that are
 * no live httpd child (written there by a child, or never reported). */
void fcgix_pm_monitor(server_rec *s);

/* The Unix socket of a dynamic class (in FastCgiIpcDir/dynamic). */
const char *fcgix_pm_dynamic_socket(apr_pool_t *p, const char *ipc_dir,
                                    const char *path, apr_uint32_t uid,
                                    apr_uint32_t gid);

/* ---- inside pm/ only ---------------------------------------------- */

/* The PM process: never returns. */
/* old_pm: the pid (= session) of a PM that died, whose applications the
 * new one must stop first; 0 when none. */
void fcgix_pm_main(int ctl_fd, int bell_fd, fcgix_sb_t *sb,
                   apr_uint32_t parent_pid, apr_uint32_t old_pm, server_rec *s);

#endif /* FCGIX_PM_H */
