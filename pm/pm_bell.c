/*
 * pm/pm_bell.c - the doorbell (messages from handlers) and what it drives:
 * dynamic applications started, given more processes, replaced when their
 * file changes; their policy on the timer; the rate-limited log of refused
 * requests. Every message is checked before use: handlers are not trusted
 * with the PM's privileges.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pm/pm_state.h"

#include "apr_strings.h"

/* Every httpd child holds the doorbell's write end and may run hostile
 * code: it can send messages as fast as the PM reads them. Per loop pass
 * the PM handles this many, so the timer work and the heartbeat (whose
 * staleness makes handlers answer 503) run on time whatever comes in. */
#define BELLS_PER_PASS 64
/* Refused requests are logged BELL_LOG_MAX times per BELL_LOG_S, then
 * counted in one line: a flood of them cannot fill the error log. */
#define BELL_LOG_MAX 5
#define BELL_LOG_S 10

/* One doorbell message is written in one write() and read in one read():
 * atomic only up to PIPE_BUF bytes. */
_Static_assert(sizeof(fcgix_bell_t) <= PIPE_BUF,
               "a doorbell message must be written atomically");

/* A dynamic application may run when it is an executable regular file
 * and, without a wrapper, has the server's identity (the PM could not
 * give it another). */
static int dynamic_allowed(const pm_t *pm, const fcgix_bell_t *b,
                           struct stat *st)
{
    if (b->path[0] != '/' || strstr(b->path, "/../") != NULL ||
        stat(b->path, st) != 0 || !S_ISREG(st->st_mode) ||
        !(st->st_mode & S_IXUSR)) {
        return 0;
    }
    if (pm->cur->wrapper) {
        return b->uid != 0 && b->gid != 0;
    }
    return b->uid == pm->cur->uid && b->gid == pm->cur->gid;
}

/* A dynamic class for path and identity, with its socket and its first
 * process. Returns its slot, or -1. */
static int dynamic_start(pm_t *pm, const char *path, apr_uint32_t uid,
                         apr_uint32_t gid, time_t mtime, apr_time_t now)
{
    fcgix_sockpath_t sock;
    int idx;

    if (!fcgix_pm_socket_name(sock, sizeof(sock), pm->cur->ipc_dir, path, uid,
                              gid)) {
        fcgix_pm_log("FCGIX0444: %s: no dynamic socket under %s: the name "
                     "is too long for a Unix socket",
                     path, pm->cur->ipc_dir);
        return -1;
    }
    fcgix_pm_disown_socket(pm, sock);
    idx = fcgix_pm_class_new(pm, FCGIX_APP_DYNAMIC, path, uid, gid, sock);
    if (idx < 0) {
        return -1;
    }
    apr_cpystrn(pm->class[idx].sockpath, sock, sizeof(pm->class[idx].sockpath));
    pm->pub_class[idx].bin_mtime = (apr_uint32_t)mtime;
    pm->class[idx].want = 1;
    pm->pub_class[idx].procs_target = 1;
    if (fcgix_pm_class_listen(pm, idx, (int)pm->cur->dyn.listen_queue_depth) !=
        0) {
        fcgix_pm_class_retire(pm, idx);
        return -1;
    }
    /* now: the first request waits only for the app */
    fcgix_pm_spawn_one(pm, idx);
    pm->class[idx].next_start =
        now + apr_time_from_sec(pm->cur->dyn.init_start_delay);
    return idx;
}

static void bell_log_begin(pm_t *pm, apr_time_t now)
{
    if (pm->bell_log.until == 0) {
        pm->bell_log.until = now + apr_time_from_sec(BELL_LOG_S);
    }
}

/* Whether a refused doorbell request may be logged now (see BELL_LOG_MAX);
 * else it is counted for fcgix_pm_bell_log_tick. */
static int bell_log_ok(pm_t *pm, apr_time_t now)
{
    bell_log_begin(pm, now);
    if (pm->bell_log.logged < BELL_LOG_MAX) {
        pm->bell_log.logged++;
        return 1;
    }
    pm->bell_log.quiet++;
    return 0;
}

/* Ends a logging interval that is over, with one line for what it did not
 * log. */
void fcgix_pm_bell_log_tick(pm_t *pm, apr_time_t now)
{
    if (pm->bell_log.until == 0 || now < pm->bell_log.until) {
        return;
    }
    if (pm->bell_log.quiet || pm->bell_log.malformed) {
        fcgix_pm_log("FCGIX0450: doorbell: %lu more refused requests not "
                     "logged and %lu malformed messages ignored in the last "
                     "%d s",
                     pm->bell_log.quiet, pm->bell_log.malformed, BELL_LOG_S);
    }
    memset(&pm->bell_log, 0, sizeof(pm->bell_log));
}

/* A request for a dynamic app that has no active class. */
static void bell_spawn(pm_t *pm, const fcgix_bell_t *b, apr_time_t now)
{
    struct stat st;

    if (!dynamic_allowed(pm, b, &st)) {
        if (bell_log_ok(pm, now)) {
            fcgix_pm_log("FCGIX0435: refused to start %s as a dynamic "
                         "application (not an executable file, or an "
                         "identity the PM cannot give)",
                         b->path);
        }
        return;
    }
    if (fcgix_pm_total_dynamic(pm) >= pm->cur->dyn.policy.max_total) {
        if (bell_log_ok(pm, now)) {
            fcgix_pm_log("FCGIX0436: %s: not started, -maxProcesses %d "
                         "reached",
                         b->path, pm->cur->dyn.policy.max_total);
        }
        return;
    }
    dynamic_start(pm, b->path, b->uid, b->gid, st.st_mtime, now);
}

/* A request waited past -startDelay: one more process, if the policy
 * allows it. */
static void bell_more(pm_t *pm, int idx, apr_time_t now)
{
    fcgix_sb_class_t *c = &pm->pub_class[idx];
    pm_class_t *k = &pm->class[idx];

    if (c->kind != FCGIX_APP_DYNAMIC || k->want > c->procs_running ||
        !fcgix_policy_may_spawn(&pm->cur->dyn.policy, c->procs_running,
                                (unsigned)fcgix_pm_total_dynamic(pm))) {
        return;
    }
    k->want = c->procs_running + 1;
    c->procs_target = k->want;
    if (k->next_start > now + apr_time_from_sec(1)) {
        return; /* backing off */
    }
    k->next_start = now;
}

static void replace_dynamic(pm_t *pm, int idx, time_t mtime, apr_time_t now);

/* -autoUpdate: the file's time is not the running processes'. They finish
 * the requests they have on their socket, as a changed static app's do
 * (fcgix_pm_drain_tick), while a new class, with a process of the new
 * file, binds the socket name for the requests that follow. */
static void bell_changed(pm_t *pm, int idx, apr_time_t now)
{
    fcgix_sb_class_t *c = &pm->pub_class[idx];
    struct stat st;

    if (c->kind != FCGIX_APP_DYNAMIC || !pm->cur->dyn.auto_update ||
        stat(c->path, &st) != 0 || (apr_uint32_t)st.st_mtime == c->bin_mtime) {
        return;
    }
    fcgix_pm_logl(APLOG_NOTICE,
                  "FCGIX0437: %s changed on disk; replacing its processes",
                  c->path);
    replace_dynamic(pm, idx, st.st_mtime, now);
}

/* Replaces a dynamic class's processes by processes of the file as it is
 * now (mtime): they finish what they have, a successor takes the rest. */
static void replace_dynamic(pm_t *pm, int idx, time_t mtime, apr_time_t now)
{
    fcgix_sb_class_t *c = &pm->pub_class[idx];

    if (c->procs_running == 0) {
        /* nothing runs the old file: the next process is of the new one,
         * and requests waiting in the queue stay there for it */
        c->bin_mtime = (apr_uint32_t)mtime;
        pm->class[idx].failures = 0;
        c->fail_streak = 0;
        pm->class[idx].next_start = now;
        return;
    }
    /* the successor takes another slot: this one's identity stays */
    fcgix_pm_class_drain(pm, idx, now);
    if (dynamic_start(pm, c->path, c->uid, c->gid, mtime, now) < 0) {
        fcgix_pm_class_stop_procs(pm, idx, 0); /* no successor: stop them */
    }
}

void fcgix_pm_recycle_dynamic(pm_t *pm, apr_time_t now)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        const fcgix_sb_class_t *c = &pm->pub_class[i];
        struct stat st;
        if (c->state == FCGIX_CLASS_ACTIVE && c->kind == FCGIX_APP_DYNAMIC &&
            c->procs_running > 0) {
            replace_dynamic(pm, i,
                            stat(c->path, &st) == 0 ? st.st_mtime
                                                    : (time_t)c->bin_mtime,
                            now);
        }
    }
}

/* Which active class a well-formed message is about (-1: none); a
 * draining class is on its way out (removed, or replaced by an update):
 * the bells are about an active one, or ask for one. */
static int bell_class(const pm_t *pm, const fcgix_bell_t *b)
{
    int idx = fcgix_pm_find_class(pm, b->path, b->uid, b->gid);

    return idx >= 0 && pm->pub_class[idx].state == FCGIX_CLASS_ACTIVE ? idx
                                                                      : -1;
}

/* Handles what the doorbell holds, BELLS_PER_PASS messages at most: the
 * rest waits for the next pass. */
void fcgix_pm_read_bells(pm_t *pm)
{
    fcgix_bell_t b;
    apr_time_t now = fcgix_clock();
    int idx, n;

    for (n = 0; n < BELLS_PER_PASS &&
                read(pm->bell_fd, &b, sizeof(b)) == (ssize_t)sizeof(b);
         n++) {
        if (b.magic != FCGIX_BELL_MAGIC ||
            memchr(b.path, '\0', sizeof(b.path)) == NULL ||
            b.type < FCGIX_BELL_SPAWN || b.type > FCGIX_BELL_CHANGED) {
            bell_log_begin(pm, now); /* not ours, or torn: ignore */
            pm->bell_log.malformed++;
            continue;
        }
        idx = bell_class(pm, &b);
        if (b.type == FCGIX_BELL_SPAWN && idx < 0) {
            bell_spawn(pm, &b, now);
        } else if (b.type == FCGIX_BELL_OVERLOADED && idx >= 0) {
            bell_more(pm, idx, now);
        } else if (b.type == FCGIX_BELL_CHANGED && idx >= 0) {
            bell_changed(pm, idx, now);
        }
    }
}

/* -updateInterval and -killInterval: the load factor of each dynamic
 * class, and a process fewer where the policy says so. */
static void policy_class(pm_t *pm, int i, int update, int kill_tick,
                         unsigned *total)
{
    fcgix_sb_class_t *c = &pm->pub_class[i];
    pm_class_t *k = &pm->class[i];
    const fcgix_def_dyn_t *dyn = &pm->cur->dyn;
    double load;

    if (update) {
        apr_uint32_t busy = apr_atomic_read32(&pm->sb->classes[i].busy_ms);
        k->smooth_busy = fcgix_policy_smooth(
            k->smooth_busy, (double)(busy - k->last_busy), dyn->policy.gain);
        k->last_busy = busy;
    }
    load = fcgix_policy_load(k->smooth_busy, c->procs_running,
                             (int)dyn->update_interval);
    c->load_milli = (apr_uint32_t)(load * 1000.0);
    /* Only a class with no request in flight loses a process: a process
     * cannot be told to finish first (SIGTERM ends a libfcgi app at once),
     * and retiring a class closes its queue. */
    if (fcgix_policy_kill_due(&dyn->policy, *total, kill_tick) &&
        fcgix_policy_should_kill(&dyn->policy, load, c->procs_running,
                                 *total) &&
        !fcgix_pm_in_flight(pm, i) &&
        (c->procs_running > 1 || fcgix_pm_unname_if_queue_empty(pm, i))) {
        k->want = c->procs_running - 1;
        c->procs_target = k->want;
        fcgix_pm_class_stop_procs(pm, i, k->want);
        if (k->want == 0) {
            fcgix_pm_class_retire(pm, i);
        }
        (*total)--;
    }
}

void fcgix_pm_dynamic_policy(pm_t *pm, apr_time_t now)
{
    int update = now >= pm->next_update, kill_tick = now >= pm->next_kill, i;
    unsigned total = (unsigned)fcgix_pm_total_dynamic(pm);

    if (update) {
        pm->next_update = now + apr_time_from_sec(pm->cur->dyn.update_interval);
    }
    if (kill_tick) {
        pm->next_kill = now + apr_time_from_sec(pm->cur->dyn.kill_interval);
    }
    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (pm->pub_class[i].state == FCGIX_CLASS_ACTIVE &&
            pm->pub_class[i].kind == FCGIX_APP_DYNAMIC) {
            policy_class(pm, i, update, kill_tick, &total);
        }
    }
}
