/*
 * mod_fcgix_metrics.h - what the two forms of the metrics share
 * (mod_fcgix_metrics.c: the snapshot and Prometheus' text format;
 * mod_fcgix_metrics_json.c: JSON).
 */
#ifndef MOD_FCGIX_METRICS_H
#define MOD_FCGIX_METRICS_H

#include "mod_fcgix.h"
#include "mod_fcgix_mfmt.h"
#include "pm/pm.h"
#include "pm/pm_metrics.h"

/* One class as copied once per scrape: every family shows the same data. */
typedef struct {
    fcgix_pm_class_info_t ci;
    fcgix_pm_metrics_t m; /* zero when its block is not the class's */
    apr_uint32_t running, stopping;
    apr_uint64_t wait_cum[FCGIX_MFMT_BUCKETS], app_cum[FCGIX_MFMT_BUCKETS];
    int nbe;                     /* backends (several: an external app) */
    fcgix_pm_backend_info_t *be; /* nbe of them */
    const char *label;           /* Prometheus: app="..." (, slot="N") */
} fcgix_msnap_class_t;

typedef struct {
    int has_pm;
    fcgix_pm_info_t pm;
    apr_uint64_t spool_kib;
    int metrics_on;
    int n;
    fcgix_msnap_class_t *c; /* active classes first, then draining ones */
} fcgix_msnap_t;

/* Copies everything the metrics show (r's pool). */
void fcgix_msnap_take(request_rec *r, fcgix_msnap_t *s);
/* A scoreboard string escaped for a label value or a JSON string. */
const char *fcgix_msnap_esc(request_rec *r, const char *s, int json);
/* Names for the outcome counters: code and source labels. */
const char *fcgix_msnap_code(int outcome);
const char *fcgix_msnap_source(int outcome);
const char *fcgix_msnap_kind(fcgix_app_kind_t k);
int fcgix_msnap_be_up(const fcgix_pm_backend_info_t *b);

#endif /* MOD_FCGIX_METRICS_H */
