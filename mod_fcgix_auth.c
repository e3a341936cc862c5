/*
 * mod_fcgix_auth.c - FastCgiAuthenticator, FastCgiAuthorizer and
 * FastCgiAccessChecker on httpd 2.4's access, authentication and
 * authorization phases.
 *
 * The app runs in the FastCGI AUTHORIZER role with the request's CGI
 * environment and FCGI_APACHE_ROLE. Status 200 grants, and its headers
 * become environment variables of the request (with -compat only the
 * Variable-* ones, as the FastCGI specification says); anything else denies
 * with the app's headers and body. An app that cannot answer denies too.
 *
 * Hooks are registered with AP_AUTH_INTERNAL_PER_CONF, so subrequests and
 * internal redirects under the same configuration do not ask again.
 *
 * The administrator's choice of app is trusted; an .htaccess author's is
 * not: an app named in .htaccess runs only if the server configuration
 * declares it or its file lies where httpd would run it as a CGI script
 * (Options ExecCGI), else anyone who may write .htaccess could run any
 * executable on the machine as the server's user.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "mod_fcgix.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"
#include "mod_core.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

/* What a directive's cmd->info points at: the httpd phase it decides. */
int fcgix_phase_ids[FCGIX_N_PHASES] = {FCGIX_PHASE_AUTHN, FCGIX_PHASE_AUTHZ,
                                       FCGIX_PHASE_ACCESS};

/* Per phase: FCGI_APACHE_ROLE, as mod_fastcgi named it, and the directive. */
static const char *const phase_role[FCGIX_N_PHASES] = {
    "AUTHENTICATOR", "AUTHORIZER", "ACCESS_CHECKER"};
static const char *const phase_dir[FCGIX_N_PHASES] = {
    "FastCgiAuthenticator", "FastCgiAuthorizer", "FastCgiAccessChecker"};

typedef struct {
    const char *path;     /* NULL: not set here */
    const char *htaccess; /* the .htaccess file that named path; NULL: the
                             server configuration did */
    int compat;
    int authoritative; /* -1: not set here (default On) */
} phase_conf_t;

typedef struct {
    phase_conf_t phase[FCGIX_N_PHASES];
} dir_conf_t;

void *fcgix_create_dir_conf(apr_pool_t *p, char *dir)
{
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    for (i = 0; i < FCGIX_N_PHASES; i++) {
        c->phase[i].authoritative = -1;
    }
    return c;
}

/* A subdirectory that sets one directive keeps the others it inherits. */
void *fcgix_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const dir_conf_t *base = basev, *add = addv;
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    for (i = 0; i < FCGIX_N_PHASES; i++) {
        const phase_conf_t *from =
            add->phase[i].path ? &add->phase[i] : &base->phase[i];
        c->phase[i].path = from->path;
        c->phase[i].htaccess = from->htaccess;
        c->phase[i].compat = from->compat;
        c->phase[i].authoritative = add->phase[i].authoritative != -1
                                        ? add->phase[i].authoritative
                                        : base->phase[i].authoritative;
    }
    return c;
}

/* From .htaccess, the file must be there now: a typo is the author's
 * parse error (httpd answers 500 and logs it with the .htaccess name), not
 * a dynamic app that fails on every request. Declared apps need no file.
 * (httpd escapes control bytes in every error log line, the author's
 * file name in this message included.) */
static const char *htaccess_file_check(cmd_parms *cmd, int phase,
                                       const char *path)
{
    apr_finfo_t fi;
    apr_status_t rv;
    char buf[120];

    if (fcgix_app_declared(path)) {
        return NULL;
    }
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(
            cmd->pool,
            "%s %s: %s, and no FastCgiServer or FastCgiExternalServer "
            "declares it",
            phase_dir[phase], path,
            APR_STATUS_IS_ENOENT(rv) ? "no such file"
                                     : apr_strerror(rv, buf, sizeof(buf)));
    }
    return NULL;
}

/* Records an authorizer file named in the server configuration (never
 * from .htaccess: the globals are read-only once requests run), to be
 * checked once every declaration is known (fcgix_auth_check). */
static void note_authorizer(cmd_parms *cmd, const char *path)
{
    fcgix_auth_ref_t *ref = apr_array_push(fcgix_globals->auth_refs);

    ref->path = path;
    ref->directive = cmd->cmd->name;
    ref->where = cmd->directive ? apr_psprintf(cmd->pool, "%s:%d",
                                               cmd->directive->filename,
                                               cmd->directive->line_num)
                                : "?";
}

const char *fcgix_cmd_auth(cmd_parms *cmd, void *dcv, const char *file,
                           const char *opt)
{
    dir_conf_t *dc = dcv;
    int phase = *(const int *)cmd->info;
    phase_conf_t *rc = &dc->phase[phase];
    /* httpd refuses a NOT_IN_HTACCESS directive exactly when it is read
     * from an .htaccess file: that is the test for where this line is. */
    int htaccess = ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL;

    rc->path = ap_server_root_relative(cmd->pool, file);
    if (rc->path == NULL) {
        return apr_psprintf(cmd->pool, "%s: invalid filename '%s'",
                            phase_dir[phase], file);
    }
    rc->compat = 0;
    if (opt && strcasecmp(opt, "-compat") == 0) {
        rc->compat = 1;
    } else if (opt) {
        return apr_psprintf(cmd->pool,
                            "%s %s: unknown option '%s' (only -compat)",
                            phase_dir[phase], rc->path, opt);
    }
    if (htaccess) {
        rc->htaccess = cmd->directive->filename;
        return htaccess_file_check(cmd, phase, rc->path);
    }
    rc->htaccess = NULL;
    note_authorizer(cmd, rc->path);
    return NULL;
}

const char *fcgix_cmd_authoritative(cmd_parms *cmd, void *dcv, int on)
{
    dir_conf_t *dc = dcv;

    dc->phase[*(const int *)cmd->info].authoritative = on;
    return NULL;
}

/* An authorizer the server configuration names is a declared app or a
 * dynamic one; a dynamic one needs the file that the handler would accept
 * (a regular file its owner may execute). */
static int auth_ref_ok(server_rec *s, const fcgix_auth_ref_t *ref)
{
    const char *why;
    char buf[120];
    struct stat st;

    if (fcgix_app_declared(ref->path)) {
        return 1;
    }
    if (stat(ref->path, &st) != 0) {
        why = apr_strerror(errno, buf, sizeof(buf));
    } else if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
        why = "not an executable regular file";
    } else {
        return 1;
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                 "FCGIX0021: %s %s (%s): %s, and no FastCgiServer or "
                 "FastCgiExternalServer declares it",
                 ref->directive, ref->path, ref->where, why);
    return 0;
}

/* An authorizer may be declared after the line that names it: checked once
 * the whole configuration is read. */
int fcgix_auth_check(server_rec *s)
{
    int i, ok = 1;

    for (i = 0; i < fcgix_globals->auth_refs->nelts; i++) {
        if (!auth_ref_ok(s, &APR_ARRAY_IDX(fcgix_globals->auth_refs, i,
                                           const fcgix_auth_ref_t))) {
            ok = 0;
        }
    }
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* ---------------------------------------------------------- deciding */

/* A 200 grants: the app's headers become the request's environment
 * variables (a "Variable-" prefix is removed; with -compat only such
 * headers count). */
static int grant_env(void *data, const char *key, const char *val)
{
    const phase_conf_t *rc = ((const void **)data)[0];
    request_rec *r = ((void **)data)[1];

    if (strncasecmp(key, "Variable-", 9) == 0) {
        key += 9;
    } else if (rc->compat) {
        return 1;
    }
    if (*key) {
        apr_table_setn(r->subprocess_env, key, val);
    }
    return 1;
}

/* A denial: the app's headers and body reach the client, unless an
 * ErrorDocument for that status says otherwise (then httpd sends it). The
 * response is written here and DONE returned, as a phase that produces
 * its own response does; a subrequest only gets the status. */
static int deny(request_rec *r, int status, const fcgix_auth_result_t *res)
{
    const apr_array_header_t *h = apr_table_elts(res->headers);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    const char *ctype = NULL;
    int i;

    for (i = 0; i < h->nelts; i++) {
        if (strcasecmp(e[i].key, "Content-Type") == 0) {
            ctype = e[i].val;
        } else {
            apr_table_addn(r->err_headers_out, e[i].key, e[i].val);
        }
    }
    if (r->main || res->body_len == 0 ||
        ap_response_code_string(r, ap_index_of_response(status)) != NULL) {
        return status;
    }
    ap_discard_request_body(r);
    r->status = status;
    ap_set_content_type(r, ctype ? ctype : "text/plain");
    ap_rwrite(res->body, (int)res->body_len, r);
    return DONE;
}

/* ------------------------------------------------ .htaccess authorizers */

/* The options in force for a file are what httpd's own lookup of it finds:
 * ap_sub_req_lookup_file walks <Directory>, <Files> and the .htaccess files
 * along its path (with their AllowOverride), exactly as for a request that
 * maps to the file, and applies the symlink rules on the way. Assembling a
 * per-directory configuration by hand would be a second, diverging copy of
 * that walk. The lookup is stopped right after the walk (post_perdir_config
 * below): the authentication of the authorizer's own path is not this
 * request's business, would log denials for a directory the web may not
 * see, and could ask an authorizer again (and again) for it. */
typedef struct {
    const request_rec *asker; /* the request whose authorizer this is */
    int reached;              /* the walk got as far as the hook */
    int options;              /* ap_allow_options() of the lookup */
} probe_t;

#define PROBE_KEY "fcgix-execcgi-probe"

static int probe_perdir(request_rec *r)
{
    void *v = NULL;
    probe_t *probe;

    if (r->main == NULL ||
        apr_pool_userdata_get(&v, PROBE_KEY, r->main->pool) != APR_SUCCESS ||
        v == NULL) {
        return DECLINED;
    }
    probe = v;
    if (probe->asker != r->main) {
        return DECLINED;
    }
    probe->reached = 1;
    probe->options = ap_allow_options(r);
    return DONE; /* ends the lookup here; its status is never used */
}

/* Does httpd allow CGI execution of the file at path? A walk that fails
 * before the hook (a symlink httpd will not follow, an unparsable
 * .htaccess on the way) counts as no. */
static int execcgi_at(request_rec *r, const char *path)
{
    probe_t probe = {r, 0, 0};
    request_rec *rr;

    if (r->filename == NULL) { /* the lookup resolves against it */
        return 0;
    }
    apr_pool_userdata_setn(&probe, PROBE_KEY, NULL, r->pool);
    rr = ap_sub_req_lookup_file(path, r, NULL);
    apr_pool_userdata_setn(NULL, PROBE_KEY, NULL, r->pool);
    ap_destroy_sub_req(rr);
    return probe.reached && (probe.options & OPT_EXECCGI);
}

/* An app named in .htaccess: declared in the server configuration, or a
 * file httpd would run as a CGI script. Else the request fails closed. */
static int htaccess_may_run(request_rec *r, int phase, const phase_conf_t *rc)
{
    if (fcgix_app_declared(rc->path) || execcgi_at(r, rc->path)) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  "FCGIX0501: %s %s named in %s: refused; an authorizer "
                  "named in .htaccess must be declared by FastCgiServer or "
                  "FastCgiExternalServer, or lie in a directory with "
                  "Options ExecCGI",
                  phase_dir[phase], rc->path, rc->htaccess);
    return 0;
}

/* ---------------------------------------------------------- asking */

/* Runs the phase's app. OK: *granted tells; else the status to fail closed
 * with (the app could not answer: never access). */
static int ask(request_rec *r, int phase, const phase_conf_t *rc,
               apr_table_t *env, fcgix_auth_result_t *res, int *granted)
{
    fcgix_app_t *app;
    int st;

    if (rc->htaccess && !htaccess_may_run(r, phase, rc)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    st = fcgix_app_for(r, rc->path, NULL, 0, &app);
    apr_table_setn(env, "FCGI_APACHE_ROLE", phase_role[phase]);
    if (st == OK) {
        st = fcgix_authorize(r, app, env, rc->compat, res);
    }
    if (st != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0500: %s %s could not decide (status %d): "
                      "denying the request",
                      phase_dir[phase], rc->path, st);
        return st == HTTP_SERVICE_UNAVAILABLE ? st : HTTP_INTERNAL_SERVER_ERROR;
    }
    *granted = res->status == HTTP_OK;
    if (*granted) {
        const void *data[2] = {rc, r};
        apr_table_do(grant_env, (void *)data, res->headers, NULL);
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "%s %s denied %s (status %d)", phase_dir[phase], rc->path,
                      r->uri, res->status);
    }
    return OK;
}

static const phase_conf_t *phase_conf(request_rec *r, int phase)
{
    const dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &fcgix_module);

    return dc && dc->phase[phase].path ? &dc->phase[phase] : NULL;
}

/* Asks the phase's app; a grant lets the request on (OK), a failure fails
 * closed. A denial is the client's answer (deny_status) unless the phase is
 * not authoritative: then other modules decide (DECLINED): mod_auth_basic's
 * providers after an authenticator, the Require lines after an authorizer,
 * httpd's other access checks after an access checker. */
static int decide(request_rec *r, int phase, const phase_conf_t *rc,
                  apr_table_t *env, int deny_status)
{
    fcgix_auth_result_t res;
    int granted = 0;
    int st = ask(r, phase, rc, env, &res, &granted);

    if (st != OK || granted) {
        return st;
    }
    if (rc->authoritative == 0) {
        return DECLINED;
    }
    if (deny_status == HTTP_UNAUTHORIZED) {
        ap_note_auth_failure(r);
    }
    return deny(r, deny_status, &res);
}

/* A phase whose app gets the request's environment and nothing more. */
static int decide_plain(request_rec *r, int phase, int deny_status)
{
    const phase_conf_t *rc = phase_conf(r, phase);

    return rc ? decide(r, phase, rc, apr_table_make(r->pool, 2), deny_status)
              : DECLINED;
}

static int fcgix_check_access(request_rec *r)
{
    return decide_plain(r, FCGIX_PHASE_ACCESS, HTTP_FORBIDDEN);
}

static int fcgix_check_authn(request_rec *r)
{
    const phase_conf_t *rc = phase_conf(r, FCGIX_PHASE_AUTHN);
    apr_table_t *env;
    const char *pw;
    int st;

    if (rc == NULL) {
        return DECLINED;
    }
    st = ap_get_basic_auth_pw(r, &pw); /* Basic only; 401 if none sent */
    if (st != OK) {
        return st;
    }
    env = apr_table_make(r->pool, 4);
    apr_table_setn(env, "REMOTE_USER", r->user);
    apr_table_setn(env, "REMOTE_PASSWD", pw);
    return decide(r, FCGIX_PHASE_AUTHN, rc, env, HTTP_UNAUTHORIZED);
}

static int fcgix_check_authz(request_rec *r)
{
    return decide_plain(r, FCGIX_PHASE_AUTHZ, HTTP_UNAUTHORIZED);
}

/* A FastCGI authenticator or authorizer means credentials are wanted, even
 * where the Require lines alone would let the request in without them. */
static int fcgix_force_authn(request_rec *r)
{
    return phase_conf(r, FCGIX_PHASE_AUTHN) || phase_conf(r, FCGIX_PHASE_AUTHZ)
               ? OK
               : DECLINED;
}

/* First in each phase: the app decides before mod_auth_basic's providers
 * and mod_authz_core's Require lines, whatever the LoadModule order. */
void fcgix_auth_register(void)
{
    ap_hook_check_access(fcgix_check_access, NULL, NULL, APR_HOOK_FIRST,
                         AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(fcgix_check_authn, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authz(fcgix_check_authz, NULL, NULL, APR_HOOK_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_force_authn(fcgix_force_authn, NULL, NULL, APR_HOOK_MIDDLE);
    /* First: no other module's hook needs to see the ExecCGI lookup. */
    ap_hook_post_perdir_config(probe_perdir, NULL, NULL, APR_HOOK_REALLY_FIRST);
}
