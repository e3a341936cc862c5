/*
 * mod_fcgix.c - module record, hooks and the fastcgi-script handler.
 *
 * The handler is an orchestrator: it finds the application for the request
 * and hands the request to the engine in mod_fcgix_io.c.
 */
#include <string.h>

#include "mod_fcgix.h"
#include "pm/pm.h"

#include "ap_mpm.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mpm_common.h"
#include "apr_strings.h"
#include "unixd.h"

static int fcgix_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    fcgix_conf_reset(pconf);
    return OK;
}

static int fcgix_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    if (fcgix_ipc_dir_prepare(pconf, s) != APR_SUCCESS ||
        fcgix_pm_post_config(pconf, ptemp, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void fcgix_child_init(apr_pool_t *pchild, server_rec *s)
{
    fcgix_pm_child_init(pchild, s);
}

/* Parent: a child the MPM reaped gives back what it had counted of spooled
 * request bodies, even if it was killed before its cleanups ran. */
static void fcgix_child_status(server_rec *s, pid_t pid, ap_generation_t gen,
                               int slot, mpm_child_status state)
{
    if (state == MPM_CHILD_STARTED) {
        fcgix_pm_child_started(s, pid);
    } else if (state == MPM_CHILD_EXITED) {
        fcgix_pm_child_exited(s, pid);
    }
}

/* Parent, every few seconds while it serves. */
static int fcgix_monitor(apr_pool_t *p, server_rec *s)
{
    fcgix_pm_monitor(s);
    return DECLINED;
}

/* Routes a request for a declared application, or for a path below one, to
 * the handler even without AddHandler: r->filename becomes the application
 * and the rest of the path PATH_INFO. The file need not exist. */
static int fcgix_fixups(request_rec *r)
{
    fcgix_app_t *app;
    const char *full, *rest;

    if (r->filename == NULL || apr_hash_count(fcgix_globals->by_path) == 0) {
        return DECLINED;
    }
    full = r->path_info && *r->path_info
               ? apr_pstrcat(r->pool, r->filename, r->path_info, NULL)
               : r->filename;
    app = fcgix_app_lookup(full, &rest);
    if (app == NULL) {
        return DECLINED;
    }
    r->filename = app->path;
    r->path_info = apr_pstrdup(r->pool, rest);
    r->handler = FCGIX_HANDLER;
    ap_set_module_config(r->request_config, &fcgix_module, app);
    return OK;
}

void fcgix_app_identity(request_rec *r, const fcgix_app_t *app,
                        apr_uint32_t *uid, apr_uint32_t *gid)
{
    ap_unix_identity_t *ug =
        fcgix_globals->wrapper ? ap_run_get_suexec_identity(r) : NULL;

    *uid = (apr_uint32_t)(ug ? ug->uid : ap_unixd_config.user_id);
    *gid = (apr_uint32_t)(ug ? ug->gid : ap_unixd_config.group_id);
}

static int is_nph(const char *filename)
{
    const char *base = strrchr(filename, '/');

    base = base ? base + 1 : filename;
    return strncmp(base, "nph-", 4) == 0;
}

/* A fastcgi-script file that no directive declares is a dynamic
 * application: the PM starts it on demand with FastCgiConfig's options.
 * As the handler's target it needs Options ExecCGI; as an authorizer
 * (named by the administrator in a directive) it does not. */
static int dynamic_app(request_rec *r, const char *path, const apr_finfo_t *fi,
                       int need_execcgi, fcgix_app_t **out)
{
    fcgix_app_t *app;
    struct sockaddr_un *sun;
    const char *sock;

    if (fi->filetype != APR_REG) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "%s: no such FastCGI application", path);
        return HTTP_NOT_FOUND;
    }
    if (!(fi->protection & APR_UEXECUTE)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0014: %s: not executable, cannot run it as a "
                      "dynamic FastCGI application",
                      path);
        return HTTP_FORBIDDEN;
    }
    if (need_execcgi && !(ap_allow_options(r) & OPT_EXECCGI)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0012: %s: dynamic FastCGI applications need "
                      "Options ExecCGI",
                      path);
        return HTTP_FORBIDDEN;
    }
    if (strlen(path) >= FCGIX_PM_PATH_MAX) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0013: %s: path too long for a dynamic "
                      "application",
                      path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    app = apr_pcalloc(r->pool, sizeof(*app));
    app->path = apr_pstrdup(r->pool, path);
    app->directive = "FastCgiConfig";
    app->kind = FCGIX_APP_DYNAMIC;
    app->o = fcgix_globals->dynamic;
    fcgix_app_identity(r, app, &app->uid, &app->gid);
    sock = fcgix_pm_dynamic_socket(r->pool, fcgix_globals->ipc_dir, app->path,
                                   app->uid, app->gid);
    sun = (struct sockaddr_un *)&app->addr;
    if (strlen(sock) >= sizeof(sun->sun_path)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, sock, strlen(sock) + 1);
    app->addr_len = (socklen_t)sizeof(*sun);
    app->addr_text = apr_pstrcat(r->pool, "unix:", sock, NULL);
    *out = app;
    return OK;
}

int fcgix_app_for(request_rec *r, const char *filename, fcgix_app_t **out)
{
    const char *rest = NULL;
    apr_finfo_t fi;

    *out = fcgix_app_lookup(filename, &rest);
    if (*out && rest && *rest == '\0') {
        return OK;
    }
    if (apr_stat(&fi, filename, APR_FINFO_TYPE | APR_FINFO_PROT, r->pool) !=
        APR_SUCCESS) {
        fi.filetype = APR_NOFILE;
    }
    return dynamic_app(r, filename, &fi, 0, out);
}

static int fcgix_handler(request_rec *r)
{
    fcgix_app_t *app;
    const char *rest = NULL;

    if (r->handler == NULL || strcmp(r->handler, FCGIX_HANDLER) != 0) {
        return DECLINED;
    }
    if (is_nph(r->filename)) {
        /* The contract: refused, as mod_fastcgi did; the -nph option of a
         * declared application is the way to a non-parsed response. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0010: %s: nph- scripts are not supported by "
                      "mod_fcgix (their output would bypass httpd's "
                      "response handling); link the script to a name "
                      "without the nph- prefix",
                      r->filename);
        return HTTP_FORBIDDEN;
    }
    app = ap_get_module_config(r->request_config, &fcgix_module);
    if (app == NULL) {
        app = fcgix_app_lookup(r->filename, &rest);
        if (app && rest && *rest) {
            app = NULL; /* fixups would have taken it; be strict */
        }
    }
    if (app == NULL) {
        int st = dynamic_app(r, r->filename, &r->finfo, 1, &app);
        if (st != OK) {
            return st;
        }
    }
    return fcgix_respond(r, app);
}

static int fcgix_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    return fcgix_conf_check(s);
}

static void fcgix_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(fcgix_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(fcgix_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(fcgix_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(fcgix_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_status(fcgix_child_status, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(fcgix_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fcgix_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(fcgix_handler, NULL, NULL, APR_HOOK_MIDDLE);
    fcgix_status_register();
    fcgix_auth_register();
}

AP_DECLARE_MODULE(fcgix) = {STANDARD20_MODULE_STUFF,
                            fcgix_create_dir_conf, /* per-directory config */
                            fcgix_merge_dir_conf,  /* its merger */
                            NULL,                  /* server config */
                            NULL,                  /* its merger */
                            fcgix_cmds,            /* directives */
                            fcgix_register_hooks,
                            AP_MODULE_FLAG_NONE};
