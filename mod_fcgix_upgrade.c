/*
 * mod_fcgix_upgrade.c - Upgrade tunnelling (-upgrade): WebSocket, or any
 * other protocol an app switches to with 101 Switching Protocols.
 *
 * The request: its Upgrade header and the Connection header's upgrade
 * token reach the app only when the request may be upgraded (see
 * mod_fcgix_int.h), and then its stdin stays open: no empty STDIN record
 * ends it. The answer: a 101 goes to the client at once, with the app's
 * headers (ap_send_interim_response); the request's output filters become
 * the connection's, so nothing of HTTP is added after it; the connection
 * is not reused, and mod_reqtimeout's filter leaves it (its body timeout
 * would cut a quiet tunnel). Any other answer is a normal response.
 *
 * The tunnel: one loop polls the client's socket and the app's connection:
 *   client bytes -> one STDIN record at a time -> app
 *   app STDOUT   -> client, flushed at once (STDERR: the error log)
 * Backpressure: the client is not read while a record waits for the app,
 * and the app is not read while its last read is written to the client (a
 * blocking write, bounded by httpd's Timeout), so memory is fixed: one
 * record toward the app, one read from it. The relay ends when either side
 * closes: the client (the app's connection is closed, after an empty STDIN
 * record when the client closed cleanly), the app (END_REQUEST or a close:
 * httpd then closes the client's connection), or after -idle-timeout
 * without a byte either way (FCGIX0160). The handler's thread stays in the
 * loop for as long as the tunnel lasts (under event too).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "mod_fcgix_int.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_lib.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

#define TUN_CHUNK 16384 /* client bytes per STDIN record */
#define TUN_RBUF 65536  /* one read from the app */
#define TUN_GO (-100)   /* the relay goes on (else OK or a status: it ends) */

/* ---------------------------------------------------------- the request */

static int has_token(apr_pool_t *p, const char *list, const char *tok)
{
    return list != NULL && ap_find_token(p, list, tok);
}

static int may_upgrade(const fcgix_req_t *q)
{
    request_rec *r = q->r;
    const char *up = apr_table_get(r->headers_in, "Upgrade");

    return q->app->o.upgrade && !q->app->o.nph && !q->auth && !q->has_body &&
           up != NULL && *up != '\0' && !r->header_only &&
           r->proto_num == HTTP_VERSION(1, 1) &&
           r->connection->master == NULL &&
           has_token(r->pool, apr_table_get(r->headers_in, "Connection"),
                     "upgrade");
}

/* The Connection header's value without its upgrade token, or NULL when no
 * other token is left. */
static const char *without_upgrade(apr_pool_t *p, const char *value)
{
    char *copy = apr_pstrdup(p, value), *last, *tok, *end;
    const char *out = NULL;

    for (tok = apr_strtok(copy, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        while (apr_isspace(*tok)) {
            tok++;
        }
        end = tok + strlen(tok);
        while (end > tok && apr_isspace(end[-1])) {
            *--end = '\0';
        }
        if (*tok == '\0' || strcasecmp(tok, "upgrade") == 0) {
            continue;
        }
        out = out ? apr_pstrcat(p, out, ", ", tok, NULL) : tok;
    }
    return out;
}

void fcgix_upgrade_env(fcgix_req_t *q)
{
    apr_table_t *env = q->r->subprocess_env;
    const char *conn = apr_table_get(env, "HTTP_CONNECTION");

    if (may_upgrade(q)) {
        q->upgrade = FCGIX_UPG_ASKED;
        /* A connection of its own, never kept: the end of its stdin may
         * follow the app's answer, and must never reach an app that has
         * moved on to the next request on a kept connection. */
        q->keep = 0;
        return;
    }
    apr_table_unset(env, "HTTP_UPGRADE");
    if (has_token(q->r->pool, conn, "upgrade")) {
        conn = without_upgrade(q->r->pool, conn);
        if (conn) {
            apr_table_setn(env, "HTTP_CONNECTION", conn);
        } else {
            apr_table_unset(env, "HTTP_CONNECTION");
        }
    }
}

int fcgix_upgrade_status_ok(const fcgix_req_t *q, const unsigned char *v,
                            size_t vl)
{
    return q->upgrade == FCGIX_UPG_ASKED && vl >= 3 &&
           memcmp(v, "101", 3) == 0 && (vl == 3 || v[3] == ' ' || v[3] == '\t');
}

/* fcgix_params_build wrote the empty STDIN record after the parameters
 * without counting it: counted now, it goes out after them. */
static void release_stdin_end(fcgix_req_t *q)
{
    if (!q->stdin_dead && q->optr + q->olen == q->params + q->params_len) {
        q->olen += FCGIX_REC_HEADER_LEN;
    }
}

int fcgix_upgrade_answer(fcgix_req_t *q)
{
    request_rec *r = q->r;
    conn_rec *c = r->connection;
    const char *proto;

    if (r->status != HTTP_SWITCHING_PROTOCOLS) {
        release_stdin_end(q);
        q->upgrade = FCGIX_UPG_DECLINED;
        return DECLINED;
    }
    /* httpd's scanner puts the app's headers in err_headers_out; the 101
     * carries them all (and is the only response there is) */
    r->headers_out =
        apr_table_overlay(r->pool, r->headers_out, r->err_headers_out);
    apr_table_clear(r->err_headers_out);
    proto = apr_table_get(r->headers_out, "Upgrade");
    if (proto == NULL || *proto == '\0') {
        return fcgix_response_bad(q, "FCGIX0161: 101 without an Upgrade "
                                     "header from application");
    }
    if (!has_token(r->pool, apr_table_get(r->headers_out, "Connection"),
                   "upgrade")) {
        apr_table_merge(r->headers_out, "Connection", "Upgrade");
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: 101: tunnelling %s",
                  q->app->path, proto);
    r->status_line = ap_get_status_line(HTTP_SWITCHING_PROTOCOLS);
    ap_remove_input_filter_byhandle(c->input_filters, "reqtimeout");
    ap_send_interim_response(r, 1);
    r->output_filters = r->proto_output_filters = c->output_filters;
    c->keepalive = AP_CONN_CLOSE;
    q->sent = 1;
    q->upgrade = FCGIX_UPG_TUNNEL;
    return OK;
}

/* ----------------------------------------------------------- the tunnel */

typedef struct {
    fcgix_req_t *q;
    conn_rec *c;
    int cfd;                /* the client's socket */
    apr_bucket_brigade *bb; /* one read from the client */
    unsigned char *rec;     /* a STDIN record, and room for the empty one */
    int client_more;        /* bytes may wait in the client's filters */
    apr_time_t last;        /* a byte went either way (fcgix_pm_clock) */
    apr_off_t up, down;     /* bytes client -> app, app -> client */
} tun_t;

static int tun_end(tun_t *t, const char *why, apr_status_t rv)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, t->q->r,
                  "%s: tunnel ended: %s (%" APR_OFF_T_FMT " bytes from the "
                  "client, %" APR_OFF_T_FMT " from the application)",
                  t->q->app->path, why, t->up, t->down);
    return OK;
}

/* What the app sent (q->obb) goes to the client now. */
static int to_client(tun_t *t)
{
    fcgix_req_t *q = t->q;
    apr_off_t n = 0;
    apr_status_t rv;

    if (APR_BRIGADE_EMPTY(q->obb)) {
        return TUN_GO;
    }
    apr_brigade_length(q->obb, 0, &n);
    APR_BRIGADE_INSERT_TAIL(q->obb,
                            apr_bucket_flush_create(t->c->bucket_alloc));
    rv = ap_pass_brigade(t->c->output_filters, q->obb);
    apr_brigade_cleanup(q->obb);
    if (rv != APR_SUCCESS || t->c->aborted) {
        return tun_end(t, "the client went away", rv);
    }
    t->down += n > 0 ? n : 0;
    return TUN_GO;
}

static int from_app(tun_t *t, int *progress)
{
    fcgix_req_t *q = t->q;
    ssize_t n;
    int st;

    if (q->rbuf == NULL) {
        q->rbuf = apr_bucket_alloc(TUN_RBUF, t->c->bucket_alloc);
    }
    n = recv(q->fd, q->rbuf, TUN_RBUF, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        q->readable = 0;
        return TUN_GO;
    }
    if (n <= 0) {
        return tun_end(t, "the application closed its connection",
                       n < 0 ? errno : 0);
    }
    *progress = 1;
    st = fcgix_response_feed(q, q->rbuf, (size_t)n);
    if (st != OK) { /* what came before the violation is the app's */
        to_client(t);
        return st;
    }
    st = to_client(t);
    if (st == TUN_GO && q->ended) {
        return tun_end(t, "the application ended the request", 0);
    }
    return st;
}

static int to_app(tun_t *t, int *progress)
{
    fcgix_req_t *q = t->q;
    ssize_t w = send(q->fd, q->optr, q->olen, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (w > 0) {
        q->optr += w;
        q->olen -= (size_t)w;
        *progress = 1;
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR) {
        /* the app stopped reading: what it sent before is still read */
        q->stdin_dead = 1;
        q->olen = 0;
        q->readable = 1;
    }
    return TUN_GO;
}

/* The client closed its side cleanly (clean) or failed: a clean end goes
 * to the app as the end of its stdin, with what is still pending, if its
 * connection takes it now; the connection is closed after the relay. */
static int client_done(tun_t *t, int clean, apr_status_t rv)
{
    fcgix_req_t *q = t->q;

    if (clean && !q->stdin_dead) {
        if (q->olen == 0) {
            q->optr = t->rec;
        }
        if (q->optr + q->olen == q->params + q->params_len) {
            /* the parameters are still going: the withheld record */
            q->olen += FCGIX_REC_HEADER_LEN;
        } else { /* after what is pending of the record in t->rec */
            fcgix_rec_header(t->rec + (q->optr - t->rec) + q->olen,
                             FCGIX_T_STDIN, q->req_id, 0, 0);
            q->olen += FCGIX_REC_HEADER_LEN;
        }
        /* one try: the close follows anyway */
        ssize_t w = send(q->fd, q->optr, q->olen, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
        q->olen = 0;
    }
    return tun_end(t,
                   clean ? "the client closed the connection"
                         : "the client connection failed",
                   rv);
}

/* One read from the client's connection (through its input filters:
 * bytes may wait there that the socket no longer shows) into a STDIN
 * record. */
static int from_client(tun_t *t, int *progress)
{
    fcgix_req_t *q = t->q;
    apr_size_t len = TUN_CHUNK;
    apr_off_t avail = 0;
    apr_status_t rv;
    int eos;

    apr_brigade_cleanup(t->bb);
    rv = ap_get_brigade(t->c->input_filters, t->bb, AP_MODE_READBYTES,
                        APR_NONBLOCK_READ, TUN_CHUNK);
    if (APR_STATUS_IS_EAGAIN(rv)) {
        t->client_more = 0;
        return TUN_GO;
    }
    if (rv != APR_SUCCESS) {
        return client_done(t, APR_STATUS_IS_EOF(rv), rv);
    }
    eos =
        !APR_BRIGADE_EMPTY(t->bb) && APR_BUCKET_IS_EOS(APR_BRIGADE_LAST(t->bb));
    if (apr_brigade_length(t->bb, 1, &avail) != APR_SUCCESS ||
        avail > TUN_CHUNK ||
        apr_brigade_flatten(t->bb, (char *)t->rec + FCGIX_REC_HEADER_LEN,
                            &len) != APR_SUCCESS) {
        return client_done(t, 0, APR_EGENERAL);
    }
    apr_brigade_cleanup(t->bb);
    if (len) {
        fcgix_rec_header(t->rec, FCGIX_T_STDIN, q->req_id, len, 0);
        q->optr = t->rec;
        q->olen = FCGIX_REC_HEADER_LEN + len;
        t->up += (apr_off_t)len;
        *progress = 1;
    } else {
        t->client_more = 0;
    }
    return eos ? client_done(t, 1, APR_EOF) : TUN_GO;
}

/* Waits for either side, at most until -idle-timeout after the last byte. */
static int tun_wait(tun_t *t)
{
    fcgix_req_t *q = t->q;
    int idle = q->app->o.idle_timeout, rc;
    apr_interval_time_t left =
        apr_time_from_sec(idle) - (fcgix_pm_clock() - t->last);
    struct pollfd p[2];

    if (left <= 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                      "FCGIX0160: %s: tunnel idle for %d s (-idle-timeout): "
                      "closed",
                      q->app->path, idle);
        return tun_end(t, "idle", 0);
    }
    p[0].fd = q->fd;
    p[0].events = (short)(POLLIN | (q->olen ? POLLOUT : 0));
    /* the client is read only when its last bytes went to the app */
    p[1].fd = q->olen || q->stdin_dead ? -1 : t->cfd;
    p[1].events = POLLIN;
    p[0].revents = p[1].revents = 0;
    rc = poll(p, 2, (int)((left + 999) / 1000));
    if (rc < 0 && errno != EINTR) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, q->r,
                      "FCGIX0163: %s: poll failed in the tunnel", q->app->path);
        return tun_end(t, "poll failed", errno);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        q->readable = 1;
    }
    if (p[1].revents) {
        t->client_more = 1;
    }
    return TUN_GO;
}

static int tun_step(tun_t *t)
{
    fcgix_req_t *q = t->q;
    int progress = 0, st = TUN_GO;

    if (q->readable) {
        st = from_app(t, &progress);
    }
    if (st == TUN_GO && q->olen == 0 && t->client_more && !q->stdin_dead) {
        st = from_client(t, &progress);
    }
    if (st == TUN_GO && q->olen) {
        st = to_app(t, &progress);
    }
    if (st != TUN_GO) {
        return st;
    }
    if (progress) {
        t->last = fcgix_pm_clock();
        return TUN_GO;
    }
    return tun_wait(t);
}

int fcgix_upgrade_run(fcgix_req_t *q, int st)
{
    tun_t t;
    apr_socket_t *s = ap_get_conn_socket(q->r->connection);
    apr_os_sock_t fd = -1;
    int first = st;

    memset(&t, 0, sizeof(t));
    t.q = q;
    t.c = q->r->connection;
    if (s == NULL || apr_os_sock_get(&fd, s) != APR_SUCCESS) {
        return fcgix_response_bad(q, "FCGIX0162: no client socket to tunnel "
                                     "to for application");
    }
    t.cfd = fd;
    t.bb = apr_brigade_create(q->r->pool, t.c->bucket_alloc);
    t.rec = apr_palloc(q->r->pool, 2 * FCGIX_REC_HEADER_LEN + TUN_CHUNK);
    t.client_more = 1;
    t.last = fcgix_pm_clock();
    q->readable = 1;
    /* what came with the 101 (passed, maybe not flushed), at once */
    APR_BRIGADE_INSERT_TAIL(q->obb, apr_bucket_flush_create(t.c->bucket_alloc));
    st = to_client(&t);
    if (first != OK) {
        return first; /* a violation after the 101 (logged) */
    }
    if (st == TUN_GO && q->ended) {
        st = tun_end(&t, "the application ended the request", 0);
    }
    while (st == TUN_GO) {
        st = tun_step(&t);
    }
    return st;
}
