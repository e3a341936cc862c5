/*
 * mod_fcgix_metrics.c - the metrics in Prometheus' text exposition format
 * (version 0.0.4): `SetHandler fastcgi-metrics`, or `?metrics` on the
 * fastcgi-status handler; FastCgiMetrics; and the snapshot both forms
 * show (mod_fcgix_metrics_json.c is the JSON form).
 *
 * Everything comes from checked copies of the scoreboard (pm/pm.h,
 * pm/pm_metrics.h), taken once per scrape. Any httpd child can write the
 * scoreboard, so every string is escaped (mod_fcgix_mfmt.c: valid UTF-8,
 * quotes, backslashes and newlines escaped), histograms are made
 * cumulative here, saturating, so a `le` series never decreases, and
 * `_count` is the +Inf bucket. Two classes with the same path (one
 * draining after a graceful restart, or a dynamic app run as two users)
 * would give two series with the same labels: the first one shown (the
 * active one) has app="...", any other adds slot="N".
 */
#include <stdlib.h>
#include <string.h>

#include "mod_fcgix_metrics.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "apr_hash.h"
#include "apr_strings.h"

/* -------------------------------------------------------- the snapshot */

const char *fcgix_msnap_esc(request_rec *r, const char *s, int json)
{
    size_t len = strlen(s);
    char *dst = apr_palloc(r->pool, FCGIX_MFMT_ESC_MAX(len));

    if (json) {
        fcgix_mfmt_escape_json(s, len, dst);
    } else {
        fcgix_mfmt_escape_prom(s, len, dst);
    }
    return dst;
}

const char *fcgix_msnap_code(int o)
{
    static const char *const code[FCGIX_PM_OUTCOMES] = {
        "2xx", "3xx", "4xx", "5xx", "4xx", "5xx", "502", "503", "504"};

    return o >= 0 && o < FCGIX_PM_OUTCOMES ? code[o] : "5xx";
}

const char *fcgix_msnap_source(int o)
{
    return o <= FCGIX_OUT_APP_5XX ? "app" : "fcgix";
}

const char *fcgix_msnap_kind(fcgix_app_kind_t k)
{
    return k == FCGIX_APP_STATIC    ? "static"
           : k == FCGIX_APP_DYNAMIC ? "dynamic"
                                    : "external";
}

int fcgix_msnap_be_up(const fcgix_pm_backend_info_t *b)
{
    return b->probe != FCGIX_PROBE_FAILED && b->down_for == 0;
}

/* Class c's backends, if it has a set (an external app). */
static void take_backends(request_rec *r, fcgix_msnap_class_t *c)
{
    fcgix_pm_backend_info_t b;
    apr_uint32_t m;

    if (!fcgix_pm_backend_info(&c->ci, 0, &b)) {
        return;
    }
    c->be = apr_pcalloc(r->pool, sizeof(b) * FCGIX_BACKENDS_MAX);
    for (m = 0; m < FCGIX_BACKENDS_MAX && fcgix_pm_backend_info(&c->ci, m, &b);
         m++) {
        c->be[m] = b;
    }
    c->nbe = (int)m;
}

/* The label of each class: app="<path>", unique (see the top). */
static void take_labels(request_rec *r, fcgix_msnap_t *s)
{
    apr_hash_t *seen = apr_hash_make(r->pool);
    int i;

    for (i = 0; i < s->n; i++) {
        fcgix_msnap_class_t *c = &s->c[i];
        const char *app = fcgix_msnap_esc(r, c->ci.path, 0);
        if (apr_hash_get(seen, app, APR_HASH_KEY_STRING)) {
            c->label = apr_psprintf(r->pool, "app=\"%s\",slot=\"%u\"", app,
                                    c->ci.slot);
        } else {
            apr_hash_set(seen, app, APR_HASH_KEY_STRING, app);
            c->label = apr_psprintf(r->pool, "app=\"%s\"", app);
        }
    }
}

static void take_class(request_rec *r, fcgix_msnap_class_t *c,
                       const apr_uint32_t *running,
                       const apr_uint32_t *stopping)
{
    apr_uint32_t slot = c->ci.slot;

    fcgix_pm_metrics_get(&c->ci, &c->m);
    fcgix_mfmt_cumulate(c->m.wait, FCGIX_MFMT_BUCKETS, c->wait_cum);
    fcgix_mfmt_cumulate(c->m.app, FCGIX_MFMT_BUCKETS, c->app_cum);
    c->running = slot < FCGIX_PM_CLASSES ? running[slot] : 0;
    c->stopping = slot < FCGIX_PM_CLASSES ? stopping[slot] : 0;
    take_backends(r, c);
}

/* Active classes, then draining ones. */
static int by_state(const void *a, const void *b)
{
    const fcgix_msnap_class_t *x = a, *y = b;

    if (x->ci.draining != y->ci.draining) {
        return x->ci.draining - y->ci.draining;
    }
    return x->ci.slot < y->ci.slot ? -1 : x->ci.slot > y->ci.slot;
}

void fcgix_msnap_take(request_rec *r, fcgix_msnap_t *s)
{
    apr_size_t per = sizeof(apr_uint32_t) * (apr_size_t)FCGIX_PM_CLASSES;
    apr_uint32_t *running = apr_palloc(r->pool, per);
    apr_uint32_t *stopping = apr_palloc(r->pool, per);
    fcgix_pm_class_info_t ci;
    apr_uint32_t pos = 0, max = 0;
    int i;

    memset(s, 0, sizeof(*s));
    s->metrics_on = !fcgix_globals->metrics_off;
    if (!(s->has_pm = fcgix_pm_info(&s->pm))) {
        return;
    }
    s->spool_kib = fcgix_pm_spool_total();
    while (fcgix_pm_class_next(&pos, &ci)) {
        max++; /* (a class made meanwhile waits for the next scrape) */
    }
    s->c = apr_pcalloc(r->pool, sizeof(*s->c) * (max + 1));
    for (pos = 0; s->n < (int)max && fcgix_pm_class_next(&pos, &ci);) {
        s->c[s->n++].ci = ci;
    }
    fcgix_pm_metrics_procs(running, stopping);
    for (i = 0; i < s->n; i++) {
        take_class(r, &s->c[i], running, stopping);
    }
    qsort(s->c, (size_t)s->n, sizeof(*s->c), by_state);
    take_labels(r, s);
}

/* ----------------------------------------------- Prometheus text format */

static void family(request_rec *r, const char *name, const char *type,
                   const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void global_u64(request_rec *r, const char *name, const char *type,
                       const char *help, apr_uint64_t v)
{
    family(r, name, type, help);
    ap_rprintf(r, "%s %" APR_UINT64_T_FMT "\n", name, v);
}

static void put_global(request_rec *r, const fcgix_msnap_t *s)
{
    const fcgix_pm_info_t *pm = &s->pm;

    global_u64(r, "fcgix_metrics_enabled", "gauge",
               "1 when FastCgiMetrics is On (request outcomes, waits and "
               "histograms are counted).",
               (apr_uint64_t)s->metrics_on);
    if (!s->has_pm) {
        return;
    }
    global_u64(r, "fcgix_pm_up", "gauge",
               "1 when the process manager's heartbeat is fresh (5 s).",
               (apr_uint64_t)pm->alive);
    if (pm->heartbeat_age >= 0) {
        global_u64(r, "fcgix_pm_heartbeat_age_seconds", "gauge",
                   "Seconds since the process manager's last heartbeat.",
                   (apr_uint64_t)pm->heartbeat_age);
    }
    global_u64(r, "fcgix_pm_generation", "gauge",
               "Configuration generation the process manager applied.",
               pm->generation);
    global_u64(r, "fcgix_pm_starts_total", "counter",
               "Process managers the httpd parent started.", pm->starts);
    global_u64(r, "fcgix_spool_bytes", "gauge",
               "Request body bytes spooled server-wide now.",
               s->spool_kib * 1024);
    global_u64(r, "fcgix_spool_limit_bytes", "gauge",
               "FastCgiSpoolLimit in bytes.",
               (apr_uint64_t)fcgix_globals->spool_limit_kib * 1024);
}

/* A per-class value, for the simple families. */
typedef apr_uint64_t (*class_val_t)(const fcgix_msnap_class_t *c);

static apr_uint64_t v_inflight(const fcgix_msnap_class_t *c)
{
    return c->ci.inflight > 0x7fffffffu ? 0 : c->ci.inflight;
}
static apr_uint64_t v_waiting(const fcgix_msnap_class_t *c)
{
    return c->m.waiting;
}
static apr_uint64_t v_target(const fcgix_msnap_class_t *c)
{
    return c->ci.procs_target;
}
static apr_uint64_t v_restarts(const fcgix_msnap_class_t *c)
{
    return c->ci.restarts;
}
static apr_uint64_t v_start_failures(const fcgix_msnap_class_t *c)
{
    return c->ci.spawn_failures;
}
static apr_uint64_t v_failing(const fcgix_msnap_class_t *c)
{
    return c->ci.fail_streak;
}
static apr_uint64_t v_idle(const fcgix_msnap_class_t *c)
{
    return c->ci.idle_kept;
}
static apr_uint64_t v_reuses(const fcgix_msnap_class_t *c)
{
    return c->ci.reuses;
}

static const struct {
    const char *name, *type, *help;
    class_val_t val;
    int needs_metrics; /* counted only with FastCgiMetrics On */
} class_fams[] = {
    {"fcgix_requests_in_flight", "gauge",
     "Requests connected to the application now.", v_inflight, 0},
    {"fcgix_requests_waiting", "gauge",
     "Requests waiting for a process (connecting) now.", v_waiting, 1},
    {"fcgix_processes_target", "gauge",
     "Processes the process manager wants running.", v_target, 0},
    {"fcgix_process_restarts_total", "counter",
     "Processes restarted after they died.", v_restarts, 0},
    {"fcgix_process_start_failures_total", "counter",
     "Process starts that failed (fork or exec).", v_start_failures, 0},
    {"fcgix_failing_processes", "gauge",
     "Processes in a row that died without serving (0: not failing).",
     v_failing, 0},
    {"fcgix_idle_connections", "gauge",
     "Idle kept connections (FCGI_KEEP_CONN) httpd children hold now.", v_idle,
     0},
    {"fcgix_connection_reuses_total", "counter",
     "Requests served on a kept connection.", v_reuses, 0},
};

static void put_class_simple(request_rec *r, const fcgix_msnap_t *s)
{
    size_t f;
    int i;

    for (f = 0; f < sizeof(class_fams) / sizeof(class_fams[0]); f++) {
        if (class_fams[f].needs_metrics && !s->metrics_on) {
            continue;
        }
        family(r, class_fams[f].name, class_fams[f].type, class_fams[f].help);
        for (i = 0; i < s->n; i++) {
            ap_rprintf(r, "%s{%s} %" APR_UINT64_T_FMT "\n", class_fams[f].name,
                       s->c[i].label, class_fams[f].val(&s->c[i]));
        }
    }
}

static void put_class_info(request_rec *r, const fcgix_msnap_t *s)
{
    int i;

    family(r, "fcgix_app_info", "gauge",
           "Each application the process manager publishes (1).");
    for (i = 0; i < s->n; i++) {
        const fcgix_msnap_class_t *c = &s->c[i];
        ap_rprintf(r, "fcgix_app_info{%s,kind=\"%s\",state=\"%s\"} 1\n",
                   c->label, fcgix_msnap_kind(c->ci.kind),
                   fcgix_pm_class_state(&c->ci));
    }
    family(r, "fcgix_processes", "gauge",
           "Application processes by state (stopping: signalled, not "
           "reaped yet).");
    for (i = 0; i < s->n; i++) {
        ap_rprintf(r,
                   "fcgix_processes{%s,state=\"running\"} %u\n"
                   "fcgix_processes{%s,state=\"stopping\"} %u\n",
                   s->c[i].label, s->c[i].running, s->c[i].label,
                   s->c[i].stopping);
    }
    family(r, "fcgix_load_ratio", "gauge",
           "Load factor of a dynamic application (time busy per process).");
    for (i = 0; i < s->n; i++) {
        ap_rprintf(r, "fcgix_load_ratio{%s} %.3f\n", s->c[i].label,
                   s->c[i].ci.load_milli / 1000.0);
    }
}

static void put_outcomes(request_rec *r, const fcgix_msnap_t *s)
{
    int i, o;

    family(r, "fcgix_requests_total", "counter",
           "Requests by what the client got: source=\"app\": the "
           "application's status class; source=\"fcgix\": mod_fcgix's "
           "decision (502 no valid answer, 503 no process or backing off, "
           "504 timed out, 4xx/5xx others).");
    for (i = 0; i < s->n; i++) {
        for (o = 0; o < FCGIX_PM_OUTCOMES; o++) {
            ap_rprintf(r,
                       "fcgix_requests_total{%s,code=\"%s\",source=\"%s\"} "
                       "%" APR_UINT64_T_FMT "\n",
                       s->c[i].label, fcgix_msnap_code(o),
                       fcgix_msnap_source(o), s->c[i].m.outcome[o]);
        }
    }
}

static void put_hist(request_rec *r, const char *name, const char *label,
                     const apr_uint64_t *cum, apr_uint64_t sum_us)
{
    int b;

    for (b = 0; b < FCGIX_MFMT_BUCKETS; b++) {
        ap_rprintf(r, "%s_bucket{%s,le=\"%s\"} %" APR_UINT64_T_FMT "\n", name,
                   label, fcgix_mfmt_le(b), cum[b]);
    }
    ap_rprintf(r,
               "%s_sum{%s} %" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT "\n"
               "%s_count{%s} %" APR_UINT64_T_FMT "\n",
               name, label, sum_us / 1000000, sum_us % 1000000, name, label,
               cum[FCGIX_MFMT_BUCKETS - 1]);
}

static void put_hists(request_rec *r, const fcgix_msnap_t *s)
{
    int i;

    family(r, "fcgix_process_wait_seconds", "histogram",
           "Time a request waited to connect to a process (a connection "
           "queued in the socket's backlog counts as connected).");
    for (i = 0; i < s->n; i++) {
        put_hist(r, "fcgix_process_wait_seconds", s->c[i].label,
                 s->c[i].wait_cum, s->c[i].m.wait_sum_us);
    }
    family(r, "fcgix_app_response_seconds", "histogram",
           "Time from connected to the end of the application's answer.");
    for (i = 0; i < s->n; i++) {
        put_hist(r, "fcgix_app_response_seconds", s->c[i].label,
                 s->c[i].app_cum, s->c[i].m.app_sum_us);
    }
}

/* ------------------------------------------------------------ backends */

typedef apr_uint64_t (*be_val_t)(const fcgix_pm_backend_info_t *b);

static apr_uint64_t b_up(const fcgix_pm_backend_info_t *b)
{
    return (apr_uint64_t)fcgix_msnap_be_up(b);
}
static apr_uint64_t b_weight(const fcgix_pm_backend_info_t *b)
{
    return b->weight;
}
static apr_uint64_t b_inflight(const fcgix_pm_backend_info_t *b)
{
    return b->inflight;
}
static apr_uint64_t b_requests(const fcgix_pm_backend_info_t *b)
{
    return b->requests;
}
static apr_uint64_t b_down(const fcgix_pm_backend_info_t *b)
{
    return b->down_for;
}

static const struct {
    const char *name, *type, *help;
    be_val_t val;
} be_fams[] = {
    {"fcgix_backend_up", "gauge",
     "1 when the backend is enabled and its last probe (if any) passed.", b_up},
    {"fcgix_backend_weight", "gauge", "The backend's -weight.", b_weight},
    {"fcgix_backend_requests_in_flight", "gauge",
     "Requests on the backend now.", b_inflight},
    {"fcgix_backend_requests_total", "counter", "Requests sent to the backend.",
     b_requests},
    {"fcgix_backend_disabled_seconds", "gauge",
     "Seconds the backend stays disabled after a failure (0: enabled).",
     b_down},
};

static int any_backend(const fcgix_msnap_t *s)
{
    int i;

    for (i = 0; i < s->n; i++) {
        if (s->c[i].nbe) {
            return 1;
        }
    }
    return 0;
}

/* The backend labels of each class's backends, escaped once. */
static const char ***be_labels(request_rec *r, const fcgix_msnap_t *s)
{
    const char ***l = apr_pcalloc(r->pool, sizeof(*l) * (size_t)s->n);
    int i, m;

    for (i = 0; i < s->n; i++) {
        l[i] = apr_pcalloc(r->pool, sizeof(**l) * (size_t)(s->c[i].nbe + 1));
        for (m = 0; m < s->c[i].nbe; m++) {
            l[i][m] = apr_psprintf(r->pool, "%s,backend=\"%s\"", s->c[i].label,
                                   fcgix_msnap_esc(r, s->c[i].be[m].addr, 0));
        }
    }
    return l;
}

static void put_be_failures(request_rec *r, const fcgix_msnap_t *s,
                            const char ***l)
{
    int i, m;

    family(r, "fcgix_backend_failures_total", "counter",
           "Requests the backend failed before answering, by kind.");
    for (i = 0; i < s->n; i++) {
        for (m = 0; m < s->c[i].nbe; m++) {
            const fcgix_pm_backend_info_t *b = &s->c[i].be[m];
            ap_rprintf(r,
                       "fcgix_backend_failures_total{%s,kind=\"refused\"} %u\n"
                       "fcgix_backend_failures_total{%s,kind=\"timeout\"} %u\n"
                       "fcgix_backend_failures_total{%s,kind=\"overloaded\"} "
                       "%u\n"
                       "fcgix_backend_failures_total{%s,kind=\"reset\"} %u\n",
                       l[i][m], b->refused, l[i][m], b->timeouts, l[i][m],
                       b->overloaded, l[i][m], b->resets);
        }
    }
}

static void put_backends(request_rec *r, const fcgix_msnap_t *s)
{
    const char ***l;
    size_t f;
    int i, m;

    if (!any_backend(s)) {
        return;
    }
    l = be_labels(r, s);
    for (f = 0; f < sizeof(be_fams) / sizeof(be_fams[0]); f++) {
        family(r, be_fams[f].name, be_fams[f].type, be_fams[f].help);
        for (i = 0; i < s->n; i++) {
            for (m = 0; m < s->c[i].nbe; m++) {
                ap_rprintf(r, "%s{%s} %" APR_UINT64_T_FMT "\n", be_fams[f].name,
                           l[i][m], be_fams[f].val(&s->c[i].be[m]));
            }
        }
    }
    put_be_failures(r, s, l);
}

/* ------------------------------------------------------------- handler */

int fcgix_metrics_prom(request_rec *r)
{
    fcgix_msnap_t s;

    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    fcgix_msnap_take(r, &s);
    put_global(r, &s);
    if (s.n == 0) {
        return OK;
    }
    put_class_info(r, &s);
    put_class_simple(r, &s);
    if (s.metrics_on) {
        put_outcomes(r, &s);
        put_hists(r, &s);
    }
    put_backends(r, &s);
    return OK;
}

static int fcgix_metrics_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, FCGIX_METRICS_HANDLER) != 0) {
        return DECLINED;
    }
    return fcgix_metrics_prom(r);
}

void fcgix_metrics_register(void)
{
    ap_hook_handler(fcgix_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* FastCgiMetrics On|Off: server-wide (the counters are). */
const char *fcgix_cmd_metrics(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    fcgix_globals->metrics_off = !on;
    return NULL;
}
