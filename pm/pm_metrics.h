/*
 * pm/pm_metrics.h - the metrics each class slot carries in the scoreboard
 * (fcgix_sb_metrics_t, pm/scoreboard.h): written by the handlers through a
 * class handle, read as checked copies by the exposition (mod_fcgix_metrics.c),
 * zeroed by the PM when a slot gets another application
 * (fcgix_sb_metrics_reset, pm/scoreboard.h).
 */
#ifndef FCGIX_PM_METRICS_H
#define FCGIX_PM_METRICS_H

#include "pm/pm.h"

/* Class slots (the arrays of fcgix_pm_metrics_procs), histogram buckets
 * (13 bounds, mod_fcgix_mfmt.c, and +Inf), outcomes: the scoreboard's
 * (pm_metrics.c checks). */
#define FCGIX_PM_CLASSES 512
#define FCGIX_PM_HBUCKETS 14

/* A request's outcome: what the client got, and who decided it. */
enum {
    FCGIX_OUT_APP_2XX = 0, /* the app's answer, by status class */
    FCGIX_OUT_APP_3XX,
    FCGIX_OUT_APP_4XX,
    FCGIX_OUT_APP_5XX,
    FCGIX_OUT_MOD_4XX, /* decided by mod_fcgix: a client's fault (408...) */
    FCGIX_OUT_MOD_5XX, /* another server error (500) */
    FCGIX_OUT_MOD_502, /* no (valid) answer from the app */
    FCGIX_OUT_MOD_503, /* no process / backing off / nothing listening */
    FCGIX_OUT_MOD_504, /* timed out */
    FCGIX_PM_OUTCOMES
};

/* Which histogram. */
enum { FCGIX_HIST_WAIT = 0, FCGIX_HIST_APP = 1 };

/* Handlers: each writes nothing unless the handle's slot still holds its
 * class and the block belongs to that class (NULL: nothing). */
/* A request starts (+1) or stops (-1) waiting for a process. */
void fcgix_pm_metrics_waiting(const fcgix_pm_class_t *c, int delta);
/* One request's outcome (FCGIX_OUT_*). */
void fcgix_pm_metrics_outcome(const fcgix_pm_class_t *c, int outcome);
/* One observation of histogram which (FCGIX_HIST_*), in microseconds. */
void fcgix_pm_metrics_observe(const fcgix_pm_class_t *c, int which,
                              apr_interval_time_t us);

/* A checked copy of a class's block, for the exposition. */
typedef struct {
    apr_uint32_t waiting;
    apr_uint64_t outcome[FCGIX_PM_OUTCOMES];
    apr_uint64_t wait[FCGIX_PM_HBUCKETS], app[FCGIX_PM_HBUCKETS];
    apr_uint64_t wait_sum_us, app_sum_us;
} fcgix_pm_metrics_t;

/* The block of the class ci names, if it belongs to that class: 1 with
 * *out filled; else 0 with *out zeroed. */
int fcgix_pm_metrics_get(const fcgix_pm_class_info_t *ci,
                         fcgix_pm_metrics_t *out);
/* Processes of each class slot in the process table now, running and
 * stopping (arrays of FCGIX_PM_CLASSES, zeroed first). */
void fcgix_pm_metrics_procs(apr_uint32_t *running, apr_uint32_t *stopping);

#endif /* FCGIX_PM_METRICS_H */
