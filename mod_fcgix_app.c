/*
 * mod_fcgix_app.c - which application serves a file: the one place the
 * handler, the fixups and the authorizers ask.
 *
 * A file a FastCgiServer or FastCgiExternalServer declares is that app
 * (and a path below it, for the fixups, routes to it with PATH_INFO); any
 * other file is a dynamic application, which the PM starts on demand with
 * FastCgiConfig's options, as the identity the request runs under.
 */
#include <string.h>

#include "mod_fcgix.h"
#include "pm/pm.h"

#include "http_core.h"
#include "http_log.h"
#include "http_request.h"
#include "apr_strings.h"
#include "unixd.h"

APLOG_USE_MODULE(fcgix);

fcgix_app_t *fcgix_app_lookup(const char *filename, const char **rest)
{
    apr_hash_t *h = fcgix_globals->by_path;
    size_t len = strlen(filename);
    fcgix_app_t *app;

    if (apr_hash_count(h) == 0) {
        return NULL;
    }
    app = apr_hash_get(h, filename, (apr_ssize_t)len);
    if (app) {
        *rest = filename + len;
        return app;
    }
    /* Try each parent: "/a/b/app/x/y" may be app "/a/b/app", rest "/x/y". */
    while (len > 1) {
        while (len > 0 && filename[len - 1] != '/') {
            len--;
        }
        if (len <= 1) {
            break;
        }
        len--; /* drop the slash */
        app = apr_hash_get(h, filename, (apr_ssize_t)len);
        if (app) {
            *rest = filename + len;
            return app;
        }
    }
    return NULL;
}

fcgix_app_t *fcgix_app_declared(const char *path)
{
    const char *rest = NULL;
    fcgix_app_t *app = fcgix_app_lookup(path, &rest);

    return app && *rest == '\0' ? app : NULL;
}

/* The identity (uid, gid) an application runs as for this request: the
 * suexec identity with a wrapper, else the server's User and Group. */
static void app_identity(request_rec *r, apr_uint32_t *uid, apr_uint32_t *gid)
{
    ap_unix_identity_t *ug =
        fcgix_globals->wrapper ? ap_run_get_suexec_identity(r) : NULL;

    *uid = (apr_uint32_t)(ug ? ug->uid : ap_unixd_config.user_id);
    *gid = (apr_uint32_t)(ug ? ug->gid : ap_unixd_config.group_id);
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
    app_identity(r, &app->uid, &app->gid);
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

int fcgix_app_in_scope(const fcgix_app_t *app, const request_rec *r)
{
    return !app->o.vhost_only || r->server == app->server;
}

int fcgix_app_for(request_rec *r, const char *filename, const apr_finfo_t *fi,
                  int need_execcgi, fcgix_app_t **out)
{
    apr_finfo_t own;

    *out = fcgix_app_declared(filename);
    if (*out) {
        return OK;
    }
    if (fi == NULL) {
        if (apr_stat(&own, filename, APR_FINFO_TYPE | APR_FINFO_PROT,
                     r->pool) != APR_SUCCESS) {
            own.filetype = APR_NOFILE;
        }
        fi = &own;
    }
    return dynamic_app(r, filename, fi, need_execcgi, out);
}
