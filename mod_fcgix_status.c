/*
 * mod_fcgix_status.c - the fastcgi-status handler and mod_status section.
 *
 * Everything shown is copied out of the scoreboard and checked first
 * (fcgix_sb_class_copy): a writer that died half-way cannot make this page
 * read out of bounds. HTML by default; `?auto` gives `key: value` lines in
 * mod_status's style for scripts.
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

static const char *kind_name(apr_uint32_t k)
{
    return k == FCGIX_APP_STATIC    ? "static"
           : k == FCGIX_APP_DYNAMIC ? "dynamic"
                                    : "external";
}

static const char *class_state(apr_uint32_t s)
{
    return s == FCGIX_CLASS_DRAINING ? "draining" : "active";
}

static void put_pm(request_rec *r, const fcgix_sb_t *sb, int text)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(fcgix_clock());
    apr_uint32_t beat = sb->pm_heartbeat;
    long age = beat ? (long)now - (long)beat : -1;

    apr_uint64_t spooled = fcgix_pm_spool_total();

    if (text) {
        ap_rprintf(r,
                   "FcgixPMPid: %u\nFcgixPMHeartbeatAge: %ld\n"
                   "FcgixPMStarts: %u\nFcgixPMGeneration: %u\n"
                   "FcgixPMAlive: %d\nFcgixSpooledKiB: %" APR_UINT64_T_FMT
                   "\nFcgixSpoolLimitKiB: %u\n",
                   sb->pm_pid, age, sb->pm_starts, sb->pm_generation,
                   fcgix_pm_alive(), spooled, fcgix_globals->spool_limit_kib);
        return;
    }
    ap_rprintf(r,
               "<p>Process manager: pid %u, %s (heartbeat %ld s ago), "
               "configuration generation %u, started %u time(s).</p>\n"
               "<p>Request bodies spooled now: %" APR_UINT64_T_FMT
               " KiB of %u KiB (FastCgiSpoolLimit).</p>\n",
               sb->pm_pid, fcgix_pm_alive() ? "alive" : "NOT RESPONDING", age,
               sb->pm_generation, sb->pm_starts, spooled,
               fcgix_globals->spool_limit_kib);
}

/* One `?auto` value: no control byte, so no line break, survives. */
static const char *text_val(request_rec *r, const char *v)
{
    return ap_escape_logitem(r->pool, v);
}

static void put_class_text(request_rec *r, int n, const fcgix_sb_class_t *c)
{
    ap_rprintf(r,
               "Class%d: %s\nClass%dKind: %s\nClass%dState: %s\n"
               "Class%dAddress: %s\nClass%dProcesses: %u\n"
               "Class%dProcessesWanted: %u\nClass%dRestarts: %u\n"
               "Class%dInFlight: %u\nClass%dRequests: %u\n"
               "Class%dFailures: %u\nClass%dLoadFactor: %.1f\n",
               n, text_val(r, c->path), n, kind_name(c->kind), n,
               class_state(c->state), n, text_val(r, c->addr), n,
               c->procs_running, n, c->procs_target, n, c->restarts, n,
               c->inflight, n, c->requests, n, c->failures, n,
               c->load_milli / 1000.0);
}

static void put_class_html(request_rec *r, const fcgix_sb_class_t *c)
{
    ap_rprintf(r,
               "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
               "<td>%u/%u</td><td>%u</td><td>%u</td><td>%u</td><td>%u</td>"
               "<td>%.1f</td></tr>\n",
               ap_escape_html(r->pool, c->path), kind_name(c->kind),
               class_state(c->state), ap_escape_html(r->pool, c->addr),
               c->procs_running, c->procs_target, c->restarts, c->inflight,
               c->requests, c->failures, c->load_milli / 1000.0);
}

static void put_procs(request_rec *r, const fcgix_sb_t *sb, int text)
{
    fcgix_sb_class_t c;
    int p, n = 0;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        fcgix_sb_proc_t pr = sb->procs[p];
        char started[APR_RFC822_DATE_LEN];
        if (pr.state == FCGIX_PROC_FREE ||
            !fcgix_sb_class_copy(sb, pr.class_idx, &c)) {
            continue;
        }
        apr_rfc822_date(started, apr_time_from_sec(pr.started));
        if (text) {
            ap_rprintf(r, "Process%d: %u %s %s %s\n", n, pr.pid,
                       pr.state == FCGIX_PROC_RUNNING ? "running" : "stopping",
                       started, text_val(r, c.path));
        } else {
            ap_rprintf(r,
                       "<tr><td>%u</td><td>%s</td><td>%s</td><td>%s</td>"
                       "</tr>\n",
                       pr.pid,
                       pr.state == FCGIX_PROC_RUNNING ? "running" : "stopping",
                       started, ap_escape_html(r->pool, c.path));
        }
        n++;
    }
}

static void put_all(request_rec *r, const fcgix_sb_t *sb, int text)
{
    fcgix_sb_class_t c;
    apr_uint32_t i;
    int n = 0;

    put_pm(r, sb, text);
    if (!text) {
        ap_rputs("<table border=\"1\"><tr><th>application</th><th>kind</th>"
                 "<th>state</th><th>address</th><th>processes</th>"
                 "<th>restarts</th><th>in flight</th><th>requests</th>"
                 "<th>failures</th><th>load %</th></tr>\n",
                 r);
    }
    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (!fcgix_sb_class_copy(sb, i, &c)) {
            continue;
        }
        if (text) {
            put_class_text(r, n++, &c);
        } else {
            put_class_html(r, &c);
        }
    }
    if (!text) {
        ap_rputs("</table>\n<table border=\"1\"><tr><th>pid</th>"
                 "<th>state</th><th>started</th><th>application</th></tr>\n",
                 r);
    }
    put_procs(r, sb, text);
    if (!text) {
        ap_rputs("</table>\n", r);
    }
}

static int fcgix_status_handler(request_rec *r)
{
    const fcgix_sb_t *sb;
    int text;

    if (r->handler == NULL || strcmp(r->handler, "fastcgi-status") != 0) {
        return DECLINED;
    }
    sb = fcgix_pm_scoreboard();
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
    if (sb) {
        put_all(r, sb, text);
    }
    if (!text) {
        ap_rputs("</body></html>\n", r);
    }
    return OK;
}

/* A section in mod_status's page (server-status, and ?auto). */
static int fcgix_status_hook(request_rec *r, int flags)
{
    const fcgix_sb_t *sb = fcgix_pm_scoreboard();

    if (sb == NULL) {
        return OK;
    }
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rputs("<hr /><h2>mod_fcgix</h2>\n", r);
    }
    put_all(r, sb, flags & AP_STATUS_SHORT);
    return OK;
}

void fcgix_status_register(void)
{
    ap_hook_handler(fcgix_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, fcgix_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
