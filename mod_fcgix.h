/*
 * mod_fcgix.h - types shared by the httpd glue (mod_fcgix*.c) and pm/.
 *
 * Lifetime: everything reachable from fcgix_globals is built while the
 * configuration is read (pconf) and is read-only once post_config ends, so
 * request threads share it without locks.
 */
#ifndef MOD_FCGIX_H
#define MOD_FCGIX_H

#include <sys/socket.h>
#include <sys/un.h>

#include "httpd.h"
#include "http_config.h"
#include "apr_hash.h"
#include "apr_tables.h"

#define FCGIX_HANDLER "fastcgi-script"
#define FCGIX_DEFAULT_IPC_DIR "fcgix" /* below DefaultRuntimeDir */

/* FastCgiSpoolLimit, bytes. The default is LimitRequestBody's: one body as
 * large as httpd accepts still spools, many at once do not. At least one
 * spool read (64 KiB); at most 1 TiB (2^30 KiB in 32-bit counters). */
#define FCGIX_SPOOL_LIMIT_DEFAULT (APR_INT64_C(1) << 30)
#define FCGIX_SPOOL_LIMIT_MIN 65536
#define FCGIX_SPOOL_LIMIT_MAX (APR_INT64_C(1) << 40)

/* Upper bound of -header-max-line: httpd's CGI header scanner reads lines
 * into a MAX_STRING_LEN buffer. */
#define FCGIX_HDR_LINE_CAP (MAX_STRING_LEN - 2)

/* -keep-conn not given: a managed app keeps up to one idle connection per
 * running process, an external one none. */
#define FCGIX_KEEP_AUTO (-1)
#define FCGIX_KEEP_MAX 10000

/* FastCgiExternalServer: backends (addresses) one application may have, all
 * names resolved; and the longest socket address one can be (a Unix socket
 * address, sockaddr_un). */
#define FCGIX_BACKENDS_MAX 16
#define FCGIX_BACKEND_ADDR_MAX 112

/* -retry-methods not given: GET, HEAD and OPTIONS */
#define FCGIX_RETRY_DEFAULT                                                    \
    ((AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_OPTIONS))

/* One -host or -socket of a FastCgiExternalServer, as given. */
typedef struct {
    const char *host; /* name or address literal; NULL: a Unix socket */
    apr_port_t port;
    int is_name; /* host is no address literal: resolved again (-resolve) */
    int weight;  /* -weight after it, else 1 */
} fcgix_target_t;

/* This httpd child's list of an app's backends (mod_fcgix_backends.c). */
typedef struct fcgix_live_t fcgix_live_t;

/* One address a request may go to: each address of each target. */
typedef struct {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *text; /* "127.0.0.1:9000", "[::1]:9000" or "unix:/path" */
    int target;       /* the fcgix_target_t it came from */
} fcgix_backend_t;

typedef enum {
    FCGIX_APP_EXTERNAL = 0,
    FCGIX_APP_STATIC,
    FCGIX_APP_DYNAMIC
} fcgix_app_kind_t;

/* Per-application options. Numbers are validated against the option table
 * (mod_fcgix_opts.c) when the directive is read. FastCgiConfig fills one
 * of these as the template of every dynamic application. */
typedef struct {
    int app_conn_timeout; /* seconds; 0: bounded by the server Timeout */
    int idle_timeout;     /* seconds without a byte from the app */
    int request_timeout;  /* seconds a request may wait on the app, or
                             for its streamed body, total; 0: no bound */
    int spool_body;       /* bytes: a Content-Length body up to this size is
                             read whole before the app is connected; 0: never */
    int flush;            /* pass a FLUSH after every read from the app */
    int nph;     /* the app writes the whole HTTP response (status line too) */
    int upgrade; /* -upgrade: Upgrade requests reach it, and its 101 starts a
                    tunnel (mod_fcgix_upgrade.c) */
    int hdr_max_bytes; /* response header block */
    int hdr_max_lines;
    int hdr_max_line;
    int stderr_max_line;  /* bytes of one logged stderr line */
    int stderr_max_bytes; /* stderr bytes logged per request */
    int keep_conn;        /* idle connections all children may keep open to it:
                             FCGIX_KEEP_AUTO (managed: its processes), 0: none */
    apr_array_header_t *pass_headers; /* const char *, request headers */
    /* several backends (FastCgiExternalServer) */
    int disable_time;  /* s a backend that failed is skipped */
    int probe;         /* s between active health probes; 0: none */
    int probe_timeout; /* s a probe waits for the answer */
    int resolve;       /* s between resolutions of host names; 0: once */
    apr_uint64_t retry_methods; /* AP_METHOD_BIT << M_*: sent again to
                                   another backend after a reset */
    int retry_head;             /* and HEAD (httpd numbers it M_GET) */
    int vhost_only; /* -vhost-only: only its own server's requests reach it */
    /* response delivery (mod_fcgix_deliver.c) */
    apr_array_header_t *sendfile_roots; /* const char *, resolved: where
                                           X-Sendfile may point */
    int accel_redirect;                 /* X-Accel-Redirect honoured */
    const char *docroot; /* the backends' DOCUMENT_ROOT, or NULL */
    /* process management (FastCgiServer, FastCgiConfig) */
    apr_array_header_t *initial_env; /* const char * "NAME=value" */
    apr_array_header_t *watch;       /* const char *: files whose change counts
                                        as a changed definition (-watch) */
    int init_start_delay;            /* s between starts of instances */
    int listen_queue_depth;
    int priority;          /* setpriority() value */
    int processes;         /* static: instances */
    int restart_delay;     /* s before restarting one that died unserved */
    int min_server_life;   /* static: s of life that count as a good start */
    const char *run_user;  /* static, with a wrapper: -user, else NULL */
    const char *run_group; /* -group, or -user's own group */
    int port;              /* static: TCP port instead of a Unix socket */
    /* dynamic applications only (FastCgiConfig) */
    int auto_update;
    int gain_milli; /* -gainValue x 1000 */
    int kill_interval;
    int max_class_procs;
    int max_procs;
    int min_procs;
    int multi_threshold;
    int single_threshold;
    int process_slack;
    int restart; /* restart dynamic apps that die */
    int start_delay;
    int update_interval;
} fcgix_opts_t;

#define FCGIX_WATCH_MAX 16  /* -watch files of one directive */
#define FCGIX_SFROOT_MAX 16 /* -sendfile-root directories of one */

typedef struct {
    char *path;            /* absolute filename the app answers for */
    const char *directive; /* that declared it, for messages */
    fcgix_app_kind_t kind;
    /* Where to connect: a Unix socket or a TCP address, resolved when the
     * directive is read so a request never does a name lookup. */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const char *addr_text; /* "unix:/path" or "host:port", for logs */
    /* FastCgiExternalServer: every -host/-socket, and their addresses (the
     * first of which is addr above); managed apps: none */
    apr_array_header_t *targets; /* fcgix_target_t */
    fcgix_backend_t *backends;
    int nbackends;
    fcgix_live_t *live;    /* names resolved again by this child, or NULL */
    apr_uint32_t uid, gid; /* dynamic: identity of the class */
    server_rec *server;    /* declared in this server's section (the main
                              server or a <VirtualHost>) */
    fcgix_opts_t o;
} fcgix_app_t;

/* Server-wide state built from the configuration. */
typedef struct {
    const char *ipc_dir;      /* NULL until fcgix_ipc_dir() */
    int ipc_dir_used;         /* a relative -socket was resolved against it */
    apr_array_header_t *apps; /* fcgix_app_t * in declaration order */
    apr_hash_t *by_path;      /* path -> fcgix_app_t * */
    fcgix_opts_t dynamic;     /* FastCgiConfig: template for dynamic apps */
    int dynamic_set;          /* FastCgiConfig was given */
    const char *wrapper;      /* FastCgiWrapper program, or NULL */
    apr_array_header_t *auth_refs; /* fcgix_auth_ref_t: authorizer files the
                                      server configuration names, checked
                                      once every declaration is known */
    apr_uint32_t spool_limit_kib;  /* FastCgiSpoolLimit, in KiB */
    int metrics_off;               /* FastCgiMetrics Off */
} fcgix_globals_t;

typedef struct {
    const char *path;
    const char *directive; /* FastCgiAuthorizer & co. */
    const char *where;     /* "file:line" of the directive */
} fcgix_auth_ref_t;

extern fcgix_globals_t *fcgix_globals;
extern module AP_MODULE_DECLARE_DATA fcgix_module;

/* mod_fcgix_conf.c: the server-wide directives (their table is in
 * mod_fcgix.c, beside the module record) */
void fcgix_conf_reset(apr_pool_t *pconf);
int fcgix_conf_check(server_rec *s);
const char *fcgix_cmd_server(cmd_parms *cmd, void *dummy, const char *args);
const char *fcgix_cmd_config(cmd_parms *cmd, void *dummy, const char *args);
const char *fcgix_cmd_wrapper(cmd_parms *cmd, void *dummy, const char *arg);
const char *fcgix_cmd_external(cmd_parms *cmd, void *dummy, const char *args);
const char *fcgix_cmd_ipc_dir(cmd_parms *cmd, void *dummy, const char *arg);
const char *fcgix_cmd_spool_limit(cmd_parms *cmd, void *dummy, const char *arg);

/* mod_fcgix_ipc.c: FastCgiIpcDir, or its default below httpd's runtime dir
 * (DefaultRuntimeDir as it stands when first asked: it is read with the
 * rest of the configuration); NULL when that cannot be resolved. */
const char *fcgix_ipc_dir(apr_pool_t *pconf);
/* Finds or creates it, owned by User, mode 0700, and refuses one that
 * another user could tamper with (post_config). */
apr_status_t fcgix_ipc_dir_prepare(apr_pool_t *pconf, server_rec *s);

/* mod_fcgix_app.c: which application serves a file. */
/* The application for filename, if filename is a declared app or lies below
 * one ("<app>/more"); *rest then points at "/more" inside filename. */
fcgix_app_t *fcgix_app_lookup(const char *filename, const char **rest);
/* The application declared for exactly this path, or NULL. */
fcgix_app_t *fcgix_app_declared(const char *path);
/* Whether r may reach app: always, unless it is -vhost-only and r is for
 * another server than the one whose section declared it. (Authorizers the
 * administrator names are reached from anywhere.) */
int fcgix_app_in_scope(const fcgix_app_t *app, const request_rec *r);
/* The application for filename: the declared one, else the file as a
 * dynamic application (fi: its stat, or NULL to stat it here;
 * need_execcgi: the handler's target needs Options ExecCGI, an authorizer
 * the administrator named does not). OK with *out set, or the status to
 * fail with (logged). */
int fcgix_app_for(request_rec *r, const char *filename, const apr_finfo_t *fi,
                  int need_execcgi, fcgix_app_t **out);

/* mod_fcgix_status.c: the fastcgi-status handler, mod_status section. */
void fcgix_status_register(void);

/* mod_fcgix_metrics.c: the metrics in Prometheus' text format (the
 * fastcgi-metrics handler, fastcgi-status?metrics) and as JSON
 * (fastcgi-status?json, mod_fcgix_metrics_json.c); FastCgiMetrics. */
#define FCGIX_METRICS_HANDLER "fastcgi-metrics"
int fcgix_metrics_prom(request_rec *r);
int fcgix_metrics_json(request_rec *r);
void fcgix_metrics_register(void);
const char *fcgix_cmd_metrics(cmd_parms *cmd, void *dummy, int on);

/* mod_fcgix_backends.c: an external application's backend list, made once
 * its directive is read (app->live). */
void fcgix_backends_prepare(apr_pool_t *p, fcgix_app_t *app);
/* Once per httpd child: starts the thread that resolves external
 * applications' host names again (-resolve). */
void fcgix_backends_child_init(apr_pool_t *pchild, server_rec *s);

/* mod_fcgix_keep.c: once per httpd child, after fcgix_pm_child_init:
 * starts the thread that releases kept application connections, when an
 * application may keep any. */
void fcgix_keep_child_init(apr_pool_t *pchild, server_rec *s);

/* mod_fcgix_body.c: the request body of one request, as the engine reads
 * it: from a spool filled before the app was connected, then from the
 * client. */
typedef struct fcgix_body_t fcgix_body_t;

/* Reads what is read before an app process is taken: a chunked body whole,
 * a Content-Length body of at most the app's -spool-body bytes whole (as
 * far as FastCgiSpoolLimit lets it; the rest then streams). OK with *out
 * set, or the status to fail with (413, 400, 503 at FastCgiSpoolLimit for a
 * chunked body, 500), already logged where it is the module's decision. */
int fcgix_body_prepare(request_rec *r, const fcgix_app_t *app,
                       fcgix_body_t **out);

/* Up to cap bytes of the body into dst (*got 0 only at its end). spent:
 * NULL while no app process is held; else the time the request has counted
 * against -request-timeout so far, to which the time this read waits for
 * the client is added; once the total reaches the limit the read fails with
 * 408 (FCGIX0122). */
int fcgix_body_read(fcgix_body_t *b, char *dst, apr_size_t cap, apr_size_t *got,
                    apr_interval_time_t *spent);

/* While keep is set, a body handed out whole stays (memory, file, its
 * count) so that fcgix_body_rewind can hand it out again. */
void fcgix_body_keep(fcgix_body_t *b, int keep);
/* Whether the body was read whole before the app was connected. */
int fcgix_body_whole(const fcgix_body_t *b);
/* Starts the body again from its first byte, if it was spooled whole and
 * is still there: 1, else 0 (a streamed body cannot be sent twice). */
int fcgix_body_rewind(fcgix_body_t *b);

/* Whether every byte of the body has been handed out. */
int fcgix_body_eos(const fcgix_body_t *b);

/* A chunked body's length (it was spooled whole), else -1. */
apr_off_t fcgix_body_chunked_length(const fcgix_body_t *b);

/* mod_fcgix_io.c: runs one request against app in the RESPONDER role and
 * produces the response (with -nph, the app's bytes as they are). Returns
 * an httpd handler status. */
int fcgix_respond(request_rec *r, const fcgix_app_t *app);

/* An authorizer's answer. */
#define FCGIX_AUTH_BODY_MAX 65536
typedef struct {
    int status;           /* the app's Status (200 when none) */
    apr_table_t *headers; /* its other response headers */
    char *body;           /* its body, first FCGIX_AUTH_BODY_MAX bytes */
    apr_size_t body_len;
} fcgix_auth_result_t;

/* mod_fcgix_io.c: runs the request against app in the AUTHORIZER role
 * (no body; extra_env added to the CGI environment; spec_env: without
 * CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED and SCRIPT_NAME, as the
 * FastCGI specification's Authorizer gets). OK with *res filled, or the
 * status of a failure (already logged): the caller fails closed. */
int fcgix_authorize(request_rec *r, const fcgix_app_t *app,
                    const apr_table_t *extra_env, int spec_env,
                    fcgix_auth_result_t *res);

/* mod_fcgix_auth.c: the authorizer directives and hooks */
/* The httpd phases an app can decide (each app runs in the FastCGI
 * AUTHORIZER role whatever the phase). */
enum {
    FCGIX_PHASE_AUTHN = 0,  /* FastCgiAuthenticator: check_authn */
    FCGIX_PHASE_AUTHZ = 1,  /* FastCgiAuthorizer: check_authz */
    FCGIX_PHASE_ACCESS = 2, /* FastCgiAccessChecker: check_access */
    FCGIX_N_PHASES = 3
};
/* cmd->info of each phase's directives */
extern int fcgix_phase_ids[FCGIX_N_PHASES];
void *fcgix_create_dir_conf(apr_pool_t *p, char *dir);
void *fcgix_merge_dir_conf(apr_pool_t *p, void *base, void *add);
const char *fcgix_cmd_auth(cmd_parms *cmd, void *dcv, const char *file,
                           const char *opt);
const char *fcgix_cmd_authoritative(cmd_parms *cmd, void *dcv, int on);
void fcgix_auth_register(void);
/* check_config: every authorizer file the server configuration names is a
 * declared app or an executable file (FCGIX0021). */
int fcgix_auth_check(server_rec *s);

#endif /* MOD_FCGIX_H */
