/*
 * pm/pm_policy.c - the process manager's decisions, as pure functions.
 *
 * The contract is in pm_policy.h. Every function is total: any argument
 * values, including NaN and counts near their type's limits, give a
 * defined result, because a bad setting or a torn scoreboard read must not
 * turn into undefined behaviour inside the PM.
 */
#include "pm_policy.h"

/* The restart back-off never exceeds this many seconds, so a broken
 * application is retried at least twice a minute. */
#define RESTART_DELAY_CAP 30

/* A process that lived this long is taken to have started properly. */
#define SERVED_MIN_LIFE_MS 1000L

double fcgix_policy_smooth(double old_ms, double sample_ms, double gain)
{
    /* The end points return one input unchanged rather than computing
     * x * 1 + y * 0: that keeps them exact and keeps an infinite value
     * in the discarded input from turning the result into NaN. The
     * negated tests also send a NaN gain to "keep the old value". */
    if (!(gain > 0.0))
        return old_ms;
    if (!(gain < 1.0))
        return sample_ms;
    return old_ms * (1.0 - gain) + sample_ms * gain;
}

double fcgix_policy_load(double busy_ms, unsigned nprocs, int interval_s)
{
    double pct;

    if (nprocs == 0 || interval_s <= 0)
        return 0.0;
    /* Capacity is interval_s * 1000 ms per process; percent of it is
     * busy_ms * 100 / capacity. All in double: neither the product of
     * two large counts nor a fractional share is lost. */
    pct = busy_ms / ((double)interval_s * 10.0 * (double)nprocs);
    /* Negated so that a NaN (a corrupt busy time) reads as idle. */
    if (!(pct > 0.0))
        return 0.0;
    /* Smoothing can carry more busy time than one interval holds. */
    if (pct > 100.0)
        return 100.0;
    return pct;
}

int fcgix_policy_kill_due(const fcgix_dyn_policy_t *p, unsigned total,
                          int interval_tick)
{
    /* long long holds any unsigned plus any int, so the sum cannot
     * wrap and make a full server look empty. */
    long long n = (long long)total;

    if (n <= p->min_total)
        return 0;
    if (interval_tick)
        return 1;
    return n + p->slack > p->max_total;
}

int fcgix_policy_should_kill(const fcgix_dyn_policy_t *p, double load_pct,
                             unsigned class_procs, unsigned total)
{
    /* A class with no process has nothing to stop. */
    if (class_procs == 0 || (long long)total <= p->min_total)
        return 0;
    /* Strictly below: a load exactly at the threshold is kept, and a
     * threshold of 0 never stops anything since load is never below 0.
     * A NaN load compares false and stops nothing. */
    if (class_procs == 1)
        return load_pct < (double)p->single_threshold;
    return load_pct < (double)p->multi_threshold;
}

int fcgix_policy_may_spawn(const fcgix_dyn_policy_t *p, unsigned class_procs,
                           unsigned total)
{
    /* Compared as long long: a negative limit means "none may start"
     * instead of converting to a huge unsigned. */
    return (long long)class_procs < p->max_class &&
           (long long)total < p->max_total;
}

int fcgix_policy_start_ok(int served, long lived_ms, int min_life_s)
{
    return served || (min_life_s > 0 && lived_ms / 1000 >= (long)min_life_s);
}

int fcgix_policy_served(int exited_clean, long lived_ms, int requests_advanced,
                        int alone)
{
    /* The request counter is the proof of service. With siblings it may
     * have been theirs: the exit status or the lifetime then rules out a
     * process that crashed right after its first accept. Alone, the
     * requests were its own. */
    return requests_advanced &&
           (alone || exited_clean || lived_ms >= SERVED_MIN_LIFE_MS);
}

int fcgix_policy_restart_delay(int restart_delay, unsigned failures, int served)
{
    int delay;
    unsigned i;

    if (served || restart_delay <= 0)
        return 0;
    delay =
        restart_delay < RESTART_DELAY_CAP ? restart_delay : RESTART_DELAY_CAP;
    /* Double once per failure after the first (failures == 0 is read as
     * the first: the process did end without serving). Stopping at the
     * cap bounds the loop to a few rounds and keeps delay * 2 below
     * 2 * RESTART_DELAY_CAP, so no failure count can overflow it. */
    for (i = 1; i < failures && delay < RESTART_DELAY_CAP; i++)
        delay *= 2;
    return delay < RESTART_DELAY_CAP ? delay : RESTART_DELAY_CAP;
}

int fcgix_policy_backend(const fcgix_backend_cand_t *k, int n, uint32_t tried,
                         int start)
{
    int best = -1, best_down = -1, j;

    for (j = 0; j < n && j < 32; j++) {
        int i = (start + j) % n;
        if (tried & (1u << i)) {
            continue;
        }
        if (k[i].down) {
            if (best_down < 0 || k[i].down_until < k[best_down].down_until) {
                best_down = i;
            }
        } else if (best < 0 || (uint64_t)k[i].load * k[best].weight <
                                   (uint64_t)k[best].load * k[i].weight) {
            best = i;
        }
    }
    return best >= 0 ? best : best_down;
}
