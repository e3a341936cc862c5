/*
 * mod_fcgix.c - the module record, its directive table, the hooks and the
 * fastcgi-script handler.
 *
 * The handler is an orchestrator: it asks mod_fcgix_app.c which application
 * serves the request and hands the request to the engine (mod_fcgix_io.c).
 * The directives' parsers live with what they parse: server-wide ones in
 * mod_fcgix_conf.c, the authorizers' in mod_fcgix_auth.c.
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
        fcgix_pm_post_config(pconf, ptemp, s, fcgix_globals) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void fcgix_child_init(apr_pool_t *pchild, server_rec *s)
{
    fcgix_pm_child_init(pchild, s);
    fcgix_keep_child_init(pchild, s);
    fcgix_backends_child_init(pchild, s);
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

/* A -vhost-only app's file, asked of another server: not found here. */
static int out_of_scope(request_rec *r)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "FCGIX0016: %s: declared -vhost-only in another server's "
                  "section: not found here",
                  r->filename);
    return HTTP_NOT_FOUND;
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
    if (!fcgix_app_in_scope(app, r)) {
        /* Below the app: a path of this host's own, httpd maps it. The app's
         * file itself is never sent (an executable, a script's source),
         * whatever handler this host has for it. */
        return *rest ? DECLINED : out_of_scope(r);
    }
    r->filename = app->path;
    r->path_info = apr_pstrdup(r->pool, rest);
    r->handler = FCGIX_HANDLER;
    ap_set_module_config(r->request_config, &fcgix_module, app);
    return OK;
}

static int is_nph(const char *filename)
{
    const char *base = strrchr(filename, '/');

    base = base ? base + 1 : filename;
    return strncmp(base, "nph-", 4) == 0;
}

static int fcgix_handler(request_rec *r)
{
    fcgix_app_t *app;

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
    /* fixups found it, or the file itself is an app (a path below a
     * declared app that fixups did not route is no request for it) */
    app = ap_get_module_config(r->request_config, &fcgix_module);
    if (app == NULL) {
        int st = fcgix_app_for(r, r->filename, &r->finfo, 1, &app);
        if (st != OK) {
            return st;
        }
        if (!fcgix_app_in_scope(app, r)) {
            return out_of_scope(r); /* never a dynamic one under its name */
        }
    }
    return fcgix_respond(r, app);
}

static int fcgix_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, server_rec *s)
{
    int apps = fcgix_conf_check(s);
    int auth = fcgix_auth_check(s);

    return apps != OK ? apps : auth;
}

/* ---------------------------------------------------- the directives */

#define AUTH_CMDS(name, phase)                                                 \
    AP_INIT_TAKE12(name, fcgix_cmd_auth, &fcgix_phase_ids[phase],              \
                   ACCESS_CONF | OR_AUTHCFG,                                   \
                   "filename [-compat]: a FastCGI app deciding this phase"),   \
        AP_INIT_FLAG(name "Authoritative", fcgix_cmd_authoritative,            \
                     &fcgix_phase_ids[phase], ACCESS_CONF | OR_AUTHCFG,        \
                     "Off: when the app denies, other modules decide")

static const command_rec fcgix_cmds[] = {
    AUTH_CMDS("FastCgiAuthenticator", FCGIX_PHASE_AUTHN),
    AUTH_CMDS("FastCgiAuthorizer", FCGIX_PHASE_AUTHZ),
    AUTH_CMDS("FastCgiAccessChecker", FCGIX_PHASE_ACCESS),
    AP_INIT_RAW_ARGS("FastCgiServer", fcgix_cmd_server, NULL, RSRC_CONF,
                     "filename [option ...]: a static application"),
    AP_INIT_RAW_ARGS("FastCgiConfig", fcgix_cmd_config, NULL, RSRC_CONF,
                     "option ...: defaults of dynamic applications"),
    AP_INIT_TAKE1("FastCgiWrapper", fcgix_cmd_wrapper, NULL, RSRC_CONF,
                  "On | Off | program that starts applications"),
    AP_INIT_RAW_ARGS("FastCgiExternalServer", fcgix_cmd_external, NULL,
                     RSRC_CONF,
                     "filename -host host:port | -socket path [option ...]"),
    AP_INIT_TAKE1("FastCgiIpcDir", fcgix_cmd_ipc_dir, NULL, RSRC_CONF,
                  "directory for the FastCGI Unix sockets"),
    AP_INIT_TAKE1("FastCgiSpoolLimit", fcgix_cmd_spool_limit, NULL, RSRC_CONF,
                  "bytes of request bodies spooled at once, server-wide"),
    AP_INIT_FLAG("FastCgiMetrics", fcgix_cmd_metrics, NULL, RSRC_CONF,
                 "On | Off: count request outcomes, waits and response "
                 "times for the metrics (default On)"),
    {.name = NULL}};

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
    fcgix_metrics_register();
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
