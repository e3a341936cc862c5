/*
 * pm/pm_metrics.h - the metrics each class slot carries in the scoreboard
 * (fcgix_sb_metrics_t): written by the handlers through a class handle,
 * read as checked copies by the exposition (mod_fcgix_metrics.c), zeroed by
 * the PM when a slot gets another application (fcgix_sb_metrics_reset,
 * pm/scoreboard.h).
 */
#ifndef FCGIX_PM_METRICS_H
#define FCGIX_PM_METRICS_H

#include "pm/pm.h"
#include "pm/scoreboard.h"

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
    apr_uint64_t outcome[FCGIX_SB_OUTCOMES];
    apr_uint64_t wait[FCGIX_SB_HBUCKETS], app[FCGIX_SB_HBUCKETS];
    apr_uint64_t wait_sum_us, app_sum_us;
} fcgix_pm_metrics_t;

/* The block of the class ci names, if it belongs to that class: 1 with
 * *out filled; else 0 with *out zeroed. */
int fcgix_pm_metrics_get(const fcgix_pm_class_info_t *ci,
                         fcgix_pm_metrics_t *out);
/* Processes of each class slot in the process table now, running and
 * stopping (arrays of FCGIX_SB_CLASSES, zeroed first). */
void fcgix_pm_metrics_procs(apr_uint32_t *running, apr_uint32_t *stopping);

#endif /* FCGIX_PM_METRICS_H */
