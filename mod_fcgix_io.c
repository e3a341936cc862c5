/*
 * mod_fcgix_io.c - the request engine: one FastCGI request, one connection.
 *
 * Direction of each byte:
 *   client body -> (spool, mod_fcgix_body.c) -> STDIN records -> app
 *   app -> record decoder -> header framer -> httpd CGI header logic
 *                         -> body slices as buckets -> output filters
 *                         -> stderr lines -> error log
 * Sending STDIN and reading the response share one poll loop, so an app
 * that answers before it has read the whole body cannot deadlock us.
 * Memory stays bounded: one read buffer at a time is in flight (the output
 * filters block on a slow client), the header block and stderr line have
 * configured limits, and a spooled body beyond 64 KiB goes to a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <pthread.h>
#include <sys/inotify.h>
#endif

#include "mod_fcgix.h"
#include "pm/pm.h"
#include "proto/fcgix_proto.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"
#include "apr_buckets.h"
#include "apr_file_io.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "unixd.h"

APLOG_USE_MODULE(fcgix);

#define RBUF_SIZE 65536 /* one read from the app */
#define REQ_ID 1        /* one request per connection: always id 1 */
#define OBUF_SIZE (FCGIX_REC_HEADER_LEN * 2 + FCGIX_REC_MAX_CONTENT)

/* How the response ended up, besides streaming normally. */
enum { FIN_NONE = 0, FIN_DONE, FIN_HEAD, FIN_REDIRECT, FIN_NOT_MODIFIED };

typedef struct {
    request_rec *r;
    const fcgix_app_t *app;
    int fd;
    fcgix_dec_t dec;
    fcgix_hdr_t hdr;
    unsigned char *hbuf; /* header block so far */
    size_t hlen, hcap;
    int headers_done; /* header block accepted by httpd */
    int sent;         /* something went down the output filters */
    int fin;          /* FIN_*: stop reading the app */
    int nph;          /* -nph: stdout is the raw HTTP response */
    int ended;        /* END_REQUEST seen */
    /* toward the app */
    unsigned char *obuf;
    const unsigned char *optr;
    size_t olen;
    const unsigned char *next_ptr; /* body bytes read before connecting */
    size_t next_len;
    int stdin_eof;  /* the empty STDIN record is queued or sent */
    int stdin_dead; /* the app stopped reading: drop the rest */
    /* request body source */
    fcgix_body_t *body;
    int spooled; /* chunked: the app gets CONTENT_LENGTH spool_len */
    apr_off_t spool_len;
    /* response */
    apr_bucket_brigade *obb;
    char *rbuf; /* read buffer not yet handed to buckets */
    int readable;
    int unflushed;
    /* stderr */
    char *eline; /* the stderr line being collected */
    char *eesc;  /* its escaped form */
    size_t elen;
    int eskip;
    apr_size_t elogged, esuppressed;
    /* time spent waiting on the app, and (body streaming) on the client:
     * -request-timeout bounds their sum */
    apr_interval_time_t waited;
    apr_interval_time_t client_waited;
    int got_bytes;     /* something came from the app */
    int rang_overload; /* told the PM a request waited past -startDelay */
    /* AUTHORIZER role: the response is collected here, not sent */
    fcgix_auth_result_t *auth;
    const apr_table_t *extra_env;
    int spec_auth_env; /* -compat: the specification's authorizer env */
    /* the class the PM publishes (managed and external apps), once the
     * counters were taken on it at the connect */
    fcgix_pm_class_t *cls;
    apr_time_t connected;
} fcgix_req_t;

/* ------------------------------------------------------------- logging */

static void log_stderr_line(fcgix_req_t *q, const char *line, size_t len,
                            int cut)
{
    size_t cap = (size_t)q->app->o.stderr_max_line * 4 + 1;

    if (q->elogged >= (apr_size_t)q->app->o.stderr_max_bytes) {
        q->esuppressed += len + 1;
        return;
    }
    if (q->eesc == NULL) { /* one buffer per request, whatever it writes */
        q->eesc = apr_palloc(q->r->pool, cap);
    }
    q->elogged += len + 1;
    fcgix_log_escape(q->eesc, cap, (const unsigned char *)line, len);
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "FCGIX0300: %s: stderr: %s%s",
                  q->app->path, q->eesc, cut ? " [line cut]" : "");
}

/* Splits STDERR into lines; long lines are cut at -stderr-max-line and
 * logging stops after -stderr-max-bytes, so a flooding app cannot grow the
 * error log by more than a bounded amount per request. */
static void on_stderr(fcgix_req_t *q, const unsigned char *p, size_t len)
{
    size_t max = (size_t)q->app->o.stderr_max_line;
    size_t i;

    if (q->eline == NULL) {
        q->eline = apr_palloc(q->r->pool, max);
    }
    for (i = 0; i < len; i++) {
        if (p[i] == '\n') {
            size_t n = q->elen;
            if (n && q->eline[n - 1] == '\r') {
                n--;
            }
            if (!q->eskip) {
                log_stderr_line(q, q->eline, n, 0);
            }
            q->elen = 0;
            q->eskip = 0;
        } else if (q->eskip) {
            q->esuppressed++;
        } else if (q->elen < max) {
            q->eline[q->elen++] = (char)p[i];
        } else {
            log_stderr_line(q, q->eline, q->elen, 1);
            q->elen = 0;
            q->eskip = 1;
            q->esuppressed++;
        }
    }
}

static void stderr_finish(fcgix_req_t *q)
{
    if (q->elen && !q->eskip) {
        log_stderr_line(q, q->eline, q->elen, 0);
        q->elen = 0;
    }
    if (q->esuppressed) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                      "FCGIX0301: %s: %" APR_SIZE_T_FMT " further bytes of "
                      "stderr suppressed (limits -stderr-max-line %d, "
                      "-stderr-max-bytes %d)",
                      q->app->path, q->esuppressed, q->app->o.stderr_max_line,
                      q->app->o.stderr_max_bytes);
        q->esuppressed = 0;
    }
}

/* ---------------------------------------------------------- connecting */

static apr_status_t close_app(void *data)
{
    fcgix_req_t *q = data;

    if (q->fd >= 0) {
        close(q->fd);
        q->fd = -1;
    }
    return APR_SUCCESS;
}

/* Waits for events on fd (none: -1) for timeout_ms at most. A negative
 * timeout, a deadline that passed while the caller computed it, returns at
 * once: poll() would take it for "wait forever". */
static int wait_fd(int fd, short events, int timeout_ms)
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

static int connect_failed(fcgix_req_t *q, int status, int err, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, err, q->r,
                  "FCGIX0100: %s: cannot connect to %s: %s", q->app->path,
                  q->app->addr_text, what);
    return status;
}

void fcgix_app_identity(request_rec *r, const fcgix_app_t *app,
                        apr_uint32_t *uid, apr_uint32_t *gid)
{
    ap_unix_identity_t *ug =
        fcgix_globals->wrapper ? ap_run_get_suexec_identity(r) : NULL;

    *uid = (apr_uint32_t)(ug ? ug->uid : ap_unixd_config.user_id);
    *gid = (apr_uint32_t)(ug ? ug->gid : ap_unixd_config.group_id);
}

/* The request's class as the PM published it now, if it did. */
static fcgix_pm_class_t *class_lookup(fcgix_req_t *q)
{
    apr_uint32_t uid = q->app->uid, gid = q->app->gid;

    if (q->app->kind != FCGIX_APP_DYNAMIC) {
        uid = (apr_uint32_t)ap_unixd_config.user_id;
        gid = (apr_uint32_t)ap_unixd_config.group_id;
    }
    return fcgix_pm_class_lookup(q->r->pool, q->app->path, uid, gid);
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
        fcgix_pm_class_leave(q->cls, fcgix_pm_clock() - q->connected);
        q->connected = 0;
    }
    return APR_SUCCESS;
}

/* c: the class as looked up for this connect, or NULL to look it up now
 * (also when the PM has given its slot to another class meanwhile). */
static void take_counters(fcgix_req_t *q, apr_time_t t0, fcgix_pm_class_t *c)
{
    apr_time_t now = fcgix_pm_clock();

    if (!fcgix_pm_class_current(c)) {
        c = class_lookup(q);
    }
    if (fcgix_pm_class_enter(c, now - t0)) {
        q->cls = c;
        q->connected = now;
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
    c = class_lookup(q);
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
        if (wait_fd(*watch, POLLIN, *backoff_ms) > 0) {
            while (read(*watch, ev, sizeof(ev)) > 0) {
            }
            return 0;
        }
    } else {
        wait_fd(-1, 0, *backoff_ms);
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
    q->fd = socket(q->app->addr.ss_family,
                   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0) {
        return connect_failed(q, HTTP_SERVICE_UNAVAILABLE, errno, "socket");
    }
    if (q->app->addr.ss_family != AF_UNIX) {
        setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return OK;
}

/* One connect() attempt: OK, a status to fail with, or -1 to retry. */
static int try_connect(fcgix_req_t *q, int left_ms)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (connect(q->fd, (const struct sockaddr *)&q->app->addr,
                q->app->addr_len) == 0) {
        return OK;
    }
    if (errno == EINTR || errno == EAGAIN) {
        return -1; /* EAGAIN: a full Unix backlog */
    }
    if (errno == EINPROGRESS) {
        if (wait_fd(q->fd, POLLOUT, left_ms > 0 ? left_ms : 0) <= 0) {
            return -1;
        }
        getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        errno = err;
        if (err == 0) {
            return OK;
        }
    }
    if (q->app->kind == FCGIX_APP_EXTERNAL) {
        return connect_failed(q, HTTP_SERVICE_UNAVAILABLE, errno,
                              "nothing accepts connections there");
    }
    return -2; /* managed: not there (yet) */
}

/* Connects without blocking past -appConnTimeout (or the server Timeout).
 * A full backlog is retried with a short back-off; a managed application
 * that is not there yet is asked for and waited for. */
static int connect_app(fcgix_req_t *q)
{
    const fcgix_app_t *app = q->app;
    apr_interval_time_t limit = app->o.app_conn_timeout
                                    ? apr_time_from_sec(app->o.app_conn_timeout)
                                    : q->r->server->timeout;
    apr_time_t t0, now, deadline, next_ring = 0;
    fcgix_pm_class_t *c = class_lookup(q); /* once per request */
    int backoff = 1, watch = -1, st;

    /* milliseconds of it must fit an int (httpd's Timeout has no bound) */
    if (limit > apr_time_from_msec(INT_MAX)) {
        limit = apr_time_from_msec(INT_MAX);
    }
    t0 = fcgix_pm_clock();
    deadline = t0 + limit;

    apr_pool_cleanup_register(q->r->pool, q, release_counters,
                              apr_pool_cleanup_null);
    if (app->kind != FCGIX_APP_EXTERNAL && backing_off(q, c)) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if ((st = open_socket(q)) != OK) {
        return st;
    }
    for (now = t0;; now = fcgix_pm_clock()) {
        int left_ms = (int)apr_time_as_msec(deadline - now);
        st = left_ms > 0 ? try_connect(q, left_ms) : -1;
        if (st == OK) {
            take_counters(q, t0, c);
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
        wait_fd(-1, 0, backoff < left_ms ? backoff : left_ms);
        backoff = backoff < 32 ? backoff * 2 : 50;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                  "FCGIX0101: %s: connecting to %s timed out after "
                  "%" APR_TIME_T_FMT " ms (-appConnTimeout)",
                  app->path, app->addr_text, apr_time_as_msec(limit));
    return HTTP_GATEWAY_TIME_OUT;
}

/* ----------------------------------------------------------- the body */

/* Queues the next STDIN record (and the end-of-stream record at EOS). */
static int fill_stdin(fcgix_req_t *q)
{
    unsigned char *o = q->obuf;
    /* Once connected (fd set), waiting for the client holds a process:
     * it counts against -request-timeout with the time spent on the app. */
    apr_interval_time_t spent = q->waited + q->client_waited;
    apr_size_t got = 0;
    size_t used;
    int st;

    st = fcgix_body_read(q->body, (char *)o + FCGIX_REC_HEADER_LEN,
                         FCGIX_REC_MAX_CONTENT, &got,
                         q->fd >= 0 ? &spent : NULL);
    q->client_waited = spent - q->waited;
    if (st != OK) {
        return st;
    }
    used = 0;
    if (got) {
        fcgix_rec_header(o, FCGIX_T_STDIN, REQ_ID, got, 0);
        used = FCGIX_REC_HEADER_LEN + got;
    }
    if (fcgix_body_eos(q->body)) {
        fcgix_rec_header(o + used, FCGIX_T_STDIN, REQ_ID, 0, 0);
        used += FCGIX_REC_HEADER_LEN;
        q->stdin_eof = 1;
    }
    q->optr = o;
    q->olen = used;
    return OK;
}

/* ------------------------------------------------------------- params */

/* Environment variable names as mod_cgi gives them: bytes other than
 * alphanumerics and '_' become '_'. */
static size_t put_pair(unsigned char *out, size_t cap, const char *k,
                       const char *v)
{
    size_t klen = strlen(k), vlen = strlen(v);
    size_t n = fcgix_nv_encode(out, cap, k, klen, v, vlen);
    unsigned char *name;

    if (n == 0) {
        return 0;
    }
    name = out + (n - klen - vlen);
    for (; klen; klen--, name++) {
        if (!apr_isalnum(*name) && *name != '_') {
            *name = '_';
        }
    }
    return n;
}

static void add_pass_headers(request_rec *r, const fcgix_app_t *app)
{
    const char **names = (const char **)app->o.pass_headers->elts;
    int i;

    for (i = 0; i < app->o.pass_headers->nelts; i++) {
        const char *v = apr_table_get(r->headers_in, names[i]);
        char *env, *p;
        if (v == NULL) {
            continue;
        }
        /* mod_fastcgi passed the header under its own name; CGI programs
         * look for HTTP_NAME. Give both. */
        apr_table_setn(r->subprocess_env, names[i], v);
        env = apr_pstrcat(r->pool, "HTTP_", names[i], NULL);
        for (p = env + 5; *p; p++) {
            *p = apr_isalnum(*p) ? apr_toupper(*p) : '_';
        }
        apr_table_setn(r->subprocess_env, env, v);
    }
}

/* Builds BEGIN_REQUEST, the PARAMS stream, and for a request without a
 * body the empty STDIN record: everything the app needs, in one write. */
static void build_params(fcgix_req_t *q, int has_body)
{
    request_rec *r = q->r;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    unsigned char *nv, *out;
    size_t nvlen = 0, cap = 0, total;
    int i;

    ap_add_common_vars(r);
    ap_add_cgi_vars(r);
    add_pass_headers(r, q->app);
    apr_table_unset(r->subprocess_env, "HTTP_PROXY"); /* httpoxy */
    if (q->spooled) { /* the app sees a plain body of known length */
        apr_table_setn(r->subprocess_env, "CONTENT_LENGTH",
                       apr_off_t_toa(r->pool, q->spool_len));
        apr_table_unset(r->subprocess_env, "HTTP_TRANSFER_ENCODING");
    }
    /* An authorizer's own variables (FCGI_APACHE_ROLE, REMOTE_PASSWD) go
     * to the app only, never into the request's environment, and replace
     * what is there (REMOTE_USER): each parameter once. */
    if (q->extra_env) {
        apr_table_t *env = apr_table_copy(r->pool, r->subprocess_env);
        apr_table_overlap(env, q->extra_env, APR_OVERLAP_TABLES_SET);
        if (q->spec_auth_env) { /* FastCGI spec 6.3, as mod_fastcgi did */
            apr_table_unset(env, "CONTENT_LENGTH");
            apr_table_unset(env, "PATH_INFO");
            apr_table_unset(env, "PATH_TRANSLATED");
            apr_table_unset(env, "SCRIPT_NAME");
        }
        arr = apr_table_elts(env);
    } else {
        arr = apr_table_elts(r->subprocess_env);
    }
    e = (const apr_table_entry_t *)arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && e[i].val) {
            cap += fcgix_nv_size(strlen(e[i].key), strlen(e[i].val));
        }
    }
    nv = apr_palloc(r->pool, cap ? cap : 1);
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && e[i].val) {
            nvlen += put_pair(nv + nvlen, cap - nvlen, e[i].key, e[i].val);
        }
    }
    total = FCGIX_BEGIN_REQUEST_LEN + fcgix_rec_wrap_size(nvlen) +
            (nvlen ? FCGIX_REC_HEADER_LEN : 0) +
            (has_body ? 0 : FCGIX_REC_HEADER_LEN);
    out = apr_palloc(r->pool, total);
    fcgix_rec_begin_request(
        out, REQ_ID, q->auth ? FCGIX_ROLE_AUTHORIZER : FCGIX_ROLE_RESPONDER, 0);
    q->olen = FCGIX_BEGIN_REQUEST_LEN;
    q->olen += fcgix_rec_wrap(out + q->olen, total - q->olen, FCGIX_T_PARAMS,
                              REQ_ID, nv, nvlen);
    if (nvlen) { /* wrap() wrote data records; add the end marker */
        fcgix_rec_header(out + q->olen, FCGIX_T_PARAMS, REQ_ID, 0, 0);
        q->olen += FCGIX_REC_HEADER_LEN;
    }
    if (!has_body) {
        fcgix_rec_header(out + q->olen, FCGIX_T_STDIN, REQ_ID, 0, 0);
        q->olen += FCGIX_REC_HEADER_LEN;
        q->stdin_eof = 1;
    }
    q->optr = out;
}

/* ----------------------------------------------------------- response */

typedef struct {
    const unsigned char *block;
    size_t len, pos;
} hdr_iter_t;

/* A getter for ap_scan_script_header_err_core_ex: hands it the accepted
 * lines as "Name:value", dropping the app's framing headers (httpd frames
 * the response itself), then the empty line that ends the block. */
static int hdr_getter(char *buf, int len, void *data)
{
    hdr_iter_t *it = data;
    const unsigned char *n, *v;
    size_t nl, vl;

    while (fcgix_hdr_next(it->block, it->len, &it->pos, &n, &nl, &v, &vl)) {
        if (fcgix_hdr_name_is(n, nl, "Content-Length") ||
            fcgix_hdr_name_is(n, nl, "Transfer-Encoding")) {
            continue;
        }
        if (nl + 1 + vl >= (size_t)len) { /* bounded by -header-max-line */
            nl = 0;
            vl = 0;
        }
        memcpy(buf, n, nl);
        buf[nl] = ':';
        memcpy(buf + nl + 1, v, vl);
        buf[nl + 1 + vl] = '\0';
        return 1;
    }
    buf[0] = '\0';
    return 1;
}

static int bad_response(fcgix_req_t *q, const char *tag_msg)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r, "%s: %s", tag_msg,
                  q->app->path);
    return HTTP_BAD_GATEWAY;
}

/* AUTHORIZER role: the headers are the app's answer, not the response to
 * the client; keep them (and the status) for the authorizer hooks. */
static int auth_headers(fcgix_req_t *q)
{
    const unsigned char *n, *v;
    size_t nl, vl, pos = 0;

    q->auth->status = HTTP_OK;
    q->auth->headers = apr_table_make(q->r->pool, 8);
    while (fcgix_hdr_next(q->hbuf, q->hlen, &pos, &n, &nl, &v, &vl)) {
        if (fcgix_hdr_name_is(n, nl, "Status")) {
            q->auth->status = fcgix_hdr_status_code(v, vl);
        } else if (!fcgix_hdr_name_is(n, nl, "Content-Length") &&
                   !fcgix_hdr_name_is(n, nl, "Transfer-Encoding")) {
            apr_table_addn(q->auth->headers,
                           apr_pstrmemdup(q->r->pool, (const char *)n, nl),
                           apr_pstrmemdup(q->r->pool, (const char *)v, vl));
        }
    }
    q->headers_done = 1;
    return OK;
}

/* The header block is complete: check what httpd's scanner does not, then
 * let it set status, headers and conditional-request results. */
static int headers_complete(fcgix_req_t *q)
{
    request_rec *r = q->r;
    hdr_iter_t it = {q->hbuf, q->hlen, 0};
    const unsigned char *n, *v;
    size_t nl, vl, pos = 0;
    char sbuf[MAX_STRING_LEN];
    const char *location;
    int rc;

    while (fcgix_hdr_next(q->hbuf, q->hlen, &pos, &n, &nl, &v, &vl)) {
        if (fcgix_hdr_name_is(n, nl, "Status") &&
            fcgix_hdr_status_code(v, vl) < 0) {
            return bad_response(q, "FCGIX0108: invalid Status header (a "
                                   "code from 200 to 599 is required) from "
                                   "application");
        }
    }
    if (q->auth) {
        return auth_headers(q);
    }
    sbuf[0] = '\0';
    rc = ap_scan_script_header_err_core_ex(r, sbuf, hdr_getter, &it,
                                           APLOG_MODULE_INDEX);
    if (rc == HTTP_NOT_MODIFIED) {
        r->status = rc;
        q->fin = FIN_NOT_MODIFIED;
        return OK;
    }
    if (rc != OK) {
        return bad_response(q, "FCGIX0114: response headers rejected by "
                               "httpd for application");
    }
    q->headers_done = 1;
    location = apr_table_get(r->headers_out, "Location");
    if (location && r->status == HTTP_OK) {
        if (location[0] == '/') {
            q->fin = FIN_REDIRECT;
            return OK;
        }
        return HTTP_MOVED_TEMPORARILY;
    }
    if (r->header_only) {
        q->fin = FIN_HEAD;
    }
    return OK;
}

/* Collects header bytes until the block is complete. Returns OK with *used
 * set to the header bytes of this slice, or an error status. */
static int on_header_bytes(fcgix_req_t *q, const unsigned char *p, size_t len,
                           size_t *used)
{
    fcgix_hdr_status_t st = fcgix_hdr_feed(&q->hdr, p, len, used);

    if (st == FCGIX_HDR_TOO_BIG) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0106: %s: response header block over its limits "
                      "(-header-max-bytes %d, -header-max-lines %d, "
                      "-header-max-line %d)",
                      q->app->path, q->app->o.hdr_max_bytes,
                      q->app->o.hdr_max_lines, q->app->o.hdr_max_line);
        return HTTP_BAD_GATEWAY;
    }
    if (st == FCGIX_HDR_BAD) {
        return bad_response(q, "FCGIX0107: malformed response header line "
                               "(control byte, bare CR, obs-fold or missing "
                               "colon) from application");
    }
    if (q->hlen + *used > q->hcap) {
        size_t ncap = q->hcap ? q->hcap : 1024;
        unsigned char *nb;
        while (ncap < q->hlen + *used) {
            ncap *= 2;
        }
        nb = apr_palloc(q->r->pool, ncap);
        if (q->hlen) {
            memcpy(nb, q->hbuf, q->hlen);
        }
        q->hbuf = nb;
        q->hcap = ncap;
    }
    memcpy(q->hbuf + q->hlen, p, *used);
    q->hlen += *used;
    return st == FCGIX_HDR_DONE ? headers_complete(q) : OK;
}

/* -nph: the app's bytes are the response as the client gets it, so every
 * filter that would frame or change it goes (as mod_cgi does for nph-
 * scripts), up to the connection's own. The first byte commits to that; an
 * error before it still gets httpd's own error page. Nothing delimits the
 * response but the end of the connection. */
static void nph_start(fcgix_req_t *q)
{
    request_rec *r = q->r;
    ap_filter_t *f = r->proto_output_filters;

    while (f && f->frec->ftype < AP_FTYPE_CONNECTION) {
        f = f->next;
    }
    r->output_filters = r->proto_output_filters = f;
    r->connection->keepalive = AP_CONN_CLOSE;
    q->sent = 1;
}

/* STDOUT content: header bytes first, then body slices that share the
 * read buffer (one heap bucket, reference-counted copies: no copying). */
static int on_stdout(fcgix_req_t *q, apr_bucket **whole, const char *buf,
                     size_t n, const unsigned char *p, size_t len)
{
    apr_bucket *b;

    if (!q->headers_done) {
        size_t used;
        int st = on_header_bytes(q, p, len, &used);
        if (st != OK || q->fin) {
            return st;
        }
        p += used;
        len -= used;
        if (len == 0) {
            return OK;
        }
    }
    if (q->auth) { /* keep the first FCGIX_AUTH_BODY_MAX bytes */
        apr_size_t room = FCGIX_AUTH_BODY_MAX - q->auth->body_len;
        apr_size_t take = len < room ? len : room;
        if (q->auth->body == NULL) {
            q->auth->body = apr_palloc(q->r->pool, FCGIX_AUTH_BODY_MAX + 1);
        }
        memcpy(q->auth->body + q->auth->body_len, p, take);
        q->auth->body_len += take;
        q->auth->body[q->auth->body_len] = '\0';
        return OK;
    }
    if (q->nph && !q->sent && APR_BRIGADE_EMPTY(q->obb)) {
        nph_start(q);
    }
    if (*whole == NULL) {
        *whole = apr_bucket_heap_create(buf, n, apr_bucket_free,
                                        q->r->connection->bucket_alloc);
        q->rbuf = NULL; /* the bucket owns it now */
    }
    apr_bucket_copy(*whole, &b);
    b->start = (apr_off_t)((const char *)p - buf);
    b->length = len;
    APR_BRIGADE_INSERT_TAIL(q->obb, b);
    return OK;
}

static int protocol_error(fcgix_req_t *q, fcgix_proto_err_t e)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                  "FCGIX0105: %s: FastCGI protocol violation: %s", q->app->path,
                  fcgix_proto_strerror(e));
    return HTTP_BAD_GATEWAY;
}

static int on_end_request(fcgix_req_t *q, const fcgix_event_t *ev)
{
    if (ev->protocol_status == FCGIX_PS_OVERLOADED) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0111: %s: application is overloaded "
                      "(FCGI_OVERLOADED)",
                      q->app->path);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (ev->protocol_status != FCGIX_PS_REQUEST_COMPLETE) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0112: %s: application refused the request "
                      "(protocol status %u)",
                      q->app->path, ev->protocol_status);
        return HTTP_BAD_GATEWAY;
    }
    if (!q->headers_done && !q->fin) {
        return bad_response(q, "FCGIX0110: request ended before complete "
                               "response headers from application");
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, q->r,
                  "%s: request complete, app status %u", q->app->path,
                  (unsigned)ev->app_status);
    q->ended = 1;
    return OK;
}

/* Decodes one read's worth of bytes. */
static int on_bytes(fcgix_req_t *q, char *buf, size_t n)
{
    apr_bucket *whole = NULL;
    size_t off = 0;
    int st = OK;

    while (off < n && st == OK && !q->fin) {
        fcgix_event_t ev;
        off +=
            fcgix_dec_feed(&q->dec, (unsigned char *)buf + off, n - off, &ev);
        switch (ev.type) {
        case FCGIX_EV_STDOUT:
            st = on_stdout(q, &whole, buf, n, ev.data, ev.len);
            break;
        case FCGIX_EV_STDERR:
            on_stderr(q, ev.data, ev.len);
            break;
        case FCGIX_EV_END_REQUEST:
            st = on_end_request(q, &ev);
            break;
        case FCGIX_EV_ERROR:
            st = protocol_error(q, ev.error);
            break;
        case FCGIX_EV_NONE:
            break;
        }
    }
    if (whole) {
        apr_bucket_destroy(whole); /* the slices keep the buffer alive */
    }
    return st;
}

/* ----------------------------------------------------------- the loop */

#define CLIENT_GONE (-2)

static int pass_out(fcgix_req_t *q, int flush)
{
    apr_status_t rv;

    if (flush) {
        APR_BRIGADE_INSERT_TAIL(
            q->obb, apr_bucket_flush_create(q->r->connection->bucket_alloc));
    }
    if (APR_BRIGADE_EMPTY(q->obb)) {
        return OK;
    }
    q->sent = 1;
    rv = ap_pass_brigade(q->r->output_filters, q->obb);
    apr_brigade_cleanup(q->obb);
    q->unflushed = !flush;
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, q->r, "%s: client went away",
                      q->app->path);
        return CLIENT_GONE;
    }
    return OK;
}

/* Waits for the app, bounded by -idle-timeout and what is left of
 * -request-timeout (the total time a request may spend waiting on it). */
static int wait_app(fcgix_req_t *q)
{
    const fcgix_opts_t *o = &q->app->o;
    apr_interval_time_t wait = apr_time_from_sec(o->idle_timeout);
    int total = 0, ring = 0, recheck = 0, rc;
    apr_time_t t0;

    if (o->request_timeout) {
        apr_interval_time_t left = apr_time_from_sec(o->request_timeout) -
                                   q->waited - q->client_waited;
        if (left <= wait) {
            wait = left > 0 ? left : 0;
            total = 1;
        }
    }
    /* A managed app that has not answered yet: look once a second whether
     * its class lost its last process and is backing off (the request
     * would sit in the socket's queue until the next attempt). */
    if (q->app->kind != FCGIX_APP_EXTERNAL && !q->got_bytes &&
        wait > apr_time_from_sec(1)) {
        wait = apr_time_from_sec(1);
        recheck = 1;
    }
    /* A dynamic app that has not answered within -startDelay: wake then,
     * tell the PM another process is needed, and go on waiting. */
    if (q->app->kind == FCGIX_APP_DYNAMIC && !q->got_bytes &&
        !q->rang_overload) {
        apr_interval_time_t due =
            apr_time_from_sec(q->app->o.start_delay) - q->waited;
        if (due <= 0) {
            fcgix_pm_ring(FCGIX_BELL_OVERLOADED, q->app->path, q->app->uid,
                          q->app->gid);
            q->rang_overload = 1;
        } else if (due < wait) {
            wait = due;
            ring = 1;
        }
    }
    t0 = fcgix_pm_clock();
    rc = wait_fd(q->fd, POLLIN | (q->olen ? POLLOUT : 0),
                 (int)((wait + 999) / 1000));
    q->waited += fcgix_pm_clock() - t0;
    if (rc == 0 && (ring || recheck)) {
        /* woke early on purpose: ring (the next wait does it) or look */
        if (recheck && backing_off(q, class_lookup(q))) {
            return HTTP_SERVICE_UNAVAILABLE;
        }
        if (q->waited < apr_time_from_sec(o->idle_timeout) &&
            (!o->request_timeout ||
             q->waited + q->client_waited <
                 apr_time_from_sec(o->request_timeout))) {
            return OK;
        }
    }
    if (rc == 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      total ? "FCGIX0104: %s: request exceeded -request-"
                              "timeout (%d s waiting on the application "
                              "or the client)"
                            : "FCGIX0103: %s: no data from the application "
                              "for %d s (-idle-timeout)",
                      q->app->path,
                      total ? o->request_timeout : o->idle_timeout);
        return HTTP_GATEWAY_TIME_OUT;
    }
    if (rc < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, q->r,
                      "FCGIX0113: %s: poll failed", q->app->path);
        return HTTP_BAD_GATEWAY;
    }
    if (rc & (POLLIN | POLLHUP | POLLERR)) {
        q->readable = 1;
    }
    return OK;
}

/* Sends what is pending toward the app; returns 1 on progress. */
static int send_some(fcgix_req_t *q)
{
    ssize_t w = send(q->fd, q->optr, q->olen, MSG_NOSIGNAL);

    if (w > 0) {
        q->optr += w;
        q->olen -= (size_t)w;
        return 1;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
        /* The app closed its side or answered without reading the whole
         * body: drop the rest of the body, keep reading the response. */
        q->stdin_dead = 1;
        q->olen = 0;
        q->readable = 1;
        return 1;
    }
    return 0;
}

static int recv_some(fcgix_req_t *q, int *progress)
{
    ssize_t n;
    int st;

    if (q->rbuf == NULL) {
        q->rbuf = apr_bucket_alloc(RBUF_SIZE, q->r->connection->bucket_alloc);
    }
    n = recv(q->fd, q->rbuf, RBUF_SIZE, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        q->readable = 0;
        return OK;
    }
    if (n <= 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, n < 0 ? errno : 0, q->r,
                      "FCGIX0109: %s: application closed the connection "
                      "before ending the request",
                      q->app->path);
        return HTTP_BAD_GATEWAY;
    }
    *progress = 1;
    q->got_bytes = 1;
    q->readable = n == RBUF_SIZE;
    st = on_bytes(q, q->rbuf, (size_t)n);
    if (st != OK || q->fin || q->ended) {
        return st;
    }
    return pass_out(q, q->app->o.flush);
}

static int pump(fcgix_req_t *q)
{
    for (;;) {
        int progress = 0, st;

        if (q->olen == 0 && q->next_len) {
            q->optr = q->next_ptr;
            q->olen = q->next_len;
            q->next_len = 0;
        } else if (q->olen == 0 && !q->stdin_eof && !q->stdin_dead) {
            st = fill_stdin(q);
            if (st != OK) {
                return st;
            }
        }
        if (q->olen) {
            progress = send_some(q);
        }
        if (q->readable) {
            st = recv_some(q, &progress);
            if (st != OK || q->fin || q->ended) {
                return st;
            }
        }
        if (!progress) {
            if (q->unflushed && (st = pass_out(q, 1)) != OK) {
                return st;
            }
            if ((st = wait_app(q)) != OK) {
                return st;
            }
        }
    }
}

/* After END_REQUEST the app closes the connection (we never ask it to keep
 * it). Waiting briefly for that close, rather than closing first, leaves
 * TCP's TIME_WAIT on the app's side: one per request on httpd's side
 * exhausts and slows ephemeral ports under load. Any byte instead of the
 * close is data after END_REQUEST: a protocol violation. */
#define CLOSE_WAIT_MS 100
static int check_trailing(fcgix_req_t *q)
{
    char c;
    ssize_t n = recv(q->fd, &c, 1, MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
        wait_fd(q->fd, POLLIN, CLOSE_WAIT_MS) > 0) {
        n = recv(q->fd, &c, 1, MSG_DONTWAIT);
    }
    if (n > 0) {
        return protocol_error(q, FCGIX_E_AFTER_END);
    }
    return OK;
}

/* After the response has started, an error can only cut it short: an
 * error bucket with 502 makes httpd's chunk filter omit the final chunk and
 * its error filter close the connection, so the client never takes a broken
 * response for a complete one. (The status itself never reaches the client;
 * 502 is the one value every 2.4 chunk filter treats as a broken backend.
 * The log line already said what happened.) */
static int truncate_response(fcgix_req_t *q)
{
    apr_bucket_alloc_t *ba = q->r->connection->bucket_alloc;

    apr_brigade_cleanup(q->obb);
    q->r->connection->keepalive = AP_CONN_CLOSE;
    APR_BRIGADE_INSERT_TAIL(
        q->obb, ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, q->r->pool, ba));
    APR_BRIGADE_INSERT_TAIL(q->obb, apr_bucket_eos_create(ba));
    ap_pass_brigade(q->r->output_filters, q->obb);
    return OK;
}

static int finish(fcgix_req_t *q, int st)
{
    request_rec *r = q->r;

    if (st == OK && q->ended) {
        st = check_trailing(q);
    }
    if (st == OK && q->nph && !q->sent) {
        st = bad_response(q, "FCGIX0117: -nph application ended the request "
                             "without writing a response");
    }
    if (st == OK && q->ended) {
        fcgix_pm_class_completed(q->cls); /* proof that a process served */
    }
    close_app(q);
    if (q->rbuf) {
        apr_bucket_free(q->rbuf);
        q->rbuf = NULL;
    }
    stderr_finish(q);
    if (st == CLIENT_GONE) {
        return OK;
    }
    /* 4xx are the client's (a body too slow or broken off), not the app's */
    if (st >= HTTP_INTERNAL_SERVER_ERROR) {
        fcgix_pm_class_failed(fcgix_pm_class_current(q->cls) ? q->cls
                                                             : class_lookup(q));
    }
    if (st != OK) {
        return q->sent ? truncate_response(q) : st;
    }
    if (q->auth) {
        return OK; /* the authorizer hooks decide what the client sees */
    }
    if (q->fin == FIN_REDIRECT) {
        r->method = "GET";
        r->method_number = M_GET;
        apr_table_unset(r->headers_in, "Content-Length");
        ap_internal_redirect_handler(apr_table_get(r->headers_out, "Location"),
                                     r);
        return OK;
    }
    if (q->fin == FIN_NOT_MODIFIED) {
        return OK; /* r->status is 304; httpd sends it without a body */
    }
    APR_BRIGADE_INSERT_TAIL(q->obb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    q->sent = 1;
    ap_pass_brigade(r->output_filters, q->obb);
    return OK;
}

/* The state of one request to app, in either role. */
static fcgix_req_t *req_new(request_rec *r, const fcgix_app_t *app)
{
    fcgix_req_t *q = apr_pcalloc(r->pool, sizeof(*q));

    q->r = r;
    q->app = app;
    q->fd = -1;
    apr_pool_cleanup_register(r->pool, q, close_app, apr_pool_cleanup_null);
    fcgix_dec_init(&q->dec, REQ_ID);
    fcgix_hdr_init(&q->hdr, (size_t)app->o.hdr_max_bytes,
                   (size_t)app->o.hdr_max_lines, (size_t)app->o.hdr_max_line);
    q->obb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return q;
}

int fcgix_authorize(request_rec *r, const fcgix_app_t *app,
                    const apr_table_t *extra_env, int spec_env,
                    fcgix_auth_result_t *res)
{
    fcgix_req_t *q = req_new(r, app);
    int st;

    memset(res, 0, sizeof(*res));
    q->auth = res;
    q->extra_env = extra_env;
    q->spec_auth_env = spec_env;
    build_params(q, 0); /* an authorizer gets no request body */
    st = connect_app(q);
    if (st == OK) {
        st = pump(q);
    }
    return finish(q, st);
}

int fcgix_respond(request_rec *r, const fcgix_app_t *app)
{
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    int has_body = te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
    fcgix_req_t *q = req_new(r, app);
    int st = OK;

    q->nph = app->o.nph;
    q->headers_done = q->nph; /* nothing to parse: the app's bytes go out */
    if (has_body) {
        q->obuf = apr_palloc(r->pool, OBUF_SIZE);
        /* Read what can be read before taking an app connection (a slow
         * client then holds no process; see mod_fcgix_body.c), and at least
         * the first part of the body: a body over LimitRequestBody fails
         * here, costing the app nothing. */
        st = fcgix_body_prepare(r, app, &q->body);
        if (st == OK) {
            q->spool_len = fcgix_body_chunked_length(q->body);
            q->spooled = q->spool_len >= 0;
            st = fill_stdin(q);
        }
        if (st != OK) {
            return st;
        }
        q->next_ptr = q->optr;
        q->next_len = q->olen;
        q->olen = 0;
    }
    /* The parameters are ready before the connection exists: an idle app
     * woken by the connect finds the request already there instead of
     * sleeping again until it comes. */
    build_params(q, has_body); /* queued ahead of the body bytes */
    st = connect_app(q);
    if (st == OK) {
        st = pump(q);
    }
    return finish(q, st);
}
