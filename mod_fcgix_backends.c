/*
 * mod_fcgix_backends.c - where an external application's requests may go,
 * as this httpd child knows it.
 *
 * The addresses a request connects to come from the configuration only:
 * its -host and -socket addresses, and what this child itself resolves
 * -host names to, again every -resolve seconds (a thread of the child
 * does that, so no request waits on the resolver). Never from the
 * scoreboard, which any httpd child can write: there the backends' state
 * and counters are shared (pm/pm_backend.c), matched to these addresses by
 * their bytes.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mod_fcgix_int.h"

#include "http_log.h"

APLOG_USE_MODULE(fcgix);

/* The list of one external application, made when the configuration is
 * read; a child changes it only if it resolves host names again. */
struct fcgix_live_t {
    const fcgix_app_t *app;
    int resolves; /* host names and -resolve: the list can change */
    int n;
    fcgix_addr_t addr[FCGIX_BACKENDS_MAX];
    apr_uint32_t weight[FCGIX_BACKENDS_MAX];
    apr_uint32_t target[FCGIX_BACKENDS_MAX];
    apr_time_t next; /* resolve again then */
};

static struct {
    pthread_mutex_t lock; /* the lists */
    pthread_cond_t cond;  /* stop */
    pthread_t thread;
    fcgix_live_t **lives;
    int nlives, stopping;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static apr_uint32_t weight_of(const fcgix_app_t *app, int target)
{
    return (apr_uint32_t)APR_ARRAY_IDX(app->targets, target, fcgix_target_t)
        .weight;
}

int fcgix_backends_get(const fcgix_app_t *app, fcgix_addr_t *addr,
                       apr_uint32_t *weight)
{
    const fcgix_live_t *l = app->live;
    int n;

    if (l == NULL) {
        return 0;
    }
    if (l->resolves) {
        pthread_mutex_lock(&R.lock);
    }
    n = l->n;
    memcpy(addr, l->addr, sizeof(addr[0]) * (size_t)n);
    memcpy(weight, l->weight, sizeof(weight[0]) * (size_t)n);
    if (l->resolves) {
        pthread_mutex_unlock(&R.lock);
    }
    return n;
}

/* Resolves the application's names again (outside the lock) and puts the
 * new list in place. A name that does not resolve keeps its addresses. */
static void resolve(fcgix_live_t *l, server_rec *s)
{
    const fcgix_app_t *app = l->app;
    fcgix_addr_t a[FCGIX_BACKENDS_MAX];
    apr_uint32_t tg[FCGIX_BACKENDS_MAX];
    char err[256];
    int n = 0, t, r, i, more;

    for (t = 0; t < app->targets->nelts; t++) {
        const fcgix_target_t *d =
            &APR_ARRAY_IDX(app->targets, t, fcgix_target_t);
        r = d->is_name ? fcgix_addr_resolve(d->host, d->port, a + n,
                                            FCGIX_BACKENDS_MAX - n, &more, err,
                                            sizeof(err))
                       : -1;
        if (r == -1 && d->is_name) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "%s: %s", app->path,
                         err);
        }
        if (r < 0) {
            pthread_mutex_lock(&R.lock);
            n = fcgix_addr_keep(l->addr, l->target, l->n, (apr_uint32_t)t, a,
                                tg, n, FCGIX_BACKENDS_MAX);
            pthread_mutex_unlock(&R.lock);
            continue;
        }
        for (i = 0; i < r; i++) {
            tg[n + i] = (apr_uint32_t)t;
        }
        n += r;
    }
    pthread_mutex_lock(&R.lock);
    for (i = 0; i < n; i++) {
        l->addr[i] = a[i];
        l->target[i] = tg[i];
        l->weight[i] = weight_of(app, (int)tg[i]);
    }
    l->n = n > 0 ? n : l->n;
    pthread_mutex_unlock(&R.lock);
}

static void *resolver(void *data)
{
    server_rec *s = data;
    struct timespec until;
    int i;

    pthread_mutex_lock(&R.lock);
    while (!R.stopping) {
        apr_time_t now = fcgix_pm_clock();
        for (i = 0; i < R.nlives && !R.stopping; i++) {
            fcgix_live_t *l = R.lives[i];
            if (now >= l->next) {
                l->next = now + apr_time_from_sec(l->app->o.resolve);
                pthread_mutex_unlock(&R.lock);
                resolve(l, s);
                pthread_mutex_lock(&R.lock);
            }
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&R.cond, &R.lock, &until);
    }
    pthread_mutex_unlock(&R.lock);
    return NULL;
}

/* The child leaves: the thread ends (waited for a little only: it may be
 * inside the resolver, or a prefork child may leave from a signal handler
 * that stopped a request holding the lock). */
static apr_status_t stop_resolver(void *data)
{
    struct timespec until;

    (void)data;
    if (pthread_mutex_trylock(&R.lock) == 0) {
        R.stopping = 1;
        pthread_cond_signal(&R.cond);
        pthread_mutex_unlock(&R.lock);
    } else {
        R.stopping = 1;
        pthread_cond_signal(&R.cond);
    }
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_timedjoin_np(R.thread, NULL, &until);
    return APR_SUCCESS;
}

static int has_names(const fcgix_app_t *app)
{
    int t;

    for (t = 0; app->targets && t < app->targets->nelts; t++) {
        if (APR_ARRAY_IDX(app->targets, t, fcgix_target_t).is_name) {
            return app->o.resolve > 0;
        }
    }
    return 0;
}

void fcgix_backends_prepare(apr_pool_t *p, fcgix_app_t *app)
{
    fcgix_live_t *l = apr_pcalloc(p, sizeof(*l));
    int i;

    l->app = app;
    for (i = 0; i < app->nbackends; i++) {
        memcpy(l->addr[i].sa, &app->backends[i].addr,
               app->backends[i].addr_len);
        l->addr[i].len = app->backends[i].addr_len;
        l->target[i] = (apr_uint32_t)app->backends[i].target;
        l->weight[i] = weight_of(app, app->backends[i].target);
    }
    l->n = app->nbackends;
    l->resolves = has_names(app);
    app->live = l;
}

void fcgix_backends_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_array_header_t *apps = fcgix_globals->apps;
    apr_time_t now = fcgix_pm_clock();
    sigset_t all, old;
    int i, rv;

    R.lives = calloc((size_t)apps->nelts + 1, sizeof(fcgix_live_t *));
    for (i = 0; R.lives && i < apps->nelts; i++) {
        fcgix_live_t *l = APR_ARRAY_IDX(apps, i, fcgix_app_t *)->live;
        if (l && l->resolves) {
            l->next = now + apr_time_from_sec(l->app->o.resolve);
            R.lives[R.nlives++] = l;
        }
    }
    if (R.nlives == 0) {
        return;
    }
    sigfillset(&all); /* the MPM's signals are for its own threads */
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rv = pthread_create(&R.thread, NULL, resolver, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rv != 0) {
        /* the configuration's addresses stay (already in each list) */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "FCGIX0133: cannot start the thread that resolves "
                     "backend host names again: this child keeps the "
                     "addresses they had at startup");
        return;
    }
    apr_pool_pre_cleanup_register(pchild, NULL, stop_resolver);
}
