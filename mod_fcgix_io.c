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
 *
 * This file holds the request object, the loop and the two entry points
 * (RESPONDER, AUTHORIZER); mod_fcgix_int.h names the files that connect,
 * build the parameters and read the response.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mod_fcgix_int.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_atomic.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

#define RBUF_SIZE 65536 /* one read from the app */
#define OBUF_SIZE (FCGIX_REC_HEADER_LEN * 2 + FCGIX_REC_MAX_CONTENT)

static apr_status_t close_app(void *data)
{
    fcgix_req_t *q = data;

    if (q->fd >= 0) {
        close(q->fd);
        q->fd = -1;
    }
    return APR_SUCCESS;
}

/* ----------------------------------------------------------- the body */

/* Reads the next part of the body into the STDIN record's place. */
static int read_stdin(fcgix_req_t *q, apr_size_t *got)
{
    /* Once connected (fd set), waiting for the client holds a process:
     * it counts against -request-timeout with the time spent on the app. */
    apr_interval_time_t spent = q->waited + q->client_waited;
    int st;

    *got = 0;
    st =
        fcgix_body_read(q->body, (char *)q->obuf + FCGIX_REC_HEADER_LEN,
                        FCGIX_REC_MAX_CONTENT, got, q->fd >= 0 ? &spent : NULL);
    q->client_waited = spent - q->waited;
    return st;
}

/* Queues what read_stdin read as a STDIN record (and the end-of-stream
 * record at EOS). */
static void frame_stdin(fcgix_req_t *q, apr_size_t got)
{
    unsigned char *o = q->obuf;
    size_t used = 0;

    if (got) {
        fcgix_rec_header(o, FCGIX_T_STDIN, q->req_id, got, 0);
        used = FCGIX_REC_HEADER_LEN + got;
    }
    if (fcgix_body_eos(q->body)) {
        fcgix_rec_header(o + used, FCGIX_T_STDIN, q->req_id, 0, 0);
        used += FCGIX_REC_HEADER_LEN;
        q->stdin_eof = 1;
    }
    q->optr = o;
    q->olen = used;
}

static int fill_stdin(fcgix_req_t *q)
{
    apr_size_t got;
    int st = read_stdin(q, &got);

    if (st == OK) {
        frame_stdin(q, got);
    }
    return st;
}

/* ----------------------------------------------------------- the loop */

#define CLIENT_GONE (-2)
#define ABORT_LOOK_MS 250 /* HTTP/2: how often a silent wait looks */
#define STALE (-3)        /* a kept connection closed before any answer */

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

/* Why a wait on the app ends before its data or -idle-timeout. */
enum {
    WAIT_TOTAL = 1,  /* the rest of -request-timeout is the shorter bound */
    WAIT_RING = 2,   /* wake at -startDelay to ask the PM for a process */
    WAIT_RECHECK = 4 /* wake to look whether the class backs off */
};

/* How long the next wait on the app may last, and why it ends (*why). */
static apr_interval_time_t wait_budget(fcgix_req_t *q, int *why)
{
    const fcgix_opts_t *o = &q->app->o;
    apr_interval_time_t wait = apr_time_from_sec(o->idle_timeout);

    *why = 0;
    if (o->request_timeout) {
        apr_interval_time_t left = apr_time_from_sec(o->request_timeout) -
                                   q->waited - q->client_waited;
        if (left <= wait) {
            wait = left > 0 ? left : 0;
            *why |= WAIT_TOTAL;
        }
    }
    /* A managed app that has not answered yet: look once a second whether
     * its class lost its last process and is backing off (the request
     * would sit in the socket's queue until the next attempt). */
    if (q->app->kind != FCGIX_APP_EXTERNAL && !q->got_bytes &&
        wait > apr_time_from_sec(1)) {
        wait = apr_time_from_sec(1);
        *why |= WAIT_RECHECK;
    }
    /* A dynamic app that has not answered within -startDelay: wake then,
     * tell the PM another process is needed, and go on waiting. */
    if (q->app->kind == FCGIX_APP_DYNAMIC && !q->got_bytes &&
        !q->rang_overload) {
        apr_interval_time_t due = apr_time_from_sec(o->start_delay) - q->waited;
        if (due <= 0) {
            fcgix_pm_ring(FCGIX_BELL_OVERLOADED, q->app->path, q->app->uid,
                          q->app->gid);
            q->rang_overload = 1;
        } else if (due < wait) {
            wait = due;
            *why |= WAIT_RING;
        }
    }
    return wait;
}

/* The client's socket, to notice while waiting on the app that the client
 * has gone: only while a streamed response (SSE, X-Accel-Buffering: no,
 * -flush) is under way, whose writes may be minutes apart, and once the
 * whole request body went to the app; on an HTTP/1 connection of its own
 * (an HTTP/2 stream has none: mod_http2 fails our writes when the stream
 * is reset). A client that only shut down its sending side after its
 * request (nc -N, a pipelining client's FIN) looks the same as one that has
 * gone: an ordinary response is never cut for it, a stream is ended. -1:
 * not watched. */
static int client_fd(const fcgix_req_t *q)
{
    conn_rec *c = q->r->connection;
    apr_socket_t *s;
    apr_os_sock_t fd;

    if (!q->sent || !q->flush || !q->stdin_eof || q->olen || q->auth ||
        c->master || (s = ap_get_conn_socket(c)) == NULL ||
        apr_os_sock_get(&fd, s) != APR_SUCCESS) {
        return -1;
    }
    return fd;
}

/* Polls the app and, where watched, the client: poll()'s revents of the
 * app, 0 on timeout, -1 on error, CLIENT_GONE when the client hung up. */
static int poll_app(fcgix_req_t *q, int timeout_ms)
{
    struct pollfd pfd[2] = {
        {q->fd, (short)(POLLIN | (q->olen ? POLLOUT : 0)), 0},
        {client_fd(q), POLLRDHUP, 0}};
    conn_rec *c = q->r->connection;
    int n;

    /* An HTTP/2 stream has no socket to watch: mod_http2 marks its
     * connection aborted when the client resets it or goes. Look at that
     * every ABORT_LOOK_MS while the app is silent. */
    for (;;) {
        int slice = c->master && timeout_ms > ABORT_LOOK_MS ? ABORT_LOOK_MS
                                                            : timeout_ms;
        n = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, slice);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != 0 || slice == timeout_ms || c->aborted) {
            break;
        }
        timeout_ms -= slice;
    }
    if (c->aborted) {
        return CLIENT_GONE;
    }
    if (n > 0 && pfd[1].fd >= 0 &&
        (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r,
                      "%s: the client went away while the application was "
                      "silent",
                      q->app->path);
        return CLIENT_GONE;
    }
    if (n > 0 && pfd[0].revents == 0) {
        return POLLIN; /* nothing for us on the client: look at the app */
    }
    return n > 0 ? pfd[0].revents : n;
}

/* Waits for the app, bounded by -idle-timeout and what is left of
 * -request-timeout (the total time a request may spend waiting on it). */
static int wait_app(fcgix_req_t *q)
{
    const fcgix_opts_t *o = &q->app->o;
    int why, rc;
    apr_interval_time_t wait = wait_budget(q, &why);
    apr_time_t t0;

    t0 = fcgix_pm_clock();
    rc = poll_app(q, (int)((wait + 999) / 1000));
    q->waited += fcgix_pm_clock() - t0;
    if (rc == CLIENT_GONE) {
        return rc;
    }
    if (rc == 0 && (why & (WAIT_RING | WAIT_RECHECK))) {
        /* woke early on purpose: ring (the next wait does it) or look */
        if ((why & WAIT_RECHECK) && fcgix_connect_backing_off(q)) {
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
        ap_log_rerror(
            APLOG_MARK, APLOG_ERR, 0, q->r,
            (why & WAIT_TOTAL) ? "FCGIX0104: %s: request exceeded -request-"
                                 "timeout (%d s waiting on the application "
                                 "or the client)"
                               : "FCGIX0103: %s: no data from the application "
                                 "for %d s (-idle-timeout)",
            q->app->path,
            (why & WAIT_TOTAL) ? o->request_timeout : o->idle_timeout);
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
    if (n <= 0 && q->reused && !q->got_bytes) {
        return STALE; /* closed while it was kept: nothing was answered */
    }
    if (n <= 0 && !q->got_bytes && fcgix_other_backend_ok(q, 0)) {
        return FCGIX_OTHER_BACKEND;
    }
    if (n <= 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, n < 0 ? errno : 0, q->r,
                      "FCGIX0109: %s: application closed the connection "
                      "before ending the request",
                      q->app->path);
        fcgix_connect_backend_failed(q, FCGIX_BE_RESET);
        return HTTP_BAD_GATEWAY;
    }
    *progress = 1;
    q->got_bytes = 1; /* (the body is let go at the first output byte: an
                         FCGI_OVERLOADED answer may still send it on) */
    q->readable = n == RBUF_SIZE;
    st = fcgix_response_feed(q, q->rbuf, (size_t)n);
    if (st != OK || q->fin || q->ended) {
        return st;
    }
    return pass_out(q, q->flush);
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
            if (q->upgrade == FCGIX_UPG_TUNNEL) {
                return fcgix_upgrade_run(q, st); /* after a 101: the tunnel */
            }
            if (st != OK || q->fin || q->ended) {
                return st;
            }
        }
        if (!progress) {
            if (q->unflushed && !q->hold && (st = pass_out(q, 1)) != OK) {
                return st;
            }
            if ((st = wait_app(q)) != OK) {
                return st;
            }
        }
    }
}

/* After END_REQUEST, an app not asked to keep the connection closes it.
 * Waiting briefly for that close, rather than closing first, leaves TCP's
 * TIME_WAIT on the app's side: one per request on httpd's side exhausts
 * and slows ephemeral ports under load. An app asked to keep it sends
 * nothing more: what is there now is looked at, without a wait. Any byte
 * is data after END_REQUEST: a protocol violation. *keepable: the
 * connection is open and clean. */
#define CLOSE_WAIT_MS 100
static int check_trailing(fcgix_req_t *q, int *keepable)
{
    char c;
    ssize_t n = recv(q->fd, &c, 1, MSG_DONTWAIT);

    *keepable = 0;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (q->keep) {
            *keepable = !q->fin;
            return OK;
        }
        if (fcgix_wait_fd(q->fd, POLLIN, CLOSE_WAIT_MS) > 0) {
            n = recv(q->fd, &c, 1, MSG_DONTWAIT);
        }
    }
    if (n > 0) {
        return fcgix_response_protocol_error(q, FCGIX_E_AFTER_END);
    }
    return OK;
}

/* The connection after the request: kept for another one, or closed
 * (after telling the app, when the client went away, that its answer is
 * not wanted). Either way the request is no longer in flight on
 * its class, though its response may still be on the way to a slow
 * client. */
static void settle_connection(fcgix_req_t *q, int st, int keepable)
{
    if (st == CLIENT_GONE) {
        fcgix_keep_abort(q);
    }
    if (!fcgix_keep_settle(q, keepable && st == OK ? FCGIX_SETTLE_KEEP
                                                   : FCGIX_SETTLE_CLOSE)) {
        close_app(q);
    }
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
    apr_time_t end = q->connected ? fcgix_pm_clock() : 0;
    int keepable = 0;

    if (st == OK && q->ended) {
        st = check_trailing(q, &keepable);
    }
    if (st == OK && q->nph && !q->sent) {
        st = fcgix_response_bad(q,
                                "FCGIX0117: -nph application ended the request "
                                "without writing a response");
    }
    fcgix_observe_end(q, st == CLIENT_GONE ? OK : st, end);
    fcgix_connect_outcome(q, st);
    settle_connection(q, st, keepable);
    if (q->rbuf) {
        apr_bucket_free(q->rbuf);
        q->rbuf = NULL;
    }
    fcgix_response_stderr_end(q);
    if (st == CLIENT_GONE) {
        /* nothing more goes out, and never a response that looks whole */
        r->connection->aborted = 1;
        r->connection->keepalive = AP_CONN_CLOSE;
        return OK;
    }
    if (st != OK) {
        return q->sent ? truncate_response(q) : st;
    }
    if (q->auth) {
        return OK; /* the authorizer hooks decide what the client sees */
    }
    if (q->fin == FCGIX_FIN_REDIRECT) {
        r->method = "GET";
        r->method_number = M_GET;
        apr_table_unset(r->headers_in, "Content-Length");
        ap_internal_redirect_handler(apr_table_get(r->headers_out, "Location"),
                                     r);
        return OK;
    }
    if (q->fin == FCGIX_FIN_NOT_MODIFIED) {
        return OK; /* r->status is 304; httpd sends it without a body */
    }
    if (q->fin == FCGIX_FIN_ACCEL) {
        fcgix_deliver_accel(q);
        return OK;
    }
    if (q->sf_fd >= 0) {
        return fcgix_deliver_file(q);
    }
    APR_BRIGADE_INSERT_TAIL(q->obb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    q->sent = 1;
    ap_pass_brigade(r->output_filters, q->obb);
    return OK;
}

static apr_uint32_t next_req_id; /* this child's, for request ids */

/* The state of one request to app, in either role. */
static fcgix_req_t *req_new(request_rec *r, const fcgix_app_t *app)
{
    fcgix_req_t *q = apr_pcalloc(r->pool, sizeof(*q));

    q->r = r;
    q->app = app;
    q->fd = -1;
    q->sf_fd = -1;
    q->flush = app->o.flush;
    q->be = q->be_slot = -1;
    /* any id suits a new connection; a kept one takes only a request whose
     * id differs from its last one's (mod_fcgix_keep.c) */
    q->req_id = apr_atomic_inc32(&next_req_id) % 0xffffu + 1;
    q->keep = fcgix_keep_ask(r, app);
    fcgix_dec_init(&q->dec, q->req_id);
    apr_pool_cleanup_register(r->pool, q, close_app, apr_pool_cleanup_null);
    fcgix_hdr_init(&q->hdr, (size_t)app->o.hdr_max_bytes,
                   (size_t)app->o.hdr_max_lines, (size_t)app->o.hdr_max_line);
    q->obb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    return q;
}

/* Whether the request could be sent again whole: no body, or one read
 * whole before the connection (kept until the first answer byte). */
static int replayable(const fcgix_req_t *q)
{
    return q->body == NULL || fcgix_body_whole(q->body);
}

int fcgix_other_backend_ok(const fcgix_req_t *q, int overloaded)
{
    const request_rec *r = q->r;

    if (q->app->nbackends <= 1 || q->other_retry || q->be < 0 || q->sent ||
        q->hlen || !replayable(q)) {
        return 0;
    }
    /* The app did not run an overloaded request, nor (by its role) does an
     * authorizer change anything; anything else only if its method may. */
    if (overloaded || q->auth) {
        return 1;
    }
    if (r->header_only && r->method_number == M_GET) {
        return q->app->o.retry_head; /* HEAD */
    }
    return r->method_number >= 0 && r->method_number < 64 &&
           (q->app->o.retry_methods & (AP_METHOD_BIT << r->method_number));
}

/* Chooses the backend, and takes a kept connection to it if this child
 * has one. */
static void req_connection(fcgix_req_t *q)
{
    fcgix_connect_choose(q);
    fcgix_keep_take(q);
    if (q->body && (q->reused || q->app->nbackends > 1)) {
        fcgix_body_keep(q->body, 1); /* it may have to be sent again */
    }
}

/* Everything sent toward the app starts again from the parameters. */
static void resend(fcgix_req_t *q)
{
    q->optr = q->params;
    q->olen = q->params_len;
    q->next_len = 0;
    q->stdin_eof = !q->has_body;
    q->stdin_dead = 0;
    q->readable = 0;
}

/* A kept connection the app closed before answering (it exited, or its
 * own idle limit closed it while the request was on the way): the request
 * goes once more, on a new connection, if it can be sent again whole. */
static int retry_fresh(fcgix_req_t *q)
{
    int st;

    if (q->body && !fcgix_body_rewind(q->body)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0127: %s: the application closed a kept "
                      "connection before answering, and the streamed request "
                      "body cannot be sent again",
                      q->app->path);
        return HTTP_BAD_GATEWAY;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r,
                  "%s: kept connection closed before an answer: sending the "
                  "request again on a new connection",
                  q->app->path);
    fcgix_keep_stale(q);
    fcgix_keep_settle(q, FCGIX_SETTLE_STALE);
    close_app(q);
    q->reused = 0;
    q->no_pool = 1;
    resend(q);
    if (q->be >= 0) {
        q->tried &= ~(1u << q->be); /* the same backend may serve it */
    }
    if (fcgix_connect_choose(q) < 0) {
        return HTTP_BAD_GATEWAY;
    }
    st = fcgix_connect(q);
    return st == OK ? pump(q) : st;
}

/* The backend closed the connection before answering (or answered
 * FCGI_OVERLOADED): the request goes once to another one. */
static int retry_other(fcgix_req_t *q)
{
    const char *from;
    char text[160];
    int st;

    fcgix_addr_text(q->addr.sa, q->addr.len, text, sizeof(text));
    from = apr_pstrdup(q->r->pool, text);
    fcgix_connect_backend_failed(q, q->overloaded ? FCGIX_BE_OVERLOADED
                                                  : FCGIX_BE_RESET);
    fcgix_keep_settle(q, FCGIX_SETTLE_CLOSE);
    close_app(q);
    q->other_retry = 1;
    if ((q->body && !fcgix_body_rewind(q->body)) ||
        fcgix_connect_choose(q) < 0) {
        return fcgix_response_bad(q, "FCGIX0132: the backend closed the "
                                     "connection before answering, and no "
                                     "other backend can take the request");
    }
    fcgix_addr_text(q->addr.sa, q->addr.len, text, sizeof(text));
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r,
                  "FCGIX0131: %s: backend %s %s; %s sent again to %s",
                  q->app->path, from,
                  q->overloaded ? "answered FCGI_OVERLOADED"
                                : "closed the connection before answering",
                  q->r->method, text);
    q->overloaded = 0;
    q->ended = 0;
    q->got_bytes = 0;
    q->reused = 0; /* a fresh connection: its close is no stale one */
    fcgix_dec_init(&q->dec, q->req_id);
    resend(q);
    st = fcgix_connect(q);
    return st == OK ? pump(q) : st;
}

/* Connects (or takes the kept connection) and exchanges the request. */
static int exchange(fcgix_req_t *q)
{
    int st = fcgix_connect(q);

    if (st == OK) {
        st = pump(q);
    }
    if (st == STALE) {
        st = retry_fresh(q);
    }
    if (st == FCGIX_OTHER_BACKEND) {
        st = retry_other(q);
    }
    /* no internal status ever reaches httpd (-3 is its SUSPENDED) */
    return st == STALE || st == FCGIX_OTHER_BACKEND ? HTTP_BAD_GATEWAY : st;
}

int fcgix_authorize(request_rec *r, const fcgix_app_t *app,
                    const apr_table_t *extra_env, int spec_env,
                    fcgix_auth_result_t *res)
{
    fcgix_req_t *q = req_new(r, app);

    memset(res, 0, sizeof(*res));
    q->auth = res;
    q->extra_env = extra_env;
    q->spec_auth_env = spec_env;
    fcgix_params_build(q, 0); /* an authorizer gets no request body */
    req_connection(q);
    return finish(q, exchange(q));
}

int fcgix_respond(request_rec *r, const fcgix_app_t *app)
{
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    fcgix_req_t *q = req_new(r, app);
    apr_size_t got = 0;
    int st;

    q->has_body = te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
    q->nph = app->o.nph;
    q->headers_done = q->nph; /* nothing to parse: the app's bytes go out */
    if (q->has_body) {
        q->obuf = apr_palloc(r->pool, OBUF_SIZE);
        /* Read what can be read before taking an app connection (a slow
         * client then holds no process; see mod_fcgix_body.c), and at least
         * the first part of the body: a body over LimitRequestBody fails
         * here, costing the app nothing. */
        st = fcgix_body_prepare(r, app, &q->body);
        if (st != OK) {
            return fcgix_observe_end(q, st, 0);
        }
        q->spool_len = fcgix_body_chunked_length(q->body);
        q->spooled = q->spool_len >= 0;
        /* the first record's bytes too, before a connection is held */
        if ((st = read_stdin(q, &got)) != OK) {
            return fcgix_observe_end(q, st, 0);
        }
    }
    if (q->has_body) {
        frame_stdin(q, got);
        q->next_ptr = q->optr;
        q->next_len = q->olen;
        q->olen = 0;
    }
    /* The parameters are ready before the connection exists: an idle app
     * woken by the connect finds the request already there instead of
     * sleeping again until it comes. */
    fcgix_params_build(q, q->has_body); /* queued ahead of the body bytes */
    req_connection(q);
    return finish(q, exchange(q));
}
