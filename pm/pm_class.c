/*
 * pm/pm_class.c - the PM's class table: a class made, given its listen
 * socket, its processes stopped, drained, retired, and published to the
 * scoreboard. Class i is scoreboard class slot i; the PM is the only
 * writer of every slot field not marked "handlers".
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pm/pm_spawn.h"
#include "pm/pm_state.h"

#include "apr_strings.h"

static void publish_class(pm_t *pm, int i);

#define DRAIN_MAX_S 30 /* a removed class gets this long to finish */

apr_uint32_t fcgix_pm_now_sec(void)
{
    return (apr_uint32_t)apr_time_sec(apr_time_now());
}

int fcgix_pm_total_dynamic(const pm_t *pm)
{
    int i, n = 0;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        const fcgix_sb_class_t *c = &pm->pub_class[i];
        if (c->state == FCGIX_CLASS_ACTIVE && c->kind == FCGIX_APP_DYNAMIC) {
            n += (int)c->procs_running;
        }
    }
    return n;
}

/* The same probe sequence handlers use (fcgix_sb_class_find), over the
 * PM's private copy: an active class before a draining one. */
int fcgix_pm_find_class(const pm_t *pm, const char *path, apr_uint32_t uid,
                        apr_uint32_t gid)
{
    return fcgix_sb_class_probe(pm->pub_class, path, uid, gid);
}

/* Zeroes the handlers' counters of a slot that gets another application. */
static void reset_counters(pm_t *pm, int idx)
{
    fcgix_sb_class_t *o = &pm->sb->classes[idx];

    apr_atomic_set32(&o->inflight, 0);
    apr_atomic_set32(&o->requests, 0);
    apr_atomic_set32(&o->failures, 0);
    apr_atomic_set32(&o->busy_ms, 0);
    apr_atomic_set32(&o->completed, 0);
    apr_atomic_set32(&o->idle_kept, 0);
    apr_atomic_set32(&o->reuses, 0);
    fcgix_sb_metrics_reset(pm->sb, idx, pm->pub_class[idx].gen);
}

int fcgix_pm_class_new(pm_t *pm, apr_uint32_t kind, const char *path,
                       apr_uint32_t uid, apr_uint32_t gid, const char *addr)
{
    int idx = fcgix_sb_class_place(pm->pub_class, path, uid, gid), same;
    fcgix_sb_class_t *c;
    apr_uint32_t run;

    if (idx < 0) {
        fcgix_pm_logl(APLOG_ERR,
                      "FCGIX0430: no free class slot for %s (limit %d)", path,
                      FCGIX_SB_CLASSES);
        return -1;
    }
    c = &pm->pub_class[idx];
    /* The same application again in the slot it just left (a dynamic app
     * retired and requested anew): handlers that took their counts before
     * may still release them, so the counts and the generation they check
     * carry on. Another application gets a new generation and zeroes. */
    same = c->state == FCGIX_CLASS_GONE && c->uid == uid && c->gid == gid &&
           strcmp(c->path, path) == 0;
    run = pm->class[idx].run + 1;
    memset(&pm->class[idx], 0, sizeof(pm->class[idx]));
    pm->class[idx].listen_fd = -1;
    pm->class[idx].run = run;
    c->kind = kind;
    c->uid = uid;
    c->gid = gid;
    c->procs_target = c->procs_running = c->restarts = 0;
    c->backoff_until = c->load_milli = 0;
    c->fail_streak = c->spawn_failures = 0;
    c->last_error[0] = '\0';
    c->started = fcgix_pm_now_sec();
    if (!same) {
        c->gen++;
        reset_counters(pm, idx);
    } else {
        /* connections the children keep are to the processes that were
         * there before: closed, not used (mod_fcgix_keep.c) */
        apr_atomic_inc32(&pm->sb->classes[idx].release_gen);
    }
    /* the load factor's first sample starts from here, not from zero */
    pm->class[idx].last_busy = apr_atomic_read32(&pm->sb->classes[idx].busy_ms);
    apr_cpystrn(c->path, path, sizeof(c->path));
    apr_cpystrn(c->addr, addr, sizeof(c->addr));
    c->state = FCGIX_CLASS_ACTIVE;
    /* Visible before its socket exists: a handler that connects as soon as
     * the socket appears must find the class to count its request on. */
    publish_class(pm, idx);
    return idx;
}

static void class_listen_close(pm_t *pm, int idx)
{
    if (pm->class[idx].listen_fd >= 0) {
        close(pm->class[idx].listen_fd);
        pm->class[idx].listen_fd = -1;
    }
}

int fcgix_pm_class_listen(pm_t *pm, int idx, int backlog)
{
    char err[256];
    pm_class_t *k = &pm->class[idx];

    class_listen_close(pm, idx);
    k->listen_fd = fcgix_pm_listen(k->sockpath, k->port, backlog, k->sockaddr,
                                   sizeof(k->sockaddr), err, sizeof(err));
    if (k->listen_fd < 0) {
        fcgix_pm_logl(APLOG_ERR,
                      "FCGIX0431: %s: cannot create its listen socket: %s",
                      pm->pub_class[idx].path, err);
        return -1;
    }
    return 0;
}

/* Stops one process (SIGTERM; the reaper sees it go). */
void fcgix_pm_proc_stop(pm_t *pm, int p)
{
    fcgix_sb_proc_t *sp = &pm->pub_proc[p];

    if (sp->state == FCGIX_PROC_RUNNING && sp->pid > 0) {
        kill((pid_t)sp->pid, SIGTERM);
        sp->state = FCGIX_PROC_STOPPING;
        pm->proc[p].killed = 1;
        pm->proc[p].kill_at =
            fcgix_clock() + apr_time_from_msec(FCGIX_PM_STOP_GRACE_MS);
    }
}

/* SIGKILL for each process still there FCGIX_PM_STOP_GRACE_MS after its
 * SIGTERM (once; the reaper sees it go). The pid is our child's, not yet
 * reaped, so it names no other process. */
void fcgix_pm_kill_stuck(pm_t *pm, apr_time_t now)
{
    int p;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        fcgix_sb_proc_t *sp = &pm->pub_proc[p];
        pm_proc_t *x = &pm->proc[p];
        if (sp->state != FCGIX_PROC_STOPPING || sp->pid == 0 ||
            x->kill_at == 0 || now < x->kill_at) {
            continue;
        }
        x->kill_at = 0;
        /* its class's slot may hold another application by now */
        fcgix_pm_log("FCGIX0413: %s (pid %ld) did not stop within %d ms of "
                     "SIGTERM; sending SIGKILL",
                     x->class_run == pm->class[sp->class_idx].run
                         ? pm->pub_class[sp->class_idx].path
                         : "a process of a retired application",
                     (long)sp->pid, FCGIX_PM_STOP_GRACE_MS);
        kill((pid_t)sp->pid, SIGKILL);
    }
}

/* Stops the processes of class idx but keep of them. */
void fcgix_pm_class_stop_procs(pm_t *pm, int idx, unsigned keep)
{
    int p;
    unsigned n = 0;

    for (p = FCGIX_SB_PROCS - 1; p >= 0; p--) {
        if (pm->pub_proc[p].state == FCGIX_PROC_RUNNING &&
            pm->pub_proc[p].class_idx == (apr_uint32_t)idx) {
            if (n++ >= keep) {
                fcgix_pm_proc_stop(pm, p);
            }
        }
    }
}

/* Whether a connection waits in a class's queue, not yet accepted: one a
 * handler made just before the class began to drain, perhaps counted on
 * its successor. */
int fcgix_pm_queue_pending(const pm_t *pm, int idx)
{
    struct pollfd pfd;

    pfd.fd = pm->class[idx].listen_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return pfd.fd >= 0 && poll(&pfd, 1, 0) > 0;
}

/* Takes a class's socket name away if nothing waits in its queue, checking
 * with the name moved aside so that no connection can join between the
 * check and the close (a queued one would be reset). 1: nothing waits and
 * the name is gone, retire the class now; 0: a connection waits, the name
 * is back. */
int fcgix_pm_unname_if_queue_empty(pm_t *pm, int idx)
{
    pm_class_t *k = &pm->class[idx];
    char aside[sizeof(k->sockpath) + 16];
    int moved;

    if (k->listen_fd < 0) {
        return 1;
    }
    snprintf(aside, sizeof(aside), "%s-gone.sock", k->sockpath);
    moved = k->sockpath[0] && rename(k->sockpath, aside) == 0;
    if (fcgix_pm_queue_pending(pm, idx)) {
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

void fcgix_pm_class_retire(pm_t *pm, int idx)
{
    class_listen_close(pm, idx);
    if (pm->class[idx].sockpath[0]) {
        unlink(pm->class[idx].sockpath);
    }
    pm->pub_class[idx].state = FCGIX_CLASS_GONE;
}

/* A class stops taking requests: those it has finish (DRAIN_MAX_S at
 * most), then its processes stop (fcgix_pm_drain_tick). */
void fcgix_pm_class_drain(pm_t *pm, int idx, apr_time_t now)
{
    pm->class[idx].def = NULL;
    pm->class[idx].draining = 1;
    pm->class[idx].drain_deadline = now + apr_time_from_sec(DRAIN_MAX_S);
    pm->pub_class[idx].state = FCGIX_CLASS_DRAINING;
}

/* A draining class whose socket file a new class takes over must not
 * remove it when it ends (its processes keep the old, unnamed socket). */
void fcgix_pm_disown_socket(pm_t *pm, const char *sockpath)
{
    int i;

    for (i = 0; sockpath[0] && i < FCGIX_SB_CLASSES; i++) {
        if (pm->pub_class[i].state == FCGIX_CLASS_DRAINING &&
            strcmp(pm->class[i].sockpath, sockpath) == 0) {
            pm->class[i].sockpath[0] = '\0';
        }
    }
}

/* -listen-queue-depth of a class: its definition's, or the dynamic
 * template's. */
static int class_backlog(const pm_t *pm, int idx)
{
    const fcgix_def_app_t *def = pm->class[idx].def;

    return (int)(def ? def->listen_queue_depth
                     : pm->cur->dyn.listen_queue_depth);
}

/* Recreates a class's socket that someone deleted, or replaced by
 * something that is no socket (a link: handlers would connect nowhere);
 * its processes hold the old one, so they are replaced. */
void fcgix_pm_check_sockets(pm_t *pm)
{
    struct stat st;
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        pm_class_t *k = &pm->class[i];
        if (pm->pub_class[i].state != FCGIX_CLASS_ACTIVE || k->listen_fd < 0 ||
            !k->sockpath[0]) {
            continue;
        }
        if (lstat(k->sockpath, &st) == 0 ? S_ISSOCK(st.st_mode)
                                         : errno != ENOENT) {
            continue;
        }
        fcgix_pm_log("FCGIX0438: %s: socket %s disappeared (or is no socket "
                     "now); recreating it",
                     pm->pub_class[i].path, k->sockpath);
        if (fcgix_pm_class_listen(pm, i, class_backlog(pm, i)) == 0) {
            fcgix_pm_class_stop_procs(pm, i, 0);
            k->next_start = fcgix_clock();
        }
    }
}

/* Copies one class's fields to the scoreboard. A slot being (re)filled
 * gets its state last, one being emptied first, so a handler that copies a
 * slot while this runs sees either the old or the new class, never a mix
 * that passes fcgix_sb_class_copy's checks with the wrong identity. */
static void publish_class(pm_t *pm, int i)
{
    fcgix_sb_class_t *o = &pm->sb->classes[i];
    const fcgix_sb_class_t *n = &pm->pub_class[i];
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
    o->fail_streak = n->fail_streak;
    o->spawn_failures = n->spawn_failures;
    memcpy(o->path, n->path, sizeof(o->path));
    memcpy(o->addr, n->addr, sizeof(o->addr));
    memcpy(o->last_error, n->last_error, sizeof(o->last_error));
    if (live) {
        apr_atomic_set32(&o->state, n->state);
    }
}

/* Copies the PM's fields to the scoreboard (see publish_class). */
void fcgix_pm_publish(pm_t *pm)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        publish_class(pm, i);
    }
    for (i = 0; i < FCGIX_SB_PROCS; i++) {
        fcgix_sb_proc_t *o = &pm->sb->procs[i];
        o->class_idx = pm->pub_proc[i].class_idx;
        o->pid = pm->pub_proc[i].pid;
        o->started = pm->pub_proc[i].started;
        apr_atomic_set32(&o->state, pm->pub_proc[i].state);
    }
}

/* The backend set of an external class (pm_int.h). */
void fcgix_pm_bset_write(fcgix_sb_t *sb, int idx, apr_uint32_t gen,
                         const fcgix_addr_t *addrs, const apr_uint32_t *weights,
                         int n, int fresh)
{
    fcgix_sb_bset_t *s = &sb->bsets[idx];
    int i;

    apr_atomic_inc32(&s->seq); /* odd: changing */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (fresh) {
        /* another application's set: nothing of the last one carries on */
        for (i = 0; i < FCGIX_SB_BACKENDS; i++) {
            memset(&s->b[i], 0, sizeof(s->b[i]));
        }
    }
    for (i = 0; i < n && i < FCGIX_SB_BACKENDS; i++) {
        fcgix_sb_backend_t *b = &s->b[i];
        if (b->addr_len != addrs[i].len ||
            memcmp(b->addr, addrs[i].sa, addrs[i].len) != 0) {
            /* another address in this place: its state is not this one's */
            apr_atomic_set32(&b->down_until, 0);
            apr_atomic_set32(&b->probe, FCGIX_PROBE_NONE);
        }
        memcpy(b->addr, addrs[i].sa, addrs[i].len);
        b->addr_len = addrs[i].len;
        b->weight = weights[i];
    }
    apr_atomic_set32(&s->count, (apr_uint32_t)i);
    apr_atomic_set32(&s->gen, gen);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    apr_atomic_inc32(&s->seq); /* even: done */
}
