/*
 * mod_fcgix_params.c - what the app is told before the body: BEGIN_REQUEST
 * and the PARAMS stream, the CGI environment as mod_cgi builds it
 * (ap_add_common_vars, ap_add_cgi_vars) plus -pass-header's request
 * headers and an authorizer's own variables, never a Proxy header
 * (httpoxy), nor the Upgrade headers unless the request may be upgraded
 * (mod_fcgix_upgrade.c). Everything goes out in the request's first write.
 */
#include <string.h>

#include "mod_fcgix_int.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"
#include "apr_lib.h"
#include "apr_strings.h"

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

/* -docroot: the backend's file system. DOCUMENT_ROOT becomes its own, and
 * the paths below httpd's document root move below it. */
static void remote_docroot(request_rec *r, const char *dir, apr_table_t *env)
{
    static const char *const paths[] = {"SCRIPT_FILENAME", "PATH_TRANSLATED",
                                        "CONTEXT_DOCUMENT_ROOT"};
    const char *local = apr_table_get(env, "DOCUMENT_ROOT");
    size_t n = local ? strlen(local) : 0, i;

    while (n > 0 && local[n - 1] == '/') {
        n--; /* "/var/www/" is "/var/www", and "/" is "" */
    }
    for (i = 0; local && i < sizeof(paths) / sizeof(paths[0]); i++) {
        const char *v = apr_table_get(env, paths[i]);
        if (v && strncmp(v, local, n) == 0 && (v[n] == '/' || v[n] == '\0')) {
            apr_table_setn(env, paths[i],
                           apr_pstrcat(r->pool, dir, v + n, NULL));
        }
    }
    apr_table_setn(env, "DOCUMENT_ROOT", dir);
}

/* Builds BEGIN_REQUEST, the PARAMS stream, and for a request without a
 * body the empty STDIN record: everything the app needs, in one write. */
void fcgix_params_build(fcgix_req_t *q, int has_body)
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
    fcgix_upgrade_env(q); /* Upgrade headers only when -upgrade may */
    if (q->spooled) {     /* the app sees a plain body of known length */
        apr_table_setn(r->subprocess_env, "CONTENT_LENGTH",
                       apr_off_t_toa(r->pool, q->spool_len));
        apr_table_unset(r->subprocess_env, "HTTP_TRANSFER_ENCODING");
    }
    /* An authorizer's own variables (FCGI_APACHE_ROLE, REMOTE_PASSWD) go
     * to the app only, never into the request's environment, and replace
     * what is there (REMOTE_USER): each parameter once. */
    if (q->extra_env || q->app->o.docroot) {
        apr_table_t *env = apr_table_copy(r->pool, r->subprocess_env);
        if (q->app->o.docroot) {
            remote_docroot(r, q->app->o.docroot, env);
        }
        if (q->extra_env) {
            apr_table_overlap(env, q->extra_env, APR_OVERLAP_TABLES_SET);
        }
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
        out, q->req_id, q->auth ? FCGIX_ROLE_AUTHORIZER : FCGIX_ROLE_RESPONDER,
        q->keep ? FCGIX_FLAG_KEEP_CONN : 0);
    q->olen = FCGIX_BEGIN_REQUEST_LEN;
    q->olen += fcgix_rec_wrap(out + q->olen, total - q->olen, FCGIX_T_PARAMS,
                              q->req_id, nv, nvlen);
    if (nvlen) { /* wrap() wrote data records; add the end marker */
        fcgix_rec_header(out + q->olen, FCGIX_T_PARAMS, q->req_id, 0, 0);
        q->olen += FCGIX_REC_HEADER_LEN;
    }
    if (!has_body) {
        fcgix_rec_header(out + q->olen, FCGIX_T_STDIN, q->req_id, 0, 0);
        /* an upgrade's stdin may become the tunnel: the record waits */
        q->olen += q->upgrade ? 0 : FCGIX_REC_HEADER_LEN;
        q->stdin_eof = 1;
    }
    q->optr = out;
    q->params = out; /* kept: a retry on a fresh connection sends it again */
    q->params_len = q->olen;
}
