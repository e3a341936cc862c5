/*
 * mod_fcgix_deliver.c - how a response is delivered, as the app's headers
 * ask: X-Sendfile (httpd serves a file under an allowed root, as a static
 * file), X-Accel-Redirect (an internal redirect), and streaming
 * (text/event-stream and X-Accel-Buffering decide whether each record is
 * flushed to the client).
 *
 * Everything an app names is hostile: X-Sendfile is honoured only for an
 * app given -sendfile-root, for an absolute path that resolves (symbolic
 * links followed) below one of its roots, and the file is opened so that
 * no symbolic link is followed after that resolution (openat2's
 * RESOLVE_NO_SYMLINKS; where the kernel lacks it, the opened descriptor's
 * own path must be the resolved one): a link swapped in between the two
 * steps fails the open instead of leading out. None of these headers ever
 * reaches the client.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mod_fcgix_int.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

APLOG_USE_MODULE(fcgix);

/* ------------------------------------------------------------ streaming */

/* text/event-stream (Server-Sent Events) is flushed record by record, and
 * so is any response marked X-Accel-Buffering: no; "yes" buffers even
 * under -flush. The header is the gateway's, not the client's. */
static const char *take_header(request_rec *r, const char *name);

static void streaming(fcgix_req_t *q)
{
    request_rec *r = q->r;
    const char *xab = take_header(r, "X-Accel-Buffering");
    const char *ct = r->content_type;

    if (ct && strncasecmp(ct, "text/event-stream", 17) == 0 &&
        (ct[17] == '\0' || ct[17] == ';' || ct[17] == ' ')) {
        q->flush = 1;
    }
    if (xab && strcasecmp(xab, "no") == 0) {
        q->flush = 1;
    } else if (xab && strcasecmp(xab, "yes") == 0) {
        q->flush = 0;
        q->hold = 1; /* nor when the app pauses: httpd buffers */
    }
}

/* ------------------------------------------------------------ X-Sendfile */

/* The header an app may name a file with, taken out of the response. */
static const char *take_header(request_rec *r, const char *name)
{
    const char *v = apr_table_get(r->headers_out, name);

    if (v == NULL) {
        v = apr_table_get(r->err_headers_out, name);
    }
    apr_table_unset(r->headers_out, name);
    apr_table_unset(r->err_headers_out, name);
    return v;
}

/* The root (resolved) that the resolved path lies below, or NULL. */
static const char *root_of(const fcgix_app_t *app, const char *resolved)
{
    int i;

    for (i = 0; i < app->o.sendfile_roots->nelts; i++) {
        const char *root = APR_ARRAY_IDX(app->o.sendfile_roots, i, char *);
        size_t n = strlen(root);
        if (strncmp(resolved, root, n) == 0 && resolved[n] == '/') {
            return root;
        }
    }
    return NULL;
}

/* Whether path, not resolved, names something below a root as written:
 * then a missing file is "not found", not an escape. */
static int lexically_below_root(const fcgix_app_t *app, const char *path)
{
    return strstr(path, "/../") == NULL && strstr(path, "/./") == NULL &&
           root_of(app, path) != NULL;
}

/* Opens the resolved path without following any symbolic link. */
static int open_no_links(const char *resolved)
{
    char link[64], back[PATH_MAX];
    ssize_t n;
    int fd;

#ifdef SYS_openat2
    struct open_how how;

    memset(&how, 0, sizeof(how));
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    fd = (int)syscall(SYS_openat2, AT_FDCWD, resolved, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS) {
        return fd;
    }
#endif
    /* no openat2: open, then check where the descriptor really is */
    fd = open(resolved,
              O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        return -1;
    }
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, back, sizeof(back) - 1);
    if (n < 0 || (back[n] = '\0', strcmp(back, resolved) != 0)) {
        close(fd);
        errno = ELOOP;
        return -1;
    }
    return fd;
}

static apr_status_t close_fd(void *data)
{
    if (*(int *)data >= 0) {
        close(*(int *)data);
    }
    return APR_SUCCESS;
}

/* Logs why X-Sendfile is refused and returns the status: 404 for a file
 * missing below a root (FCGIX0151), else 502 (FCGIX0150). */
static int refuse(fcgix_req_t *q, int status, const char *path, const char *why)
{
    const char *esc = ap_escape_logitem(q->r->pool, path);

    if (status == HTTP_NOT_FOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, q->r,
                      "FCGIX0151: %s: X-Sendfile %s: %s", q->app->path, esc,
                      why);
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0150: %s: X-Sendfile %s: %s", q->app->path, esc,
                      why);
    }
    return status;
}

/* Checks and opens the file X-Sendfile names; OK with q->sf_* set. */
static int sendfile_open(fcgix_req_t *q, const char *path)
{
    char resolved[PATH_MAX];
    struct stat st;
    int fd;

    if (q->app->o.sendfile_roots->nelts == 0) {
        return refuse(q, HTTP_BAD_GATEWAY, path,
                      "the application has no -sendfile-root");
    }
    if (path[0] != '/') {
        return refuse(q, HTTP_BAD_GATEWAY, path, "not an absolute path");
    }
    if (realpath(path, resolved) == NULL) {
        if ((errno == ENOENT || errno == ENOTDIR) &&
            lexically_below_root(q->app, path)) {
            return refuse(q, HTTP_NOT_FOUND, path, "no such file");
        }
        return refuse(
            q, HTTP_BAD_GATEWAY, path,
            apr_psprintf(q->r->pool, "cannot resolve it: %s", strerror(errno)));
    }
    if (root_of(q->app, resolved) == NULL) {
        return refuse(q, HTTP_BAD_GATEWAY, path,
                      apr_psprintf(q->r->pool, "%s is below no -sendfile-root",
                                   resolved));
    }
    if ((fd = open_no_links(resolved)) < 0) {
        return refuse(q, HTTP_BAD_GATEWAY, path,
                      apr_psprintf(q->r->pool, "cannot open %s: %s", resolved,
                                   strerror(errno)));
    }
    q->sf_fdp = apr_palloc(q->r->pool, sizeof(int));
    *q->sf_fdp = fd;
    apr_pool_cleanup_register(q->r->pool, q->sf_fdp, close_fd,
                              apr_pool_cleanup_null);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return refuse(q, HTTP_BAD_GATEWAY, path, "not a regular file");
    }
    q->sf_fd = fd;
    q->sf_path = apr_pstrdup(q->r->pool, resolved);
    return OK;
}

/* ------------------------------------------------------ X-Accel-Redirect */

static int accel_redirect(fcgix_req_t *q, const char *uri)
{
    if (!q->app->o.accel_redirect || uri[0] != '/') {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      "FCGIX0152: %s: X-Accel-Redirect %s refused: %s",
                      q->app->path, ap_escape_logitem(q->r->pool, uri),
                      q->app->o.accel_redirect
                          ? "not a path beginning with /"
                          : "the application has no -accel-redirect");
        return HTTP_BAD_GATEWAY;
    }
    q->accel_uri = apr_pstrdup(q->r->pool, uri);
    q->fin = FCGIX_FIN_ACCEL;
    return OK;
}

/* ------------------------------------------------------------ the hooks */

void fcgix_deliver_strip(request_rec *r)
{
    take_header(r, "X-Sendfile");
    take_header(r, "X-LIGHTTPD-send-file");
    take_header(r, "X-Accel-Redirect");
    take_header(r, "X-Accel-Buffering");
}

int fcgix_deliver_headers(fcgix_req_t *q)
{
    request_rec *r = q->r;
    const char *sf = take_header(r, "X-Sendfile");
    const char *lsf = take_header(r, "X-LIGHTTPD-send-file");
    const char *acc = take_header(r, "X-Accel-Redirect");
    int st;

    streaming(q);
    if (acc) {
        return accel_redirect(q, acc);
    }
    if (sf == NULL) {
        sf = lsf;
    }
    if (sf == NULL) {
        return OK;
    }
    if ((st = sendfile_open(q, sf)) != OK) {
        return st;
    }
    q->discard = 1; /* the app's own body, if any, is not the response */
    return OK;
}

/* sendfile() as EnableSendfile says for this request, as for a static
 * file. */
static apr_int32_t sendfile_flag(request_rec *r)
{
    const core_dir_config *d = ap_get_core_module_config(r->per_dir_config);

    return AP_SENDFILE_ENABLED(d->enable_sendfile);
}

/* Never mmap the file: the app owns it and may truncate it while a filter
 * (mod_deflate, mod_ssl) reads the mapping, which would kill the httpd
 * child with SIGBUS. (sendfile() and read() just come up short.) */
static void no_mmap(apr_bucket_brigade *bb)
{
    apr_bucket *e;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_FILE(e)) {
            apr_bucket_file_enable_mmap(e, 0);
        }
    }
}

/* mod_mime's type for the file, unless the app gave one. */
static void file_type(request_rec *r, const char *path, int app_typed)
{
    char *fname = r->filename;

    if (app_typed) {
        return;
    }
    r->filename = apr_pstrdup(r->pool, path);
    ap_run_type_checker(r);
    r->filename = fname;
}

int fcgix_deliver_file(fcgix_req_t *q)
{
    request_rec *r = q->r;
    apr_bucket_brigade *bb;
    apr_file_t *raw = NULL, *f = NULL;
    apr_os_file_t fd = q->sf_fd;
    struct stat st;
    int status;

    if (fstat(q->sf_fd, &st) != 0) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    file_type(r, q->sf_path, q->app_typed);
    /* An APR file that owns its descriptor (a dup, with APR's cleanup), so
     * that the core output filter can set the bucket aside beyond the
     * request (write completion) and the descriptor goes with it. */
    apr_os_file_put(&raw, &fd, APR_FOPEN_READ | sendfile_flag(r), r->pool);
    if (apr_file_dup(&f, raw, r->pool) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    close(q->sf_fd);
    *q->sf_fdp = q->sf_fd = -1;
    ap_update_mtime(r,
                    apr_time_from_sec(st.st_mtime) + st.st_mtim.tv_nsec / 1000);
    r->finfo.valid = APR_FINFO_MTIME | APR_FINFO_SIZE | APR_FINFO_INODE |
                     APR_FINFO_DEV | APR_FINFO_TYPE;
    r->finfo.filetype = APR_REG;
    r->finfo.mtime = r->mtime;
    r->finfo.size = st.st_size;
    r->finfo.inode = st.st_ino;
    r->finfo.device = st.st_dev;
    ap_set_last_modified(r);
    ap_set_etag(r);
    ap_set_accept_ranges(r);
    ap_set_content_length(r, st.st_size);
    if (r->status == HTTP_OK && (status = ap_meets_conditions(r)) != OK) {
        r->status = status;
        return status == HTTP_NOT_MODIFIED ? OK : status;
    }
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_brigade_insert_file(bb, f, 0, st.st_size, r->pool);
    no_mmap(bb);
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
    q->sent = 1;
    ap_pass_brigade(r->output_filters, bb); /* a client gone is no error */
    return OK;
}

void fcgix_deliver_accel(fcgix_req_t *q)
{
    request_rec *r = q->r;

    /* The app's Set-Cookie headers are in err_headers_out (httpd's CGI
     * header parser puts them there), which the redirect keeps. */
    r->method = "GET";
    r->method_number = M_GET;
    apr_table_unset(r->headers_in, "Content-Length");
    ap_internal_redirect_handler(q->accel_uri, r);
}
