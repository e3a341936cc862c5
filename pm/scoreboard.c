/*
 * pm/scoreboard.c - scoreboard accessors shared by handlers and the PM.
 * See scoreboard.h for the layout and who writes what.
 */
#include <string.h>

#include "pm/scoreboard.h"

apr_uint64_t fcgix_sb_hash(const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    apr_uint64_t h = APR_UINT64_C(0xcbf29ce484222325);
    const unsigned char *p = (const unsigned char *)path;
    int shift;

    for (; *p; p++) {
        h = (h ^ *p) * APR_UINT64_C(0x100000001b3);
    }
    /* The identity's numbers, byte by byte, in a fixed order. */
    for (shift = 0; shift < 32; shift += 8) {
        h = (h ^ ((uid >> shift) & 0xffu)) * APR_UINT64_C(0x100000001b3);
    }
    for (shift = 0; shift < 32; shift += 8) {
        h = (h ^ ((gid >> shift) & 0xffu)) * APR_UINT64_C(0x100000001b3);
    }
    return h;
}

static int terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

int fcgix_sb_class_copy(const fcgix_sb_t *sb, apr_uint32_t idx,
                        fcgix_sb_class_t *out)
{
    if (idx >= FCGIX_SB_CLASSES) {
        return 0;
    }
    memcpy(out, &sb->classes[idx], sizeof(*out));
    out->last_error[sizeof(out->last_error) - 1] = '\0'; /* only shown */
    return (out->state == FCGIX_CLASS_ACTIVE ||
            out->state == FCGIX_CLASS_DRAINING) &&
           terminated(out->path, sizeof(out->path)) &&
           terminated(out->addr, sizeof(out->addr));
}

int fcgix_sb_class_probe(const fcgix_sb_class_t *classes, const char *path,
                         apr_uint32_t uid, apr_uint32_t gid)
{
    apr_uint32_t start =
        (apr_uint32_t)(fcgix_sb_hash(path, uid, gid) % FCGIX_SB_CLASSES);
    apr_uint32_t i, idx;
    int draining = -1;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        const fcgix_sb_class_t *c;
        apr_uint32_t state;
        idx = (start + i) % FCGIX_SB_CLASSES;
        c = &classes[idx];
        state = c->state;
        if (state == FCGIX_CLASS_FREE) {
            break; /* end of the probe chain */
        }
        if (state != FCGIX_CLASS_GONE && c->uid == uid && c->gid == gid &&
            strncmp(c->path, path, sizeof(c->path)) == 0) {
            if (state != FCGIX_CLASS_DRAINING) {
                return (int)idx;
            }
            if (draining < 0) {
                draining = (int)idx; /* unless its successor follows */
            }
        }
    }
    return draining;
}

int fcgix_sb_class_place(const fcgix_sb_class_t *classes, const char *path,
                         apr_uint32_t uid, apr_uint32_t gid)
{
    apr_uint32_t start =
        (apr_uint32_t)(fcgix_sb_hash(path, uid, gid) % FCGIX_SB_CLASSES);
    apr_uint32_t i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        apr_uint32_t idx = (start + i) % FCGIX_SB_CLASSES;
        apr_uint32_t state = classes[idx].state;
        if (state == FCGIX_CLASS_FREE || state == FCGIX_CLASS_GONE) {
            return (int)idx;
        }
    }
    return -1;
}

int fcgix_sb_class_find(const fcgix_sb_t *sb, const char *path,
                        apr_uint32_t uid, apr_uint32_t gid)
{
    return fcgix_sb_class_probe(sb->classes, path, uid, gid);
}

/* ---------------------------------------------- spooled request bodies */

int fcgix_sb_spool_claim(fcgix_sb_t *sb, apr_uint32_t pid)
{
    int i;

    if (pid == 0) {
        return -1;
    }
    /* An entry with our pid was left by a dead process whose reaping was
     * never reported (pids are unique among live processes): what it
     * counted is void, and it is ours. */
    for (i = 0; i < FCGIX_SB_CHILDREN; i++) {
        if (apr_atomic_read32(&sb->spool[i].pid) == pid) {
            apr_atomic_set32(&sb->spool[i].kib, 0);
            return i;
        }
    }
    for (i = 0; i < FCGIX_SB_CHILDREN; i++) {
        if (apr_atomic_cas32(&sb->spool[i].pid, pid, 0) == 0) {
            apr_atomic_set32(&sb->spool[i].kib, 0);
            return i;
        }
    }
    return -1;
}

apr_uint64_t fcgix_sb_spool_total(fcgix_sb_t *sb)
{
    apr_uint64_t sum = 0;
    int i;

    for (i = 0; i < FCGIX_SB_CHILDREN; i++) {
        sum += apr_atomic_read32(&sb->spool[i].kib);
    }
    return sum;
}

void fcgix_sb_spool_give(fcgix_sb_t *sb, int idx, apr_uint32_t kib)
{
    volatile apr_uint32_t *p;
    apr_uint32_t cur, next;

    if (idx < 0 || idx >= FCGIX_SB_CHILDREN || kib == 0) {
        return;
    }
    p = &sb->spool[idx].kib;
    do {
        cur = apr_atomic_read32(p);
        next = cur > kib ? cur - kib : 0;
    } while (apr_atomic_cas32(p, next, cur) != cur);
}

int fcgix_sb_spool_take(fcgix_sb_t *sb, int idx, apr_uint32_t kib,
                        apr_uint32_t limit_kib)
{
    if (idx < 0 || idx >= FCGIX_SB_CHILDREN || kib > limit_kib) {
        return 0;
    }
    if (kib == 0) {
        return 1;
    }
    /* Add first, then look: a concurrent taker that summed before this
     * addition was visible has its own addition visible here. */
    apr_atomic_add32(&sb->spool[idx].kib, kib);
    if (fcgix_sb_spool_total(sb) > limit_kib) {
        fcgix_sb_spool_give(sb, idx, kib);
        return 0;
    }
    return 1;
}

apr_uint32_t fcgix_sb_spool_release(fcgix_sb_t *sb, apr_uint32_t pid)
{
    apr_uint32_t left = 0;
    int i;

    if (pid == 0) {
        return 0;
    }
    for (i = 0; i < FCGIX_SB_CHILDREN; i++) {
        if (apr_atomic_read32(&sb->spool[i].pid) == pid) {
            left += apr_atomic_xchg32(&sb->spool[i].kib, 0);
            apr_atomic_cas32(&sb->spool[i].pid, 0, pid);
        }
    }
    return left;
}

/* ---- metrics blocks -------------------------------------------------- */

void fcgix_sb_metrics_reset(fcgix_sb_t *sb, int idx, apr_uint32_t gen)
{
    fcgix_sb_metrics_t *m = &sb->metrics[idx];
    int i;

    apr_atomic_set32(&m->gen, 0); /* no handle writes while it changes */
    apr_atomic_set32(&m->waiting, 0);
    for (i = 0; i < FCGIX_SB_OUTCOMES + 1; i++) {
        __atomic_store_n(&m->outcome[i], 0, __ATOMIC_RELAXED);
    }
    for (i = 0; i < FCGIX_SB_HBUCKETS; i++) {
        __atomic_store_n(&m->wait.n[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m->app.n[i], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&m->wait.sum_us, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->app.sum_us, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    apr_atomic_set32(&m->gen, gen);
}
