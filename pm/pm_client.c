/*
 * pm/pm_client.c - the process manager as the handlers see it.
 *
 * Runs in the httpd children (which may run hostile code, so nothing here
 * trusts what it reads from shared memory) and reads the parent's state
 * they inherited. Handlers write only their own counters, with atomics,
 * and only through a class handle that checks, before every write, that
 * the slot still holds the class it was looked up as.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "pm/pm_int.h"

#include "http_log.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

/* pm.h's sizes are the scoreboard's: the glue checks paths against them. */
_Static_assert(FCGIX_PM_PATH_MAX == FCGIX_SB_PATH, "path size");
_Static_assert(FCGIX_PM_ADDR_MAX == FCGIX_SB_ADDR, "address size");
_Static_assert(sizeof(((fcgix_pm_class_info_t *)0)->last_error) == FCGIX_SB_ERR,
               "error size");

static int spool_idx = -1; /* child: its entry in sb->spool */

fcgix_sb_t *fcgix_pm_sb(void)
{
    fcgix_pm_state_t *state = fcgix_pm_parent_state();

    return state ? state->sb : NULL;
}

void fcgix_pm_child_init(apr_pool_t *pchild, server_rec *s)
{
    fcgix_pm_state_t *state = fcgix_pm_parent_state();

    if (state == NULL) {
        return;
    }
    /* One-process mode (apache2 -X): this "child" is the parent itself,
     * which goes on talking to the PM and keeps the doorbell for the next
     * one; closing them here would end the PM at once. (Where the PM would
     * keep root, for FastCgiWrapper, none was started: FCGIX0409.) */
    if (getpid() != state->parent_pid) {
        if (state->ctl >= 0) {
            close(state->ctl); /* only the parent talks to the PM */
            state->ctl = -1;
        }
        /* Only the PM reads the doorbell: a child (which may run hostile
         * code) could otherwise take other children's messages from it. The
         * parent keeps the read end for the next PM; this is the child's
         * copy. */
        if (state->bell_r >= 0) {
            close(state->bell_r);
            state->bell_r = -1;
        }
    }
    spool_idx = fcgix_sb_spool_claim(state->sb, (apr_uint32_t)getpid());
    if (spool_idx < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "FCGIX0123: more than %d httpd children hold entries "
                     "for spooled request bodies: this one (pid %ld) spools "
                     "none (chunked bodies get 503, others stream)",
                     FCGIX_SB_CHILDREN, (long)getpid());
    }
}

apr_time_t fcgix_pm_clock(void)
{
    return fcgix_clock();
}

int fcgix_pm_alive(void)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(fcgix_clock());
    fcgix_sb_t *sb = fcgix_pm_sb();

    return sb && sb->pm_heartbeat + 5 >= now;
}

void fcgix_pm_ring(apr_uint32_t type, const char *path, apr_uint32_t uid,
                   apr_uint32_t gid)
{
    fcgix_pm_state_t *state = fcgix_pm_parent_state();
    fcgix_bell_t b;
    ssize_t n;

    if (state == NULL || strlen(path) >= sizeof(b.path)) {
        return;
    }
    memset(&b, 0, sizeof(b));
    b.magic = FCGIX_BELL_MAGIC;
    b.type = type;
    b.uid = uid;
    b.gid = gid;
    memcpy(b.path, path, strlen(path) + 1);
    /* One write of less than PIPE_BUF bytes: atomic, never interleaved. */
    n = write(state->bell_w, &b, sizeof(b));
    (void)n; /* a full pipe drops it; the requester rings again */
}

/* ------------------------------------------------------------ classes */

fcgix_pm_class_t *fcgix_pm_class_lookup(apr_pool_t *p, fcgix_pm_class_t *reuse,
                                        const char *path, apr_uint32_t uid,
                                        apr_uint32_t gid)
{
    fcgix_sb_t *sb = fcgix_pm_sb();
    fcgix_pm_class_t *c;
    int idx;

    if (sb == NULL || (idx = fcgix_sb_class_find(sb, path, uid, gid)) < 0) {
        return NULL;
    }
    c = reuse ? reuse : apr_palloc(p, sizeof(*c));
    c->sb = sb;
    c->idx = (apr_uint32_t)idx;
    c->gen = apr_atomic_read32(&sb->classes[idx].gen);
    return c;
}

/* The handle's slot, if it still holds the class of the lookup. */
static volatile fcgix_sb_class_t *slot(const fcgix_pm_class_t *c)
{
    volatile fcgix_sb_class_t *k;

    if (c == NULL || c->sb == NULL) {
        return NULL;
    }
    k = &c->sb->classes[c->idx];
    return k->gen == c->gen ? k : NULL;
}

int fcgix_pm_class_current(const fcgix_pm_class_t *c)
{
    return slot(c) != NULL;
}

int fcgix_pm_class_backing_off(const fcgix_pm_class_t *c)
{
    volatile fcgix_sb_class_t *k = slot(c);

    return k && k->procs_running == 0 &&
           k->backoff_until > apr_time_sec(fcgix_clock());
}

int fcgix_pm_class_enter(fcgix_pm_class_t *c)
{
    volatile fcgix_sb_class_t *k = slot(c);

    if (k == NULL) {
        return 0;
    }
    apr_atomic_inc32(&k->inflight);
    apr_atomic_inc32(&k->requests);
    return 1;
}

void fcgix_pm_class_leave(fcgix_pm_class_t *c, apr_interval_time_t busy)
{
    volatile fcgix_sb_class_t *k = slot(c);

    if (k) {
        apr_atomic_add32(&k->busy_ms, (apr_uint32_t)apr_time_as_msec(busy));
        apr_atomic_dec32(&k->inflight);
    }
}

void fcgix_pm_class_completed(fcgix_pm_class_t *c)
{
    volatile fcgix_sb_class_t *k = slot(c);

    if (k) {
        apr_atomic_inc32(&k->completed);
    }
}

void fcgix_pm_class_failed(fcgix_pm_class_t *c)
{
    volatile fcgix_sb_class_t *k = slot(c);

    if (k) {
        apr_atomic_inc32(&k->failures);
    }
}

int fcgix_pm_class_binary_changed(const fcgix_pm_class_t *c, apr_time_t mtime)
{
    volatile fcgix_sb_class_t *k = slot(c);

    return k && (apr_uint32_t)apr_time_sec(mtime) != k->bin_mtime;
}

/* ------------------------------------------------ kept connections */

fcgix_pm_class_t *fcgix_pm_class_alloc(apr_pool_t *p)
{
    return p ? apr_pcalloc(p, sizeof(fcgix_pm_class_t))
             : calloc(1, sizeof(fcgix_pm_class_t));
}

void fcgix_pm_class_copy(fcgix_pm_class_t *dst, const fcgix_pm_class_t *src)
{
    *dst = *src;
}

apr_uint32_t fcgix_pm_class_procs(const fcgix_pm_class_t *c)
{
    volatile fcgix_sb_class_t *k = slot(c);

    return k ? k->procs_running : 0;
}

/* Read as signed: a decrement that raced the slot's reuse can wrap a
 * zeroed counter, which then counts as none. */
static apr_uint32_t count_of(volatile apr_uint32_t *v)
{
    apr_uint32_t n = apr_atomic_read32(v);

    return n > 0x7fffffffu ? 0 : n;
}

int fcgix_pm_class_hold(fcgix_pm_class_t *c, apr_uint32_t cap,
                        apr_uint32_t *release_gen)
{
    volatile fcgix_sb_class_t *k = slot(c);
    apr_uint32_t held;

    if (k == NULL || k->state != FCGIX_CLASS_ACTIVE || cap == 0) {
        return 0;
    }
    /* The generation first: a release asked from here on closes this one.
     * Then counted, then the requests in flight read: a request that
     * connects meanwhile counts itself first, then reads this count
     * (fcgix_pm_class_check_release), so one of the two sees the other
     * (the atomics are sequentially consistent). */
    *release_gen = apr_atomic_read32(&k->release_gen);
    held = apr_atomic_inc32(&k->idle_kept) + 1;
    if (held > cap || held + count_of(&k->inflight) > cap) {
        apr_atomic_dec32(&k->idle_kept);
        return 0;
    }
    return 1;
}

void fcgix_pm_class_unhold(fcgix_pm_class_t *c, int reused)
{
    volatile fcgix_sb_class_t *k = slot(c);

    if (k) {
        apr_atomic_dec32(&k->idle_kept);
        if (reused) {
            apr_atomic_inc32(&k->reuses);
        }
    }
}

int fcgix_pm_class_released(const fcgix_pm_class_t *c, apr_uint32_t gen)
{
    volatile fcgix_sb_class_t *k = slot(c);

    return k == NULL || k->state != FCGIX_CLASS_ACTIVE ||
           apr_atomic_read32(&k->release_gen) != gen;
}

void fcgix_pm_class_check_release(fcgix_pm_class_t *c, apr_uint32_t cap)
{
    volatile fcgix_sb_class_t *k = slot(c);
    apr_uint32_t held, gen;

    if (k == NULL) {
        return;
    }
    gen = apr_atomic_read32(&k->release_gen);
    if ((held = count_of(&k->idle_kept)) == 0 ||
        held + count_of(&k->inflight) <= cap) {
        return;
    }
    /* one ring per generation, however many requests saw the need */
    if (apr_atomic_cas32(&k->release_gen, gen + 1, gen) == gen) {
        apr_atomic_inc32(&c->sb->release_seq);
#ifdef __linux__
        /* not FUTEX_PRIVATE_FLAG: the waiters are other processes */
        syscall(SYS_futex, &c->sb->release_seq, FUTEX_WAKE, INT_MAX, NULL, NULL,
                0);
#endif
    }
}

apr_uint32_t fcgix_pm_release_seq(void)
{
    fcgix_sb_t *sb = fcgix_pm_sb();

    return sb ? apr_atomic_read32(&sb->release_seq) : 0;
}

void fcgix_pm_release_wait(apr_uint32_t seen, int timeout_ms)
{
    fcgix_sb_t *sb = fcgix_pm_sb();
    struct timespec ts;

    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
#ifdef __linux__
    if (sb) {
        /* returns at once if the word moved since it was read */
        syscall(SYS_futex, &sb->release_seq, FUTEX_WAIT, seen, &ts, NULL, 0);
        return;
    }
#else
    (void)seen;
#endif
    nanosleep(&ts, NULL);
}

void fcgix_pm_release_wake(void)
{
#ifdef __linux__
    fcgix_sb_t *sb = fcgix_pm_sb();

    if (sb) {
        apr_atomic_inc32(&sb->release_seq);
        syscall(SYS_futex, &sb->release_seq, FUTEX_WAKE, INT_MAX, NULL, NULL,
                0);
    }
#endif
}

/* ------------------------------------------------- spooled bodies */

int fcgix_pm_spool_take(apr_uint32_t kib, apr_uint32_t limit_kib)
{
    fcgix_sb_t *sb = fcgix_pm_sb();

    return sb && fcgix_sb_spool_take(sb, spool_idx, kib, limit_kib);
}

void fcgix_pm_spool_give(apr_uint32_t kib)
{
    fcgix_sb_t *sb = fcgix_pm_sb();

    if (sb) {
        fcgix_sb_spool_give(sb, spool_idx, kib);
    }
}

apr_uint64_t fcgix_pm_spool_total(void)
{
    fcgix_sb_t *sb = fcgix_pm_sb();

    return sb ? fcgix_sb_spool_total(sb) : 0;
}

/* ------------------------------------------------- status page copies */

int fcgix_pm_info(fcgix_pm_info_t *out)
{
    const fcgix_sb_t *sb = fcgix_pm_sb();
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(fcgix_clock());
    apr_uint32_t beat;

    if (sb == NULL) {
        return 0;
    }
    beat = sb->pm_heartbeat;
    out->pid = sb->pm_pid;
    out->starts = sb->pm_starts;
    out->generation = sb->pm_generation;
    out->heartbeat_age = beat ? (long)now - (long)beat : -1;
    out->alive = fcgix_pm_alive();
    return 1;
}

static fcgix_app_kind_t app_kind(apr_uint32_t k)
{
    /* shared memory: any value may be there */
    return k == FCGIX_APP_STATIC    ? FCGIX_APP_STATIC
           : k == FCGIX_APP_DYNAMIC ? FCGIX_APP_DYNAMIC
                                    : FCGIX_APP_EXTERNAL;
}

/* Seconds until a failing class's next start (its back-off). */
static apr_uint32_t retry_in(const fcgix_sb_class_t *c)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(fcgix_clock());

    return c->backoff_until > now ? c->backoff_until - now : 0;
}

const char *fcgix_pm_class_state(const fcgix_pm_class_info_t *c)
{
    return c->draining ? "draining" : c->fail_streak ? "failing" : "active";
}

int fcgix_pm_class_next(apr_uint32_t *pos, fcgix_pm_class_info_t *out)
{
    const fcgix_sb_t *sb = fcgix_pm_sb();
    fcgix_sb_class_t c;

    for (; sb && *pos < FCGIX_SB_CLASSES; (*pos)++) {
        if (!fcgix_sb_class_copy(sb, *pos, &c)) {
            continue;
        }
        (*pos)++;
        out->kind = app_kind(c.kind);
        out->draining = c.state == FCGIX_CLASS_DRAINING;
        out->procs_running = c.procs_running;
        out->procs_target = c.procs_target;
        out->restarts = c.restarts;
        out->inflight = c.inflight;
        out->requests = c.requests;
        out->failures = c.failures;
        out->load_milli = c.load_milli;
        out->idle_kept = c.idle_kept > 0x7fffffffu ? 0 : c.idle_kept;
        out->reuses = c.reuses;
        out->slot = *pos - 1;
        out->gen = c.gen;
        out->fail_streak = c.fail_streak;
        out->spawn_failures = c.spawn_failures;
        out->retry_in = retry_in(&c);
        memcpy(out->last_error, c.last_error, sizeof(out->last_error));
        memcpy(out->path, c.path, sizeof(out->path));
        memcpy(out->addr, c.addr, sizeof(out->addr));
        return 1;
    }
    return 0;
}

int fcgix_pm_proc_next(apr_uint32_t *pos, fcgix_pm_proc_info_t *out)
{
    const fcgix_sb_t *sb = fcgix_pm_sb();
    fcgix_sb_class_t c;

    for (; sb && *pos < FCGIX_SB_PROCS; (*pos)++) {
        fcgix_sb_proc_t pr = sb->procs[*pos];
        if (pr.state == FCGIX_PROC_FREE ||
            !fcgix_sb_class_copy(sb, pr.class_idx, &c)) {
            continue;
        }
        (*pos)++;
        out->pid = pr.pid;
        out->stopping = pr.state != FCGIX_PROC_RUNNING;
        out->started = pr.started;
        memcpy(out->path, c.path, sizeof(out->path));
        return 1;
    }
    return 0;
}
