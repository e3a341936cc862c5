/*
 * pm/pm_watch.c - FastCgiConfig -watch: files whose change recycles the
 * dynamic applications (php.ini for a dynamic php-cgi).
 *
 * A static application's -watch files are part of its definition (their
 * state is in the bytes the parent encodes, pm_defs.c), so a changed file
 * replaces it at a graceful restart like a changed option. Dynamic
 * applications have no definition of their own: FastCgiConfig's -watch
 * files are compared here, as the parent read them at this graceful
 * restart and the one before; and under -autoUpdate the PM looks at them
 * itself once a second, comparing what it saw with what it sees (never
 * with the parent's view: a file root can read and User cannot would
 * differ for ever).
 */
#include <string.h>

#include "pm/pm_state.h"

#include "apr_strings.h"

#define WATCH_EVERY_MS 1000

/* The path of the first line that differs between two states (see
 * fcgix_watch_sig), for the log. */
static const char *first_change(apr_pool_t *p, const char *a, const char *b)
{
    while (*a && *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        if (ea == NULL || eb == NULL) {
            break;
        }
        if (ea - a != eb - b || memcmp(a, b, (size_t)(ea - a)) != 0) {
            const char *sp = strchr(b, ' ');
            return apr_pstrndup(p, b, (size_t)((sp && sp < eb ? sp : eb) - b));
        }
        a = ea + 1;
        b = eb + 1;
    }
    return "a -watch file";
}

static void recycle(pm_t *pm, const char *prev, const char *now_sig,
                    apr_time_t now)
{
    fcgix_pm_logl(APLOG_NOTICE,
                  "FCGIX0471: %s changed (FastCgiConfig -watch): replacing "
                  "the processes of every dynamic application",
                  first_change(pm->cur_pool, prev, now_sig));
    fcgix_pm_recycle_dynamic(pm, now);
}

void fcgix_pm_watch_defs(pm_t *pm, const char *prev_sig, apr_time_t now)
{
    const fcgix_def_dyn_t *dyn = &pm->cur->dyn;

    if (prev_sig && strcmp(prev_sig, dyn->watch_sig) != 0) {
        recycle(pm, prev_sig, dyn->watch_sig, now);
    }
    pm->watch_seen = NULL; /* the PM's own first look comes at the tick */
    pm->watch_next = now;
}

void fcgix_pm_watch_tick(pm_t *pm, apr_time_t now)
{
    const fcgix_def_dyn_t *dyn = &pm->cur->dyn;
    apr_pool_t *tmp;
    const char *sig;

    if (!dyn->auto_update || dyn->watch->nelts == 0 || now < pm->watch_next) {
        return;
    }
    pm->watch_next = now + apr_time_from_msec(WATCH_EVERY_MS);
    apr_pool_create(&tmp, pm->pool);
    sig = fcgix_watch_sig(tmp, dyn->watch);
    if (pm->watch_seen == NULL || strcmp(pm->watch_seen, sig) != 0) {
        if (pm->watch_seen) {
            recycle(pm, pm->watch_seen, sig, now);
        }
        pm->watch_seen = apr_pstrdup(pm->cur_pool, sig);
    }
    apr_pool_destroy(tmp);
}
