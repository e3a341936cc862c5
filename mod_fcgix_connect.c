/*
 * mod_fcgix_connect.c - connecting a request to its application.
 *
 * A full backlog is retried with a short back-off; a managed application
 * whose socket is not there yet (a dynamic app's first request, a PM
 * restarting) is asked for on the doorbell and waited for with inotify; a
 * class that keeps failing to start fails fast. The request is counted on
 * its class through the PM's client API (pm/pm.h) from the connect until
 * the request pool goes.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <pthread.h>
#include <sys/inotify.h>
#endif

#include "mod_fcgix_int.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "unixd.h"

APLOG_USE_MODULE(fcgix);

/* Waits for events on fd (none: -1) for timeout_ms at most. A negative
 * timeout, a deadline that passed while the caller computed it, returns at
 * once: poll() would take it for "wait forever". */
int fcgix_wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd;
    int rc;

    if (timeout_ms < 0) {
        timeout_ms = 0;
    }
    pfd.fd = fd;
    pfd.events = events;
    do {
        rc = poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc > 0 ? pfd.revents : rc;
}

/* The address the request connects to, for log lines. */
static const char *addr_text(const fcgix_req_t *q)
{
    char buf[160];

    if (q->be < 0) {
        return q->app->addr_text;
    }
    fcgix_addr_text(q->addr.sa, q->addr.len, buf, sizeof(buf));
    return apr_pstrdup(q->r->pool, buf);
}

static int connect_failed(fcgix_req_t *q, int status, int err, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, err, q->r,
                  "FCGIX0100: %s: cannot connect to %s: %s", q->app->path,
                  addr_text(q), what);
    return status;
}

/* The request's class as the PM published it now, if it did. probe: a look
 * only (reuses one handle per request, however often it looks), not the
 * handle to count the request on. */
static fcgix_pm_class_t *class_find(fcgix_req_t *q, int probe)
{
    apr_uint32_t uid = q->app->uid, gid = q->app->gid;
    fcgix_pm_class_t *c;

    if (q->app->kind != FCGIX_APP_DYNAMIC) {
        uid = (apr_uint32_t)ap_unixd_config.user_id;
        gid = (apr_uint32_t)ap_unixd_config.group_id;
    }
    c = fcgix_pm_class_lookup(q->r->pool, probe ? q->probe : NULL, q->app->path,
                              uid, gid);
    if (probe && q->probe == NULL) {
        q->probe = c;
    }
    return c;
}

/* Releases the counters taken when the connection was made: registered
 * before they are taken, so no path out of the request leaks them. */
static apr_status_t release_counters(void *data)
{
    fcgix_req_t *q = data;

    if (fcgix_pm_class_current(q->cls) && q->connected) {
        /* -autoUpdate: the file's time is not that of what runs (newer,
         * or an older file put back); the PM replaces the processes, and
         * the next request gets the new binary. */
        if (q->app->kind == FCGIX_APP_DYNAMIC && q->app->o.auto_update &&
            q->r->finfo.mtime &&
            fcgix_pm_class_binary_changed(q->cls, q->r->finfo.mtime)) {
            fcgix_pm_ring(FCGIX_BELL_CHANGED, q->app->path, q->app->uid,
                          q->app->gid);
        }
        if (q->be_counted) {
            fcgix_pm_backend_leave(q->cls, q->be_slot);
        }
        fcgix_pm_class_leave(q->cls, fcgix_pm_clock() - q->connected);
    }
    q->connected = 0;
    q->be_counted = 0;
    return APR_SUCCESS;
}

/* c: the class as looked up for this connect, or NULL to look it up now
 * (also when the PM has given its slot to another class meanwhile). */
static void take_counters(fcgix_req_t *q, fcgix_pm_class_t *c)
{
    apr_time_t now = fcgix_pm_clock();

    if (q->connected) {
        return; /* counted already (a kept connection, a wait for one) */
    }
    if (!fcgix_pm_class_current(c)) {
        c = class_find(q, 0);
    }
    if (fcgix_pm_class_enter(c)) {
        q->cls = c;
        q->connected = now;
        if (q->be_slot >= 0) {
            fcgix_pm_backend_enter(c, q->be_slot);
            q->be_counted = 1;
        }
    }
}

/* A class with no process that keeps failing to start: its socket may
 * accept, but nothing would answer before the back-off ends. Fail now. */
static int backing_off(fcgix_req_t *q, const fcgix_pm_class_t *c)
{
    if (fcgix_pm_class_backing_off(c)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0115: %s: no process: it keeps failing to start "
                      "and is backing off",
                      q->app->path);
        return 1;
    }
    return 0;
}

/* An inotify descriptor that becomes readable when a name is renamed into
 * the directory of the app's Unix socket or changes its mode: the PM
 * renames a socket into place once it listens (a PM of an earlier build
 * set its mode then), so a waiting request connects at that moment
 * instead of at its next poll. Creations are not watched: a socket is
 * created under a temporary name, and nothing listens on it yet. One per
 * httpd child, opened on the first wait and kept (closing an inotify
 * descriptor waits for an RCU grace period, milliseconds); the threads
 * waiting on it all wake on an event and retry, and a thread that finds
 * the event read by another still retries after its back-off. -2 where
 * there is nothing to watch. */
static int watch_socket_dir(fcgix_req_t *q)
{
#ifdef __linux__
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int watch_fd = -1;
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&q->app->addr;
    char dir[sizeof(sun->sun_path)];
    char *slash;
    int fd = -2;

    if (q->app->addr.ss_family != AF_UNIX) {
        return -2;
    }
    apr_cpystrn(dir, sun->sun_path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return -2;
    }
    *slash = '\0';
    pthread_mutex_lock(&lock);
    if (watch_fd < 0) {
        watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    }
    /* Adding a watch on a directory already watched only returns it. */
    if (watch_fd >= 0 &&
        inotify_add_watch(watch_fd, dir, IN_ATTRIB | IN_MOVED_TO) >= 0) {
        fd = watch_fd;
    }
    pthread_mutex_unlock(&lock);
    return fd;
#else
    (void)q;
    return -2;
#endif
}

/* A managed application's socket may not be there yet (a dynamic app's
 * first request, a PM restarting): ask the PM for it and try again soon.
 * Returns 0 to retry, or the status to fail with. */
static int managed_wait(fcgix_req_t *q, apr_time_t t0, int *backoff_ms,
                        apr_time_t *next_ring, int *watch)
{
    const fcgix_app_t *app = q->app;
    fcgix_pm_class_t *c;
    apr_time_t now = fcgix_pm_clock();

    if (!fcgix_pm_alive()) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0102: %s: the process manager is not running",
                      app->path);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    c = class_find(q, 1);
    fcgix_observe_wait_found(q, c);
    if (app->kind == FCGIX_APP_DYNAMIC && now >= *next_ring) {
        fcgix_pm_ring(FCGIX_BELL_SPAWN, app->path, app->uid, app->gid);
        *next_ring = now + apr_time_from_sec(1);
    }
    if (backing_off(q, c)) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (c == NULL && now - t0 > apr_time_from_sec(3)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0116: %s: the process manager did not start it "
                      "(see its log lines)",
                      app->path);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (*watch == -1) {
        /* First miss: watch the directory, then try once more at once, as
         * the socket may have appeared before the watch was in place. */
        *watch = watch_socket_dir(q);
        if (*watch >= 0) {
            return 0;
        }
    }
    if (*watch >= 0) {
        char ev[1024];
        /* Woken by any socket appearing there; the back-off only bounds the
         * wait should an event be missed. */
        if (fcgix_wait_fd(*watch, POLLIN, *backoff_ms) > 0) {
            while (read(*watch, ev, sizeof(ev)) > 0) {
            }
            return 0;
        }
    } else {
        fcgix_wait_fd(-1, 0, *backoff_ms);
    }
    *backoff_ms = *backoff_ms < 32 ? *backoff_ms * 2 : 50;
    return 0;
}

static int open_socket(fcgix_req_t *q)
{
    int one = 1;

    if (q->fd >= 0) {
        close(q->fd);
    }
    q->fd = socket(((const struct sockaddr *)q->addr.sa)->sa_family,
                   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0) {
        return connect_failed(q, HTTP_SERVICE_UNAVAILABLE, errno, "socket");
    }
    if (((const struct sockaddr *)q->addr.sa)->sa_family != AF_UNIX) {
        setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return OK;
}

/* One connect() attempt: OK, a status to fail with, or -1 to retry. */
static int try_connect(fcgix_req_t *q, int left_ms)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (connect(q->fd, (const struct sockaddr *)q->addr.sa, q->addr.len) == 0) {
        return OK;
    }
    if (errno == EINTR || errno == EAGAIN) {
        return -1; /* EAGAIN: a full Unix backlog */
    }
    if (errno == EINPROGRESS || errno == EALREADY) {
        if (fcgix_wait_fd(q->fd, POLLOUT, left_ms > 0 ? left_ms : 0) <= 0) {
            return -1;
        }
        getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        if (err == 0) {
            return OK;
        }
    }
    if (q->app->kind == FCGIX_APP_EXTERNAL) {
        return -4; /* refused (or unreachable) */
    }
    return -2; /* managed: not there (yet) */
}

void fcgix_connect_count(fcgix_req_t *q)
{
    apr_pool_cleanup_register(q->r->pool, q, release_counters,
                              apr_pool_cleanup_null);
    take_counters(q, NULL);
}

apr_interval_time_t fcgix_connect_limit(const fcgix_req_t *q)
{
    apr_interval_time_t limit =
        q->app->o.app_conn_timeout
            ? apr_time_from_sec(q->app->o.app_conn_timeout)
            : q->r->server->timeout;

    /* milliseconds of it must fit an int (httpd's Timeout has no bound) */
    return limit > apr_time_from_msec(INT_MAX) ? apr_time_from_msec(INT_MAX)
                                               : limit;
}

int fcgix_connect_choose(fcgix_req_t *q)
{
    const fcgix_app_t *app = q->app;
    fcgix_addr_t addr[FCGIX_BACKENDS_MAX];
    apr_uint32_t weight[FCGIX_BACKENDS_MAX];
    int n;

    if (q->look == NULL) {
        q->look = class_find(q, 0);
    }
    if (app->kind != FCGIX_APP_EXTERNAL || app->nbackends == 0) {
        memset(&q->addr, 0, sizeof(q->addr));
        memcpy(q->addr.sa, &app->addr, app->addr_len);
        q->addr.len = app->addr_len;
        q->be = q->be_slot = -1;
        return 0;
    }
    n = fcgix_backends_get(app, addr, weight);
    q->be = fcgix_pm_backend_pick(q->look, addr, weight, n, q->tried, &q->turn,
                                  &q->be_slot);
    if (q->be < 0) {
        return -1;
    }
    q->addr = addr[q->be];
    q->tried |= 1u << q->be;
    return 0;
}

void fcgix_connect_backend_failed(fcgix_req_t *q, int kind)
{
    static const char *const what[] = {
        "refused the connection", "timed out connecting",
        "is overloaded (FCGI_OVERLOADED)", "closed the connection"};
    int secs = q->app->o.disable_time;

    if (q->be < 0) {
        return;
    }
    if (fcgix_pm_backend_failed(q->look, q->be_slot, kind, secs) &&
        q->app->nbackends > 1) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                      "FCGIX0130: %s: backend %s %s: disabled for %d s "
                      "(-disable-time)",
                      q->app->path, addr_text(q), what[kind], secs);
    }
}

static int timed_out(fcgix_req_t *q, apr_interval_time_t limit)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                  "FCGIX0101: %s: connecting to %s timed out after "
                  "%" APR_TIME_T_FMT " ms (-appConnTimeout)",
                  q->app->path, addr_text(q), apr_time_as_msec(limit));
    return HTTP_GATEWAY_TIME_OUT;
}

/* How long one attempt on a backend may take: with several, an equal share
 * of the connect limit, so that one that does not answer leaves time for
 * the others. */
static apr_time_t attempt_deadline(const fcgix_req_t *q, apr_time_t now,
                                   apr_time_t deadline,
                                   apr_interval_time_t limit)
{
    apr_interval_time_t share;

    if (q->app->nbackends <= 1) {
        return deadline;
    }
    share = limit / q->app->nbackends;
    return now + share < deadline ? now + share : deadline;
}

/* One external backend, until `until`: OK, or 503 with *kind
 * FCGIX_BE_REFUSED, or 504 with FCGIX_BE_TIMEOUT (a full backlog too), or
 * (no socket to be had) 503 with -1. */
static int attempt(fcgix_req_t *q, apr_time_t until, int *kind)
{
    apr_time_t now;
    int backoff = 1, st;

    if ((st = open_socket(q)) != OK) {
        *kind = -1; /* ours (out of descriptors), not the backend's */
        return st;
    }
    for (now = fcgix_pm_clock(); now < until; now = fcgix_pm_clock()) {
        int left_ms = (int)apr_time_as_msec(until - now);
        st = left_ms > 0 ? try_connect(q, left_ms) : -1;
        if (st == OK) {
            return OK;
        }
        if (st == -4) {
            *kind = FCGIX_BE_REFUSED;
            return HTTP_SERVICE_UNAVAILABLE;
        }
        now = fcgix_pm_clock();
        left_ms = (int)apr_time_as_msec(until - now);
        if (left_ms > 0) {
            fcgix_wait_fd(-1, 0, backoff < left_ms ? backoff : left_ms);
        }
        backoff = backoff < 32 ? backoff * 2 : 50;
    }
    *kind = FCGIX_BE_TIMEOUT;
    return HTTP_GATEWAY_TIME_OUT;
}

/* An external app: its backends in turn (q->addr first), each refusing or
 * silent one disabled, until one accepts or none is left. */
static int connect_external(fcgix_req_t *q, fcgix_pm_class_t *c,
                            apr_time_t deadline, apr_interval_time_t limit)
{
    int st, kind = FCGIX_BE_REFUSED, err;

    for (;;) {
        apr_time_t now = fcgix_pm_clock();
        st = attempt(q, attempt_deadline(q, now, deadline, limit), &kind);
        if (st == OK) {
            take_counters(q, c);
            fcgix_keep_connected(q);
            return OK;
        }
        if (kind < 0) {
            return st; /* logged */
        }
        err = errno;
        fcgix_connect_backend_failed(q, kind);
        if (fcgix_pm_clock() >= deadline || fcgix_connect_choose(q) < 0) {
            break;
        }
    }
    if (kind == FCGIX_BE_REFUSED) {
        return connect_failed(q, st, err, "nothing accepts connections there");
    }
    return timed_out(q, limit);
}

/* Connects without blocking past -appConnTimeout (or the server Timeout).
 * A full backlog is retried with a short back-off; a managed application
 * that is not there yet is asked for and waited for. The address is the
 * one fcgix_connect_choose chose. */
static int connect_once(fcgix_req_t *q)
{
    const fcgix_app_t *app = q->app;
    apr_interval_time_t limit = fcgix_connect_limit(q);
    apr_time_t t0, now, deadline, next_ring = 0;
    fcgix_pm_class_t *c;
    int backoff = 1, watch = -1, st;

    if (q->addr.len == 0 && fcgix_connect_choose(q) < 0) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    c = q->look; /* once per request */
    t0 = fcgix_pm_clock();
    deadline = t0 + limit;

    apr_pool_cleanup_register(q->r->pool, q, release_counters,
                              apr_pool_cleanup_null);
    if (q->fd >= 0) { /* a kept connection (mod_fcgix_keep.c) */
        take_counters(q, c);
        return OK;
    }
    if (app->kind == FCGIX_APP_EXTERNAL) {
        return connect_external(q, c, deadline, limit);
    }
    if (backing_off(q, c)) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if ((st = open_socket(q)) != OK) {
        return st;
    }
    for (now = t0;; now = fcgix_pm_clock()) {
        int left_ms = (int)apr_time_as_msec(deadline - now);
        st = left_ms > 0 ? try_connect(q, left_ms) : -1;
        if (st == OK) {
            take_counters(q, c);
            fcgix_keep_connected(q);
            return OK;
        }
        if (st > 0) {
            return st;
        }
        /* one reading decides both whether to go on and how long to wait */
        now = fcgix_pm_clock();
        if (now >= deadline) {
            break;
        }
        if (st == -2) {
            if ((st = managed_wait(q, t0, &backoff, &next_ring, &watch)) != 0 ||
                (st = open_socket(q)) != OK) {
                return st;
            }
            c = NULL; /* the PM may have made or replaced it meanwhile */
            continue;
        }
        if (app->kind == FCGIX_APP_DYNAMIC && !q->rang_overload &&
            now - t0 > apr_time_from_sec(app->o.start_delay)) {
            fcgix_pm_ring(FCGIX_BELL_OVERLOADED, app->path, app->uid, app->gid);
            q->rang_overload = 1;
        }
        left_ms = (int)apr_time_as_msec(deadline - now);
        fcgix_wait_fd(-1, 0, backoff < left_ms ? backoff : left_ms);
        backoff = backoff < 32 ? backoff * 2 : 50;
    }
    return timed_out(q, limit);
}

/* The time inside counts as waiting for a process (the metrics). */
int fcgix_connect(fcgix_req_t *q)
{
    apr_time_t t0 = fcgix_pm_clock();
    int st;

    fcgix_observe_wait_begin(q);
    st = connect_once(q);
    fcgix_observe_wait_end(q, t0);
    return st;
}

fcgix_pm_class_t *fcgix_connect_class(fcgix_req_t *q)
{
    if (fcgix_pm_class_current(q->cls)) {
        return q->cls;
    }
    if (fcgix_pm_class_current(q->look)) {
        return q->look;
    }
    return class_find(q, 1);
}

void fcgix_connect_release(fcgix_req_t *q)
{
    release_counters(q);
}

int fcgix_connect_backing_off(fcgix_req_t *q)
{
    return backing_off(q, class_find(q, 1));
}

void fcgix_connect_outcome(fcgix_req_t *q, int st)
{
    if (st == OK && q->ended) {
        fcgix_pm_class_completed(q->cls); /* proof that a process served */
    } else if (st >= HTTP_INTERNAL_SERVER_ERROR) {
        /* 4xx are the client's (a body too slow or broken off), not the
         * app's */
        fcgix_pm_class_failed(
            fcgix_pm_class_current(q->cls) ? q->cls : class_find(q, 1));
    }
}
