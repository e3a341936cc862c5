/*
 * pm/pm_reconcile.c - a configuration generation's definitions applied to
 * the class table: unchanged applications keep their classes and
 * processes, changed ones are replaced, removed ones drain; and the
 * draining classes' end. The decisions are pure functions
 * (fcgix_pm_apply_action, fcgix_pm_unlisted_action), tested in
 * t/unit/test_pm.c.
 */
#include <string.h>
#include <unistd.h>

#include "pm/pm_state.h"

#include "apr_strings.h"

static int same_record(const fcgix_def_app_t *a, const fcgix_def_app_t *b)
{
    return a->record_len == b->record_len &&
           memcmp(a->record, b->record, a->record_len) == 0;
}

fcgix_apply_action_t fcgix_pm_apply_action(const fcgix_class_facts_t *c,
                                           const fcgix_def_app_t *a)
{
    if (!c->exists || c->draining) {
        return FCGIX_APPLY_NEW;
    }
    if (c->def && same_record(c->def, a)) {
        return FCGIX_APPLY_KEEP; /* same bytes: same app */
    }
    /* Changed. On a Unix socket its processes finish the requests they
     * have, as a removed app's do, while the successor binds the name
     * anew. A TCP port cannot be bound twice: replaced at once. */
    if (c->kind == FCGIX_APP_STATIC && c->has_sockpath &&
        a->kind == FCGIX_APP_STATIC && a->sockpath[0] && c->procs_running > 0) {
        return FCGIX_APPLY_DRAIN;
    }
    return FCGIX_APPLY_REPLACE;
}

fcgix_unlisted_action_t fcgix_pm_unlisted_action(apr_uint32_t kind,
                                                 unsigned procs_running)
{
    if (kind == FCGIX_APP_DYNAMIC) {
        return FCGIX_UNLISTED_KEEP;
    }
    if (kind == FCGIX_APP_EXTERNAL || procs_running == 0) {
        return FCGIX_UNLISTED_RETIRE;
    }
    return FCGIX_UNLISTED_DRAIN;
}

unsigned fcgix_pm_procs_wanted(const fcgix_def_app_t *a)
{
    return a->kind == FCGIX_APP_STATIC ? a->processes : 0;
}

static void class_facts(const pm_t *pm, int idx, fcgix_class_facts_t *f)
{
    memset(f, 0, sizeof(*f));
    if (idx < 0) {
        return;
    }
    f->exists = 1;
    f->draining = pm->class[idx].draining;
    f->kind = pm->pub_class[idx].kind;
    f->has_sockpath = pm->class[idx].sockpath[0] != '\0';
    f->procs_running = pm->pub_class[idx].procs_running;
    f->def = pm->class[idx].def;
}

/* An external class's backends, as the configuration resolved them (the
 * prober resolves names again). */
static void publish_backends(pm_t *pm, int idx, const fcgix_def_app_t *a)
{
    fcgix_addr_t addrs[FCGIX_SB_BACKENDS];
    apr_uint32_t weights[FCGIX_SB_BACKENDS];
    int i, n = a->backends ? a->backends->nelts : 0;

    for (i = 0; i < n && i < FCGIX_SB_BACKENDS; i++) {
        const fcgix_def_backend_t *b =
            &APR_ARRAY_IDX(a->backends, i, fcgix_def_backend_t);
        addrs[i] = b->addr;
        weights[i] =
            APR_ARRAY_IDX(a->targets, b->target, fcgix_def_target_t).weight;
    }
    /* The same application back in its slot (fcgix_pm_class_new keeps the
     * slot's generation then) keeps its counters: requests in flight on
     * them still give theirs back. */
    fcgix_pm_bset_write(pm->sb, idx, pm->pub_class[idx].gen, addrs, weights, i,
                        apr_atomic_read32(&pm->sb->bsets[idx].gen) !=
                            pm->pub_class[idx].gen);
}

/* A class for a new or changed static or external definition. */
static void add_app(pm_t *pm, const fcgix_def_app_t *a, apr_time_t now,
                    unsigned char *keep)
{
    pm_class_t *k;
    int idx;

    if (a->kind == FCGIX_APP_STATIC) {
        fcgix_pm_disown_socket(pm, a->sockpath);
    }
    idx = fcgix_pm_class_new(pm, a->kind, a->path, pm->cur->uid, pm->cur->gid,
                             a->addr_text);
    if (idx < 0) {
        return;
    }
    keep[idx] = 1;
    k = &pm->class[idx];
    k->def = a;
    if (a->kind != FCGIX_APP_STATIC) {
        publish_backends(pm, idx, a);
        return;
    }
    apr_cpystrn(k->sockpath, a->sockpath, sizeof(k->sockpath));
    k->port = a->port;
    k->want = fcgix_pm_procs_wanted(a);
    pm->pub_class[idx].procs_target = k->want;
    k->next_start = now;
    fcgix_pm_class_listen(pm, idx, (int)a->listen_queue_depth);
}

/* Applies a static or external definition. */
static void apply_app(pm_t *pm, const fcgix_def_app_t *a, apr_time_t now,
                      unsigned char *keep)
{
    int idx = fcgix_pm_find_class(pm, a->path, pm->cur->uid, pm->cur->gid);
    fcgix_class_facts_t f;

    class_facts(pm, idx, &f);
    switch (fcgix_pm_apply_action(&f, a)) {
    case FCGIX_APPLY_KEEP:
        pm->class[idx].def = a;
        keep[idx] = 1;
        return;
    case FCGIX_APPLY_DRAIN:
        fcgix_pm_class_drain(pm, idx, now);
        break;
    case FCGIX_APPLY_REPLACE:
        fcgix_pm_class_stop_procs(pm, idx, 0);
        fcgix_pm_class_retire(pm, idx);
        break;
    case FCGIX_APPLY_NEW:
        break;
    }
    add_app(pm, a, now, keep);
}

/* Classes no longer defined drain: no new connections (the socket goes),
 * running requests finish, then the processes stop. */
static void end_unlisted(pm_t *pm, const unsigned char *keep, apr_time_t now)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &pm->pub_class[i];
        fcgix_unlisted_action_t a;
        if (c->state != FCGIX_CLASS_ACTIVE || keep[i]) {
            continue;
        }
        a = fcgix_pm_unlisted_action(c->kind, c->procs_running);
        if (a == FCGIX_UNLISTED_KEEP) {
            continue;
        }
        pm->class[i].def = NULL;
        if (a == FCGIX_UNLISTED_RETIRE) {
            fcgix_pm_class_retire(pm, i);
            continue;
        }
        if (pm->class[i].sockpath[0]) {
            unlink(pm->class[i].sockpath);
        }
        fcgix_pm_class_drain(pm, i, now);
    }
}

void fcgix_pm_apply_defs(pm_t *pm, fcgix_defs_t *d, apr_pool_t *dpool)
{
    unsigned char keep[FCGIX_SB_CLASSES];
    apr_time_t now = fcgix_clock();
    apr_pool_t *old = pm->cur_pool;
    const char *prev_sig = pm->cur ? pm->cur->dyn.watch_sig : NULL;
    int i;

    memset(keep, 0, sizeof(keep));
    pm->cur = d;
    pm->cur_pool = dpool;
    for (i = 0; i < d->apps->nelts; i++) {
        apply_app(pm, &APR_ARRAY_IDX(d->apps, i, fcgix_def_app_t), now, keep);
    }
    end_unlisted(pm, keep, now);
    fcgix_pm_watch_defs(pm, prev_sig, now); /* before old goes */
    pm->sb->pm_generation = d->generation;
    if (old) {
        apr_pool_destroy(old);
    }
}

/* Draining classes: once nothing is in flight or queued (or at their
 * deadline) their processes stop; once none runs, the class is retired. */
void fcgix_pm_drain_tick(pm_t *pm, apr_time_t now)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &pm->pub_class[i];
        if (c->state != FCGIX_CLASS_DRAINING) {
            continue;
        }
        if ((!fcgix_pm_in_flight(pm, i) && !fcgix_pm_queue_pending(pm, i)) ||
            now > pm->class[i].drain_deadline) {
            fcgix_pm_class_stop_procs(pm, i, 0);
        }
        if (c->procs_running == 0) {
            fcgix_pm_class_retire(pm, i);
        }
    }
}
