/*
 * pm/pm_backend.c - the backends of an external application with several
 * addresses: which one a request goes to, and what is counted on it.
 *
 * Runs in the httpd children (and the status page): nothing read from the
 * scoreboard is trusted. A backend set is read under its sequence number
 * (odd while the PM or its prober rewrites it) and checked against the
 * class handle's generation; an address is used only if it is well formed.
 * Counters are written with atomics only, on a set of the handle's
 * generation.
 */
#include <string.h>

#include "pm/pm_int.h"

_Static_assert(FCGIX_SB_BACKENDS == FCGIX_BACKENDS_MAX, "backend count");
_Static_assert(sizeof(((fcgix_sb_backend_t *)0)->addr) ==
                   FCGIX_BACKEND_ADDR_MAX,
               "backend address size");

/* The class's set, if it belongs to the handle's generation. */
static fcgix_sb_bset_t *bset(const fcgix_pm_class_t *c)
{
    fcgix_sb_bset_t *s;

    if (c == NULL || c->sb == NULL || c->idx >= FCGIX_SB_CLASSES) {
        return NULL;
    }
    s = &c->sb->bsets[c->idx];
    return apr_atomic_read32(&s->gen) == c->gen &&
                   apr_atomic_read32(&s->count) > 0
               ? s
               : NULL;
}

/* The clock in tenths of a second, as down_until counts it (a 32-bit count
 * of them lasts 13 years of uptime). */
static apr_uint32_t now_ds(void)
{
    return (apr_uint32_t)(fcgix_clock() / 100000);
}

static apr_uint32_t count_of(volatile apr_uint32_t *v)
{
    apr_uint32_t n = apr_atomic_read32(v);

    return n > 0x7fffffffu ? 0 : n; /* a decrement that raced a reset */
}

/* The configuration's own list: no shared state, in turn. */
static int pick_config(const fcgix_app_t *app, apr_uint32_t tried,
                       fcgix_addr_t *addr)
{
    static apr_uint32_t rr;
    fcgix_backend_cand_t k[FCGIX_SB_BACKENDS];
    int n = app->nbackends < FCGIX_SB_BACKENDS ? app->nbackends
                                               : FCGIX_SB_BACKENDS,
        i;

    memset(k, 0, sizeof(k));
    for (i = 0; i < n; i++) {
        k[i].weight = 1;
    }
    i = n ? fcgix_policy_backend(k, n, tried,
                                 (int)(apr_atomic_inc32(&rr) % (unsigned)n))
          : -1;
    if (i >= 0) {
        memset(addr, 0, sizeof(*addr));
        memcpy(addr->sa, &app->backends[i].addr, app->backends[i].addr_len);
        addr->len = app->backends[i].addr_len;
    }
    return i;
}

/* One consistent reading of the set: the choice and its address. -2 when
 * the set changed meanwhile (read again). */
static int pick_shared(fcgix_sb_bset_t *s, apr_uint32_t tried,
                       fcgix_addr_t *addr)
{
    apr_uint32_t seq = apr_atomic_read32(&s->seq), now, n, i;
    fcgix_backend_cand_t k[FCGIX_SB_BACKENDS];
    int best;

    if (seq & 1u) {
        return -2;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the list after the seq */
    n = apr_atomic_read32(&s->count);
    n = n < FCGIX_SB_BACKENDS ? n : FCGIX_SB_BACKENDS;
    now = now_ds();
    for (i = 0; i < n; i++) {
        fcgix_sb_backend_t *b = &s->b[i];
        k[i].load = count_of(&b->inflight);
        k[i].weight = b->weight >= 1 && b->weight <= 1000 ? b->weight : 1;
        k[i].down_until = apr_atomic_read32(&b->down_until);
        k[i].down = k[i].down_until > now ||
                    apr_atomic_read32(&b->probe) == FCGIX_PROBE_FAILED;
    }
    best = n ? fcgix_policy_backend(k, (int)n, tried,
                                    (int)(apr_atomic_inc32(&s->rr) % n))
             : -1;
    if (best >= 0) {
        fcgix_sb_backend_t *b = &s->b[best];
        memset(addr, 0, sizeof(*addr));
        addr->len = b->addr_len;
        if (addr->len > sizeof(addr->sa)) {
            return -2;
        }
        memcpy(addr->sa, b->addr, addr->len);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the seq after the list */
    if (apr_atomic_read32(&s->seq) != seq) {
        return -2;
    }
    if (best >= 0 && !fcgix_addr_valid(addr->sa, addr->len)) {
        return -1; /* a writer that died half-way: none of it is used */
    }
    return best;
}

int fcgix_pm_backend_pick(const fcgix_pm_class_t *c, const fcgix_app_t *app,
                          apr_uint32_t tried, fcgix_addr_t *addr)
{
    fcgix_sb_bset_t *s = bset(c);
    int tries, i = -2;

    for (tries = 0; s && i == -2 && tries < 100; tries++) {
        i = pick_shared(s, tried, addr);
    }
    return i == -2 ? pick_config(app, tried, addr) : i;
}

static fcgix_sb_backend_t *backend(const fcgix_pm_class_t *c, int i)
{
    fcgix_sb_bset_t *s = bset(c);

    return s && i >= 0 && i < FCGIX_SB_BACKENDS ? &s->b[i] : NULL;
}

void fcgix_pm_backend_enter(const fcgix_pm_class_t *c, int i)
{
    fcgix_sb_backend_t *b = backend(c, i);

    if (b) {
        apr_atomic_inc32(&b->inflight);
        apr_atomic_inc32(&b->requests);
    }
}

void fcgix_pm_backend_leave(const fcgix_pm_class_t *c, int i)
{
    fcgix_sb_backend_t *b = backend(c, i);

    if (b) {
        apr_atomic_dec32(&b->inflight);
    }
}

int fcgix_pm_backend_failed(const fcgix_pm_class_t *c, int i, int kind,
                            int secs)
{
    fcgix_sb_backend_t *b = backend(c, i);
    apr_uint32_t now, until, old;
    volatile apr_uint32_t *counter;

    if (b == NULL) {
        return kind != FCGIX_BE_RESET; /* no shared state: log each one */
    }
    counter = kind == FCGIX_BE_REFUSED      ? &b->refused
              : kind == FCGIX_BE_TIMEOUT    ? &b->timeouts
              : kind == FCGIX_BE_OVERLOADED ? &b->overloaded
                                            : &b->resets;
    apr_atomic_inc32(counter);
    if (kind == FCGIX_BE_RESET || secs <= 0) {
        return 0;
    }
    now = now_ds();
    /* a tenth more: skipped for at least secs, whatever the phase */
    until = now + (apr_uint32_t)secs * 10 + 1;
    /* only the first request to see it down disables it (and logs) */
    old = apr_atomic_read32(&b->down_until);
    return old <= now && apr_atomic_cas32(&b->down_until, until, old) == old;
}

/* ------------------------------------------------------ status copies */

int fcgix_pm_backend_info(const fcgix_pm_class_info_t *ci, apr_uint32_t m,
                          fcgix_pm_backend_info_t *out)
{
    fcgix_pm_class_t c;
    fcgix_sb_backend_t *b;
    apr_uint32_t now = now_ds(), until, at, now_s;
    unsigned char addr[FCGIX_BACKEND_ADDR_MAX];
    apr_uint32_t len;

    c.sb = fcgix_pm_sb();
    c.idx = ci->slot;
    c.gen = ci->gen;
    if (bset(&c) == NULL || m >= apr_atomic_read32(&c.sb->bsets[c.idx].count) ||
        m >= FCGIX_SB_BACKENDS) {
        return 0;
    }
    b = &c.sb->bsets[c.idx].b[m];
    len = b->addr_len;
    len = len <= sizeof(addr) ? len : 0;
    memcpy(addr, b->addr, len);
    fcgix_addr_text(addr, len, out->addr, sizeof(out->addr));
    out->weight = b->weight;
    out->inflight = count_of(&b->inflight);
    out->requests = b->requests;
    out->refused = b->refused;
    out->timeouts = b->timeouts;
    out->overloaded = b->overloaded;
    out->resets = b->resets;
    until = apr_atomic_read32(&b->down_until);
    out->down_for = until > now ? (until - now + 9) / 10 : 0;
    now_s = (apr_uint32_t)apr_time_sec(fcgix_clock());
    out->probe = apr_atomic_read32(&b->probe);
    out->probe_why = apr_atomic_read32(&b->probe_why);
    at = apr_atomic_read32(&b->probe_at);
    out->probe_age =
        out->probe == FCGIX_PROBE_NONE || at > now_s ? -1 : (long)(now_s - at);
    return 1;
}
