/*
 * pm/pm_policy.h - the process manager's decisions, as pure functions.
 *
 * No I/O, no clock, no globals: every input is a parameter, so each rule is
 * a table-driven unit test (t/unit/test_policy.c). The PM calls these and
 * carries the decisions out.
 */
#ifndef FCGIX_PM_POLICY_H
#define FCGIX_PM_POLICY_H

#include <stdint.h>

/* Settings of the dynamic-application policy (FastCgiConfig). */
typedef struct {
    double gain;          /* -gainValue, 0..1: weight of the new sample */
    int single_threshold; /* -singleThreshold, 0..100 */
    int multi_threshold;  /* -multiThreshold, 0..100 */
    int update_interval;  /* -updateInterval, seconds (> 0) */
    int max_class;        /* -maxClassProcesses */
    int max_total;        /* -maxProcesses */
    int min_total;        /* -minProcesses */
    int slack;            /* -processSlack */
} fcgix_dyn_policy_t;

/* Exponentially decayed busy time: old * (1 - gain) + sample * gain.
 * gain outside 0..1 is clamped. */
double fcgix_policy_smooth(double old_ms, double sample_ms, double gain);

/* Load factor in percent (0..100, clamped): the share of the interval the
 * class's processes spent serving requests, from the smoothed busy time
 * (milliseconds) over `interval_s` seconds and `nprocs` processes.
 * nprocs == 0 or interval_s <= 0 gives 0. Computed in floating point: the
 * original module's integer division, which made the multi-process
 * threshold compare against a truncated value, is not reproduced. */
double fcgix_policy_load(double busy_ms, unsigned nprocs, int interval_s);

/* Whether the kill policy runs at all now: when the total of dynamic
 * processes plus -processSlack exceeds -maxProcesses (pressure), or on the
 * periodic -killInterval tick; never while total <= -minProcesses. */
int fcgix_policy_kill_due(const fcgix_dyn_policy_t *p, unsigned total,
                          int interval_tick);

/* Whether one process of a class with `class_procs` processes and load
 * `load_pct` should be stopped: with one process, when load is below
 * -singleThreshold (0 never stops the last one); with more, when load is
 * below -multiThreshold. Never when total <= -minProcesses. */
int fcgix_policy_should_kill(const fcgix_dyn_policy_t *p, double load_pct,
                             unsigned class_procs, unsigned total);

/* Whether one more process may start for a class: below both
 * -maxClassProcesses and -maxProcesses. */
int fcgix_policy_may_spawn(const fcgix_dyn_policy_t *p, unsigned class_procs,
                           unsigned total);

/* Whether a process that ended had served: the class's count of completed
 * requests advanced between its start and the verdict (which may wait for
 * busy handlers to count, see pm_main.c), and either it was the class's only
 * process all that time (the requests were its own), or it exited with status
 * 0, or it lived at least one second. */
int fcgix_policy_served(int exited_clean, long lived_ms, int requests_advanced,
                        int alone);

/* Whether a process that ended started successfully: it served, or it ran
 * at least -min-server-life seconds (min_life_s > 0; 0 counts service
 * only). A successful start is replaced at once and resets the back-off. */
int fcgix_policy_start_ok(int served, long lived_ms, int min_life_s);

/* Seconds to wait before replacing a process that ended. A process that
 * served is replaced at once (0). One that ended without serving waits
 * -restart-delay, doubled for each further such failure in a row
 * (failures >= 1), never more than 30 s (and never less than 0). */
int fcgix_policy_restart_delay(int restart_delay, unsigned failures,
                               int served);

/* What the choice of a backend looks at, for one backend of an external
 * application. */
typedef struct {
    uint32_t load;       /* requests in flight on it, all children */
    uint32_t weight;     /* 1 .. 1000 */
    uint32_t down_until; /* clock time it stays disabled until */
    int down;            /* disabled or failed its probe */
} fcgix_backend_cand_t;

/* The backend a request tries next among n, skipping those in tried (bit
 * i: backend i): the enabled one with the least load per weight, the scan
 * starting at start so that equals take turns; when every untried one is
 * down, the one whose disable time ends first. -1 when all were tried. */
int fcgix_policy_backend(const fcgix_backend_cand_t *k, int n, uint32_t tried,
                         int start);

#endif /* FCGIX_PM_POLICY_H */
