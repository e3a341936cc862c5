/*
 * mod_fcgix_status.c - the fastcgi-status handler and mod_status section.
 *
 * Everything shown is a checked copy the PM's client API gives out
 * (fcgix_pm_info, fcgix_pm_class_next, fcgix_pm_proc_next): a writer that
 * died half-way cannot make this page read out of bounds. HTML by default;
 * `?auto` gives `key: value` lines in mod_status's style for scripts;
 * `?metrics` and `?json` are mod_fcgix_metrics.c's.
 *
 * Paths come from file names (a dynamic app is any file a client can
 * reach), so they are escaped in both forms: HTML-escaped in the page, and
 * in `?auto` with the error log's escapes (\n, \xhh, \\, \"), so a name
 * with a newline cannot add a line of its own.
 */
#include <string.h>

#include "mod_fcgix.h"
#include "pm/pm.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "mod_status.h"
#include "apr_strings.h"
#include "apr_time.h"

static const char *kind_name(fcgix_app_kind_t k)
{
    return k == FCGIX_APP_STATIC    ? "static"
           : k == FCGIX_APP_DYNAMIC ? "dynamic"
                                    : "external";
}

/* The HTML state cell: a failing class says why and when it retries. */
static const char *class_state_html(request_rec *r,
                                    const fcgix_pm_class_info_t *c)
{
    if (c->draining || !c->fail_streak) {
        return fcgix_pm_class_state(c);
    }
    return apr_psprintf(
        r->pool, "failing: %s (%u in a row, next start in %u s)",
        ap_escape_html(r->pool, c->last_error), c->fail_streak, c->retry_in);
}

static void put_pm(request_rec *r, const fcgix_pm_info_t *pm, int text)
{
    apr_uint64_t spooled = fcgix_pm_spool_total();

    if (text) {
        ap_rprintf(r,
                   "FcgixPMPid: %u\nFcgixPMHeartbeatAge: %ld\n"
                   "FcgixPMStarts: %u\nFcgixPMGeneration: %u\n"
                   "FcgixPMAlive: %d\nFcgixSpooledKiB: %" APR_UINT64_T_FMT
                   "\nFcgixSpoolLimitKiB: %u\n",
                   pm->pid, pm->heartbeat_age, pm->starts, pm->generation,
                   pm->alive, spooled, fcgix_globals->spool_limit_kib);
        return;
    }
    ap_rprintf(r,
               "<p>Process manager: pid %u, %s (heartbeat %ld s ago), "
               "configuration generation %u, started %u time(s).</p>\n"
               "<p>Request bodies spooled now: %" APR_UINT64_T_FMT
               " KiB of %u KiB (FastCgiSpoolLimit).</p>\n",
               pm->pid, pm->alive ? "alive" : "NOT RESPONDING",
               pm->heartbeat_age, pm->generation, pm->starts, spooled,
               fcgix_globals->spool_limit_kib);
}

/* One `?auto` value: no control byte, so no line break, survives. */
static const char *text_val(request_rec *r, const char *v)
{
    return ap_escape_logitem(r->pool, v);
}

static void put_class_text(request_rec *r, int n,
                           const fcgix_pm_class_info_t *c)
{
    ap_rprintf(r,
               "Class%d: %s\nClass%dKind: %s\nClass%dState: %s\n"
               "Class%dAddress: %s\nClass%dProcesses: %u\n"
               "Class%dProcessesWanted: %u\nClass%dRestarts: %u\n"
               "Class%dInFlight: %u\nClass%dRequests: %u\n"
               "Class%dFailures: %u\nClass%dLoadFactor: %.1f\n"
               "Class%dIdleKept: %u\nClass%dReuses: %u\n",
               n, text_val(r, c->path), n, kind_name(c->kind), n,
               fcgix_pm_class_state(c), n, text_val(r, c->addr), n,
               c->procs_running, n, c->procs_target, n, c->restarts, n,
               c->inflight, n, c->requests, n, c->failures, n,
               c->load_milli / 1000.0, n, c->idle_kept, n, c->reuses);
    ap_rprintf(r,
               "Class%dFailedInARow: %u\nClass%dStartFailures: %u\n"
               "Class%dNextStartIn: %u\nClass%dLastError: %s\n",
               n, c->fail_streak, n, c->spawn_failures, n,
               c->fail_streak ? c->retry_in : 0, n,
               text_val(r, c->fail_streak ? c->last_error : ""));
}

static void put_class_html(request_rec *r, const fcgix_pm_class_info_t *c)
{
    ap_rprintf(r,
               "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
               "<td>%u/%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%.1f</td><td>%u</td><td>%u</td></tr>\n",
               ap_escape_html(r->pool, c->path), kind_name(c->kind),
               class_state_html(r, c), ap_escape_html(r->pool, c->addr),
               c->procs_running, c->procs_target, c->restarts, c->inflight,
               c->requests, c->failures, c->load_milli / 1000.0, c->idle_kept,
               c->reuses);
}

static const char *backend_state(const fcgix_pm_backend_info_t *b)
{
    return b->probe == FCGIX_PROBE_FAILED ? "probe-failed"
           : b->down_for                  ? "down"
                                          : "up";
}

static const char *probe_text(request_rec *r, const fcgix_pm_backend_info_t *b)
{
    static const char *const why[] = {"", "connect", "timeout", "closed",
                                      "bad answer"};

    if (b->probe == FCGIX_PROBE_NONE) {
        return "none";
    }
    if (b->probe == FCGIX_PROBE_OK) {
        return "ok";
    }
    return apr_psprintf(r->pool, "failed (%s)",
                        b->probe_why < 5 ? why[b->probe_why] : "?");
}

/* Class n's backends (an external application's addresses). */
static void put_backends_text(request_rec *r, int n,
                              const fcgix_pm_class_info_t *c)
{
    fcgix_pm_backend_info_t b;
    apr_uint32_t m;

    for (m = 0; fcgix_pm_backend_info(c, m, &b); m++) {
        ap_rprintf(r,
                   "Class%dBackend%u: %s\nClass%dBackend%uState: %s\n"
                   "Class%dBackend%uDownFor: %u\n"
                   "Class%dBackend%uWeight: %u\n"
                   "Class%dBackend%uInFlight: %u\n"
                   "Class%dBackend%uRequests: %u\n"
                   "Class%dBackend%uRefused: %u\n"
                   "Class%dBackend%uTimeouts: %u\n"
                   "Class%dBackend%uOverloaded: %u\n"
                   "Class%dBackend%uResets: %u\n"
                   "Class%dBackend%uProbe: %s\n"
                   "Class%dBackend%uProbeAge: %ld\n",
                   n, m, text_val(r, b.addr), n, m, backend_state(&b), n, m,
                   b.down_for, n, m, b.weight, n, m, b.inflight, n, m,
                   b.requests, n, m, b.refused, n, m, b.timeouts, n, m,
                   b.overloaded, n, m, b.resets, n, m, probe_text(r, &b), n, m,
                   b.probe_age);
    }
    if (m) {
        ap_rprintf(r, "Class%dBackends: %u\n", n, m);
    }
}

static void put_backends_html(request_rec *r, const fcgix_pm_class_info_t *c)
{
    fcgix_pm_backend_info_t b;
    apr_uint32_t m;

    for (m = 0; fcgix_pm_backend_info(c, m, &b); m++) {
        ap_rprintf(r,
                   "<tr><td colspan=\"2\">&nbsp;backend %u</td><td>%s%s</td>"
                   "<td>%s</td><td>weight %u</td><td>probe: %s</td>"
                   "<td>%u</td><td>%u</td><td>%u refused, %u timeouts, "
                   "%u overloaded, %u resets</td><td colspan=\"3\"></td>"
                   "</tr>\n",
                   m, backend_state(&b),
                   b.down_for ? apr_psprintf(r->pool, " (%u s)", b.down_for)
                              : "",
                   ap_escape_html(r->pool, b.addr), b.weight, probe_text(r, &b),
                   b.inflight, b.requests, b.refused, b.timeouts, b.overloaded,
                   b.resets);
    }
}

static void put_procs(request_rec *r, int text)
{
    fcgix_pm_proc_info_t pr;
    apr_uint32_t pos = 0;
    int n = 0;

    while (fcgix_pm_proc_next(&pos, &pr)) {
        char started[APR_RFC822_DATE_LEN];
        const char *state = pr.stopping ? "stopping" : "running";
        apr_rfc822_date(started, apr_time_from_sec(pr.started));
        if (text) {
            ap_rprintf(r, "Process%d: %u %s %s %s\n", n, pr.pid, state, started,
                       text_val(r, pr.path));
        } else {
            ap_rprintf(r,
                       "<tr><td>%u</td><td>%s</td><td>%s</td><td>%s</td>"
                       "</tr>\n",
                       pr.pid, state, started,
                       ap_escape_html(r->pool, pr.path));
        }
        n++;
    }
}

static void put_all(request_rec *r, const fcgix_pm_info_t *pm, int text)
{
    fcgix_pm_class_info_t c;
    apr_uint32_t pos = 0;
    int n = 0;

    put_pm(r, pm, text);
    if (!text) {
        ap_rputs("<table border=\"1\"><tr><th>application</th><th>kind</th>"
                 "<th>state</th><th>address</th><th>processes</th>"
                 "<th>restarts</th><th>in flight</th><th>requests</th>"
                 "<th>failures</th><th>load %</th><th>idle kept</th>"
                 "<th>reuses</th></tr>\n",
                 r);
    }
    while (fcgix_pm_class_next(&pos, &c)) {
        if (text) {
            put_class_text(r, n, &c);
            put_backends_text(r, n++, &c);
        } else {
            put_class_html(r, &c);
            put_backends_html(r, &c);
        }
    }
    if (!text) {
        ap_rputs("</table>\n<table border=\"1\"><tr><th>pid</th>"
                 "<th>state</th><th>started</th><th>application</th></tr>\n",
                 r);
    }
    put_procs(r, text);
    if (!text) {
        ap_rputs("</table>\n", r);
    }
}

static int fcgix_status_handler(request_rec *r)
{
    fcgix_pm_info_t pm;
    int text;

    if (r->handler == NULL || strcmp(r->handler, "fastcgi-status") != 0) {
        return DECLINED;
    }
    if (r->args && strcmp(r->args, "metrics") == 0) {
        return fcgix_metrics_prom(r); /* mod_fcgix_metrics.c */
    }
    if (r->args && strcmp(r->args, "json") == 0) {
        return fcgix_metrics_json(r);
    }
    text = r->args && strcmp(r->args, "auto") == 0;
    ap_set_content_type(r, text ? "text/plain; charset=ISO-8859-1"
                                : "text/html; charset=ISO-8859-1");
    if (r->header_only) {
        return OK;
    }
    if (!text) {
        ap_rputs("<!DOCTYPE html>\n<html><head><title>mod_fcgix status"
                 "</title></head><body><h1>mod_fcgix status</h1>\n",
                 r);
    }
    if (fcgix_pm_info(&pm)) {
        put_all(r, &pm, text);
    }
    if (!text) {
        ap_rputs("</body></html>\n", r);
    }
    return OK;
}

/* A section in mod_status's page (server-status, and ?auto). */
static int fcgix_status_hook(request_rec *r, int flags)
{
    fcgix_pm_info_t pm;

    if (!fcgix_pm_info(&pm)) {
        return OK;
    }
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rputs("<hr /><h2>mod_fcgix</h2>\n", r);
    }
    put_all(r, &pm, flags & AP_STATUS_SHORT);
    return OK;
}

void fcgix_status_register(void)
{
    ap_hook_handler(fcgix_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, fcgix_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
