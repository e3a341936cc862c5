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
 */
#include <string.h>

#include "mod_fcgix.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"
#include "mod_core.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

enum {
    ROLE_AUTHN = FCGIX_ROLE_AUTHN,
    ROLE_AUTHZ = FCGIX_ROLE_AUTHZ,
    ROLE_ACCESS = FCGIX_ROLE_ACCESS,
    N_ROLES = 3
};

/* What a directive's cmd->info points at: its role. */
int fcgix_role_ids[N_ROLES] = {ROLE_AUTHN, ROLE_AUTHZ, ROLE_ACCESS};

static const char *const role_env[N_ROLES] = {"AUTHENTICATOR", "AUTHORIZER",
                                              "ACCESS_CHECKER"};
static const char *const role_dir[N_ROLES] = {
    "FastCgiAuthenticator", "FastCgiAuthorizer", "FastCgiAccessChecker"};

typedef struct {
    const char *path; /* NULL: not set here */
    int compat;
    int authoritative; /* -1: not set here (default On) */
} role_conf_t;

typedef struct {
    role_conf_t role[N_ROLES];
} dir_conf_t;

void *fcgix_create_dir_conf(apr_pool_t *p, char *dir)
{
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    for (i = 0; i < N_ROLES; i++) {
        c->role[i].authoritative = -1;
    }
    return c;
}

/* A subdirectory that sets one directive keeps the others it inherits. */
void *fcgix_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const dir_conf_t *base = basev, *add = addv;
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    for (i = 0; i < N_ROLES; i++) {
        const role_conf_t *from =
            add->role[i].path ? &add->role[i] : &base->role[i];
        c->role[i].path = from->path;
        c->role[i].compat = from->compat;
        c->role[i].authoritative = add->role[i].authoritative != -1
                                       ? add->role[i].authoritative
                                       : base->role[i].authoritative;
    }
    return c;
}

const char *fcgix_cmd_auth(cmd_parms *cmd, void *dcv, const char *file,
                           const char *opt)
{
    dir_conf_t *dc = dcv;
    int role = *(const int *)cmd->info;

    dc->role[role].path = ap_server_root_relative(cmd->pool, file);
    if (dc->role[role].path == NULL) {
        return apr_psprintf(cmd->pool, "%s: invalid filename '%s'",
                            role_dir[role], file);
    }
    dc->role[role].compat = 0;
    if (opt && strcasecmp(opt, "-compat") == 0) {
        dc->role[role].compat = 1;
    } else if (opt) {
        return apr_psprintf(cmd->pool,
                            "%s %s: unknown option '%s' (only -compat)",
                            role_dir[role], dc->role[role].path, opt);
    }
    return NULL;
}

const char *fcgix_cmd_authoritative(cmd_parms *cmd, void *dcv, int on)
{
    dir_conf_t *dc = dcv;

    dc->role[*(const int *)cmd->info].authoritative = on;
    return NULL;
}

/* ---------------------------------------------------------- deciding */

/* A 200 grants: the app's headers become the request's environment
 * variables (a "Variable-" prefix is removed; with -compat only such
 * headers count). */
static int grant_env(void *data, const char *key, const char *val)
{
    const role_conf_t *rc = ((const void **)data)[0];
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

/* Runs the role's app. OK: *granted tells; else the status to fail closed
 * with (the app could not answer: never access). */
static int ask(request_rec *r, int role, const role_conf_t *rc,
               apr_table_t *env, fcgix_auth_result_t *res, int *granted)
{
    fcgix_app_t *app;
    int st = fcgix_app_for(r, rc->path, &app);

    apr_table_setn(env, "FCGI_APACHE_ROLE", role_env[role]);
    if (st == OK) {
        st = fcgix_authorize(r, app, env, rc->compat, res);
    }
    if (st != OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0500: %s %s could not decide (status %d): "
                      "denying the request",
                      role_dir[role], rc->path, st);
        return st == HTTP_SERVICE_UNAVAILABLE ? st : HTTP_INTERNAL_SERVER_ERROR;
    }
    *granted = res->status == HTTP_OK;
    if (*granted) {
        const void *data[2] = {rc, r};
        apr_table_do(grant_env, (void *)data, res->headers, NULL);
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "%s %s denied %s (status %d)", role_dir[role], rc->path,
                      r->uri, res->status);
    }
    return OK;
}

static const role_conf_t *role_conf(request_rec *r, int role)
{
    const dir_conf_t *dc =
        ap_get_module_config(r->per_dir_config, &fcgix_module);

    return dc && dc->role[role].path ? &dc->role[role] : NULL;
}

/* Asks the role's app; a grant lets the request on (OK), a failure fails
 * closed. A denial is the client's answer (deny_status) unless the role is
 * not authoritative: then other modules decide (DECLINED): mod_auth_basic's
 * providers after an authenticator, the Require lines after an authorizer,
 * httpd's other access checks after an access checker. */
static int decide(request_rec *r, int role, const role_conf_t *rc,
                  apr_table_t *env, int deny_status)
{
    fcgix_auth_result_t res;
    int granted = 0;
    int st = ask(r, role, rc, env, &res, &granted);

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

static int fcgix_check_access(request_rec *r)
{
    const role_conf_t *rc = role_conf(r, ROLE_ACCESS);

    return rc ? decide(r, ROLE_ACCESS, rc, apr_table_make(r->pool, 2),
                       HTTP_FORBIDDEN)
              : DECLINED;
}

static int fcgix_check_authn(request_rec *r)
{
    const role_conf_t *rc = role_conf(r, ROLE_AUTHN);
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
    return decide(r, ROLE_AUTHN, rc, env, HTTP_UNAUTHORIZED);
}

static int fcgix_check_authz(request_rec *r)
{
    const role_conf_t *rc = role_conf(r, ROLE_AUTHZ);

    return rc ? decide(r, ROLE_AUTHZ, rc, apr_table_make(r->pool, 2),
                       HTTP_UNAUTHORIZED)
              : DECLINED;
}

/* A FastCGI authenticator or authorizer means credentials are wanted, even
 * where the Require lines alone would let the request in without them. */
static int fcgix_force_authn(request_rec *r)
{
    return role_conf(r, ROLE_AUTHN) || role_conf(r, ROLE_AUTHZ) ? OK : DECLINED;
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
}
