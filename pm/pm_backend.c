/*
 * pm/pm_backend.c - the backends of an external application with several
 * addresses: the state and counters all httpd children share, and the
 * choice of a backend from them.
 *
 * Runs in the httpd children (and the status page): nothing read from the
 * scoreboard is trusted, and none of it is an address a request goes to:
 * the caller brings its own addresses (from its configuration), and the
 * set's entries lend their state to the addresses they match byte for
 * byte. A set is used only if it belongs to the handle's class generation;
 * counters are written with atomics only.
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

/* The set entry whose address is addr (its own place i first), or -1. The
 * entries are read without the writer's sequence: a torn or forged one at
 * worst matches no address (or lends its state to the address it names),
 * and nothing read here decides where a request goes. */
static int slot_of(fcgix_sb_bset_t *s, apr_uint32_t count, int i,
                   const fcgix_addr_t *addr)
{
    apr_uint32_t j;

    for (j = 0; j <= count; j++) {
        apr_uint32_t k = j == 0 ? (apr_uint32_t)i : j - 1;
        fcgix_sb_backend_t *b = &s->b[k];
        if (k < count && b->addr_len == addr->len &&
            memcmp(b->addr, addr->sa, addr->len) == 0) {
            return (int)k;
        }
    }
    return -1;
}

int fcgix_pm_backend_pick(const fcgix_pm_class_t *c, const fcgix_addr_t *addr,
                          const apr_uint32_t *weight, int n, apr_uint32_t tried,
                          apr_uint32_t *turn, int *slot)
{
    static apr_uint32_t rr; /* without a set: this child's own turns */
    fcgix_sb_bset_t *s = bset(c);
    fcgix_backend_cand_t k[FCGIX_SB_BACKENDS];
    int where[FCGIX_SB_BACKENDS], i, best;
    apr_uint32_t count = 0, now = now_ds();

    n = n < FCGIX_SB_BACKENDS ? n : FCGIX_SB_BACKENDS;
    if (s) {
        count = apr_atomic_read32(&s->count);
        count = count < FCGIX_SB_BACKENDS ? count : FCGIX_SB_BACKENDS;
    }
    for (i = 0; i < n; i++) {
        fcgix_sb_backend_t *b;
        where[i] = s ? slot_of(s, count, i, &addr[i]) : -1;
        b = where[i] >= 0 ? &s->b[where[i]] : NULL;
        k[i].weight = weight[i] >= 1 && weight[i] <= 1000 ? weight[i] : 1;
        k[i].load = b ? count_of(&b->inflight) : 0;
        k[i].down_until = b ? apr_atomic_read32(&b->down_until) : 0;
        k[i].down = b && (k[i].down_until > now ||
                          apr_atomic_read32(&b->probe) == FCGIX_PROBE_FAILED);
    }
    /* one turn per request: its further picks (after a failure) start
     * where its first did, or a failing backend would come first again */
    if (tried == 0) {
        *turn = apr_atomic_inc32(s ? &s->rr : &rr);
    }
    best = n > 0 ? fcgix_policy_backend(k, n, tried, (int)(*turn % (unsigned)n))
                 : -1;
    *slot = best >= 0 ? where[best] : -1;
    return best;
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
    /* (the tenth added when it was set rounds down here) */
    out->down_for = until > now ? (until - now + 8) / 10 : 0;
    now_s = (apr_uint32_t)apr_time_sec(fcgix_clock());
    out->probe = apr_atomic_read32(&b->probe);
    out->probe_why = apr_atomic_read32(&b->probe_why);
    at = apr_atomic_read32(&b->probe_at);
    out->probe_age =
        out->probe == FCGIX_PROBE_NONE || at > now_s ? -1 : (long)(now_s - at);
    return 1;
}
