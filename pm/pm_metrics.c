/*
 * pm/pm_metrics.c - the class slots' metrics blocks (pm/pm_metrics.h).
 *
 * Handlers write with relaxed __atomic read-modify-writes on 64-bit words
 * (lock-free on every platform httpd's Linux builds run on; APR's 64-bit
 * atomics may fall back to a process-private mutex, which would not
 * protect shared memory). A handle checks before each write that its slot
 * still holds its class and that the block is that class's; a write that
 * races the PM's reset lands in the new class's counts at worst (as the
 * slot's other counters do). Readers trust nothing they read: a count that
 * a decrement racing a reset wrapped reads as 0, histograms are summed
 * saturating by the reader (mod_fcgix_mfmt.c).
 */
#include <string.h>

#include "pm/pm_int.h"
#include "pm/pm_metrics.h"
#include "mod_fcgix_mfmt.h"

_Static_assert(FCGIX_SB_HBUCKETS == FCGIX_MFMT_BUCKETS, "buckets");
_Static_assert(FCGIX_PM_HBUCKETS == FCGIX_SB_HBUCKETS, "buckets");
_Static_assert(FCGIX_PM_OUTCOMES == FCGIX_SB_OUTCOMES, "outcomes");
_Static_assert(FCGIX_PM_CLASSES == FCGIX_SB_CLASSES, "classes");

/* The handle's block, if its slot and the block are still its class's. */
static fcgix_sb_metrics_t *block(const fcgix_pm_class_t *c)
{
    fcgix_sb_metrics_t *m;

    if (c == NULL || c->sb == NULL || c->idx >= FCGIX_SB_CLASSES ||
        apr_atomic_read32(&c->sb->classes[c->idx].gen) != c->gen) {
        return NULL;
    }
    m = &c->sb->metrics[c->idx];
    return apr_atomic_read32(&m->gen) == c->gen ? m : NULL;
}

static void add64(volatile apr_uint64_t *v, apr_uint64_t n)
{
    __atomic_fetch_add(v, n, __ATOMIC_RELAXED);
}

static apr_uint64_t read64(const volatile apr_uint64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

void fcgix_pm_metrics_waiting(const fcgix_pm_class_t *c, int delta)
{
    fcgix_sb_metrics_t *m = block(c);

    if (m && delta > 0) {
        apr_atomic_inc32(&m->waiting);
    } else if (m && delta < 0) {
        apr_atomic_dec32(&m->waiting);
    }
}

void fcgix_pm_metrics_outcome(const fcgix_pm_class_t *c, int outcome)
{
    fcgix_sb_metrics_t *m = block(c);

    if (m && outcome >= 0 && outcome < FCGIX_SB_OUTCOMES) {
        add64(&m->outcome[outcome], 1);
    }
}

void fcgix_pm_metrics_observe(const fcgix_pm_class_t *c, int which,
                              apr_interval_time_t us)
{
    fcgix_sb_metrics_t *m = block(c);
    fcgix_sb_hist_t *h;

    if (m == NULL) {
        return;
    }
    h = which == FCGIX_HIST_WAIT ? &m->wait : &m->app;
    us = us < 0 ? 0 : us;
    add64(&h->n[fcgix_mfmt_bucket((apr_uint64_t)us)], 1);
    add64(&h->sum_us, (apr_uint64_t)us);
}

static void copy_hist(const fcgix_sb_hist_t *h, apr_uint64_t *n,
                      apr_uint64_t *sum)
{
    int i;

    for (i = 0; i < FCGIX_SB_HBUCKETS; i++) {
        n[i] = read64(&h->n[i]);
    }
    *sum = read64(&h->sum_us);
}

int fcgix_pm_metrics_get(const fcgix_pm_class_info_t *ci,
                         fcgix_pm_metrics_t *out)
{
    fcgix_pm_class_t c;
    fcgix_sb_metrics_t *m;
    apr_uint32_t w;
    int i;

    memset(out, 0, sizeof(*out));
    c.sb = fcgix_pm_sb();
    c.idx = ci->slot;
    c.gen = ci->gen;
    if ((m = block(&c)) == NULL) {
        return 0;
    }
    w = apr_atomic_read32(&m->waiting);
    out->waiting = w > 0x7fffffffu ? 0 : w; /* a decrement raced a reset */
    for (i = 0; i < FCGIX_SB_OUTCOMES; i++) {
        out->outcome[i] = read64(&m->outcome[i]);
    }
    copy_hist(&m->wait, out->wait, &out->wait_sum_us);
    copy_hist(&m->app, out->app, &out->app_sum_us);
    return 1;
}

void fcgix_pm_metrics_procs(apr_uint32_t *running, apr_uint32_t *stopping)
{
    const fcgix_sb_t *sb = fcgix_pm_sb();
    int i;

    memset(running, 0, sizeof(*running) * FCGIX_SB_CLASSES);
    memset(stopping, 0, sizeof(*stopping) * FCGIX_SB_CLASSES);
    for (i = 0; sb && i < FCGIX_SB_PROCS; i++) {
        apr_uint32_t state = sb->procs[i].state, idx = sb->procs[i].class_idx;
        if (idx >= FCGIX_SB_CLASSES || state == FCGIX_PROC_FREE) {
            continue;
        }
        if (state == FCGIX_PROC_RUNNING) {
            running[idx]++;
        } else {
            stopping[idx]++;
        }
    }
}
