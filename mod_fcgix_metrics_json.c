/*
 * mod_fcgix_metrics_json.c - the metrics as one JSON document, for
 * scripts: `?json` on the fastcgi-status handler. The same snapshot as
 * the Prometheus form (mod_fcgix_metrics.c); every string escaped
 * (mod_fcgix_mfmt.c: valid UTF-8, control characters as \u00XX).
 *
 *   {"metrics_enabled":true,"bucket_bounds_seconds":[0.0001,...,30],
 *    "pm":{...},"spool_bytes":N,"spool_limit_bytes":N,
 *    "apps":[{"app":"/path","slot":N,"kind":"static",...,
 *             "requests":{"app":{"2xx":N,...},"fcgix":{"4xx":N,...}},
 *             "process_wait_seconds":{"buckets":[cumulative...],
 *                                     "sum":S,"count":N},
 *             "app_response_seconds":{...},"backends":[...]}]}
 */
#include <string.h>

#include "mod_fcgix_metrics.h"

#include "http_core.h"
#include "http_protocol.h"
#include "apr_strings.h"

static const char *js(request_rec *r, const char *s)
{
    return fcgix_msnap_esc(r, s, 1);
}

static const char *tf(int v)
{
    return v ? "true" : "false";
}

static void put_pm(request_rec *r, const fcgix_msnap_t *s)
{
    int b;

    ap_rprintf(r, "{\"metrics_enabled\":%s,\"bucket_bounds_seconds\":[",
               tf(s->metrics_on));
    for (b = 0; b < FCGIX_MFMT_BOUNDS; b++) {
        ap_rprintf(r, "%s%s", b ? "," : "", fcgix_mfmt_le(b));
    }
    ap_rputs("]", r);
    if (!s->has_pm) {
        ap_rputs(",\"pm\":null", r);
        return;
    }
    ap_rprintf(r,
               ",\"pm\":{\"pid\":%u,\"alive\":%s,\"heartbeat_age_seconds\":%ld,"
               "\"generation\":%u,\"starts\":%u},\"spool_bytes\":"
               "%" APR_UINT64_T_FMT ",\"spool_limit_bytes\":%" APR_UINT64_T_FMT,
               s->pm.pid, tf(s->pm.alive), s->pm.heartbeat_age,
               s->pm.generation, s->pm.starts, s->spool_kib * 1024,
               (apr_uint64_t)fcgix_globals->spool_limit_kib * 1024);
}

static void put_hist(request_rec *r, const char *name, const apr_uint64_t *cum,
                     apr_uint64_t sum_us)
{
    int b;

    ap_rprintf(r, ",\"%s\":{\"buckets\":[", name);
    for (b = 0; b < FCGIX_MFMT_BUCKETS; b++) {
        ap_rprintf(r, "%s%" APR_UINT64_T_FMT, b ? "," : "", cum[b]);
    }
    ap_rprintf(r,
               "],\"sum\":%" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT
               ",\"count\":%" APR_UINT64_T_FMT "}",
               sum_us / 1000000, sum_us % 1000000, cum[FCGIX_MFMT_BUCKETS - 1]);
}

static void put_outcomes(request_rec *r, const fcgix_msnap_class_t *c)
{
    int o;

    ap_rputs(",\"requests\":{\"app\":{", r);
    for (o = 0; o < FCGIX_PM_OUTCOMES; o++) {
        if (o == FCGIX_OUT_MOD_4XX) {
            ap_rputs("},\"fcgix\":{", r);
        }
        ap_rprintf(r, "%s\"%s\":%" APR_UINT64_T_FMT,
                   o == 0 || o == FCGIX_OUT_MOD_4XX ? "" : ",",
                   fcgix_msnap_code(o), c->m.outcome[o]);
    }
    ap_rputs("}}", r);
}

static void put_backend(request_rec *r, const fcgix_pm_backend_info_t *b,
                        int first)
{
    static const char *const probe[] = {"none", "ok", "failed"};

    ap_rprintf(r,
               "%s{\"backend\":\"%s\",\"up\":%s,\"weight\":%u,"
               "\"in_flight\":%u,\"requests\":%u,\"failures\":{\"refused\":%u,"
               "\"timeout\":%u,\"overloaded\":%u,\"reset\":%u},"
               "\"disabled_seconds\":%u,\"probe\":\"%s\"}",
               first ? "" : ",", js(r, b->addr), tf(fcgix_msnap_be_up(b)),
               b->weight, b->inflight, b->requests, b->refused, b->timeouts,
               b->overloaded, b->resets, b->down_for,
               b->probe < 3 ? probe[b->probe] : "?");
}

static void put_class(request_rec *r, const fcgix_msnap_class_t *c, int on)
{
    const fcgix_pm_class_info_t *ci = &c->ci;
    int m;

    ap_rprintf(r,
               "{\"app\":\"%s\",\"slot\":%u,\"kind\":\"%s\",\"state\":\"%s\","
               "\"address\":\"%s\",\"processes\":{\"running\":%u,"
               "\"stopping\":%u,\"target\":%u},\"restarts\":%u,"
               "\"start_failures\":%u,\"failed_in_a_row\":%u,"
               "\"last_error\":\"%s\","
               "\"in_flight\":%u,\"waiting\":%u,\"idle_connections\":%u,"
               "\"reuses\":%u,\"load\":%.3f",
               js(r, ci->path), ci->slot, fcgix_msnap_kind(ci->kind),
               fcgix_pm_class_state(ci), js(r, ci->addr), c->running,
               c->stopping, ci->procs_target, ci->restarts, ci->spawn_failures,
               ci->fail_streak, js(r, ci->fail_streak ? ci->last_error : ""),
               ci->inflight > 0x7fffffffu ? 0 : ci->inflight, c->m.waiting,
               ci->idle_kept, ci->reuses, ci->load_milli / 1000.0);
    if (on) {
        put_outcomes(r, c);
        put_hist(r, "process_wait_seconds", c->wait_cum, c->m.wait_sum_us);
        put_hist(r, "app_response_seconds", c->app_cum, c->m.app_sum_us);
    }
    ap_rputs(",\"backends\":[", r);
    for (m = 0; m < c->nbe; m++) {
        put_backend(r, &c->be[m], m == 0);
    }
    ap_rputs("]}", r);
}

int fcgix_metrics_json(request_rec *r)
{
    fcgix_msnap_t s;
    int i;

    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (r->header_only) {
        return OK;
    }
    fcgix_msnap_take(r, &s);
    put_pm(r, &s);
    ap_rputs(",\"apps\":[", r);
    for (i = 0; i < s.n; i++) {
        if (i) {
            ap_rputs(",", r);
        }
        put_class(r, &s.c[i], s.metrics_on);
    }
    ap_rputs("]}\n", r);
    return OK;
}
