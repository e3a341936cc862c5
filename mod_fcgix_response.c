/*
 * mod_fcgix_response.c - what the app sends back, as the record decoder
 * hands it out: the header block (framed by proto/, judged by httpd's own
 * CGI header logic, or kept as an authorizer's answer), body slices as
 * buckets that share the read buffer, -nph's raw response, stderr lines
 * for the error log (bounded per request) and the end of the request.
 */
#include <string.h>

#include "mod_fcgix_int.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

/* ------------------------------------------------------------- stderr */

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

void fcgix_response_stderr_end(fcgix_req_t *q)
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

int fcgix_response_bad(fcgix_req_t *q, const char *tag_msg)
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
            fcgix_hdr_status_code(v, vl) < 0 &&
            !fcgix_upgrade_status_ok(q, v, vl)) {
            return fcgix_response_bad(
                q, "FCGIX0108: invalid Status header (a code from 200 to 599 "
                   "is required; 101 only from an app with -upgrade to a "
                   "request asking for an upgrade) from application");
        }
    }
    if (q->auth) {
        return auth_headers(q);
    }
    sbuf[0] = '\0';
    rc = ap_scan_script_header_err_core_ex(r, sbuf, hdr_getter, &it,
                                           APLOG_MODULE_INDEX);
    q->app_typed = r->content_type != NULL;
    if (rc == HTTP_PRECONDITION_FAILED) {
        /* the app's validators fail the client's If-Match or
         * If-Unmodified-Since: httpd's answer, as mod_cgi gives it */
        fcgix_deliver_strip(r);
        return rc;
    }
    if (rc == HTTP_NOT_MODIFIED) {
        fcgix_deliver_strip(r);
        r->status = rc;
        q->fin = FCGIX_FIN_NOT_MODIFIED;
        return OK;
    }
    if (rc != OK) {
        return fcgix_response_bad(q, "FCGIX0114: response headers rejected by "
                                     "httpd for application");
    }
    q->headers_done = 1;
    if (q->upgrade == FCGIX_UPG_ASKED &&
        (rc = fcgix_upgrade_answer(q)) != DECLINED) {
        return rc; /* a 101: mod_fcgix_upgrade.c */
    }
    if ((rc = fcgix_deliver_headers(q)) != OK || q->fin) {
        return rc;
    }
    location = apr_table_get(r->headers_out, "Location");
    if (location && r->status == HTTP_OK) {
        if (location[0] == '/') {
            q->fin = FCGIX_FIN_REDIRECT;
            return OK;
        }
        return HTTP_MOVED_TEMPORARILY;
    }
    if (r->header_only) {
        q->fin = FCGIX_FIN_HEAD;
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
        return fcgix_response_bad(q,
                                  "FCGIX0107: malformed response header line "
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
    if (q->discard) { /* X-Sendfile: the file is the body */
        q->discarded += len;
        if (q->discarded > FCGIX_DISCARD_MAX) {
            q->fin = FCGIX_FIN_DONE; /* read no more: let the app go */
        }
        return OK;
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

int fcgix_response_protocol_error(fcgix_req_t *q, fcgix_proto_err_t e)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                  "FCGIX0105: %s: FastCGI protocol violation: %s", q->app->path,
                  fcgix_proto_strerror(e));
    return HTTP_BAD_GATEWAY;
}

static int on_end_request(fcgix_req_t *q, const fcgix_event_t *ev)
{
    if (ev->protocol_status == FCGIX_PS_OVERLOADED) {
        q->overloaded = 1;
        if (fcgix_other_backend_ok(q, 1)) {
            return FCGIX_OTHER_BACKEND;
        }
        fcgix_connect_backend_failed(q, FCGIX_BE_OVERLOADED);
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
        return fcgix_response_bad(q, "FCGIX0110: request ended before complete "
                                     "response headers from application");
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, q->r,
                  "%s: request complete, app status %u", q->app->path,
                  (unsigned)ev->app_status);
    q->ended = 1;
    return OK;
}

/* Decodes one read's worth of bytes. */
int fcgix_response_feed(fcgix_req_t *q, char *buf, size_t n)
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
            if (q->body && ev.len) {
                /* answered: it will not go again (see fcgix_body_keep) */
                fcgix_body_keep(q->body, 0);
            }
            st = on_stdout(q, &whole, buf, n, ev.data, ev.len);
            break;
        case FCGIX_EV_STDERR:
            on_stderr(q, ev.data, ev.len);
            break;
        case FCGIX_EV_END_REQUEST:
            st = on_end_request(q, &ev);
            break;
        case FCGIX_EV_ERROR:
            st = fcgix_response_protocol_error(q, ev.error);
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
