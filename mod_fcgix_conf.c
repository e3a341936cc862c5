/*
 * mod_fcgix_conf.c - the FastCgi* directives: FastCgiExternalServer,
 * FastCgiServer and FastCgiConfig (their option lists are parsed in
 * mod_fcgix_opts.c), FastCgiWrapper, FastCgiIpcDir, FastCgiSpoolLimit;
 * the application records they declare, and the checks only the whole
 * configuration allows (fcgix_conf_check).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_fcgix_opts.h"
#include "pm/pm.h"

#include "http_log.h"
#include "apr_network_io.h"
#include "apr_strings.h"
#include "unixd.h"

APLOG_USE_MODULE(fcgix);

fcgix_globals_t *fcgix_globals;

void fcgix_conf_reset(apr_pool_t *pconf)
{
    fcgix_globals = apr_pcalloc(pconf, sizeof(*fcgix_globals));
    fcgix_globals->ipc_dir = NULL; /* see fcgix_ipc_dir() */
    fcgix_globals->spool_limit_kib = FCGIX_SPOOL_LIMIT_DEFAULT / 1024;
    fcgix_globals->apps = apr_array_make(pconf, 8, sizeof(fcgix_app_t *));
    fcgix_globals->by_path = apr_hash_make(pconf);
    fcgix_globals->auth_refs =
        apr_array_make(pconf, 4, sizeof(fcgix_auth_ref_t));
    fcgix_opts_defaults(&fcgix_globals->dynamic, pconf);
}

/* ------------------------------------------------------------ addresses */

static const char *set_host_addr(cmd_parms *cmd, fcgix_app_t *app,
                                 const char *hostport)
{
    char *host = NULL, *scope = NULL;
    apr_port_t port = 0;
    apr_sockaddr_t *sa;
    apr_status_t rv;

    rv = apr_parse_addr_port(&host, &scope, &port, hostport, cmd->pool);
    if (rv != APR_SUCCESS || host == NULL || scope != NULL) {
        return apr_psprintf(
            cmd->pool, "'%s' is not host:port (IPv6 as [addr]:port)", hostport);
    }
    if (port == 0) {
        return apr_psprintf(cmd->pool, "'%s' needs a port from 1 to 65535",
                            hostport);
    }
    rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, cmd->pool);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "cannot resolve host '%s'", host);
    }
    if ((size_t)sa->salen > sizeof(app->addr)) {
        return "address too large";
    }
    memcpy(&app->addr, &sa->sa, sa->salen);
    app->addr_len = (socklen_t)sa->salen;
    app->addr_text = apr_pstrdup(cmd->pool, hostport);
    return NULL;
}

/* Creates an application record for filename; refuses a second
 * declaration of the same file. */
static const char *new_app(cmd_parms *cmd, const char *args,
                           fcgix_app_kind_t kind, fcgix_app_t **out,
                           const char **rest)
{
    const char *word = ap_getword_conf(cmd->pool, &args);
    fcgix_app_t *app;
    const fcgix_app_t *old;

    if (*word == '\0') {
        return apr_psprintf(cmd->pool, "%s needs a filename", cmd->cmd->name);
    }
    app = apr_pcalloc(cmd->pool, sizeof(*app));
    app->path = ap_server_root_relative(cmd->pool, word);
    if (app->path == NULL) {
        return apr_psprintf(cmd->pool, "%s: invalid filename '%s'",
                            cmd->cmd->name, word);
    }
    ap_no2slash(app->path);
    old = apr_hash_get(fcgix_globals->by_path, app->path, APR_HASH_KEY_STRING);
    if (old) {
        return apr_psprintf(cmd->pool, "%s %s: already declared by %s",
                            cmd->cmd->name, app->path, old->directive);
    }
    app->kind = kind;
    app->directive = cmd->cmd->name;
    app->server = cmd->server;
    fcgix_opts_defaults(&app->o, cmd->pool);
    *out = app;
    *rest = args;
    return NULL;
}

static void register_app(fcgix_app_t *app)
{
    *(fcgix_app_t **)apr_array_push(fcgix_globals->apps) = app;
    apr_hash_set(fcgix_globals->by_path, app->path, APR_HASH_KEY_STRING, app);
}

/* Options a and b of the app's directive exclude each other. */
static const char *exclusive(cmd_parms *cmd, const fcgix_app_t *app,
                             const unsigned char *seen, const char *a,
                             const char *b)
{
    if (seen[fcgix_opts_index(a)] && seen[fcgix_opts_index(b)]) {
        return apr_psprintf(cmd->pool,
                            "%s %s: options -%s and -%s exclude each other",
                            cmd->cmd->name, app->path, a, b);
    }
    return NULL;
}

const char *fcgix_cmd_external(cmd_parms *cmd, void *dummy, const char *args)
{
    unsigned char seen[FCGIX_OPTS_MAX] = {0};
    fcgix_app_t *app = NULL;
    const char *err;
    int i;

    err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    if (err) {
        return err;
    }
    err = new_app(cmd, args, FCGIX_APP_EXTERNAL, &app, &args);
    if (err == NULL) {
        err = fcgix_opts_parse(cmd, app, FCGIX_OPTS_EXT, args, seen);
    }
    if (err) {
        return err;
    }
    if (!seen[fcgix_opts_index("host")] && !seen[fcgix_opts_index("socket")]) {
        return apr_psprintf(cmd->pool, "%s %s: needs option -host or -socket",
                            cmd->cmd->name, app->path);
    }
    for (i = 0; i < app->targets->nelts; i++) {
        fcgix_target_t *t = &APR_ARRAY_IDX(app->targets, i, fcgix_target_t);
        t->weight = t->weight ? t->weight : 1;
    }
    fcgix_backends_prepare(cmd->pool, app);
    register_app(app);
    return NULL;
}

/* The Unix socket of a static application: -socket, or a name derived from
 * its identity, so a restarted PM and the handlers agree on it. */
static const char *static_socket(cmd_parms *cmd, fcgix_app_t *app)
{
    return fcgix_opts_unix_addr(
        cmd, app,
        fcgix_pm_static_socket(cmd->pool, app->path,
                               (apr_uint32_t)ap_unixd_config.user_id,
                               (apr_uint32_t)ap_unixd_config.group_id));
}

/* The process manager will exec this file: a typo must fail `apache2 -t`,
 * not become a restart loop. Whether it must be executable depends on
 * FastCgiWrapper (which may come later), so fcgix_conf_check tells. */
static const char *static_file_check(cmd_parms *cmd, const fcgix_app_t *app)
{
    apr_finfo_t fi;
    apr_status_t rv = apr_stat(&fi, app->path, APR_FINFO_TYPE, cmd->temp_pool);

    if (rv != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, app->path,
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    if (fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "%s %s: not a regular file",
                            cmd->cmd->name, app->path);
    }
    return NULL;
}

const char *fcgix_cmd_server(cmd_parms *cmd, void *dummy, const char *args)
{
    unsigned char seen[FCGIX_OPTS_MAX] = {0};
    fcgix_app_t *app = NULL;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    if (err == NULL) {
        err = new_app(cmd, args, FCGIX_APP_STATIC, &app, &args);
    }
    if (err == NULL) {
        err = fcgix_opts_parse(cmd, app, FCGIX_OPTS_SRV, args, seen);
    }
    if (err) {
        return err;
    }
    if (strlen(app->path) >= FCGIX_PM_PATH_MAX) {
        return apr_psprintf(cmd->pool, "%s %s: path longer than %d bytes",
                            cmd->cmd->name, app->path, FCGIX_PM_PATH_MAX - 1);
    }
    err = static_file_check(cmd, app);
    if (err) {
        return err;
    }
    if ((err = exclusive(cmd, app, seen, "port", "socket")) != NULL) {
        return err;
    }
    if (app->o.run_user && app->o.run_group == NULL) {
        /* -user alone: that user's own group */
        struct passwd *pw = getpwnam(app->o.run_user);
        struct group *gr = pw ? getgrgid(pw->pw_gid) : NULL;
        if (gr == NULL || gr->gr_gid == 0) {
            return apr_psprintf(cmd->pool,
                                "%s %s: option -user %s: its primary group "
                                "cannot be used; give -group",
                                cmd->cmd->name, app->path, app->o.run_user);
        }
        app->o.run_group = apr_pstrdup(cmd->pool, gr->gr_name);
    }
    if (app->o.run_group && app->o.run_user == NULL) {
        return apr_psprintf(cmd->pool, "%s %s: option -group needs -user",
                            cmd->cmd->name, app->path);
    }
    if (seen[fcgix_opts_index("port")]) {
        err = set_host_addr(
            cmd, app, apr_psprintf(cmd->pool, "127.0.0.1:%d", app->o.port));
    } else if (!seen[fcgix_opts_index("socket")]) {
        err = static_socket(cmd, app);
    }
    if (err) {
        return apr_psprintf(cmd->pool, "%s %s: %s", cmd->cmd->name, app->path,
                            err);
    }
    register_app(app);
    return NULL;
}

const char *fcgix_cmd_config(cmd_parms *cmd, void *dummy, const char *args)
{
    unsigned char seen[FCGIX_OPTS_MAX] = {0};
    fcgix_app_t tmpl;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (fcgix_globals->dynamic_set) {
        return "FastCgiConfig: given twice; put every option in one";
    }
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.path = "(dynamic applications)";
    tmpl.o = fcgix_globals->dynamic;
    err = fcgix_opts_parse(cmd, &tmpl, FCGIX_OPTS_CFG, args, seen);
    if (err) {
        return err;
    }
    fcgix_globals->dynamic = tmpl.o;
    fcgix_globals->dynamic_set = 1;
    return NULL;
}

const char *fcgix_cmd_wrapper(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_finfo_t fi;
    const char *path;

    if (err) {
        return err;
    }
    if (strcasecmp(arg, "Off") == 0) {
        fcgix_globals->wrapper = NULL;
        return NULL;
    }
    if (strcasecmp(arg, "On") == 0) {
        if (!ap_unixd_config.suexec_enabled) {
            return "FastCgiWrapper On: httpd's suexec is not enabled "
                   "(install apache2-suexec-pristine or -custom), or name "
                   "a wrapper program";
        }
        path = SUEXEC_BIN;
    } else {
        path = ap_server_root_relative(cmd->pool, arg);
    }
    if (path == NULL ||
        apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_UPROT, cmd->pool) !=
            APR_SUCCESS ||
        fi.filetype != APR_REG || access(path, X_OK) != 0) {
        return apr_psprintf(cmd->pool,
                            "FastCgiWrapper: '%s' is not an executable file",
                            path ? path : arg);
    }
    fcgix_globals->wrapper = path;
    return NULL;
}

const char *fcgix_cmd_ipc_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (fcgix_globals->ipc_dir_used) {
        return "FastCgiIpcDir must come before any FastCgiExternalServer "
               "whose -socket is a relative path";
    }
    fcgix_globals->ipc_dir = ap_server_root_relative(cmd->pool, arg);
    if (fcgix_globals->ipc_dir == NULL) {
        return apr_psprintf(cmd->pool, "FastCgiIpcDir: invalid path '%s'", arg);
    }
    return NULL;
}

/* FastCgiSpoolLimit bytes: counted in KiB (rounded down here, up where
 * bodies are counted), so the scoreboard's 32-bit counters hold it. */
const char *fcgix_cmd_spool_limit(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v;
    char *end;

    if (err) {
        return err;
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || v < FCGIX_SPOOL_LIMIT_MIN ||
        v > FCGIX_SPOOL_LIMIT_MAX) {
        return apr_psprintf(cmd->pool,
                            "FastCgiSpoolLimit: '%s' is not a number of "
                            "bytes from %d to %" APR_INT64_T_FMT,
                            arg, FCGIX_SPOOL_LIMIT_MIN,
                            (apr_int64_t)FCGIX_SPOOL_LIMIT_MAX);
    }
    fcgix_globals->spool_limit_kib = (apr_uint32_t)(v / 1024);
    return NULL;
}

/* Without a wrapper the process manager execs the file itself; with one,
 * the wrapper decides what it runs (as mod_fastcgi left it). */
static int static_app_ok(server_rec *s, const fcgix_app_t *a)
{
    struct stat st;

    if (a->o.run_user && fcgix_globals->wrapper == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "FCGIX0015: %s %s: option -user needs FastCgiWrapper "
                     "(the wrapper gives the application its identity)",
                     a->directive, a->path);
        return 0;
    }
    if (fcgix_globals->wrapper == NULL &&
        (stat(a->path, &st) != 0 ||
         !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "FCGIX0020: %s %s: not an executable file (no "
                     "FastCgiWrapper to run it otherwise)",
                     a->directive, a->path);
        return 0;
    }
    return 1;
}

/* What only the whole configuration tells: -user/-group and the execute
 * permission of static apps depend on FastCgiWrapper. */
int fcgix_conf_check(server_rec *s)
{
    int i, ok = 1;

    for (i = 0; i < fcgix_globals->apps->nelts; i++) {
        const fcgix_app_t *a =
            APR_ARRAY_IDX(fcgix_globals->apps, i, const fcgix_app_t *);
        if (a->kind == FCGIX_APP_STATIC && !static_app_ok(s, a)) {
            ok = 0;
        }
    }
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}
