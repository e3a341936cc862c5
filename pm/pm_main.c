/*
 * pm/pm_main.c - fcgix-pm, the process manager.
 *
 * One loop waits on the control channel (definitions from the httpd
 * parent), the doorbell (messages from handlers), a signalfd (SIGCHLD,
 * SIGTERM) and a timer. Class i of the PM is scoreboard class slot i; the
 * PM is the only writer of every slot field not marked "handlers".
 * Everything read from the doorbell and the scoreboard is checked before
 * use: handlers are not trusted with the PM's privileges.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pm/pm_log.h"
#include "pm/pm_spawn.h"

#include "apr_strings.h"

#define TICK_MS 250
#define STOP_GRACE_MS 3000 /* SIGTERM to SIGKILL at shutdown */
#define DRAIN_MAX_S 30     /* a removed class gets this long to finish */
/* A process that ends before its class's completed count moved, while
 * handlers are still busy with the class, may have served a request whose
 * handler has not counted it yet: the verdict waits for that count this
 * long at most (then: it did not serve). */
#define VERDICT_WAIT_MS 500
#define VERDICT_POLL_MS 5
/* Every httpd child holds the doorbell's write end and may run hostile
 * code: it can send messages as fast as the PM reads them. Per loop pass
 * the PM handles this many, so the timer work and the heartbeat (whose
 * staleness makes handlers answer 503) run on time whatever comes in. */
#define BELLS_PER_PASS 64
/* Refused requests are logged BELL_LOG_MAX times per BELL_LOG_S, then
 * counted in one line: a flood of them cannot fill the error log. */
#define BELL_LOG_MAX 5
#define BELL_LOG_S 10

typedef struct {
    int listen_fd;
    const fcgix_def_app_t *def; /* static/external: current definition */
    char sockpath[108];
    char sockaddr[108]; /* its listen socket's address (pm_spawn.h) */
    unsigned port;
    unsigned want;         /* processes wanted */
    apr_time_t next_start; /* no start before */
    unsigned failures;     /* consecutive deaths without serving */
    int draining;
    apr_time_t drain_deadline;
    /* dynamic */
    double smooth_busy;
    apr_uint32_t last_busy;
} pm_class_t;

typedef struct {
    apr_time_t started;
    apr_uint32_t requests_at_start; /* class's completed count then */
    int killed;                     /* we asked it to stop */
    int shared; /* another process of its class ran during its life */
    apr_uint32_t incarnation; /* its class's, at the start */
    /* ended; whether it served is not known yet (see VERDICT_WAIT_MS) */
    int verdict_pending;
    apr_time_t verdict_by;
    int status; /* its wait status */
    long lived_ms;
    long pid;
} pm_proc_t;

static fcgix_sb_t *sb;
/* The PM's own copy of every field it writes. It acts only on these and
 * publishes them (publish()); it never reads back what it published, since
 * every httpd child can write the shared memory. From the scoreboard it
 * reads only the handlers' counters, as plain numbers. */
static fcgix_sb_class_t C[FCGIX_SB_CLASSES];
static fcgix_sb_proc_t P[FCGIX_SB_PROCS];
static pm_class_t cls[FCGIX_SB_CLASSES];
static pm_proc_t prx[FCGIX_SB_PROCS];
static int verdicts_pending; /* slots with verdict_pending set */
/* Counts every class_new of a slot: which run of a class a process belongs
 * to (the published generation stays when the same app returns). */
static apr_uint32_t incarnation[FCGIX_SB_CLASSES];
static fcgix_defs_t *cur;    /* current definitions */
static apr_pool_t *cur_pool; /* and their pool */
static apr_pool_t *pm_pool;
static apr_uint32_t parent;
static int ctl_fd = -1, bell_fd = -1, sig_fd = -1;
static int privileged; /* kept root for a wrapper */
static volatile int stopping;
static apr_time_t next_update, next_kill;
static struct {
    apr_time_t until; /* the end of this interval, 0: none begun */
    unsigned logged;
    unsigned long quiet, malformed; /* refused but not logged; ignored */
} bell_log;

static void pmlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int become(const fcgix_defs_t *d);
static void publish_class(int i);

/* The PM's stderr is httpd's main error log; paths in the messages can
 * come from the doorbell, so the lines are escaped (pm_log.c). */
static void pmlog(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fcgix_pm_vlog(fmt, ap);
    va_end(ap);
}

static apr_uint32_t now_sec(void)
{
    return (apr_uint32_t)apr_time_sec(apr_time_now());
}

/* ----------------------------------------------------------- classes */

/* Requests the handlers have in flight on a class. Handlers check the
 * class's generation before they release a count, but a decrement that
 * races a slot's reuse can still wrap the zeroed counter: a "negative"
 * count is read as none. */
static apr_uint32_t inflight_of(apr_uint32_t idx)
{
    apr_uint32_t n = apr_atomic_read32(&sb->classes[idx].inflight);

    return n > 0x7fffffffu ? 0 : n;
}

/* Connections the kernel holds at the application end of a class's Unix
 * socket: queued ones not yet accepted, and accepted ones its processes
 * have not closed (an accepted socket keeps the listener's address: the
 * name it was bound under, which stays when the socket file is renamed or
 * removed). -1 when unknown (no /proc, or a relative address). A
 * successor bound for the same name is counted too, which only errs on
 * the busy side. */
static int unix_conns(const char *path)
{
    size_t plen = strlen(path);
    char line[FCGIX_SB_ADDR + 256];
    int n = 0, cut = 0;
    FILE *f;

    if (path[0] != '/' || (f = fopen("/proc/net/unix", "r")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        /* Num RefCount Protocol Flags Type St Inode Path */
        char *p = line, *end;
        unsigned st = 0;
        int field, was_cut = cut;
        cut = strchr(line, '\n') == NULL; /* longer than ours: skip it */
        if (was_cut || cut) {
            continue;
        }
        for (field = 0; field < 7 && p != NULL; field++) {
            p += strspn(p, " ");
            if (field == 5) {
                st = (unsigned)strtoul(p, NULL, 16);
            }
            p = strchr(p, ' ');
        }
        if (p == NULL || (st != 2 && st != 3)) {
            continue; /* 2 queued, 3 accepted; 1 is the listener */
        }
        p++;
        end = p + strcspn(p, "\n");
        if ((size_t)(end - p) == plen && memcmp(p, path, plen) == 0) {
            n++;
        }
    }
    fclose(f);
    return n;
}

/* The same for a -port app: TCP connections whose local port is the app's
 * (it listens on 127.0.0.1, and no other socket can have that local
 * port), in a state where the application end is still open:
 * queued or accepted (ESTABLISHED, SYN_RECV), or closed by httpd but not
 * yet by the app (CLOSE_WAIT). -1 when unknown. */
#define TCP_ESTABLISHED_ST 0x01
#define TCP_SYN_RECV_ST 0x03
#define TCP_CLOSE_WAIT_ST 0x08
static int tcp_conns(unsigned port)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/net/tcp", "r");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        /* "sl: local_address rem_address st ...", addresses as hex
         * ADDR:PORT; the heading line has no "sl:" and is skipped */
        char *p = strchr(line, ':'), *end;
        unsigned long lport, st;
        if (p == NULL || (p = strchr(p + 1, ':')) == NULL) {
            continue;
        }
        lport = strtoul(p + 1, &end, 16);
        p = end + strspn(end, " "); /* rem_address */
        p += strcspn(p, " ");
        st = strtoul(p, &end, 16);
        if (end != p && lport == port &&
            (st == TCP_ESTABLISHED_ST || st == TCP_SYN_RECV_ST ||
             st == TCP_CLOSE_WAIT_ST)) {
            n++;
        }
    }
    fclose(f);
    return n;
}

static int app_conns(int idx)
{
    if (cls[idx].port != 0) { /* only a static -port app has one */
        return tcp_conns(cls[idx].port);
    }
    return unix_conns(cls[idx].sockaddr);
}

/* Whether requests are in flight on a class: its handlers' count, unless
 * the application end shows no connection at all. A count is then a
 * handler done with the app and still answering its client, or one an
 * httpd child took and never gave back because it died: no request of
 * the app is lost by stopping or retiring it. */
static int in_flight(int idx)
{
    return inflight_of((apr_uint32_t)idx) > 0 && app_conns(idx) != 0;
}

static int total_dynamic(void)
{
    int i, n = 0;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (C[i].state == FCGIX_CLASS_ACTIVE &&
            C[i].kind == FCGIX_KIND_DYNAMIC) {
            n += (int)C[i].procs_running;
        }
    }
    return n;
}

/* A slot for a new class, placed where handlers' probing finds it. */
static int class_alloc(const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    apr_uint32_t start =
        (apr_uint32_t)(fcgix_sb_hash(path, uid, gid) % FCGIX_SB_CLASSES);
    apr_uint32_t i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        apr_uint32_t idx = (start + i) % FCGIX_SB_CLASSES;
        apr_uint32_t s = C[idx].state;
        if (s == FCGIX_CLASS_FREE || s == FCGIX_CLASS_GONE) {
            return (int)idx;
        }
    }
    return -1;
}

static int class_new(apr_uint32_t kind, const char *path, apr_uint32_t uid,
                     apr_uint32_t gid, const char *addr)
{
    int idx = class_alloc(path, uid, gid), same;
    fcgix_sb_class_t *c;

    if (idx < 0) {
        pmlog("FCGIX0430: no free class slot for %s (limit %d)", path,
              FCGIX_SB_CLASSES);
        return -1;
    }
    c = &C[idx];
    /* The same application again in the slot it just left (a dynamic app
     * retired and requested anew): handlers that took their counts before
     * may still release them, so the counts and the generation they check
     * carry on. Another application gets a new generation and zeroes. */
    same = c->state == FCGIX_CLASS_GONE && c->uid == uid && c->gid == gid &&
           strcmp(c->path, path) == 0;
    memset(&cls[idx], 0, sizeof(cls[idx]));
    cls[idx].listen_fd = -1;
    incarnation[idx]++;
    c->kind = kind;
    c->uid = uid;
    c->gid = gid;
    c->procs_target = c->procs_running = c->restarts = 0;
    c->backoff_until = c->load_milli = 0;
    c->started = now_sec();
    if (!same) {
        c->gen++;
        apr_atomic_set32(&sb->classes[idx].inflight, 0);
        apr_atomic_set32(&sb->classes[idx].requests, 0);
        apr_atomic_set32(&sb->classes[idx].failures, 0);
        apr_atomic_set32(&sb->classes[idx].conn_wait_ms, 0);
        apr_atomic_set32(&sb->classes[idx].busy_ms, 0);
        apr_atomic_set32(&sb->classes[idx].completed, 0);
    }
    /* the load factor's first sample starts from here, not from zero */
    cls[idx].last_busy = apr_atomic_read32(&sb->classes[idx].busy_ms);
    apr_cpystrn(c->path, path, sizeof(c->path));
    apr_cpystrn(c->addr, addr, sizeof(c->addr));
    c->state = FCGIX_CLASS_ACTIVE;
    /* Visible before its socket exists: a handler that connects as soon as
     * the socket appears must find the class to count its request on. */
    publish_class(idx);
    return idx;
}

static void class_listen_close(int idx)
{
    if (cls[idx].listen_fd >= 0) {
        close(cls[idx].listen_fd);
        cls[idx].listen_fd = -1;
    }
}

static int class_listen(int idx, int backlog)
{
    char err[256];
    pm_class_t *k = &cls[idx];

    class_listen_close(idx);
    k->listen_fd = fcgix_pm_listen(k->sockpath, k->port, backlog, k->sockaddr,
                                   sizeof(k->sockaddr), err, sizeof(err));
    if (k->listen_fd < 0) {
        pmlog("FCGIX0431: %s: cannot create its listen socket: %s", C[idx].path,
              err);
        return -1;
    }
    return 0;
}

/* Stops one process (SIGTERM; the reaper sees it go). */
static void proc_stop(int p)
{
    if (P[p].state == FCGIX_PROC_RUNNING && P[p].pid > 0) {
        kill((pid_t)P[p].pid, SIGTERM);
        P[p].state = FCGIX_PROC_STOPPING;
        prx[p].killed = 1;
    }
}

static void class_stop_procs(int idx, unsigned keep)
{
    int p;
    unsigned n = 0;

    for (p = FCGIX_SB_PROCS - 1; p >= 0; p--) {
        if (P[p].state == FCGIX_PROC_RUNNING &&
            P[p].class_idx == (apr_uint32_t)idx) {
            if (n++ >= keep) {
                proc_stop(p);
            }
        }
    }
}

/* Whether a connection waits in a class's queue, not yet accepted: one a
 * handler made just before the class began to drain, perhaps counted on
 * its successor. */
static int queue_pending(int idx)
{
    struct pollfd pfd;

    pfd.fd = cls[idx].listen_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return pfd.fd >= 0 && poll(&pfd, 1, 0) > 0;
}

/* Whether nothing waits in a class's connection queue, checked with its
 * socket name moved aside so that no connection can join between the check
 * and the close (a queued one would be reset). 1: nothing waits and the
 * name is gone, retire the class now; 0: a connection waits, the name is
 * back. */
static int queue_empty_name_gone(int idx)
{
    pm_class_t *k = &cls[idx];
    char aside[sizeof(k->sockpath) + 16];
    int moved;

    if (k->listen_fd < 0) {
        return 1;
    }
    snprintf(aside, sizeof(aside), "%s-gone.sock", k->sockpath);
    moved = k->sockpath[0] && rename(k->sockpath, aside) == 0;
    if (queue_pending(idx)) {
        if (moved) {
            rename(aside, k->sockpath);
        }
        return 0;
    }
    if (moved) {
        unlink(aside);
    }
    return 1;
}

static void class_retire(int idx)
{
    class_listen_close(idx);
    if (cls[idx].sockpath[0]) {
        unlink(cls[idx].sockpath);
    }
    C[idx].state = FCGIX_CLASS_GONE;
}

/* Copies one class's fields to the scoreboard. A slot being (re)filled
 * gets its state last, one being emptied first, so a handler that copies a
 * slot while this runs sees either the old or the new class, never a mix
 * that passes fcgix_sb_class_copy's checks with the wrong identity. */
static void publish_class(int i)
{
    fcgix_sb_class_t *o = &sb->classes[i];
    const fcgix_sb_class_t *n = &C[i];
    int live =
        n->state == FCGIX_CLASS_ACTIVE || n->state == FCGIX_CLASS_DRAINING;

    if (!live) {
        apr_atomic_set32(&o->state, n->state);
    }
    o->kind = n->kind;
    o->gen = n->gen;
    o->uid = n->uid;
    o->gid = n->gid;
    o->procs_target = n->procs_target;
    o->procs_running = n->procs_running;
    o->restarts = n->restarts;
    o->backoff_until = n->backoff_until;
    o->load_milli = n->load_milli;
    o->started = n->started;
    o->bin_mtime = n->bin_mtime;
    memcpy(o->path, n->path, sizeof(o->path));
    memcpy(o->addr, n->addr, sizeof(o->addr));
    if (live) {
        apr_atomic_set32(&o->state, n->state);
    }
}

/* Copies the PM's fields to the scoreboard (see publish_class). */
static void publish(void)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        publish_class(i);
    }
    for (i = 0; i < FCGIX_SB_PROCS; i++) {
        fcgix_sb_proc_t *o = &sb->procs[i];
        o->class_idx = P[i].class_idx;
        o->class_gen = P[i].class_gen;
        o->pid = P[i].pid;
        o->started = P[i].started;
        apr_atomic_set32(&o->state, P[i].state);
    }
    sb->nclasses = FCGIX_SB_CLASSES;
}

/* ----------------------------------------------------------- spawning */

static char **make_env(apr_pool_t *p, apr_array_header_t *env)
{
    char **envp = apr_palloc(p, sizeof(char *) * ((size_t)env->nelts + 1));
    int i;

    for (i = 0; i < env->nelts; i++) {
        envp[i] = apr_pstrdup(p, APR_ARRAY_IDX(env, i, const char *));
    }
    envp[env->nelts] = NULL;
    return envp;
}

/* argv: the application alone, or the wrapper with user, group and the
 * application, as mod_fastcgi invoked it. */
static char **make_argv(apr_pool_t *p, const fcgix_sb_class_t *c,
                        const fcgix_def_app_t *def)
{
    char **argv = apr_pcalloc(p, sizeof(char *) * 5);
    struct passwd *pw;
    struct group *gr;

    if (cur->wrapper == NULL) {
        argv[0] = apr_pstrdup(p, c->path);
        return argv;
    }
    argv[0] = apr_pstrdup(p, cur->wrapper);
    if (def && def->run_user[0] && def->run_group[0]) {
        /* FastCgiServer -user / -group */
        argv[1] = apr_pstrdup(p, def->run_user);
        argv[2] = apr_pstrdup(p, def->run_group);
    } else {
        pw = getpwuid((uid_t)c->uid);
        gr = getgrgid((gid_t)c->gid);
        argv[1] = apr_pstrdup(p, pw ? pw->pw_name : cur->user_name);
        argv[2] = apr_pstrdup(p, gr ? gr->gr_name : cur->group_name);
    }
    /* suexec takes the command relative to the working directory (the
     * app's, see child_setup) and refuses a path; other wrappers get the
     * application as declared, as mod_fastcgi gave it. */
    argv[3] = apr_pstrdup(p, cur->wrapper_is_suexec && strrchr(c->path, '/')
                                 ? strrchr(c->path, '/') + 1
                                 : c->path);
    return argv;
}

static int proc_slot(void)
{
    int p;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        if (P[p].state == FCGIX_PROC_FREE && !prx[p].verdict_pending) {
            return p;
        }
    }
    return -1;
}

static int spawn_one(int idx)
{
    fcgix_sb_class_t *c = &C[idx];
    pm_class_t *k = &cls[idx];
    int dyn = c->kind == FCGIX_KIND_DYNAMIC;
    fcgix_spawn_t sp;
    apr_pool_t *tmp;
    char err[160];
    int p = proc_slot(), out;
    pid_t pid;

    if (p < 0 || k->listen_fd < 0) {
        return -1;
    }
    apr_pool_create(&tmp, pm_pool);
    memset(&sp, 0, sizeof(sp));
    sp.path = c->path;
    sp.argv = make_argv(tmp, c, dyn ? NULL : k->def);
    sp.envp = make_env(tmp, dyn ? cur->dyn.env : k->def->env);
    sp.listen_fd = k->listen_fd;
    sp.priority = dyn ? cur->dyn.priority : k->def->priority;
    sp.drop_to_uid = privileged ? (uid_t)cur->uid : (uid_t)-1;
    sp.drop_to_gid = (gid_t)cur->gid;
    sp.out_fd = fcgix_pm_out_open(c->path, &out);
    /* Read before the spawn: once the child runs, the PM may not get the
     * CPU back before the child has served a request and been counted. */
    prx[p].started = fcgix_clock();
    prx[p].requests_at_start = apr_atomic_read32(&sb->classes[idx].completed);
    pid = fcgix_pm_spawn(&sp, err, sizeof(err));
    apr_pool_destroy(tmp);
    if (sp.out_fd >= 0) {
        close(sp.out_fd); /* the process has its copy */
    }
    fcgix_pm_out_started(out, pid);
    if (pid < 0) {
        pmlog("FCGIX0432: %s: %s", c->path, err);
        return -1;
    }
    if (*err) {
        pmlog("FCGIX0420: %s: cannot execute: %s", c->path, err);
    }
    P[p].class_idx = (apr_uint32_t)idx;
    P[p].class_gen = c->gen;
    prx[p].incarnation = incarnation[idx];
    P[p].pid = (apr_uint32_t)pid;
    P[p].started = now_sec();
    prx[p].killed = 0;
    prx[p].shared = c->procs_running > 0;
    if (prx[p].shared) { /* and its siblings are no longer alone */
        int q;
        for (q = 0; q < FCGIX_SB_PROCS; q++) {
            if (P[q].state != FCGIX_PROC_FREE &&
                P[q].class_idx == (apr_uint32_t)idx) {
                prx[q].shared = 1;
            }
        }
    }
    P[p].state = FCGIX_PROC_RUNNING;
    c->procs_running++;
    return 0;
}

static unsigned start_spacing(int idx)
{
    return C[idx].kind == FCGIX_KIND_DYNAMIC ? cur->dyn.init_start_delay
                                             : cls[idx].def->init_start_delay;
}

/* Starts what is due: one process per class per pass, spaced by
 * -init-start-delay, after any back-off. */
static void start_due(apr_time_t now)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &C[i];
        if (c->state != FCGIX_CLASS_ACTIVE || cls[i].draining ||
            c->kind == FCGIX_KIND_EXTERNAL || c->procs_running >= cls[i].want ||
            now < cls[i].next_start) {
            continue;
        }
        /* With no spacing, start every missing one now. */
        while (spawn_one(i) == 0 && start_spacing(i) == 0 &&
               c->procs_running < cls[i].want) {
        }
        /* from the fork, not the pass: a pass may fork many apps */
        cls[i].next_start = fcgix_clock() + apr_time_from_sec(start_spacing(i));
    }
}

/* ------------------------------------------------------------ reaping */

/* Whether a handler counted a completed request on the process's class
 * since the process started (the PM's proof of service, pm_policy.h). */
static int counted_since_start(const pm_proc_t *x, apr_uint32_t idx)
{
    return apr_atomic_read32(&sb->classes[idx].completed) !=
           x->requests_at_start;
}

/* Whether the class the process was started for is still in its slot. */
static int proc_class_here(const pm_proc_t *x, apr_uint32_t idx)
{
    return x->incarnation == incarnation[idx] &&
           C[idx].state != FCGIX_CLASS_GONE;
}

/* Judges an ended process by what the handlers counted: served, it is
 * replaced at once; not, its class backs off. */
static void judge(int p, apr_time_t now)
{
    pm_proc_t *x = &prx[p];
    apr_uint32_t idx = P[p].class_idx;
    fcgix_sb_class_t *c = &C[idx];
    pm_class_t *k = &cls[idx];
    int clean = WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0;
    int served, delay;

    if (x->verdict_pending) {
        x->verdict_pending = 0;
        verdicts_pending--;
    }
    served = fcgix_policy_served(clean, x->lived_ms,
                                 counted_since_start(x, idx), !x->shared);
    /* -min-server-life (static): a long enough run was a good start. */
    served = fcgix_policy_start_ok(
        served, x->lived_ms,
        c->kind == FCGIX_KIND_STATIC ? (int)k->def->min_server_life : 0);
    k->failures = served ? 0 : k->failures + 1;
    delay = fcgix_policy_restart_delay((int)(c->kind == FCGIX_KIND_DYNAMIC
                                                 ? cur->dyn.restart_delay
                                                 : k->def->restart_delay),
                                       k->failures, served);
    c->restarts++;
    c->backoff_until =
        delay ? (apr_uint32_t)apr_time_sec(now) + (apr_uint32_t)delay : 0;
    /* -init-start-delay spaces the first starts only: a replacement waits
     * for its back-off and nothing else. */
    k->next_start = now + apr_time_from_sec(delay);
    if (WIFSIGNALED(x->status)) {
        pmlog("FCGIX0410: %s (pid %ld) was killed by signal %d; restarting "
              "in %d s",
              c->path, x->pid, WTERMSIG(x->status), delay);
    } else {
        pmlog("FCGIX0411: %s (pid %ld) exited with status %d; restarting "
              "in %d s",
              c->path, x->pid, WEXITSTATUS(x->status), delay);
    }
}

static void on_exit_proc(int p, int status, apr_time_t now)
{
    fcgix_sb_proc_t *sp = &P[p];
    apr_uint32_t idx = sp->class_idx;
    fcgix_sb_class_t *c = &C[idx];
    pm_proc_t *x = &prx[p];

    x->status = status;
    x->lived_ms = (long)apr_time_as_msec(now - x->started);
    x->pid = (long)sp->pid;
    sp->state = FCGIX_PROC_FREE;
    sp->pid = 0;
    if (!proc_class_here(x, idx)) {
        return; /* its class is gone */
    }
    if (c->procs_running) {
        c->procs_running--;
    }
    if (x->killed || stopping || cls[idx].draining) {
        return; /* we asked for it, or its class is going: no restart */
    }
    /* Without -restart a dynamic app that ended is started by its next
     * request; requests already queued on its socket (in flight) are
     * such requests: retiring the class would reset them. */
    if (c->kind == FCGIX_KIND_DYNAMIC && !cur->dyn.restart &&
        c->procs_running == 0 && !in_flight((int)idx) &&
        queue_empty_name_gone((int)idx)) {
        pmlog("FCGIX0412: %s (pid %ld) ended (%s %d); its next request "
              "starts it again",
              c->path, x->pid, WIFSIGNALED(status) ? "signal" : "status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        class_retire((int)idx);
        return;
    }
    /* libfcgi and PHP half-close and wait for the handler's close before
     * an app can exit, so its request is counted first. An app that exits
     * right after its answer (a library without that wait, or a child it
     * left holding the connection) is reaped before its handler counts
     * the request: with handlers busy, wait for their count. */
    if (!counted_since_start(x, idx) && inflight_of(idx) > 0) {
        x->verdict_pending = 1;
        x->verdict_by = now + apr_time_from_msec(VERDICT_WAIT_MS);
        verdicts_pending++;
        cls[idx].next_start = x->verdict_by; /* no replacement before */
        return;
    }
    judge(p, now);
}

/* Settles the verdicts that were waiting for the handlers: once the count
 * moved, once no handler is busy with the class, or at the deadline. */
static void settle_verdicts(apr_time_t now)
{
    int p;

    for (p = 0; p < FCGIX_SB_PROCS && verdicts_pending > 0; p++) {
        pm_proc_t *x = &prx[p];
        apr_uint32_t idx = P[p].class_idx;
        if (!x->verdict_pending) {
            continue;
        }
        if (!proc_class_here(x, idx) || cls[idx].draining || stopping) {
            x->verdict_pending = 0; /* its class is gone: nothing to judge */
            verdicts_pending--;
            continue;
        }
        if (counted_since_start(x, idx) || inflight_of(idx) == 0 ||
            now >= x->verdict_by) {
            judge(p, now);
        }
    }
}

static void reap(void)
{
    apr_time_t now = fcgix_clock();
    int status, p;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        fcgix_pm_out_reaped(pid);
        for (p = 0; p < FCGIX_SB_PROCS; p++) {
            if (P[p].pid == (apr_uint32_t)pid &&
                P[p].state != FCGIX_PROC_FREE) {
                on_exit_proc(p, status, now);
                break;
            }
        }
    }
}

/* -------------------------------------------------------- definitions */

/* The same probe sequence handlers use (fcgix_sb_class_find), over the
 * PM's private copy: an active class before a draining one. */
static int find_class(const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    return fcgix_sb_class_probe(C, path, uid, gid);
}

/* A class stops taking requests: those it has finish (DRAIN_MAX_S at
 * most), then its processes stop (drain()). */
static void class_drain(int idx, apr_time_t now)
{
    cls[idx].def = NULL;
    cls[idx].draining = 1;
    cls[idx].drain_deadline = now + apr_time_from_sec(DRAIN_MAX_S);
    C[idx].state = FCGIX_CLASS_DRAINING;
}

/* A draining class whose socket file a new class takes over must not
 * remove it when it ends (its processes keep the old, unnamed socket). */
static void disown_socket(const char *sockpath)
{
    int i;

    for (i = 0; sockpath[0] && i < FCGIX_SB_CLASSES; i++) {
        if (C[i].state == FCGIX_CLASS_DRAINING &&
            strcmp(cls[i].sockpath, sockpath) == 0) {
            cls[i].sockpath[0] = '\0';
        }
    }
}

/* Applies a static or external definition: unchanged ones keep their
 * processes, changed ones are replaced. */
static void apply_app(const fcgix_def_app_t *a, apr_time_t now,
                      unsigned char *keep)
{
    int idx = find_class(a->path, cur->uid, cur->gid);
    pm_class_t *k;

    if (idx >= 0 && cls[idx].def && cls[idx].def->record_len == a->record_len &&
        memcmp(cls[idx].def->record, a->record, a->record_len) == 0 &&
        !cls[idx].draining) {
        cls[idx].def = a; /* same bytes: same app */
        keep[idx] = 1;
        return;
    }
    if (idx >= 0 && !cls[idx].draining) {
        /* Changed. On a Unix socket its processes finish the requests they
         * have, as a removed app's do, while the successor binds the name
         * anew. A TCP port cannot be bound twice: replaced at once. */
        if (C[idx].kind == FCGIX_KIND_STATIC && cls[idx].sockpath[0] &&
            a->kind == FCGIX_KIND_STATIC && a->sockpath[0] &&
            C[idx].procs_running > 0) {
            class_drain(idx, now);
        } else {
            class_stop_procs(idx, 0);
            class_retire(idx);
        }
    }
    if (a->kind == FCGIX_KIND_STATIC) {
        disown_socket(a->sockpath);
    }
    idx = class_new(a->kind, a->path, cur->uid, cur->gid, a->addr_text);
    if (idx < 0) {
        return;
    }
    keep[idx] = 1;
    k = &cls[idx];
    k->def = a;
    if (a->kind != FCGIX_KIND_STATIC) {
        return;
    }
    apr_cpystrn(k->sockpath, a->sockpath, sizeof(k->sockpath));
    k->port = a->port;
    k->want = a->processes;
    C[idx].procs_target = a->processes;
    k->next_start = now;
    class_listen(idx, (int)a->lqd);
}

static void apply_defs(fcgix_defs_t *d, apr_pool_t *dpool)
{
    unsigned char keep[FCGIX_SB_CLASSES];
    apr_time_t now = fcgix_clock();
    apr_pool_t *old = cur_pool;
    int i;

    memset(keep, 0, sizeof(keep));
    cur = d;
    cur_pool = dpool;
    for (i = 0; i < d->apps->nelts; i++) {
        apply_app(&APR_ARRAY_IDX(d->apps, i, fcgix_def_app_t), now, keep);
    }
    /* Classes no longer defined drain: no new connections (the socket
     * goes), running requests finish, then the processes stop. */
    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &C[i];
        if (c->state != FCGIX_CLASS_ACTIVE || keep[i] ||
            c->kind == FCGIX_KIND_DYNAMIC) {
            continue;
        }
        cls[i].def = NULL;
        if (c->kind == FCGIX_KIND_EXTERNAL || c->procs_running == 0) {
            class_retire(i);
            continue;
        }
        if (cls[i].sockpath[0]) {
            unlink(cls[i].sockpath);
        }
        class_drain(i, now);
    }
    sb->pm_generation = d->generation;
    if (old) {
        apr_pool_destroy(old);
    }
}

/* Reads one framed definitions message; 1: applied, 0: not complete yet
 * (never: the parent writes it whole before waiting), -1: channel gone. */
static int read_defs(void)
{
    apr_uint32_t len, ack[2];
    apr_pool_t *dp;
    char *buf;
    fcgix_defs_t *d;
    ssize_t n;
    size_t got = 0;

    n = recv(ctl_fd, &len, sizeof(len), MSG_WAITALL);
    if (n != (ssize_t)sizeof(len) || len > FCGIX_DEFS_MAX) {
        return -1;
    }
    apr_pool_create(&dp, pm_pool);
    buf = apr_palloc(dp, len ? len : 1);
    while (got < len) {
        n = recv(ctl_fd, buf + got, len - got, MSG_WAITALL);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    d = fcgix_defs_decode(dp, buf, len);
    ack[0] = d ? d->generation : 0;
    ack[1] = 1;
    if (d == NULL) {
        pmlog("FCGIX0433: refused malformed definitions");
    } else if (cur == NULL && become(d) != 0) {
        stopping = 1;
    } else if (cur && (cur->uid != d->uid || cur->gid != d->gid ||
                       (d->wrapper && !privileged) ||
                       strcmp(cur->ipc_dir, d->ipc_dir) != 0)) {
        pmlog("FCGIX0434: User, Group, FastCgiIpcDir or FastCgiWrapper "
              "changed; a new process manager takes over");
    } else {
        apply_defs(d, dp);
        publish(); /* handlers see the classes before httpd serves */
        ack[1] = 0;
        dp = NULL;
    }
    if (dp) {
        apr_pool_destroy(dp);
    }
    return send(ctl_fd, ack, sizeof(ack), MSG_NOSIGNAL) == sizeof(ack) ? 1 : -1;
}

/* ----------------------------------------------------------- doorbell */

/* A dynamic application may run when it is an executable regular file
 * and, without a wrapper, has the server's identity (the PM could not
 * give it another). */
static int dynamic_allowed(const fcgix_bell_t *b, struct stat *st)
{
    if (b->path[0] != '/' || strstr(b->path, "/../") != NULL ||
        stat(b->path, st) != 0 || !S_ISREG(st->st_mode) ||
        !(st->st_mode & S_IXUSR)) {
        return 0;
    }
    if (cur->wrapper) {
        return b->uid != 0 && b->gid != 0;
    }
    return b->uid == cur->uid && b->gid == cur->gid;
}

/* A dynamic class for path and identity, with its socket and its first
 * process. Returns its slot, or -1. */
static int dynamic_start(const char *path, apr_uint32_t uid, apr_uint32_t gid,
                         time_t mtime, apr_time_t now)
{
    char sock[FCGIX_SB_PATH];
    apr_uint64_t h = fcgix_sb_hash(path, uid, gid);
    int idx;

    snprintf(sock, sizeof(sock), "%s/dynamic/d-%016llx.sock", cur->ipc_dir,
             (unsigned long long)h);
    disown_socket(sock);
    idx = class_new(FCGIX_KIND_DYNAMIC, path, uid, gid, sock);
    if (idx < 0) {
        return -1;
    }
    apr_cpystrn(cls[idx].sockpath, sock, sizeof(cls[idx].sockpath));
    C[idx].bin_mtime = (apr_uint32_t)mtime;
    cls[idx].want = 1;
    C[idx].procs_target = 1;
    if (class_listen(idx, (int)cur->dyn.lqd) != 0) {
        class_retire(idx);
        return -1;
    }
    spawn_one(idx); /* now: the first request waits only for the app */
    cls[idx].next_start = now + apr_time_from_sec(cur->dyn.init_start_delay);
    return idx;
}

/* Whether a refused doorbell request may be logged now (see BELL_LOG_MAX);
 * else it is counted for bell_log_tick. */
static int bell_log_ok(apr_time_t now)
{
    if (bell_log.until == 0) {
        bell_log.until = now + apr_time_from_sec(BELL_LOG_S);
    }
    if (bell_log.logged < BELL_LOG_MAX) {
        bell_log.logged++;
        return 1;
    }
    bell_log.quiet++;
    return 0;
}

static void bell_malformed(apr_time_t now)
{
    if (bell_log.until == 0) {
        bell_log.until = now + apr_time_from_sec(BELL_LOG_S);
    }
    bell_log.malformed++;
}

/* Ends a logging interval that is over, with one line for what it did not
 * log. */
static void bell_log_tick(apr_time_t now)
{
    if (bell_log.until == 0 || now < bell_log.until) {
        return;
    }
    if (bell_log.quiet || bell_log.malformed) {
        pmlog("FCGIX0450: doorbell: %lu more refused requests not logged "
              "and %lu malformed messages ignored in the last %d s",
              bell_log.quiet, bell_log.malformed, BELL_LOG_S);
    }
    memset(&bell_log, 0, sizeof(bell_log));
}

/* A request for a dynamic app that has no active class. */
static void bell_spawn(const fcgix_bell_t *b, apr_time_t now)
{
    struct stat st;

    if (!dynamic_allowed(b, &st)) {
        if (!bell_log_ok(now)) {
            return;
        }
        pmlog("FCGIX0435: refused to start %s as a dynamic application "
              "(not an executable file, or an identity the PM cannot give)",
              b->path);
        return;
    }
    if (total_dynamic() >= cur->dyn.policy.max_total) {
        if (!bell_log_ok(now)) {
            return;
        }
        pmlog("FCGIX0436: %s: not started, -maxProcesses %d reached", b->path,
              cur->dyn.policy.max_total);
        return;
    }
    dynamic_start(b->path, b->uid, b->gid, st.st_mtime, now);
}

static void bell_more(int idx, apr_time_t now)
{
    fcgix_sb_class_t *c = &C[idx];

    if (c->kind != FCGIX_KIND_DYNAMIC || cls[idx].want > c->procs_running ||
        !fcgix_policy_may_spawn(&cur->dyn.policy, c->procs_running,
                                (unsigned)total_dynamic())) {
        return;
    }
    cls[idx].want = c->procs_running + 1;
    c->procs_target = cls[idx].want;
    if (cls[idx].next_start > now + apr_time_from_sec(1)) {
        return; /* backing off */
    }
    cls[idx].next_start = now;
}

/* -autoUpdate: the file's time is not the running processes'. They finish
 * the requests they have on their socket, as a changed static app's do
 * (drain()), while a new class, with a process of the new file, binds the
 * socket name for the requests that follow. */
static void bell_changed(int idx, apr_time_t now)
{
    struct stat st;

    if (C[idx].kind != FCGIX_KIND_DYNAMIC || !cur->dyn.auto_update ||
        stat(C[idx].path, &st) != 0 ||
        (apr_uint32_t)st.st_mtime == C[idx].bin_mtime) {
        return;
    }
    pmlog("FCGIX0437: %s changed on disk; replacing its processes",
          C[idx].path);
    if (C[idx].procs_running == 0) {
        /* nothing runs the old file: the next process is of the new one,
         * and requests waiting in the queue stay there for it */
        C[idx].bin_mtime = (apr_uint32_t)st.st_mtime;
        cls[idx].failures = 0;
        cls[idx].next_start = now;
        return;
    }
    /* the successor takes another slot: this one's identity stays */
    class_drain(idx, now);
    if (dynamic_start(C[idx].path, C[idx].uid, C[idx].gid, st.st_mtime, now) <
        0) {
        class_stop_procs(idx, 0); /* no successor: as before, stop them */
    }
}

/* Handles what the doorbell holds, BELLS_PER_PASS messages at most: the
 * rest waits for the next pass. */
static void read_bells(void)
{
    fcgix_bell_t b;
    apr_time_t now = fcgix_clock();
    int idx, n;

    for (n = 0; n < BELLS_PER_PASS &&
                read(bell_fd, &b, sizeof(b)) == (ssize_t)sizeof(b);
         n++) {
        if (b.magic != FCGIX_BELL_MAGIC ||
            memchr(b.path, '\0', sizeof(b.path)) == NULL ||
            b.type < FCGIX_BELL_SPAWN || b.type > FCGIX_BELL_CHANGED) {
            bell_malformed(now); /* not ours, or torn: ignore */
            continue;
        }
        /* A draining class is on its way out (removed, or replaced by an
         * update): the bells are about an active one, or ask for one. */
        idx = find_class(b.path, b.uid, b.gid);
        if (idx >= 0 && C[idx].state != FCGIX_CLASS_ACTIVE) {
            idx = -1;
        }
        switch (b.type) {
        case FCGIX_BELL_SPAWN:
            if (idx < 0) {
                bell_spawn(&b, now);
            }
            break;
        case FCGIX_BELL_OVERLOADED:
            if (idx >= 0) {
                bell_more(idx, now);
            }
            break;
        case FCGIX_BELL_CHANGED:
            if (idx >= 0) {
                bell_changed(idx, now);
            }
            break;
        default:
            break;
        }
    }
}

/* -------------------------------------------------------------- timer */

static void dynamic_policy(apr_time_t now)
{
    int update = now >= next_update, kill_tick = now >= next_kill, i;
    unsigned total = (unsigned)total_dynamic();

    if (update) {
        next_update = now + apr_time_from_sec(cur->dyn.update_interval);
    }
    if (kill_tick) {
        next_kill = now + apr_time_from_sec(cur->dyn.kill_interval);
    }
    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &C[i];
        double load;
        if (c->state != FCGIX_CLASS_ACTIVE || c->kind != FCGIX_KIND_DYNAMIC) {
            continue;
        }
        if (update) {
            apr_uint32_t busy = apr_atomic_read32(&sb->classes[i].busy_ms);
            cls[i].smooth_busy = fcgix_policy_smooth(
                cls[i].smooth_busy, (double)(busy - cls[i].last_busy),
                cur->dyn.policy.gain);
            cls[i].last_busy = busy;
        }
        load = fcgix_policy_load(cls[i].smooth_busy, c->procs_running,
                                 (int)cur->dyn.update_interval);
        c->load_milli = (apr_uint32_t)(load * 1000.0);
        /* Only a class with no request in flight loses a process: a
         * process cannot be told to finish first (SIGTERM ends a libfcgi
         * app at once), and retiring a class closes its queue. */
        if (fcgix_policy_kill_due(&cur->dyn.policy, total, kill_tick) &&
            fcgix_policy_should_kill(&cur->dyn.policy, load, c->procs_running,
                                     total) &&
            !in_flight(i) &&
            (c->procs_running > 1 || queue_empty_name_gone(i))) {
            cls[i].want = c->procs_running - 1;
            c->procs_target = cls[i].want;
            class_stop_procs(i, cls[i].want);
            if (cls[i].want == 0) {
                class_retire(i);
            }
            total--;
        }
    }
}

/* Recreates a class's socket that someone deleted, or replaced by
 * something that is no socket (a link: handlers would connect nowhere);
 * its processes hold the old one, so they are replaced. */
static void check_sockets(void)
{
    struct stat st;
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (C[i].state != FCGIX_CLASS_ACTIVE || cls[i].listen_fd < 0 ||
            !cls[i].sockpath[0]) {
            continue;
        }
        if (lstat(cls[i].sockpath, &st) == 0 ? S_ISSOCK(st.st_mode)
                                             : errno != ENOENT) {
            continue;
        }
        pmlog("FCGIX0438: %s: socket %s disappeared (or is no socket now); "
              "recreating it",
              C[i].path, cls[i].sockpath);
        if (class_listen(
                i, (int)(cls[i].def ? cls[i].def->lqd : cur->dyn.lqd)) == 0) {
            class_stop_procs(i, 0);
            cls[i].next_start = fcgix_clock();
        }
    }
}

static void drain(apr_time_t now)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &C[i];
        if (c->state != FCGIX_CLASS_DRAINING) {
            continue;
        }
        if ((!in_flight(i) && !queue_pending(i)) ||
            now > cls[i].drain_deadline) {
            class_stop_procs(i, 0);
        }
        if (c->procs_running == 0) {
            class_retire(i);
        }
    }
}

static void tick(apr_time_t now)
{
    sb->pm_heartbeat = (apr_uint32_t)apr_time_sec(now);
    fcgix_pm_out_tick(now);
    bell_log_tick(now);
    if (getppid() != (pid_t)parent) {
        stopping = 1; /* the httpd parent is gone */
        return;
    }
    if (cur == NULL) {
        return;
    }
    settle_verdicts(now);
    drain(now);
    dynamic_policy(now);
    check_sockets();
    start_due(now);
}

/* ----------------------------------------------------------- lifecycle */

static int any_running(void)
{
    int p;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        if (P[p].state != FCGIX_PROC_FREE) {
            return 1;
        }
    }
    return 0;
}

/* SIGTERM to every application, SIGKILL to what is left after the grace
 * period, reap them all, remove our sockets, exit. */
static void shutdown_all(void)
{
    apr_time_t deadline = fcgix_clock() + apr_time_from_msec(STOP_GRACE_MS);
    int p, i;

    stopping = 1;
    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        proc_stop(p);
    }
    while (any_running() && fcgix_clock() < deadline) {
        reap();
        fcgix_pm_out_pump(10); /* an app that logs as it stops goes on */
    }
    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        if (P[p].state != FCGIX_PROC_FREE && P[p].pid > 0) {
            kill((pid_t)P[p].pid, SIGKILL);
        }
    }
    while (any_running() && waitpid(-1, NULL, 0) > 0) {
        reap();
    }
    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (C[i].state != FCGIX_CLASS_FREE && cls[i].sockpath[0]) {
            unlink(cls[i].sockpath);
        }
        C[i].state = FCGIX_CLASS_FREE;
    }
    publish();
    sb->pm_heartbeat = 0;
    fcgix_pm_out_close_all();
    _exit(0); /* never run httpd's atexit handlers or pool cleanups here */
}

/* The processes of session `sid`, from /proc (not from the scoreboard,
 * which children can write): a dead PM's applications live in its session
 * and nothing else can join it. Sends sig to each; returns how many. */
static int signal_session(pid_t sid, int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        pid_t pid = *end == '\0' && v > 0 ? (pid_t)v : 0;
        if (pid > 1 && pid != getpid() && getsid(pid) == sid) {
            kill(pid, sig);
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* A PM that died left its applications behind: stop them (SIGTERM, then
 * SIGKILL after the grace period) before starting anew. */
static void clean_previous(pid_t old_sid)
{
    apr_time_t deadline = fcgix_clock() + apr_time_from_msec(STOP_GRACE_MS);

    if (old_sid <= 1) {
        return;
    }
    while (signal_session(old_sid, SIGTERM) > 0) {
        if (fcgix_clock() > deadline) {
            signal_session(old_sid, SIGKILL);
            break;
        }
        apr_sleep(apr_time_from_msec(20));
    }
}

/* A PM kept root for a wrapper does every file-system operation with
 * User's file-system identity (and groups): everything it touches (the
 * IPC dir, socket directories, the files of dynamic applications) is
 * User's to change, so a link put there leads only where User could go
 * anyway. For good, not around each call: a change of the file-system ids
 * clears the parent-death signal. Root stays for what needs it: signalling
 * applications that run as other users, and giving a child its identity
 * before it execs the wrapper. */
static int take_fs_identity(const fcgix_defs_t *d)
{
    if (initgroups(d->user_name, (gid_t)d->gid) != 0) {
        return -1;
    }
    setfsgid((gid_t)d->gid);
    setfsuid((uid_t)d->uid);
    /* an invalid id changes nothing and returns the current one */
    if (setfsgid((gid_t)-1) != (int)d->gid ||
        setfsuid((uid_t)-1) != (int)d->uid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

/* The first definitions decide the PM's identity: it keeps root only to
 * run a wrapper (which needs it to signal applications of other users). */
static int become(const fcgix_defs_t *d)
{
    char err[256];
    int replaced;

    privileged = d->wrapper != NULL && geteuid() == 0;
    if (geteuid() == 0 && !privileged &&
        (initgroups(d->user_name, (gid_t)d->gid) != 0 ||
         setgid((gid_t)d->gid) != 0 || setuid((uid_t)d->uid) != 0)) {
        pmlog("FCGIX0439: cannot switch to uid %u: %s", d->uid,
              strerror(errno));
        return -1;
    }
    if (privileged && take_fs_identity(d) != 0) {
        pmlog("FCGIX0443: cannot take uid %u's file-system identity: %s",
              d->uid, strerror(errno));
        return -1;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* after the identity change */
    if (getppid() != (pid_t)parent) {
        return -1;
    }
    if (fcgix_pm_ipc_prepare(d->ipc_dir, privileged ? (uid_t)d->uid : geteuid(),
                             &replaced, err, sizeof(err)) != 0) {
        pmlog("FCGIX0440: %s", err);
    }
    if (replaced) {
        pmlog("FCGIX0442: %s/dynamic was not a directory (a symbolic link or "
              "a file, which nothing here follows); replaced it with one",
              d->ipc_dir);
    }
    return 0;
}

static void setup_fds(int ctl, int bell)
{
    int fd;
    long max = sysconf(_SC_OPEN_MAX);

    /* Everything else the parent held (listeners, logs but stderr) goes. */
    for (fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++) {
        if (fd != ctl && fd != bell) {
            close(fd);
        }
    }
    ctl_fd = ctl;
    bell_fd = bell;
}

static void on_signals(void)
{
    struct signalfd_siginfo si;

    while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            reap();
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            stopping = 1;
        }
    }
}

/* One pass of the PM's loop: wait for the control channel, the doorbell
 * (once there are definitions), signals, the applications' output or the
 * timer; handle a bounded amount of each; run the timer work. */
static void loop_pass(void)
{
    static struct pollfd pfd[3 + FCGIX_OUT_PIPES];
    int nout, n;

    pfd[0] = (struct pollfd){sig_fd, POLLIN, 0};
    pfd[1] = (struct pollfd){ctl_fd, POLLIN, 0};
    pfd[2] = (struct pollfd){cur ? bell_fd : -1, POLLIN, 0};
    nout = fcgix_pm_out_poll(pfd + 3, FCGIX_OUT_PIPES);
    n = poll(pfd, (nfds_t)nout + 3,
             verdicts_pending ? VERDICT_POLL_MS : TICK_MS);
    if (n > 0 && nout > 0) {
        fcgix_pm_out_read(pfd + 3, nout);
    }
    if (n > 0 && pfd[0].revents) {
        on_signals();
    }
    if (n > 0 && pfd[1].revents && read_defs() < 0) {
        stopping = 1;
    }
    if (n > 0 && cur && pfd[2].revents) {
        read_bells();
    }
    tick(fcgix_clock());
    publish();
}

void fcgix_pm_main(int ctl, int bell, fcgix_sb_t *sbp, apr_uint32_t ppid,
                   apr_uint32_t old_pm, server_rec *s)
{
    sigset_t mask;

    setup_fds(ctl, bell);
    fcgix_pm_out_init();
    setsid(); /* httpd's process-group signals are not for the apps */
    prctl(PR_SET_NAME, "fcgix-pm");
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGWINCH);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    apr_pool_create(&pm_pool, NULL);
    sb = sbp;
    parent = ppid;
    clean_previous((pid_t)old_pm);
    memset(C, 0, sizeof(C));
    memset(P, 0, sizeof(P));
    publish();
    sb->pm_sid = (apr_uint32_t)getpid();
    sb->pm_started = now_sec();
    sb->pm_heartbeat = (apr_uint32_t)apr_time_sec(fcgix_clock());
    while (!stopping) {
        loop_pass();
    }
    shutdown_all();
}
