/*
 * pm/pm_int.h - what the files of pm/ share among themselves.
 */
#ifndef FCGIX_PM_INT_H
#define FCGIX_PM_INT_H

#include "pm/pm.h"
#include "pm/pm_policy.h"
#include "pm/scoreboard.h"

#include "apr_shm.h"

#define FCGIX_DEFS_MAGIC 0x31445846u /* "FXD1" */
/* Bump on every change of the definitions' encoding. (Both versions can be
 * set with -D only to build an "upgraded" module for t/25-upgrade.t.) */
#ifndef FCGIX_DEFS_VERSION
#define FCGIX_DEFS_VERSION 7u
#endif
/* What a process manager started by one build of the module shares with the
 * next build loaded at a graceful restart: the parent's state after its
 * frozen prefix (pm_parent.c), the scoreboard's layout and the doorbell's
 * record. A build whose value differs from the running state's does not
 * adopt that PM: it stops it (and its applications) and starts its own.
 * Bump the low half on a change of the state or the doorbell. */
#ifndef FCGIX_ABI_VERSION
#define FCGIX_ABI_VERSION ((FCGIX_SB_LAYOUT << 16) | 2u)
#endif
#define FCGIX_DEFS_MAX (16u << 20) /* largest definitions message */
/* A control-channel frame with this in place of a length and nothing after
 * it: the parent's configuration generation ends at a graceful restart
 * (pm_gen.c). */
#define FCGIX_CTL_GEN_ENDS 0xfffffff0u

/* The Unix socket of dynamic class (path, uid, gid): "<ipc_dir>/dynamic/
 * d-<hash>.sock", where the PM binds it and handlers connect. Written to
 * buf (len bytes) as far as it fits; 1 when all of it fits in buf and in a
 * Unix socket address, else 0. */
int fcgix_pm_socket_name(char *buf, size_t len, const char *ipc_dir,
                         const char *path, apr_uint32_t uid, apr_uint32_t gid);

/* An external application's -host or -socket, and its addresses as the
 * configuration resolved them (pm_prober.c resolves names again). */
typedef struct {
    const char *host; /* "": a Unix socket */
    apr_uint32_t port, weight, is_name;
} fcgix_def_target_t;

typedef struct {
    apr_uint32_t target;
    fcgix_addr_t addr;
} fcgix_def_backend_t;

/* One application as the PM sees it. */
typedef struct {
    apr_uint32_t kind; /* FCGIX_APP_* */
    const char *path;
    const char *sockpath; /* "" for -port */
    apr_uint32_t port;
    apr_uint32_t processes, init_start_delay, restart_delay;
    apr_uint32_t listen_queue_depth;
    apr_uint32_t min_server_life;
    const char *run_user, *run_group; /* "": httpd's User/Group */
    apr_int32_t priority;
    apr_array_header_t *env; /* const char * "NAME=value" */
    const char *addr_text;
    /* external: its backends, -probe, -probe-timeout, -resolve */
    apr_array_header_t *targets;  /* fcgix_def_target_t */
    apr_array_header_t *backends; /* fcgix_def_backend_t */
    apr_uint32_t probe, probe_timeout, resolve;
    const char *watch_sig; /* its -watch files' state (fcgix_watch_sig) */
    const char *record;    /* its encoded bytes: equal bytes, same app */
    apr_size_t record_len;
} fcgix_def_app_t;

/* Template of dynamic applications (FastCgiConfig). */
typedef struct {
    apr_uint32_t init_start_delay, restart_delay, listen_queue_depth;
    apr_int32_t priority;
    apr_uint32_t restart, auto_update, kill_interval, update_interval;
    apr_uint32_t start_delay;
    fcgix_dyn_policy_t policy;
    apr_array_header_t *env;
    apr_array_header_t *watch; /* const char *: FastCgiConfig -watch */
    const char *watch_sig;     /* their state when the parent read them */
} fcgix_def_dyn_t;

/* Serialized definitions (pm_defs.c): what the parent sends the PM. */
typedef struct fcgix_defs_t fcgix_defs_t;

/* What the parent encodes: its configuration, passed in (pm/ reads no
 * globals of the module). */
typedef struct {
    apr_uint32_t generation;
    const char *ipc_dir;
    const char *wrapper; /* NULL: none */
    int wrapper_is_suexec;
    apr_uint32_t uid, gid; /* User, Group */
    const char *user_name, *group_name;
    int log_level;                  /* mod_fcgix's LogLevel (APLOG_*) */
    const fcgix_opts_t *dynamic;    /* FastCgiConfig */
    const apr_array_header_t *apps; /* fcgix_app_t *: every defined app */
} fcgix_defs_src_t;

const char *fcgix_defs_encode(apr_pool_t *p, const fcgix_defs_src_t *src,
                              apr_size_t *len);
/* The state of files (-watch): path, modification time, size and inode of
 * each, or that it is missing; equal strings, unchanged files. */
const char *fcgix_watch_sig(apr_pool_t *p, const apr_array_header_t *files);

/* NULL when buf is not one whole, well-formed message of this version. */
fcgix_defs_t *fcgix_defs_decode(apr_pool_t *p, const char *buf, apr_size_t len);

struct fcgix_defs_t {
    apr_uint32_t generation;
    apr_uint32_t log_level; /* the PM logs what is at or above it */
    const char *ipc_dir;
    const char *wrapper; /* NULL: none */
    apr_uint32_t wrapper_is_suexec;
    apr_uint32_t uid, gid;
    const char *user_name, *group_name;
    fcgix_def_dyn_t dyn;
    apr_array_header_t *apps; /* fcgix_def_app_t */
};

/* ---- the parent's state, the doorbell, the PM ----------------------- */

/* Doorbell record: fixed-size, no larger than PIPE_BUF (atomic writes, no
 * lock); its type is one of pm.h's FCGIX_BELL_*. */
#define FCGIX_BELL_MAGIC 0x4c4c4542u /* "BELL" */

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t type;
    apr_uint32_t uid, gid;
    char path[FCGIX_SB_PATH];
} fcgix_bell_t;

/* The httpd parent's state (pm_parent.c), in process-pool userdata so that
 * it survives graceful restarts; the httpd children inherit a copy, which
 * the client API (pm_client.c) reads. */
typedef struct {
    /* Frozen: every build of mod_fcgix keeps these fields first and as they
     * are, so that a later build, loaded at a graceful restart, can tell
     * whether it may adopt this state and, if not, stop its PM and free what
     * the parent holds of it (see drop_foreign_state). */
    apr_uint32_t magic; /* STATE_MAGIC */
    apr_uint32_t abi;   /* FCGIX_ABI_VERSION of the build that created it */
    pid_t pm_pid;       /* 0 when there is none */
    int ctl;            /* parent's end of the control channel, or -1 */
    int bell_r, bell_w; /* doorbell: handlers write, the PM reads */
    apr_shm_t *shm;     /* the scoreboard's segment */
    /* May change with FCGIX_ABI_VERSION. */
    fcgix_sb_t *sb;
    pid_t dead_pm; /* a PM that died: its apps are to be stopped */
    pid_t parent_pid;
    apr_uint32_t generation;
} fcgix_pm_state_t;

/* A class handle (pm.h): a slot and the gen it had when looked up. */
struct fcgix_pm_class_t {
    fcgix_sb_t *sb;
    apr_uint32_t idx; /* below FCGIX_SB_CLASSES */
    apr_uint32_t gen; /* the slot's gen at the lookup */
};

/* PM and prober: writes the backend set of class slot idx (pm_backend.c):
 * n addresses with their weights, for the slot's generation gen; fresh:
 * the slot had another application, its counters start from zero. */
void fcgix_pm_bset_write(fcgix_sb_t *sb, int idx, apr_uint32_t gen,
                         const fcgix_addr_t *addrs, const apr_uint32_t *weights,
                         int n, int fresh);

/* The scoreboard as this httpd child (or the parent) maps it, or NULL. */
fcgix_sb_t *fcgix_pm_sb(void);

/* This generation's view of the state (pm_parent.c); NULL when there is no
 * PM. */
fcgix_pm_state_t *fcgix_pm_parent_state(void);

/* The PM process: never returns. */
/* old_pm: the pid (= session) of a PM that died, whose applications the
 * new one must stop first; 0 when none. */
void fcgix_pm_main(int ctl_fd, int bell_fd, fcgix_sb_t *sb,
                   apr_uint32_t parent_pid, apr_uint32_t old_pm, server_rec *s);

#endif /* FCGIX_PM_INT_H */
