/*
 * mod_fcgix_body.c - the request body, as the request engine reads it.
 *
 * A slow client must not hold an application process. So what can be read
 * before a process is taken is read first, into a spool (memory up to
 * SPOOL_MEM, then a temporary file deleted when the request ends):
 *   - a chunked body, whole: the app then gets CONTENT_LENGTH;
 *   - a Content-Length body of at most the app's -spool-body bytes, whole.
 * No process is held meanwhile, so httpd's own bounds on reading a body
 * apply (Timeout per read, mod_reqtimeout's body rate). A larger body
 * streams once the app is connected, and the time spent waiting for the
 * client then counts against the request's -request-timeout, as the time
 * spent waiting for the app does: a trickling client cannot hold a process
 * past that (408, FCGIX0122).
 *
 * Spooled bytes count against FastCgiSpoolLimit, server-wide, in the
 * scoreboard (fcgix_pm_spool_*; pm/scoreboard.h says why a killed child's
 * count does not leak). They are counted before they are read, a read's
 * worth at a time, and given back once the app has been handed all of them
 * (or when the request's pool goes, whichever comes first). A chunked
 * body that would pass the limit gets 503 (FCGIX0124); a Content-Length
 * body stops being read ahead there and streams the rest.
 */
#include <errno.h>
#include <string.h>

#include "mod_fcgix.h"
#include "pm/pm.h"

#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_buckets.h"
#include "apr_file_io.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

#define SPOOL_MEM 65536 /* spooled bytes kept in memory; one read's worth */
#define SPOOL_FULL (-3) /* spool_in: FastCgiSpoolLimit reached */

struct fcgix_body_t {
    request_rec *r;
    const fcgix_app_t *app;
    apr_bucket_brigade *bb;
    int client_eos;        /* the client's body has ended */
    int chunked;           /* spooled whole, its length is the app's */
    char *mem;             /* the spool, up to SPOOL_MEM bytes */
    apr_file_t *file;      /* or all of it, once past SPOOL_MEM */
    apr_off_t len, pos;    /* bytes spooled, and handed out */
    apr_uint32_t held_kib; /* counted against FastCgiSpoolLimit */
    int whole;             /* spooled whole before the app was connected */
    int keep;              /* kept once handed out: it may be sent again */
};

/* --------------------------------------------------- the spool's count */

static apr_status_t give_back(void *data)
{
    fcgix_body_t *b = data;

    fcgix_pm_spool_give(b->held_kib);
    b->held_kib = 0;
    return APR_SUCCESS;
}

static apr_uint32_t kib_of(apr_off_t bytes)
{
    return (apr_uint32_t)((bytes + 1023) / 1024);
}

/* Counts the spool as `bytes` long (before they are read, so a refusal
 * loses nothing). 1 when counted. */
static int count_upto(fcgix_body_t *b, apr_off_t bytes)
{
    apr_uint32_t want = kib_of(bytes);

    if (want <= b->held_kib) {
        return 1;
    }
    if (!fcgix_pm_spool_take(want - b->held_kib,
                             fcgix_globals->spool_limit_kib)) {
        return 0;
    }
    b->held_kib = want;
    return 1;
}

/* Gives back what was counted ahead of a read beyond what it brought. */
static void count_trim(fcgix_body_t *b)
{
    apr_uint32_t need = kib_of(b->len);

    if (b->held_kib > need) {
        fcgix_pm_spool_give(b->held_kib - need);
        b->held_kib = need;
    }
}

/* ------------------------------------------------------ the client */

/* One read from the client. With spent (an app process is held), the
 * wait counts against -request-timeout: the connection's socket timeout
 * is cut to what is left for this read. An HTTP/2 stream shares its
 * connection's socket with other streams, so there the wait is only
 * counted once the read returns. */
static apr_status_t get_some(fcgix_body_t *b, apr_size_t cap,
                             apr_interval_time_t *spent)
{
    request_rec *r = b->r;
    apr_interval_time_t limit = apr_time_from_sec(b->app->o.request_timeout);
    apr_interval_time_t saved = 0, left;
    apr_socket_t *sock = NULL;
    apr_time_t t0;
    apr_status_t rv;

    if (spent == NULL || limit == 0) {
        return ap_get_brigade(r->input_filters, b->bb, AP_MODE_READBYTES,
                              APR_BLOCK_READ, cap);
    }
    if (*spent >= limit) {
        return APR_TIMEUP;
    }
    /* whole milliseconds, rounded up: the poll under the socket timeout
     * must not return before the deadline */
    left = apr_time_from_msec(apr_time_as_msec(limit - *spent) + 1);
    if (r->connection->master == NULL) {
        sock = ap_get_conn_socket(r->connection);
    }
    if (sock && (apr_socket_timeout_get(sock, &saved) != APR_SUCCESS ||
                 (saved >= 0 && saved <= left))) {
        sock = NULL; /* its own timeout comes first */
    }
    if (sock) {
        apr_socket_timeout_set(sock, left);
    }
    t0 = fcgix_pm_clock();
    rv = ap_get_brigade(r->input_filters, b->bb, AP_MODE_READBYTES,
                        APR_BLOCK_READ, cap);
    *spent += fcgix_pm_clock() - t0;
    if (sock) {
        apr_socket_timeout_set(sock, saved);
    }
    return rv;
}

static int read_failed(fcgix_body_t *b, apr_status_t rv,
                       const apr_interval_time_t *spent)
{
    if (spent && b->app->o.request_timeout &&
        *spent >= apr_time_from_sec(b->app->o.request_timeout)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, b->r,
                      "FCGIX0122: %s: the client sent the request body too "
                      "slowly: -request-timeout (%d s waiting on the "
                      "application or the client) passed while waiting "
                      "for it",
                      b->app->path, b->app->o.request_timeout);
        return HTTP_REQUEST_TIME_OUT;
    }
    return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
}

/* Reads up to cap bytes of the request body from the client. */
static int client_read(fcgix_body_t *b, char *dst, apr_size_t cap,
                       apr_size_t *got, apr_interval_time_t *spent)
{
    apr_status_t rv;
    apr_bucket *e;

    *got = 0;
    while (*got == 0 && !b->client_eos) {
        apr_brigade_cleanup(b->bb);
        rv = get_some(b, cap, spent);
        if (rv != APR_SUCCESS) {
            return read_failed(b, rv, spent);
        }
        for (e = APR_BRIGADE_FIRST(b->bb); e != APR_BRIGADE_SENTINEL(b->bb);
             e = APR_BUCKET_NEXT(e)) {
            const char *data;
            apr_size_t len;
            if (APR_BUCKET_IS_EOS(e)) {
                b->client_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(e)) {
                continue;
            }
            rv = apr_bucket_read(e, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            }
            if (len > cap - *got) {
                len = cap - *got; /* cannot happen with READBYTES */
            }
            memcpy(dst + *got, data, len);
            *got += len;
        }
    }
    apr_brigade_cleanup(b->bb);
    return OK;
}

/* ------------------------------------------------------- the spool */

/* Appends n bytes: in memory while they fit, else in a temp file. */

/* A temporary file for the body, its name removed at once: only the open
 * descriptor holds it, so nothing is left behind even by a child killed
 * with SIGKILL (the OOM killer) in the middle of an upload. */
static apr_status_t spool_file(fcgix_body_t *b, const char *dir, apr_pool_t *p)
{
    const char *name;
    apr_status_t rv = apr_file_mktemp(
        &b->file, apr_pstrcat(p, dir, "/fcgix-body-XXXXXX", NULL),
        APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL,
        p);

    if (rv == APR_SUCCESS && apr_file_name_get(&name, b->file) == APR_SUCCESS) {
        apr_file_remove(name, p);
    }
    return rv;
}

static int spool_put(fcgix_body_t *b, const char *data, apr_size_t n)
{
    request_rec *r = b->r;
    const char *tmp;

    if (b->file == NULL && b->len + (apr_off_t)n <= SPOOL_MEM) {
        if (b->mem == NULL) {
            b->mem = apr_palloc(r->pool, SPOOL_MEM);
        }
        memcpy(b->mem + b->len, data, n);
        b->len += (apr_off_t)n;
        return OK;
    }
    if (b->file == NULL &&
        (apr_temp_dir_get(&tmp, r->pool) != APR_SUCCESS ||
         spool_file(b, tmp, r->pool) != APR_SUCCESS ||
         (b->len && apr_file_write_full(b->file, b->mem, (apr_size_t)b->len,
                                        NULL) != APR_SUCCESS))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r,
                      "FCGIX0120: %s: cannot spool the request body to a "
                      "temporary file",
                      b->app->path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (apr_file_write_full(b->file, data, n, NULL) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r,
                      "FCGIX0121: %s: writing the spooled request body "
                      "failed",
                      b->app->path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    b->len += (apr_off_t)n;
    return OK;
}

/* Reads the body into the spool until its end, or (max >= 0) max bytes.
 * Returns OK, an error status, or SPOOL_FULL when FastCgiSpoolLimit would
 * be passed (the spool then holds what was read so far). */
static int spool_in(fcgix_body_t *b, apr_off_t max)
{
    char *chunk = apr_palloc(b->r->pool, SPOOL_MEM);
    apr_size_t got;
    int st;

    for (;;) {
        apr_off_t ahead = SPOOL_MEM;
        if (max >= 0 && max - b->len < ahead) {
            ahead = max - b->len;
        }
        if (!count_upto(b, b->len + ahead)) {
            count_trim(b);
            return SPOOL_FULL;
        }
        st = client_read(b, chunk, SPOOL_MEM, &got, NULL);
        if (st == OK && got) {
            st = spool_put(b, chunk, got);
        }
        /* Trimmed only on the way out: giving back between reads what the
         * next read takes again would let another request take it in
         * between and fail this one half-way. */
        if (st != OK || got == 0) {
            count_trim(b);
            return st;
        }
    }
}

static int spool_read(fcgix_body_t *b, char *dst, apr_size_t cap,
                      apr_size_t *got)
{
    apr_off_t left = b->len - b->pos;
    apr_size_t n = left < (apr_off_t)cap ? (apr_size_t)left : cap;

    if (b->file) {
        apr_off_t pos = b->pos;
        if (apr_file_seek(b->file, APR_SET, &pos) != APR_SUCCESS ||
            apr_file_read_full(b->file, dst, n, NULL) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    } else if (n) {
        memcpy(dst, b->mem + b->pos, n);
    }
    b->pos += (apr_off_t)n;
    *got = n;
    return OK;
}

/* ---------------------------------------------------------- the API */

/* A Content-Length body to read ahead: its length, else -1. */
static apr_off_t read_ahead_length(request_rec *r, const fcgix_app_t *app)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t len;
    char *end;

    if (cl == NULL || apr_strtoff(&len, cl, &end, 10) != APR_SUCCESS ||
        end == cl || *end != '\0' || len <= 0 || len > app->o.spool_body) {
        return -1; /* malformed ones are httpd's to refuse, as it reads */
    }
    return len;
}

int fcgix_body_prepare(request_rec *r, const fcgix_app_t *app,
                       fcgix_body_t **out)
{
    fcgix_body_t *b = apr_pcalloc(r->pool, sizeof(*b));
    apr_off_t ahead;
    int st;

    b->r = r;
    b->app = app;
    b->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    /* before anything is counted: every way out gives the count back */
    apr_pool_cleanup_register(r->pool, b, give_back, apr_pool_cleanup_null);
    *out = b;
    if (apr_table_get(r->headers_in, "Transfer-Encoding")) {
        b->chunked = 1;
        st = spool_in(b, -1);
        b->whole = b->client_eos;
        if (st == SPOOL_FULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "FCGIX0124: %s: FastCgiSpoolLimit (%u KiB of "
                          "request bodies spooled at once, server-wide) "
                          "reached: chunked request body refused after "
                          "%" APR_OFF_T_FMT " bytes",
                          app->path, fcgix_globals->spool_limit_kib, b->len);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        return st;
    }
    ahead = read_ahead_length(r, app);
    if (ahead < 0) {
        return OK;
    }
    st = spool_in(b, ahead);
    if (st == SPOOL_FULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "%s: FastCgiSpoolLimit reached: the %" APR_OFF_T_FMT
                      "-byte request body streams after its first "
                      "%" APR_OFF_T_FMT " bytes",
                      app->path, ahead, b->len);
        return OK;
    }
    b->whole = b->client_eos;
    return st;
}

/* Handed out whole: the spool is done with long before the request is (a
 * response sent to a slow client), so it goes and its count comes back
 * now, unless it may have to be sent again. Closing deletes the file. */
static void spool_done(fcgix_body_t *b)
{
    if (b->keep || b->pos < b->len) {
        return;
    }
    if (b->file) {
        apr_file_close(b->file);
        b->file = NULL;
    }
    give_back(b);
}

void fcgix_body_keep(fcgix_body_t *b, int keep)
{
    b->keep = keep;
    spool_done(b);
}

int fcgix_body_whole(const fcgix_body_t *b)
{
    return b->whole;
}

int fcgix_body_rewind(fcgix_body_t *b)
{
    if (!b->whole || (b->file == NULL && b->len > SPOOL_MEM)) {
        return 0; /* streamed, or its file is gone */
    }
    b->pos = 0;
    return 1;
}

int fcgix_body_read(fcgix_body_t *b, char *dst, apr_size_t cap, apr_size_t *got,
                    apr_interval_time_t *spent)
{
    int st;

    if (b->pos < b->len) {
        st = spool_read(b, dst, cap, got);
        if (st == OK) {
            spool_done(b);
        }
        return st;
    }
    return client_read(b, dst, cap, got, spent);
}

int fcgix_body_eos(const fcgix_body_t *b)
{
    return b->client_eos && b->pos >= b->len;
}

apr_off_t fcgix_body_chunked_length(const fcgix_body_t *b)
{
    return b->chunked ? b->len : -1;
}
