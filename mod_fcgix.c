/*
 * mod_fcgix.c - module record, hooks and the fastcgi-script handler.
 *
 * The handler is an orchestrator: it finds the application for the request
 * and hands the request to the engine in mod_fcgix_io.c.
 */
#include <string.h>

#include "mod_fcgix.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
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
    if (fcgix_ipc_dir_prepare(ptemp, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
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

static int is_nph(const char *filename)
{
    const char *base = strrchr(filename, '/');

    base = base ? base + 1 : filename;
    return strncmp(base, "nph-", 4) == 0;
}

static int fcgix_handler(request_rec *r)
{
    const fcgix_app_t *app;
    const char *rest = NULL;

    if (r->handler == NULL || strcmp(r->handler, FCGIX_HANDLER) != 0) {
        return DECLINED;
    }
    if (is_nph(r->filename)) {
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
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "FCGIX0011: %s is not a declared FastCGI application "
                      "(FastCgiExternalServer) and dynamic applications are "
                      "not available",
                      r->filename);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return fcgix_respond(r, app);
}

static void fcgix_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(fcgix_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(fcgix_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fcgix_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(fcgix_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(fcgix) = {
    STANDARD20_MODULE_STUFF,
    NULL,          /* per-directory config creator */
    NULL,          /* dir config merger */
    NULL,          /* server config creator */
    NULL,          /* server config merger */
    fcgix_cmds,    /* command table */
    fcgix_register_hooks,
    AP_MODULE_FLAG_NONE};
