/*
 * mod_fcgix_observe.c - what a request leaves for the metrics and the
 * access log: its outcome and times counted on its class (FastCgiMetrics
 * On; pm/pm_metrics.c keeps them in the scoreboard), and the notes
 * fcgix-app, fcgix-backend, fcgix-wait-us and fcgix-app-us (always).
 *
 * Times, from the request's clock readings:
 *   wait  the time inside fcgix_connect, every attempt of the request
 *         (a kept connection: almost none). A connection the app's socket
 *         queued in its kernel backlog counts as connected: the time it
 *         waits there for a process to accept it is the app's time.
 *   app   connected (or a kept connection taken) to END_REQUEST or the end
 *         of the response, whichever the engine saw last (a response that
 *         streams to a slow client holds the app that long).
 */
#include "mod_fcgix_int.h"
#include "pm/pm_metrics.h"

#include "apr_strings.h"

static int metrics_on(void)
{
    return !fcgix_globals->metrics_off;
}

/* q->look names the class it had when it was looked up, and is never
 * filled again: the decrement goes where the increment went. */
void fcgix_observe_wait_begin(fcgix_req_t *q)
{
    q->m_waiting = NULL;
    if (metrics_on() && fcgix_pm_class_current(q->look)) {
        q->m_waiting = q->look;
        fcgix_pm_metrics_waiting(q->m_waiting, 1);
    }
}

/* c (the request's probe handle) is filled again by later lookups: the
 * count goes on a copy. */
void fcgix_observe_wait_found(fcgix_req_t *q, const fcgix_pm_class_t *c)
{
    if (q->m_waiting == NULL && metrics_on() && fcgix_pm_class_current(c)) {
        q->m_waiting = fcgix_pm_class_alloc(q->r->pool);
        fcgix_pm_class_copy(q->m_waiting, c);
        fcgix_pm_metrics_waiting(q->m_waiting, 1);
    }
}

void fcgix_observe_wait_end(fcgix_req_t *q, apr_time_t t0)
{
    q->m_waited += fcgix_pm_clock() - t0;
    q->m_connects++;
    if (q->m_waiting) {
        fcgix_pm_metrics_waiting(q->m_waiting, -1);
        q->m_waiting = NULL;
    }
}

/* What the client was sent, and who decided it (FCGIX_OUT_*). */
static int outcome_of(const fcgix_req_t *q, int st)
{
    int code = q->r->status;

    if (st == OK) {
        code = q->auth                        ? q->auth->status
               : q->fin == FCGIX_FIN_REDIRECT ? HTTP_MOVED_TEMPORARILY
                                              : code;
    } else if (st >= 300 && st < 400) {
        code = st; /* the app's Location (302) */
    } else {
        return st == HTTP_BAD_GATEWAY           ? FCGIX_OUT_MOD_502
               : st == HTTP_SERVICE_UNAVAILABLE ? FCGIX_OUT_MOD_503
               : st == HTTP_GATEWAY_TIME_OUT    ? FCGIX_OUT_MOD_504
               : st >= 400 && st < 500          ? FCGIX_OUT_MOD_4XX
                                                : FCGIX_OUT_MOD_5XX;
    }
    return code >= 500   ? FCGIX_OUT_APP_5XX
           : code >= 400 ? FCGIX_OUT_APP_4XX
           : code >= 300 ? FCGIX_OUT_APP_3XX
                         : FCGIX_OUT_APP_2XX;
}

/* Where the request went: the backend's address, else the app's. */
static const char *backend_text(const fcgix_req_t *q)
{
    char buf[160];

    if (q->be < 0 || q->addr.len == 0) {
        return q->app->addr_text ? q->app->addr_text : "-";
    }
    fcgix_addr_text(q->addr.sa, q->addr.len, buf, sizeof(buf));
    return apr_pstrdup(q->r->pool, buf);
}

static void set_notes(fcgix_req_t *q, apr_interval_time_t app_us)
{
    apr_table_t *n = q->r->notes;
    apr_pool_t *p = q->r->pool;
    int auth = q->auth != NULL;

    apr_table_setn(n, auth ? "fcgix-auth-app" : "fcgix-app", q->app->path);
    apr_table_setn(n, auth ? "fcgix-auth-backend" : "fcgix-backend",
                   backend_text(q));
    if (q->m_connects) {
        apr_table_setn(n, auth ? "fcgix-auth-wait-us" : "fcgix-wait-us",
                       apr_psprintf(p, "%" APR_TIME_T_FMT, q->m_waited));
    }
    if (app_us >= 0) {
        apr_table_setn(n, auth ? "fcgix-auth-app-us" : "fcgix-app-us",
                       apr_psprintf(p, "%" APR_TIME_T_FMT, app_us));
    }
}

int fcgix_observe_end(fcgix_req_t *q, int st, apr_time_t end)
{
    apr_interval_time_t app_us = end && q->connected ? end - q->connected : -1;
    fcgix_pm_class_t *c;

    set_notes(q, app_us);
    if (!metrics_on() || (c = fcgix_connect_class(q)) == NULL) {
        return st;
    }
    fcgix_pm_metrics_outcome(c, outcome_of(q, st));
    if (q->m_connects) {
        fcgix_pm_metrics_observe(c, FCGIX_HIST_WAIT, q->m_waited);
    }
    if (app_us >= 0) {
        fcgix_pm_metrics_observe(c, FCGIX_HIST_APP, app_us);
    }
    return st;
}
