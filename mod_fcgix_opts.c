/*
 * mod_fcgix_opts.c - the option lists of FastCgiExternalServer,
 * FastCgiServer and FastCgiConfig: one table of every option (its name,
 * the directives that accept it, its range), the defaults, and each
 * option's value parsed into the application's record, -host and -socket
 * addresses included.
 *
 * Every option list is parsed against that table, so a directive accepts
 * exactly the options it documents, each once (unless repeatable), with
 * numbers in range; anything else fails `apache2 -t` with a message naming
 * the directive, the application and the option.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "mod_fcgix_opts.h"
#include "pm/pm.h"

#include "http_log.h"
#include "http_protocol.h"
#include "apr_network_io.h"
#include "apr_lib.h"
#include "apr_strings.h"

APLOG_USE_MODULE(fcgix);

/* Which directives accept an option. */
#define D_EXT FCGIX_OPTS_EXT /* FastCgiExternalServer */
#define D_SRV FCGIX_OPTS_SRV /* FastCgiServer */
#define D_CFG FCGIX_OPTS_CFG /* FastCgiConfig */
#define D_ALL (D_EXT | D_SRV | D_CFG)
#define D_PM (D_SRV | D_CFG)

typedef enum {
    OPT_INT,     /* integer in [min, max] at `offset` */
    OPT_FLAG,    /* no argument, sets int at `offset` to 1 */
    OPT_MILLI,   /* decimal in [min, max] / 1000, stored x1000 */
    OPT_HEADERS, /* repeatable header name, appended to pass_headers */
    OPT_ENV,     /* repeatable name[=[value]], appended to initial_env */
    OPT_HOST,    /* -host address */
    OPT_SOCKET,  /* -socket path */
    OPT_USER,    /* -user name: a user other than root, for the wrapper */
    OPT_GROUP,   /* -group name: a group other than root, for the wrapper */
    OPT_WEIGHT,  /* -weight N: of the -host or -socket before it */
    OPT_METHODS, /* -retry-methods GET,HEAD,... or none */
    OPT_DOCROOT, /* -docroot DIR: an absolute path */
    OPT_WATCH,   /* repeatable -watch FILE, appended to watch */
    OPT_SFROOT   /* repeatable -sendfile-root DIR, appended (resolved) */
} opt_type_t;

typedef struct {
    const char *name; /* without the leading '-', compared ignoring case */
    opt_type_t type;
    size_t offset; /* in fcgix_opts_t */
    int min, max;
    unsigned directives;
} opt_def_t;

#define OFF(f) offsetof(fcgix_opts_t, f)
#define DAY 86400
#define NOFF ((size_t)-1)

static const opt_def_t opt_table[] = {
    {"appConnTimeout", OPT_INT, OFF(app_conn_timeout), 0, DAY, D_ALL},
    {"idle-timeout", OPT_INT, OFF(idle_timeout), 1, DAY, D_ALL},
    {"request-timeout", OPT_INT, OFF(request_timeout), 0, DAY, D_ALL},
    {"spool-body", OPT_INT, OFF(spool_body), 0, 1 << 30, D_ALL},
    {"flush", OPT_FLAG, OFF(flush), 0, 1, D_ALL},
    {"nph", OPT_FLAG, OFF(nph), 0, 1, D_EXT | D_SRV},
    {"upgrade", OPT_FLAG, OFF(upgrade), 0, 1, D_ALL},
    {"vhost-only", OPT_FLAG, OFF(vhost_only), 0, 1, D_EXT | D_SRV},
    {"pass-header", OPT_HEADERS, NOFF, 0, 0, D_ALL},
    {"header-max-bytes", OPT_INT, OFF(hdr_max_bytes), 256, 1 << 24, D_ALL},
    {"header-max-lines", OPT_INT, OFF(hdr_max_lines), 1, 10000, D_ALL},
    {"header-max-line", OPT_INT, OFF(hdr_max_line), 64, FCGIX_HDR_LINE_CAP,
     D_ALL},
    {"stderr-max-line", OPT_INT, OFF(stderr_max_line), 16, 65536, D_ALL},
    {"stderr-max-bytes", OPT_INT, OFF(stderr_max_bytes), 0, 1 << 30, D_ALL},
    {"keep-conn", OPT_INT, OFF(keep_conn), 0, FCGIX_KEEP_MAX, D_ALL},
    {"host", OPT_HOST, NOFF, 0, 0, D_EXT},
    {"weight", OPT_WEIGHT, NOFF, 1, 1000, D_EXT},
    {"disable-time", OPT_INT, OFF(disable_time), 0, 3600, D_EXT},
    {"probe", OPT_INT, OFF(probe), 0, 3600, D_EXT},
    {"probe-timeout", OPT_INT, OFF(probe_timeout), 1, 60, D_EXT},
    {"resolve", OPT_INT, OFF(resolve), 0, DAY, D_EXT},
    {"retry-methods", OPT_METHODS, NOFF, 0, 0, D_EXT},
    {"docroot", OPT_DOCROOT, OFF(docroot), 0, 0, D_EXT},
    {"socket", OPT_SOCKET, NOFF, 0, 0, D_EXT | D_SRV},
    {"port", OPT_INT, OFF(port), 1, 65535, D_SRV},
    {"initial-env", OPT_ENV, NOFF, 0, 0, D_PM},
    {"watch", OPT_WATCH, NOFF, 0, 0, D_PM},
    {"sendfile-root", OPT_SFROOT, NOFF, 0, 0, D_ALL},
    {"accel-redirect", OPT_FLAG, OFF(accel_redirect), 0, 1, D_ALL},
    {"init-start-delay", OPT_INT, OFF(init_start_delay), 0, 3600, D_PM},
    {"listen-queue-depth", OPT_INT, OFF(listen_queue_depth), 1, 65535, D_PM},
    {"priority", OPT_INT, OFF(priority), -20, 19, D_PM},
    {"processes", OPT_INT, OFF(processes), 1, 1000, D_SRV},
    {"restart-delay", OPT_INT, OFF(restart_delay), 0, 3600, D_PM},
    {"min-server-life", OPT_INT, OFF(min_server_life), 0, DAY, D_SRV},
    {"user", OPT_USER, OFF(run_user), 0, 0, D_SRV},
    {"group", OPT_GROUP, OFF(run_group), 0, 0, D_SRV},
    {"autoUpdate", OPT_FLAG, OFF(auto_update), 0, 1, D_CFG},
    {"gainValue", OPT_MILLI, OFF(gain_milli), 0, 1000, D_CFG},
    {"killInterval", OPT_INT, OFF(kill_interval), 1, DAY, D_CFG},
    {"maxClassProcesses", OPT_INT, OFF(max_class_procs), 1, 1000, D_CFG},
    {"maxProcesses", OPT_INT, OFF(max_procs), 1, 1000, D_CFG},
    {"minProcesses", OPT_INT, OFF(min_procs), 0, 1000, D_CFG},
    {"multiThreshold", OPT_INT, OFF(multi_threshold), 0, 100, D_CFG},
    {"multiThreshhold", OPT_INT, OFF(multi_threshold), 0, 100, D_CFG},
    {"processSlack", OPT_INT, OFF(process_slack), 0, 1000, D_CFG},
    {"restart", OPT_FLAG, OFF(restart), 0, 1, D_CFG},
    {"singleThreshold", OPT_INT, OFF(single_threshold), 0, 100, D_CFG},
    {"singleThreshhold", OPT_INT, OFF(single_threshold), 0, 100, D_CFG},
    {"startDelay", OPT_INT, OFF(start_delay), 1, DAY, D_CFG},
    {"updateInterval", OPT_INT, OFF(update_interval), 1, DAY, D_CFG},
};
#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))
_Static_assert(N_OPTS <= FCGIX_OPTS_MAX, "FCGIX_OPTS_MAX");

void fcgix_opts_defaults(fcgix_opts_t *o, apr_pool_t *p)
{
    memset(o, 0, sizeof(*o));
    o->idle_timeout = 30;
    o->request_timeout = 300;
    /* PHP's default post_max_size: whatever a stock PHP accepts is read
     * before a process is taken, so a slow client never holds one; larger
     * uploads stream (no copy on disk) under -request-timeout. */
    o->spool_body = 8 << 20;
    o->hdr_max_bytes = 65536;
    o->hdr_max_lines = 100;
    o->hdr_max_line = FCGIX_HDR_LINE_CAP;
    o->stderr_max_line = 1024;
    o->stderr_max_bytes = 16384;
    o->keep_conn = FCGIX_KEEP_AUTO;
    o->disable_time = 10;
    o->probe_timeout = 2;
    o->resolve = 60;
    o->retry_methods = FCGIX_RETRY_DEFAULT;
    o->retry_head = 1;
    o->pass_headers = apr_array_make(p, 2, sizeof(const char *));
    o->initial_env = apr_array_make(p, 2, sizeof(const char *));
    o->watch = apr_array_make(p, 1, sizeof(const char *));
    o->sendfile_roots = apr_array_make(p, 1, sizeof(const char *));
    o->init_start_delay = 1;
    o->listen_queue_depth = 100;
    o->processes = 1;
    o->restart_delay = 5;
    o->min_server_life = 30;
    o->gain_milli = 500;
    o->kill_interval = 300;
    o->max_class_procs = 10;
    o->max_procs = 50;
    o->min_procs = 5;
    o->multi_threshold = 50;
    o->process_slack = 5;
    o->start_delay = 3;
    o->update_interval = 300;
}

/* ------------------------------------------------------------ addresses */

/* A Unix socket address for path (relative: in FastCgiIpcDir). */
static const char *unix_addr(cmd_parms *cmd, const char *path,
                             struct sockaddr_storage *addr, socklen_t *len,
                             const char **text)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)addr;
    const char *full = path;

    if (path[0] != '/') {
        const char *dir = fcgix_ipc_dir(cmd->pool);
        if (dir == NULL) {
            return "no FastCgiIpcDir, and none can be placed under "
                   "DefaultRuntimeDir";
        }
        full = apr_pstrcat(cmd->pool, dir, "/", path, NULL);
        fcgix_globals->ipc_dir_used = 1;
    }
    if (strlen(full) >= sizeof(sun->sun_path)) {
        return apr_psprintf(cmd->pool,
                            "socket path '%s' is longer than the %d bytes a "
                            "Unix socket name may have",
                            full, (int)sizeof(sun->sun_path) - 1);
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, full, strlen(full) + 1);
    *len = (socklen_t)sizeof(*sun);
    *text = apr_pstrcat(cmd->pool, "unix:", full, NULL);
    return NULL;
}

const char *fcgix_opts_unix_addr(cmd_parms *cmd, fcgix_app_t *app,
                                 const char *path)
{
    return unix_addr(cmd, path, &app->addr, &app->addr_len, &app->addr_text);
}

/* ------------------------------------- FastCgiExternalServer backends */

static const char *parse_int(apr_pool_t *p, const opt_def_t *d, const char *arg,
                             int *out);

/* A new backend of app; the first one is also app->addr. */
static fcgix_backend_t *new_backend(cmd_parms *cmd, fcgix_app_t *app)
{
    fcgix_backend_t *b;

    if (app->nbackends == FCGIX_BACKENDS_MAX) {
        return NULL;
    }
    if (app->backends == NULL) {
        app->backends = apr_pcalloc(cmd->pool, FCGIX_BACKENDS_MAX * sizeof(*b));
    }
    b = &app->backends[app->nbackends++];
    b->target = app->targets->nelts - 1;
    return b;
}

static fcgix_target_t *new_target(cmd_parms *cmd, fcgix_app_t *app)
{
    if (app->targets == NULL) {
        app->targets = apr_array_make(cmd->pool, 2, sizeof(fcgix_target_t));
    }
    return apr_array_push(app->targets);
}

static const char *too_many(cmd_parms *cmd)
{
    return apr_psprintf(cmd->pool, "more than %d backend addresses",
                        FCGIX_BACKENDS_MAX);
}

static void first_is_addr(fcgix_app_t *app)
{
    app->addr = app->backends[0].addr;
    app->addr_len = app->backends[0].addr_len;
    app->addr_text = app->backends[0].text;
}

/* -socket PATH of a FastCgiExternalServer: one more backend. */
static const char *add_socket_target(cmd_parms *cmd, fcgix_app_t *app,
                                     const char *path)
{
    fcgix_target_t *t = new_target(cmd, app);
    fcgix_backend_t *b = new_backend(cmd, app);
    const char *err;

    memset(t, 0, sizeof(*t)); /* weight 0: not given (1) */
    if (b == NULL) {
        return too_many(cmd);
    }
    err = unix_addr(cmd, path, &b->addr, &b->addr_len, &b->text);
    if (err == NULL) {
        first_is_addr(app);
    }
    return err;
}

/* -host HOST:PORT: one backend per address the host has now. */
static const char *add_host_target(cmd_parms *cmd, fcgix_app_t *app,
                                   const char *hostport)
{
    fcgix_addr_t a[FCGIX_BACKENDS_MAX];
    fcgix_target_t *t = new_target(cmd, app);
    char *host = NULL, *scope = NULL, err[256], text[160];
    apr_port_t port = 0;
    int n, i, more;

    memset(t, 0, sizeof(*t)); /* weight 0: not given (1) */
    if (apr_parse_addr_port(&host, &scope, &port, hostport, cmd->pool) !=
            APR_SUCCESS ||
        host == NULL || scope != NULL) {
        return apr_psprintf(
            cmd->pool, "'%s' is not host:port (IPv6 as [addr]:port)", hostport);
    }
    if (port == 0) {
        return apr_psprintf(cmd->pool, "'%s' needs a port from 1 to 65535",
                            hostport);
    }
    t->host = host;
    t->port = port;
    t->is_name = !fcgix_addr_is_literal(host);
    n = fcgix_addr_resolve(host, port, a, FCGIX_BACKENDS_MAX, &more, err,
                           sizeof(err));
    if (n < 0) {
        return apr_pstrdup(cmd->pool, err);
    }
    for (i = 0; i < n; i++) {
        fcgix_backend_t *b = new_backend(cmd, app);
        if (b == NULL) {
            more = 1;
            break;
        }
        memcpy(&b->addr, a[i].sa, a[i].len);
        b->addr_len = (socklen_t)a[i].len;
        fcgix_addr_text(a[i].sa, a[i].len, text, sizeof(text));
        b->text = apr_pstrdup(cmd->pool, text);
    }
    if (i == 0) {
        return too_many(cmd); /* not one address of it fits */
    }
    first_is_addr(app);
    if (more) {
        /* a name (DNS may grow it) must not stop httpd from starting, or
         * from being stopped: apachectl reads the configuration too */
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_WARNING, 0, cmd->server,
                     "FCGIX0025: %s %s: host %s has more addresses than the "
                     "%d backends an application may have; the rest are not "
                     "used",
                     cmd->cmd->name, app->path, host, FCGIX_BACKENDS_MAX);
    }
    return NULL;
}

/* -weight N: of the -host or -socket just before it. */
static const char *set_weight(cmd_parms *cmd, fcgix_app_t *app, const char *arg,
                              const opt_def_t *d)
{
    fcgix_target_t *t;
    const char *err;
    int w = 0; /* for clang-tidy: it deems apr_psprintf may give NULL */

    if (app->targets == NULL || app->targets->nelts == 0) {
        return "must follow the -host or -socket it weighs";
    }
    t = &APR_ARRAY_IDX(app->targets, app->targets->nelts - 1, fcgix_target_t);
    if (t->weight || (err = parse_int(cmd->pool, d, arg, &w)) != NULL) {
        return t->weight ? "given twice for one address" : err;
    }
    t->weight = w;
    return NULL;
}

/* -retry-methods GET,HEAD or none: httpd's method numbers (HEAD is GET's). */
static const char *set_methods(cmd_parms *cmd, fcgix_app_t *app,
                               const char *arg)
{
    char *list = apr_pstrdup(cmd->pool, arg), *last, *m;

    app->o.retry_methods = 0;
    app->o.retry_head = 0;
    if (strcasecmp(arg, "none") == 0) {
        return NULL;
    }
    if (arg[0] == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,")) {
        return apr_psprintf(cmd->pool, "'%s' has an empty method", arg);
    }
    for (m = apr_strtok(list, ",", &last); m;
         m = apr_strtok(NULL, ",", &last)) {
        int num = ap_method_number_of(m);
        if (strcmp(m, "HEAD") == 0) {
            app->o.retry_head = 1; /* not GET's bit: GET may not be meant */
            continue;
        }
        if (num == M_INVALID || num >= 64 || strcmp(m, "CONNECT") == 0) {
            return apr_psprintf(cmd->pool,
                                "'%s' is not a method httpd knows (a list "
                                "such as GET,HEAD,OPTIONS, or none)",
                                m);
        }
        app->o.retry_methods |= AP_METHOD_BIT << num;
    }
    return app->o.retry_methods || app->o.retry_head
               ? NULL
               : "needs a method, or none";
}

/* ------------------------------------------------------ option parsing */

static const opt_def_t *find_opt(const char *word, unsigned directive)
{
    size_t i;

    if (word[0] != '-') {
        return NULL;
    }
    for (i = 0; i < N_OPTS; i++) {
        if ((opt_table[i].directives & directive) &&
            strcasecmp(word + 1, opt_table[i].name) == 0) {
            return &opt_table[i];
        }
    }
    return NULL;
}

static const char *parse_int(apr_pool_t *p, const opt_def_t *d, const char *arg,
                             int *out)
{
    char *end;
    apr_int64_t v;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || v < d->min || v > d->max) {
        return apr_psprintf(p,
                            "value '%s' is not a whole number from %d "
                            "to %d",
                            arg, d->min, d->max);
    }
    *out = (int)v;
    return NULL;
}

/* "0.5" -> 500: a decimal with at most three places, no exponent. */
static const char *parse_milli(apr_pool_t *p, const opt_def_t *d,
                               const char *arg, int *out)
{
    const char *c = arg;
    long whole = 0, frac = 0, scale = 100;

    if (!apr_isdigit(*c) && *c != '.') {
        c = "x";
    }
    for (; apr_isdigit(*c) && whole < 1000000; c++) {
        whole = whole * 10 + (*c - '0');
    }
    if (*c == '.') {
        for (c++; apr_isdigit(*c) && scale > 0; c++, scale /= 10) {
            frac += (*c - '0') * scale;
        }
    }
    if (*c != '\0' || whole * 1000 + frac < d->min ||
        whole * 1000 + frac > d->max) {
        return apr_psprintf(p, "value '%s' is not a number from %g to %g", arg,
                            d->min / 1000.0, d->max / 1000.0);
    }
    *out = (int)(whole * 1000 + frac);
    return NULL;
}

/* -initial-env NAME=value, NAME= (defined, empty) or NAME (httpd's own
 * value, or empty when httpd has none), resolved now. */
static const char *add_env(apr_pool_t *p, fcgix_opts_t *o, const char *arg)
{
    const char *eq = ap_strchr_c(arg, '=');
    const char *name =
        eq ? apr_pstrmemdup(p, arg, (apr_size_t)(eq - arg)) : arg;
    const char *c;

    if (*name == '\0' || apr_isdigit(*name)) {
        return apr_psprintf(p, "'%s' is not name[=[value]]", arg);
    }
    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '_') {
            return apr_psprintf(p, "'%s' is not a variable name", name);
        }
    }
    if (eq == NULL) {
        const char *v = getenv(name);
        arg = apr_pstrcat(p, name, "=", v ? v : "", NULL);
    }
    *(const char **)apr_array_push(o->initial_env) = arg;
    return NULL;
}

/* -watch FILE: a file (relative to ServerRoot) that must exist now; its
 * modification time, size and inode are part of the application's
 * definition (pm_defs.c), so a changed file replaces the processes at a
 * graceful restart, as a changed option would. */
static const char *add_watch(cmd_parms *cmd, fcgix_opts_t *o, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    apr_status_t rv;

    if (path == NULL) {
        return apr_psprintf(cmd->pool, "'%s' is not a valid path", arg);
    }
    if (o->watch->nelts >= FCGIX_WATCH_MAX) {
        return apr_psprintf(cmd->pool, "more than %d files", FCGIX_WATCH_MAX);
    }
    if ((rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool)) != APR_SUCCESS) {
        char buf[120];
        return apr_psprintf(cmd->pool, "'%s': %s", path,
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    *(const char **)apr_array_push(o->watch) = path;
    return NULL;
}

/* -sendfile-root DIR: an absolute directory that exists; kept resolved
 * (symbolic links followed), as the paths X-Sendfile names are compared
 * with it once resolved too. */
static const char *add_sendfile_root(cmd_parms *cmd, fcgix_opts_t *o,
                                     const char *arg)
{
    char buf[PATH_MAX];
    struct stat st;

    if (arg[0] != '/') {
        return apr_psprintf(cmd->pool, "'%s' is not an absolute path", arg);
    }
    if (o->sendfile_roots->nelts >= FCGIX_SFROOT_MAX) {
        return apr_psprintf(cmd->pool, "more than %d directories",
                            FCGIX_SFROOT_MAX);
    }
    if (realpath(arg, buf) == NULL || stat(buf, &st) != 0) {
        return apr_psprintf(cmd->pool, "'%s': %s", arg, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode) || strcmp(buf, "/") == 0) {
        return apr_psprintf(cmd->pool, "'%s' is not a directory (or is /)",
                            arg);
    }
    *(const char **)apr_array_push(o->sendfile_roots) =
        apr_pstrdup(cmd->pool, buf);
    return NULL;
}

/* Applies one option. *args points after the option name; options that
 * take a value consume one word from it. */
static const char *apply_opt(cmd_parms *cmd, fcgix_app_t *app,
                             const opt_def_t *d, const char **args)
{
    const char *arg = NULL;
    char *field = d->offset == NOFF ? NULL : (char *)&app->o + d->offset;

    if (d->type != OPT_FLAG) {
        arg = ap_getword_conf(cmd->pool, args);
        if (*arg == '\0') {
            return "needs a value";
        }
    }
    switch (d->type) {
    case OPT_INT:
        return parse_int(cmd->pool, d, arg, (int *)field);
    case OPT_FLAG:
        *(int *)field = 1;
        return NULL;
    case OPT_MILLI:
        return parse_milli(cmd->pool, d, arg, (int *)field);
    case OPT_ENV:
        return add_env(cmd->pool, &app->o, arg);
    case OPT_WATCH:
        return add_watch(cmd, &app->o, arg);
    case OPT_SFROOT:
        return add_sendfile_root(cmd, &app->o, arg);
    case OPT_HEADERS:
        if (!ap_strchr_c(arg, ':') && *ap_scan_http_token(arg) == '\0') {
            *(const char **)apr_array_push(app->o.pass_headers) = arg;
            return NULL;
        }
        return apr_psprintf(cmd->pool, "'%s' is not a header name", arg);
    case OPT_HOST:
        return add_host_target(cmd, app, arg);
    case OPT_SOCKET:
        return app->kind == FCGIX_APP_EXTERNAL
                   ? add_socket_target(cmd, app, arg)
                   : fcgix_opts_unix_addr(cmd, app, arg);
    case OPT_WEIGHT:
        return set_weight(cmd, app, arg, d);
    case OPT_METHODS:
        return set_methods(cmd, app, arg);
    case OPT_DOCROOT:
        if (arg[0] != '/') {
            return apr_psprintf(cmd->pool, "'%s' is not an absolute path", arg);
        }
        *(const char **)field = arg;
        return NULL;
    case OPT_USER:
    case OPT_GROUP: {
        int user = d->type == OPT_USER;
        struct passwd *pw = user ? getpwnam(arg) : NULL;
        struct group *gr = user ? NULL : getgrnam(arg);
        if (pw == NULL && gr == NULL) {
            return apr_psprintf(cmd->pool, "no %s '%s'",
                                user ? "user" : "group", arg);
        }
        if ((pw ? pw->pw_uid : gr->gr_gid) == 0) {
            return user ? "an application never runs as root"
                        : "an application never runs as group root";
        }
        *(const char **)field = arg;
        return NULL;
    }
    }
    return "internal: unknown option type";
}

/* Spelling variants (multiThreshhold) share the slot of the first entry
 * with the same field, so giving both counts as giving it twice. */
static size_t canon(const opt_def_t *d)
{
    size_t i;

    for (i = 0; d->offset != NOFF && i < N_OPTS; i++) {
        if (opt_table[i].offset == d->offset) {
            return i;
        }
    }
    return (size_t)(d - opt_table);
}

/* Parses the option words of a directive for app. `seen` marks options
 * already given (index into opt_table). */
const char *fcgix_opts_parse(cmd_parms *cmd, fcgix_app_t *app,
                             unsigned directive, const char *args,
                             unsigned char *seen)
{
    while (*args) {
        const char *word = ap_getword_conf(cmd->pool, &args);
        const opt_def_t *d;
        const char *err;

        if (*word == '\0') {
            break;
        }
        d = find_opt(word, directive);
        if (d == NULL) {
            return apr_psprintf(cmd->pool, "%s %s: unknown option '%s'",
                                cmd->cmd->name, app->path, word);
        }
        if (seen[canon(d)] && d->type != OPT_HEADERS && d->type != OPT_ENV &&
            d->type != OPT_WATCH && d->type != OPT_SFROOT &&
            d->type != OPT_WEIGHT &&
            !(app->kind == FCGIX_APP_EXTERNAL &&
              (d->type == OPT_HOST || d->type == OPT_SOCKET))) {
            return apr_psprintf(cmd->pool, "%s %s: option -%s given twice",
                                cmd->cmd->name, app->path, d->name);
        }
        seen[canon(d)] = 1;
        err = apply_opt(cmd, app, d, &args);
        if (err) {
            return apr_psprintf(cmd->pool, "%s %s: option -%s: %s",
                                cmd->cmd->name, app->path, d->name, err);
        }
    }
    return NULL;
}

size_t fcgix_opts_index(const char *name)
{
    size_t i;

    for (i = 0; i < N_OPTS; i++) {
        if (strcmp(opt_table[i].name, name) == 0) {
            return i;
        }
    }
    return 0;
}
