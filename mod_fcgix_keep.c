/*
 * mod_fcgix_keep.c - connections to applications kept open between
 * requests (FCGI_KEEP_CONN), without letting an idle one pin a process.
 *
 * A FastCGI app process of the usual kind (libfcgi, php-cgi, a php-fpm
 * worker) serves one connection at a time: while an httpd child holds an
 * idle connection to it, it accepts no other. So a connection is kept only
 * within a budget the scoreboard counts across all children (the class's
 * cap: its running processes, or -keep-conn), and only while the held
 * connections and the requests in flight together leave it unexceeded. A
 * request that connects afresh and finds the class full of held
 * connections asks their holders to close them; every child that holds
 * one has a releaser thread waiting for exactly that (a futex on the
 * scoreboard), which also closes a held connection whose app closed it,
 * sent bytes nobody asked for, was replaced or drained, or stayed idle
 * past the app's -idle-timeout. Under prefork the thread is the only part
 * of a child that runs between requests: that is why it exists.
 *
 * Each use of a kept connection gets a request id other than the last one
 * on it, so a late record of an earlier request is rejected by the
 * decoder (FCGIX0105), never taken for the new answer.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mod_fcgix_int.h"

#include "ap_mpm.h"
#include "http_log.h"
#include "http_protocol.h"

APLOG_USE_MODULE(fcgix);

#define SWEEP_MS 1000 /* a releaser's look at its connections when idle */

typedef struct {
    int fd; /* -1: a free entry */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    fcgix_pm_class_t *cls; /* the class it was counted on */
    apr_uint32_t gen;      /* the class's release generation then */
    unsigned last_id;      /* request id of its last use */
    apr_time_t until;      /* closed if still idle then (-idle-timeout) */
} kept_t;

/* This child's use of one application (by address). */
typedef struct {
    struct sockaddr_storage addr;
    socklen_t addr_len; /* 0: a free entry */
    unsigned closed;    /* kept connections the app closed unasked */
    unsigned reused;    /* and the ones that served again */
} use_t;

#define USES_MAX 64 /* applications a child tracks */

#if APR_HAS_THREADS
/* Plain pthreads and malloc, not the child's pool: a prefork child may
 * leave from a signal handler, and nothing of this may be freed under the
 * thread before the process is gone. */
static pthread_mutex_t K_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t K_cond = PTHREAD_COND_INITIALIZER; /* filled, stop */
static struct {
    pthread_t thread;
    kept_t *e;
    struct pollfd *pfd;
    int n, used;
    volatile int stopping;
    use_t use[USES_MAX];
} K;
#endif

/* -------------------------------------------------------------- caps */

int fcgix_keep_wanted(const fcgix_app_t *app)
{
    if (app->o.nph || app->o.keep_conn == 0) {
        return 0; /* -nph: only the close delimits the response */
    }
    return app->kind != FCGIX_APP_EXTERNAL || app->o.keep_conn > 0;
}

/* Idle connections all children may hold to class c of q's app. */
static apr_uint32_t keep_cap(const fcgix_req_t *q, const fcgix_pm_class_t *c)
{
    int n = q->app->o.keep_conn;
    apr_uint32_t procs;

    if (!fcgix_keep_wanted(q->app)) {
        return 0;
    }
    if (q->app->kind == FCGIX_APP_EXTERNAL) {
        return (apr_uint32_t)n;
    }
    procs = fcgix_pm_class_procs(c);
    return n > 0 && (apr_uint32_t)n < procs ? (apr_uint32_t)n : procs;
}

#if APR_HAS_THREADS
/* --------------------------------------------------------- the pool */

static use_t *use_at(const struct sockaddr_storage *addr, socklen_t len,
                     int create);

/* Under the lock: the app closed a kept connection (or sent bytes on it)
 * while it was idle. */
static void app_closed(const struct sockaddr_storage *addr, socklen_t len)
{
    use_t *u = use_at(addr, len, 1);

    if (u) {
        u->closed++;
    }
}

static void drop(kept_t *e, int reused)
{
    if (!reused) {
        close(e->fd);
    }
    fcgix_pm_class_unhold(e->cls, reused);
    e->fd = -1;
    K.used--;
}

/* Under the lock: closes what must not stay. */
static void sweep(void)
{
    apr_time_t now = fcgix_pm_clock();
    int i, m = 0;

    for (i = 0; i < K.n; i++) {
        kept_t *e = &K.e[i];
        if (e->fd < 0) {
            continue;
        }
        if (now >= e->until || fcgix_pm_class_released(e->cls, e->gen)) {
            drop(e, 0);
            continue;
        }
        K.pfd[m].fd = e->fd;
        K.pfd[m].events = POLLIN;
        K.pfd[m].revents = 0;
        m++;
    }
    /* Readable while idle: the app closed it, or sent what nobody asked */
    if (m && poll(K.pfd, (nfds_t)m, 0) > 0) {
        for (i = 0; i < K.n; i++) {
            int j;
            for (j = 0; K.e[i].fd >= 0 && j < m; j++) {
                if (K.pfd[j].fd == K.e[i].fd && K.pfd[j].revents) {
                    app_closed(&K.e[i].addr, K.e[i].addr_len);
                    drop(&K.e[i], 0);
                }
            }
        }
    }
}

static void *releaser(void *data)
{
    int i;

    (void)data;
    pthread_mutex_lock(&K_lock);
    while (!K.stopping) {
        apr_uint32_t seq;
        if (K.used == 0) {
            pthread_cond_wait(&K_cond, &K_lock);
            continue;
        }
        /* read before the sweep: a release asked after it wakes the wait */
        seq = fcgix_pm_release_seq();
        sweep();
        pthread_mutex_unlock(&K_lock);
        fcgix_pm_release_wait(seq, SWEEP_MS);
        pthread_mutex_lock(&K_lock);
    }
    for (i = 0; i < K.n; i++) {
        if (K.e[i].fd >= 0) {
            drop(&K.e[i], 0);
        }
    }
    K.n = 0;
    pthread_mutex_unlock(&K_lock);
    return NULL;
}

/* The child leaves: the thread closes what it holds and ends. Waited for
 * a little only: a child that leaves from a signal handler (prefork) may
 * have been stopped holding the lock, and then the thread stays blocked
 * on it (touching nothing) until the process is gone. */
static apr_status_t stop_releaser(void *data)
{
    struct timespec until;

    (void)data;
    /* under the lock, or the thread may miss it between its look and its
     * wait; but a prefork child may leave from a signal handler that
     * stopped a request holding it: then without */
    if (pthread_mutex_trylock(&K_lock) == 0) {
        K.stopping = 1;
        pthread_cond_signal(&K_cond);
        pthread_mutex_unlock(&K_lock);
    } else {
        K.stopping = 1;
        pthread_cond_signal(&K_cond);
    }
    fcgix_pm_release_wake(); /* a wait on the futex ends at once */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_timedjoin_np(K.thread, NULL, &until);
    return APR_SUCCESS;
}

/* Whether any application of this configuration may keep connections. */
static int any_keeps(void)
{
    apr_hash_index_t *hi;

    if (fcgix_globals->dynamic.keep_conn != 0) {
        return 1; /* a dynamic app may come */
    }
    for (hi = apr_hash_first(NULL, fcgix_globals->by_path); hi;
         hi = apr_hash_next(hi)) {
        const fcgix_app_t *app = apr_hash_this_val(hi);
        if (fcgix_keep_wanted(app)) {
            return 1;
        }
    }
    return 0;
}

static int start_releaser(apr_pool_t *pchild)
{
    sigset_t all, old;
    int rv;

    /* The MPM's signals (graceful stop, restart) are for its own threads:
     * this one blocks them all, and inherits that from here. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rv = pthread_create(&K.thread, NULL, releaser, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rv != 0) {
        return 0;
    }
    /* before the pool's subpools and other cleanups go */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_releaser);
    return 1;
}

void fcgix_keep_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threads = 1, i, n;

    if (!any_keeps()) {
        return;
    }
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    /* one per thread and app it talks to, within reason */
    n = threads < 1 ? 8 : threads * 2 + 8;
    n = n > 1024 ? 1024 : n;
    K.e = calloc((size_t)n, sizeof(*K.e));
    K.pfd = calloc((size_t)n, sizeof(*K.pfd));
    for (i = 0; K.e && K.pfd && i < n; i++) {
        K.e[i].fd = -1;
        if ((K.e[i].cls = fcgix_pm_class_alloc(NULL)) == NULL) {
            K.pfd = NULL;
        }
    }
    if (K.e == NULL || K.pfd == NULL || !start_releaser(pchild)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "FCGIX0126: cannot start the thread that releases kept "
                     "application connections: this child keeps none");
        return;
    }
    K.n = n;
}

/* Takes the entry for the app's address: 1 with *out filled. */
static int take_entry(const fcgix_addr_t *addr, kept_t *out,
                      fcgix_pm_class_t *cls)
{
    int i, found = 0;

    pthread_mutex_lock(&K_lock);
    for (i = 0; i < K.n && !found; i++) {
        kept_t *e = &K.e[i];
        if (e->fd >= 0 && e->addr_len == addr->len &&
            memcmp(&e->addr, addr->sa, addr->len) == 0) {
            *out = *e;
            fcgix_pm_class_copy(cls, e->cls);
            out->cls = cls;
            e->fd = -1;
            K.used--;
            found = 1;
        }
    }
    pthread_mutex_unlock(&K_lock);
    return found;
}

/* Whether a connection taken from the pool may serve: its class did not
 * ask for it back, and nothing (an EOF, stray bytes) waits on it. */
static int still_good(const kept_t *k, unsigned req_id)
{
    char c;

    /* (the same id as its last request: one in 65535, closed rather than
     * let a late record of that one pass for this one's) */
    if (k->last_id == req_id || fcgix_pm_class_released(k->cls, k->gen)) {
        return 0;
    }
    if (recv(k->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return 1;
    }
    pthread_mutex_lock(&K_lock);
    app_closed(&k->addr, k->addr_len);
    pthread_mutex_unlock(&K_lock);
    return 0;
}

/* ------------------------------------------------- apps that close */

/* Under the lock: this child's use of the app at addr (created if
 * create). */
static use_t *use_at(const struct sockaddr_storage *addr, socklen_t len,
                     int create)
{
    use_t *free_u = NULL;
    int i;

    for (i = 0; i < USES_MAX; i++) {
        use_t *u = &K.use[i];
        if (u->addr_len == len && memcmp(&u->addr, addr, len) == 0) {
            return u;
        }
        if (free_u == NULL && u->addr_len == 0) {
            free_u = u;
        }
    }
    if (create && free_u) {
        memcpy(&free_u->addr, addr, len);
        free_u->addr_len = len;
        return free_u;
    }
    return NULL;
}

static use_t *use_of(const fcgix_app_t *app, int create)
{
    return use_at(&app->addr, app->addr_len, create);
}

/* An app that closes the connections it was asked to keep (or ignores
 * the request) is asked no more by this child: each such connection
 * would cost a look, and a request that cannot be sent twice would find
 * it closed. */
#define CLOSES_TOLERATED 3
static int app_keeps(const fcgix_app_t *app)
{
    use_t *u;
    int keeps = 1;

    if (K.n == 0) {
        return 0;
    }
    pthread_mutex_lock(&K_lock);
    if ((u = use_of(app, 0)) != NULL && u->closed >= CLOSES_TOLERATED &&
        u->closed > 4 * u->reused) {
        keeps = 0;
    }
    pthread_mutex_unlock(&K_lock);
    return keeps;
}

/* --------------------------------------------------- the requests */

/* Whether the response passes a filter that makes subrequests while the
 * body streams (mod_include): one to the same app would find its process
 * waiting on this request's connection, kept after END_REQUEST. */
static int makes_subrequests(request_rec *r)
{
    ap_filter_t *f;

    for (f = r->output_filters; f; f = f->next) {
        if (f->frec && f->frec->name &&
            strcasecmp(f->frec->name, "includes") == 0) {
            return 1;
        }
    }
    return 0;
}

int fcgix_keep_ask(request_rec *r, const fcgix_app_t *app)
{
    return fcgix_keep_wanted(app) && !makes_subrequests(r) && app_keeps(app);
}

void fcgix_keep_stale(fcgix_req_t *q)
{
    pthread_mutex_lock(&K_lock);
    app_closed(&q->app->addr, q->app->addr_len);
    pthread_mutex_unlock(&K_lock);
}

/* Whether the request could go once more should the app have closed a
 * kept connection before answering: one whose method may run twice (the
 * app may have begun on it and died), without a body or with one read
 * whole beforehand. An authorizer's request has no body and changes
 * nothing. */
static int may_retry(const fcgix_req_t *q)
{
    int m = q->r->method_number;

    if (q->body && !fcgix_body_whole(q->body)) {
        return 0;
    }
    return q->auth || m == M_GET || m == M_OPTIONS || m == M_TRACE ||
           m == M_PUT || m == M_DELETE;
}

void fcgix_keep_take(fcgix_req_t *q)
{
    fcgix_pm_class_t *cls;
    kept_t k;

    /* A request that could not go again gets a new connection: never one
     * the app may be closing just now. */
    if (!q->keep || K.n == 0 || q->no_pool || !may_retry(q)) {
        return;
    }
    cls = fcgix_pm_class_alloc(q->r->pool);
    while (take_entry(&q->addr, &k, cls)) {
        if (!still_good(&k, q->req_id)) {
            close(k.fd);
            fcgix_pm_class_unhold(k.cls, 0);
            continue;
        }
        fcgix_connect_count(q); /* in flight before no longer held */
        fcgix_pm_class_unhold(k.cls, 1);
        q->fd = k.fd;
        q->reused = 1;
        return;
    }
}

/* Keeps the connection idle in the pool if the class's budget allows. */
static int put(fcgix_req_t *q)
{
    apr_uint32_t cap = keep_cap(q, q->cls), gen;
    int i;

    if (cap == 0 || !fcgix_pm_class_hold(q->cls, cap, &gen)) {
        return 0;
    }
    pthread_mutex_lock(&K_lock);
    for (i = 0; i < K.n && K.e[i].fd >= 0; i++) {
    }
    if (i == K.n || K.stopping) {
        pthread_mutex_unlock(&K_lock);
        fcgix_pm_class_unhold(q->cls, 0);
        return 0;
    }
    K.e[i].fd = q->fd;
    memcpy(&K.e[i].addr, q->addr.sa, q->addr.len);
    K.e[i].addr_len = q->addr.len;
    fcgix_pm_class_copy(K.e[i].cls, q->cls);
    K.e[i].gen = gen;
    K.e[i].last_id = q->req_id;
    K.e[i].until = fcgix_pm_clock() + apr_time_from_sec(q->app->o.idle_timeout);
    if (K.used++ == 0) {
        pthread_cond_signal(&K_cond);
    }
    q->fd = -1; /* the pool's now */
    /* asked back between the hold and now: the releaser may have looked
     * already, and waits for the next ask */
    if (fcgix_pm_class_released(K.e[i].cls, gen)) {
        drop(&K.e[i], 0);
    }
    pthread_mutex_unlock(&K_lock);
    return 1;
}

int fcgix_keep_settle(fcgix_req_t *q, int how)
{
    use_t *u;

    fcgix_connect_release(q); /* no longer in flight on its class */
    if (K.n == 0) {
        return 0;
    }
    if (how == FCGIX_SETTLE_KEEP && q->reused) {
        pthread_mutex_lock(&K_lock);
        if ((u = use_of(q->app, 1)) != NULL) {
            u->reused++; /* the app does keep connections */
        }
        pthread_mutex_unlock(&K_lock);
    }
    return how == FCGIX_SETTLE_KEEP && put(q);
}
#else  /* no threads: nothing releases a held connection, so none is held */
void fcgix_keep_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild;
    (void)s;
}

int fcgix_keep_ask(request_rec *r, const fcgix_app_t *app)
{
    (void)r;
    (void)app;
    return 0;
}

void fcgix_keep_take(fcgix_req_t *q)
{
    (void)q;
}

void fcgix_keep_stale(fcgix_req_t *q)
{
    (void)q;
}

int fcgix_keep_settle(fcgix_req_t *q, int how)
{
    (void)how;
    fcgix_connect_release(q);
    return 0;
}
#endif /* APR_HAS_THREADS */

void fcgix_keep_connected(fcgix_req_t *q)
{
    /* also a request that did not ask (this child gave up asking the app,
     * or keeps nothing): held connections of other children must not make
     * it wait */
    if (fcgix_keep_wanted(q->app) && q->cls) {
        fcgix_pm_class_check_release(q->cls, keep_cap(q, q->cls));
    }
}

void fcgix_keep_abort(fcgix_req_t *q)
{
    unsigned char rec[FCGIX_REC_HEADER_LEN];

    if (q->keep && q->fd >= 0 && !q->ended) {
        fcgix_rec_header(rec, FCGIX_T_ABORT_REQUEST, q->req_id, 0, 0);
        /* best effort: the close that follows ends the request anyway */
        if (send(q->fd, rec, sizeof(rec), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, errno, q->r,
                          "%s: FCGI_ABORT_REQUEST not sent", q->app->path);
        }
    }
}
