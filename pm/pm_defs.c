/*
 * pm/pm_defs.c - the application definitions the parent sends the PM.
 *
 * A flat little-endian encoding of 32-bit numbers and length-prefixed
 * strings. The decoder checks every length against what is left, so a
 * truncated or corrupted message is refused, never read past its end.
 */
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "pm/pm_int.h"

#include "apr_strings.h"

/* ------------------------------------------------------- -watch files */

const char *fcgix_watch_sig(apr_pool_t *p, const apr_array_header_t *files)
{
    const char *sig = "";
    int i;

    for (i = 0; files && i < files->nelts; i++) {
        const char *f = APR_ARRAY_IDX(files, i, const char *);
        struct stat st;
        if (stat(f, &st) != 0) {
            sig = apr_pstrcat(p, sig, f, " -\n", NULL);
            continue;
        }
        sig =
            apr_psprintf(p, "%s%s %lld.%09ld %lld %llu\n", sig, f,
                         (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
                         (long long)st.st_size, (unsigned long long)st.st_ino);
    }
    return sig;
}

/* ------------------------------------------------------------ writer */

typedef struct {
    apr_array_header_t *buf; /* char */
} wr_t;

static void put_u32(wr_t *w, apr_uint32_t v)
{
    unsigned char b[4];

    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
    memcpy(apr_array_push(w->buf), &b[0], 1);
    memcpy(apr_array_push(w->buf), &b[1], 1);
    memcpy(apr_array_push(w->buf), &b[2], 1);
    memcpy(apr_array_push(w->buf), &b[3], 1);
}

static void put_str(wr_t *w, const char *s)
{
    apr_size_t n = s ? strlen(s) : 0, i;

    put_u32(w, (apr_uint32_t)n);
    for (i = 0; i < n; i++) {
        *(char *)apr_array_push(w->buf) = s[i];
    }
}

/* A list of strings (NULL: none). */
static void put_env(wr_t *w, const apr_array_header_t *env)
{
    int i, n = env ? env->nelts : 0;

    put_u32(w, (apr_uint32_t)n);
    for (i = 0; i < n; i++) {
        put_str(w, APR_ARRAY_IDX(env, i, const char *));
    }
}

static void put_bytes(wr_t *w, const void *b, apr_size_t n)
{
    apr_size_t i;

    put_u32(w, (apr_uint32_t)n);
    for (i = 0; i < n; i++) {
        *(char *)apr_array_push(w->buf) = ((const char *)b)[i];
    }
}

/* An external app's backends (none for a static one). */
static void put_backends(wr_t *w, const fcgix_app_t *a)
{
    int i, nt = a->targets ? a->targets->nelts : 0;

    put_u32(w, (apr_uint32_t)nt);
    for (i = 0; i < nt; i++) {
        const fcgix_target_t *t =
            &APR_ARRAY_IDX(a->targets, i, const fcgix_target_t);
        put_str(w, t->host ? t->host : "");
        put_u32(w, t->port);
        put_u32(w, (apr_uint32_t)t->weight);
        put_u32(w, (apr_uint32_t)t->is_name);
    }
    put_u32(w, nt ? (apr_uint32_t)a->nbackends : 0);
    for (i = 0; nt && i < a->nbackends; i++) {
        put_u32(w, (apr_uint32_t)a->backends[i].target);
        put_bytes(w, &a->backends[i].addr, a->backends[i].addr_len);
    }
    put_u32(w, (apr_uint32_t)a->o.probe);
    put_u32(w, (apr_uint32_t)a->o.probe_timeout);
    put_u32(w, (apr_uint32_t)a->o.resolve);
}

static void put_app(wr_t *w, const fcgix_app_t *a)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->addr;

    put_u32(w, a->kind == FCGIX_APP_STATIC ? FCGIX_APP_STATIC
                                           : FCGIX_APP_EXTERNAL);
    put_str(w, a->path);
    put_str(w, a->addr.ss_family == AF_UNIX ? sun->sun_path : "");
    put_u32(w, (apr_uint32_t)a->o.port);
    put_u32(w, (apr_uint32_t)a->o.processes);
    put_u32(w, (apr_uint32_t)a->o.init_start_delay);
    put_u32(w, (apr_uint32_t)a->o.restart_delay);
    put_u32(w, (apr_uint32_t)a->o.min_server_life);
    put_str(w, a->o.run_user ? a->o.run_user : "");
    put_str(w, a->o.run_group ? a->o.run_group : "");
    put_u32(w, (apr_uint32_t)a->o.listen_queue_depth);
    put_u32(w, (apr_uint32_t)a->o.priority);
    put_env(w, a->o.initial_env);
    put_str(w, fcgix_watch_sig(w->buf->pool, a->o.watch));
    put_str(w, a->addr_text);
    put_backends(w, a);
}

const char *fcgix_defs_encode(apr_pool_t *p, const fcgix_defs_src_t *src,
                              apr_size_t *len)
{
    const fcgix_opts_t *d = src->dynamic;
    wr_t w;
    int i;

    w.buf = apr_array_make(p, 4096, 1);
    put_u32(&w, FCGIX_DEFS_MAGIC);
    put_u32(&w, FCGIX_DEFS_VERSION);
    put_u32(&w, src->generation);
    put_str(&w, src->ipc_dir);
    put_str(&w, src->wrapper);
    put_u32(&w, src->wrapper != NULL && src->wrapper_is_suexec);
    put_u32(&w, src->uid);
    put_u32(&w, src->gid);
    put_str(&w, src->user_name);
    put_str(&w, src->group_name ? src->group_name : "");
    put_u32(&w, (apr_uint32_t)src->log_level);
    put_u32(&w, (apr_uint32_t)d->init_start_delay);
    put_u32(&w, (apr_uint32_t)d->restart_delay);
    put_u32(&w, (apr_uint32_t)d->listen_queue_depth);
    put_u32(&w, (apr_uint32_t)d->priority);
    put_u32(&w, (apr_uint32_t)d->restart);
    put_u32(&w, (apr_uint32_t)d->auto_update);
    put_u32(&w, (apr_uint32_t)d->kill_interval);
    put_u32(&w, (apr_uint32_t)d->update_interval);
    put_u32(&w, (apr_uint32_t)d->start_delay);
    put_u32(&w, (apr_uint32_t)d->gain_milli);
    put_u32(&w, (apr_uint32_t)d->single_threshold);
    put_u32(&w, (apr_uint32_t)d->multi_threshold);
    put_u32(&w, (apr_uint32_t)d->max_class_procs);
    put_u32(&w, (apr_uint32_t)d->max_procs);
    put_u32(&w, (apr_uint32_t)d->min_procs);
    put_u32(&w, (apr_uint32_t)d->process_slack);
    put_env(&w, d->initial_env);
    put_env(&w, d->watch);
    put_str(&w, fcgix_watch_sig(p, d->watch));
    put_u32(&w, (apr_uint32_t)src->apps->nelts);
    for (i = 0; i < src->apps->nelts; i++) {
        put_app(&w, APR_ARRAY_IDX(src->apps, i, const fcgix_app_t *));
    }
    *len = (apr_size_t)w.buf->nelts;
    return w.buf->elts;
}

/* ------------------------------------------------------------ reader */

typedef struct {
    const unsigned char *p, *end;
    apr_pool_t *pool;
    int bad;
} rd_t;

static apr_uint32_t get_u32(rd_t *r)
{
    apr_uint32_t v;

    if (r->bad || r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    v = (apr_uint32_t)r->p[0] | (apr_uint32_t)r->p[1] << 8 |
        (apr_uint32_t)r->p[2] << 16 | (apr_uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static const char *get_str(rd_t *r)
{
    apr_uint32_t n = get_u32(r);
    const char *s;

    if (r->bad || (apr_size_t)(r->end - r->p) < n ||
        memchr(r->p, '\0', n) != NULL) {
        r->bad = 1;
        return "";
    }
    s = apr_pstrmemdup(r->pool, (const char *)r->p, n);
    r->p += n;
    return s;
}

static apr_array_header_t *get_env(rd_t *r)
{
    apr_uint32_t n = get_u32(r), i;
    apr_array_header_t *a = apr_array_make(r->pool, 4, sizeof(const char *));

    for (i = 0; i < n && !r->bad; i++) {
        *(const char **)apr_array_push(a) = get_str(r);
    }
    return a;
}

static void get_backends(rd_t *r, fcgix_def_app_t *a)
{
    apr_uint32_t nt = get_u32(r), nb, i;

    if (nt > FCGIX_SB_BACKENDS) {
        r->bad = 1;
        return;
    }
    a->targets =
        apr_array_make(r->pool, (int)nt + 1, sizeof(fcgix_def_target_t));
    for (i = 0; i < nt && !r->bad; i++) {
        fcgix_def_target_t *t = apr_array_push(a->targets);
        t->host = get_str(r);
        t->port = get_u32(r);
        t->weight = get_u32(r);
        t->is_name = get_u32(r);
        r->bad |= t->port > 65535 || t->weight < 1 || t->weight > 1000;
    }
    nb = get_u32(r);
    if (nb > FCGIX_SB_BACKENDS || (nt == 0) != (nb == 0)) {
        r->bad = 1;
        return;
    }
    a->backends =
        apr_array_make(r->pool, (int)nb + 1, sizeof(fcgix_def_backend_t));
    for (i = 0; i < nb && !r->bad; i++) {
        fcgix_def_backend_t *b = apr_array_push(a->backends);
        apr_uint32_t len;
        b->target = get_u32(r);
        len = get_u32(r);
        if (b->target >= nt || len > sizeof(b->addr.sa) ||
            (apr_size_t)(r->end - r->p) < len) {
            r->bad = 1;
            return;
        }
        memset(&b->addr, 0, sizeof(b->addr));
        memcpy(b->addr.sa, r->p, len);
        b->addr.len = len;
        r->p += len;
        r->bad |= !fcgix_addr_valid(b->addr.sa, len);
    }
    a->probe = get_u32(r);
    a->probe_timeout = get_u32(r);
    a->resolve = get_u32(r);
}

static void get_app(rd_t *r, fcgix_def_app_t *a)
{
    const unsigned char *start = r->p;

    a->kind = get_u32(r);
    a->path = get_str(r);
    a->sockpath = get_str(r);
    a->port = get_u32(r);
    a->processes = get_u32(r);
    a->init_start_delay = get_u32(r);
    a->restart_delay = get_u32(r);
    a->min_server_life = get_u32(r);
    a->run_user = get_str(r);
    a->run_group = get_str(r);
    a->listen_queue_depth = get_u32(r);
    a->priority = (apr_int32_t)get_u32(r);
    a->env = get_env(r);
    a->watch_sig = get_str(r);
    a->addr_text = get_str(r);
    get_backends(r, a);
    a->record = (const char *)start;
    a->record_len = (apr_size_t)(r->p - start);
    /* The parent sends static and external applications only (dynamic ones
     * are asked for on the doorbell), each socket path short enough for a
     * Unix socket address: the PM copies it into an array of that size,
     * where a longer one would become another name, bound and removed. */
    if (a->path[0] != '/' || strlen(a->path) >= FCGIX_SB_PATH ||
        a->processes > FCGIX_SB_PROCS ||
        (a->kind != FCGIX_APP_STATIC && a->kind != FCGIX_APP_EXTERNAL) ||
        strlen(a->sockpath) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        r->bad = 1;
    }
}

static void get_dyn(rd_t *r, fcgix_def_dyn_t *d)
{
    d->init_start_delay = get_u32(r);
    d->restart_delay = get_u32(r);
    d->listen_queue_depth = get_u32(r);
    d->priority = (apr_int32_t)get_u32(r);
    d->restart = get_u32(r);
    d->auto_update = get_u32(r);
    d->kill_interval = get_u32(r);
    d->update_interval = get_u32(r);
    d->start_delay = get_u32(r);
    d->policy.gain = get_u32(r) / 1000.0;
    d->policy.single_threshold = (int)get_u32(r);
    d->policy.multi_threshold = (int)get_u32(r);
    d->policy.max_class = (int)get_u32(r);
    d->policy.max_total = (int)get_u32(r);
    d->policy.min_total = (int)get_u32(r);
    d->policy.slack = (int)get_u32(r);
    d->policy.update_interval = (int)d->update_interval;
    d->env = get_env(r);
    d->watch = get_env(r);
    d->watch_sig = get_str(r);
}

fcgix_defs_t *fcgix_defs_decode(apr_pool_t *p, const char *buf, apr_size_t len)
{
    fcgix_defs_t *d = apr_pcalloc(p, sizeof(*d));
    rd_t r;
    apr_uint32_t n, i;

    r.p = (const unsigned char *)buf;
    r.end = r.p + len;
    r.pool = p;
    r.bad = 0;
    if (get_u32(&r) != FCGIX_DEFS_MAGIC || get_u32(&r) != FCGIX_DEFS_VERSION) {
        return NULL;
    }
    d->generation = get_u32(&r);
    d->ipc_dir = get_str(&r);
    d->wrapper = get_str(&r);
    if (*d->wrapper == '\0') {
        d->wrapper = NULL;
    }
    d->wrapper_is_suexec = get_u32(&r);
    d->uid = get_u32(&r);
    d->gid = get_u32(&r);
    d->user_name = get_str(&r);
    d->group_name = get_str(&r);
    d->log_level = get_u32(&r);
    get_dyn(&r, &d->dyn);
    n = get_u32(&r);
    if (n > FCGIX_SB_CLASSES) {
        return NULL;
    }
    d->apps = apr_array_make(p, (int)n + 1, sizeof(fcgix_def_app_t));
    for (i = 0; i < n && !r.bad; i++) {
        get_app(&r, apr_array_push(d->apps));
    }
    return r.bad || r.p != r.end ? NULL : d;
}
