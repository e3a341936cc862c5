/*
 * t/unit/test_policy.c - unit tests for pm/pm_policy.c (Check).
 *
 * One table per rule: each row is an input and the decision pm_policy.h
 * promises for it, with the boundaries (exactly at, just below, just
 * above) written out so that an off-by-one or a < that should be <= fails
 * a named row.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "pm/pm_policy.h"

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Doubles from the code under test are compared with this tolerance: the
 * contract is arithmetic, not a bit pattern. */
#define TOL 1e-9

/* A policy with mod_fastcgi's defaults; tests override single fields. */
static fcgix_dyn_policy_t defaults(void)
{
    fcgix_dyn_policy_t p;

    p.gain = 0.5;
    p.single_threshold = 0;
    p.multi_threshold = 50;
    p.update_interval = 300;
    p.max_class = 10;
    p.max_total = 50;
    p.min_total = 5;
    p.slack = 5;
    return p;
}

/* Equal within TOL, or both NaN, or the same infinity. */
static int same_double(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return isinf(got) && (got > 0) == (want > 0);
    return fabs(got - want) <= TOL;
}

/* ============================================================= smooth */

START_TEST(test_smooth_table)
{
    static const struct {
        double old_ms, sample_ms, gain, want;
    } t[] = {
        /* gain 0 keeps the old value, gain 1 takes the sample. */
        {1000.0, 3000.0, 0.0, 1000.0},
        {1000.0, 3000.0, 1.0, 3000.0},
        /* In range: old * (1 - gain) + sample * gain. */
        {1000.0, 3000.0, 0.5, 2000.0},
        {1000.0, 3000.0, 0.25, 1500.0},
        {1000.0, 3000.0, 0.75, 2500.0},
        {0.0, 800.0, 0.5, 400.0},
        {800.0, 0.0, 0.5, 400.0},
        {0.0, 0.0, 0.5, 0.0},
        {1000.0, 1000.0, 0.3, 1000.0},
        /* Just inside the range. */
        {1000.0, 3000.0, 1e-12, 1000.0 + 2e-9},
        {1000.0, 3000.0, 1.0 - 1e-12, 3000.0 - 2e-9},
        /* Out of range is clamped. */
        {1000.0, 3000.0, -0.5, 1000.0},
        {1000.0, 3000.0, -1e-12, 1000.0},
        {1000.0, 3000.0, 1.5, 3000.0},
        {1000.0, 3000.0, 1.0 + 1e-12, 3000.0},
        {1000.0, 3000.0, -INFINITY, 1000.0},
        {1000.0, 3000.0, INFINITY, 3000.0},
        /* A NaN gain keeps the old value. */
        {1000.0, 3000.0, NAN, 1000.0},
        /* The discarded input does not leak in at the end points. */
        {1000.0, INFINITY, 0.0, 1000.0},
        {INFINITY, 3000.0, 1.0, 3000.0},
        {1000.0, NAN, 0.0, 1000.0},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        double got =
            fcgix_policy_smooth(t[i].old_ms, t[i].sample_ms, t[i].gain);

        ck_assert_msg(same_double(got, t[i].want),
                      "row %zu: smooth(%g, %g, %g) = %.12g, want %.12g", i,
                      t[i].old_ms, t[i].sample_ms, t[i].gain, got, t[i].want);
    }
}
END_TEST

START_TEST(test_smooth_converges)
{
    double v = 0.0;
    int i;

    /* A steady sample pulls the average to it; after n rounds with gain
     * 0.5 the gap is 1 / 2^n of the start. */
    for (i = 0; i < 10; i++)
        v = fcgix_policy_smooth(v, 1024.0, 0.5);
    ck_assert_double_eq_tol(v, 1024.0 - 1.0, TOL);
    /* And with gain 0 it never moves. */
    for (i = 0; i < 10; i++)
        v = fcgix_policy_smooth(v, 0.0, 0.0);
    ck_assert_double_eq_tol(v, 1023.0, TOL);
}
END_TEST

/* =============================================================== load */

START_TEST(test_load_table)
{
    static const struct {
        double busy_ms;
        unsigned nprocs;
        int interval_s;
        double want;
    } t[] = {
        /* No processes or no interval: 0, whatever the busy time. */
        {5000.0, 0, 10, 0.0},
        {5000.0, 1, 0, 0.0},
        {5000.0, 1, -1, 0.0},
        {5000.0, 1, INT_MIN, 0.0},
        {5000.0, 0, 0, 0.0},
        /* busy / (interval * 1000 * nprocs) * 100 */
        {0.0, 1, 10, 0.0},
        {5000.0, 1, 10, 50.0},
        {5000.0, 2, 10, 25.0},
        {10000.0, 4, 5, 50.0},
        {1.0, 1, 1, 0.1},
        /* Fractions survive: no integer division. */
        {999.0, 1, 1, 99.9},
        {1.0, 3, 1, 1.0 / 30.0},
        {499.0, 1, 1, 49.9},
        {20000.0, 3, 10, 200.0 / 3.0},
        /* Clamped at 100: exactly, just above, far above, infinite. */
        {10000.0, 1, 10, 100.0},
        {10000.001, 1, 10, 100.0},
        {9999.999, 1, 10, 99.99999},
        {1e12, 1, 1, 100.0},
        {INFINITY, 1, 1, 100.0},
        /* Negative or NaN busy time reads as idle. */
        {-1.0, 1, 10, 0.0},
        {-INFINITY, 1, 10, 0.0},
        {NAN, 1, 10, 0.0},
        /* Extreme counts do not overflow. */
        {1000.0, UINT_MAX, INT_MAX, 100.0 / ((double)UINT_MAX * INT_MAX)},
        {1e12, UINT_MAX, 1, 1e12 / (10.0 * (double)UINT_MAX)},
        {1e11, 1, INT_MAX, 1e11 / (10.0 * INT_MAX)},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        double got =
            fcgix_policy_load(t[i].busy_ms, t[i].nprocs, t[i].interval_s);

        ck_assert_msg(same_double(got, t[i].want),
                      "row %zu: load(%g, %u, %d) = %.12g, want %.12g", i,
                      t[i].busy_ms, t[i].nprocs, t[i].interval_s, got,
                      t[i].want);
        ck_assert_msg(got >= 0.0 && got <= 100.0, "row %zu: %g out of 0..100",
                      i, got);
    }
}
END_TEST

/* ============================================================ kill_due */

START_TEST(test_kill_due_table)
{
    static const struct {
        int min_total, max_total, slack;
        unsigned total;
        int tick, want;
    } t[] = {
        /* At or below -minProcesses: never, tick or pressure. */
        {5, 50, 5, 0, 1, 0},
        {5, 50, 5, 4, 1, 0},
        {5, 50, 5, 5, 1, 0},
        {5, 3, 5, 5, 1, 0}, /* pressure too, still at the minimum */
        {5, 3, 5, 5, 0, 0},
        {60, 50, 5, 60, 1, 0}, /* min above max: min wins */
        /* Just above the minimum: the tick makes it due. */
        {5, 50, 5, 6, 1, 1},
        {5, 50, 5, 6, 0, 0},
        {0, 50, 0, 1, 1, 1},
        {0, 50, 0, 0, 1, 0},
        /* Any non-zero tick counts. */
        {5, 50, 5, 6, -1, 1},
        {5, 50, 5, 6, 2, 1},
        /* Pressure: total + slack > max, without a tick. */
        {5, 50, 5, 44, 0, 0}, /* 49: below */
        {5, 50, 5, 45, 0, 0}, /* 50: exactly at max, not over */
        {5, 50, 5, 46, 0, 1}, /* 51: just over */
        {5, 50, 5, 60, 0, 1},
        /* Slack 0: only total > max is pressure. */
        {5, 50, 0, 50, 0, 0},
        {5, 50, 0, 51, 0, 1},
        /* Slack wider than max: every total above min is pressure. */
        {0, 10, 20, 1, 0, 1},
        /* Minimum just below max: first process above min is due. */
        {49, 50, 1, 50, 0, 1},
        {49, 50, 0, 50, 0, 0},
        /* Huge total and slack do not wrap around. */
        {5, 50, INT_MAX, UINT_MAX, 0, 1},
        {5, INT_MAX, INT_MAX, UINT_MAX, 0, 1},
        {5, INT_MAX, 0, (unsigned)INT_MAX, 0, 0},
        {5, INT_MAX, 0, (unsigned)INT_MAX + 1u, 0, 1},
        {INT_MAX, INT_MAX, INT_MAX, (unsigned)INT_MAX, 1, 0},
        {INT_MAX, INT_MAX, INT_MAX, (unsigned)INT_MAX + 1u, 0, 1},
        /* A negative minimum keeps nothing back. */
        {-1, 50, 5, 0, 1, 1},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        fcgix_dyn_policy_t p = defaults();
        int got;

        p.min_total = t[i].min_total;
        p.max_total = t[i].max_total;
        p.slack = t[i].slack;
        got = fcgix_policy_kill_due(&p, t[i].total, t[i].tick);
        ck_assert_msg(got == t[i].want,
                      "row %zu: min %d max %d slack %d total %u tick %d: "
                      "got %d want %d",
                      i, t[i].min_total, t[i].max_total, t[i].slack, t[i].total,
                      t[i].tick, got, t[i].want);
    }
}
END_TEST

/* ========================================================= should_kill */

START_TEST(test_should_kill_table)
{
    static const struct {
        int single, multi, min_total;
        double load;
        unsigned class_procs, total;
        int want;
    } t[] = {
        /* The last process, -singleThreshold 0: never stopped. */
        {0, 50, 0, 0.0, 1, 10, 0},
        {0, 50, 0, 100.0, 1, 10, 0},
        /* -singleThreshold 20: at / just below / just above / far. */
        {20, 50, 0, 20.0, 1, 10, 0},
        {20, 50, 0, 19.999, 1, 10, 1},
        {20, 50, 0, 20.001, 1, 10, 0},
        {20, 50, 0, 0.0, 1, 10, 1},
        {20, 50, 0, 100.0, 1, 10, 0},
        /* -singleThreshold 100: only a fully busy process stays. */
        {100, 50, 0, 100.0, 1, 10, 0},
        {100, 50, 0, 99.999, 1, 10, 1},
        /* One process uses single, not multi (multi would say yes). */
        {10, 50, 0, 30.0, 1, 10, 0},
        /* More than one: -multiThreshold 50, at / below / above. */
        {0, 50, 0, 50.0, 2, 10, 0},
        {0, 50, 0, 49.999, 2, 10, 1},
        {0, 50, 0, 50.001, 2, 10, 0},
        {0, 50, 0, 0.0, 2, 10, 1},
        {0, 50, 0, 100.0, 2, 10, 0},
        {0, 50, 0, 10.0, UINT_MAX, UINT_MAX, 1},
        /* More than one uses multi, not single (single would say yes). */
        {90, 50, 0, 70.0, 2, 10, 0},
        {90, 50, 0, 70.0, 5, 10, 0},
        /* -multiThreshold 0 never stops one of many; 100 stops unless
         * fully busy. */
        {0, 0, 0, 0.0, 3, 10, 0},
        {0, 100, 0, 99.999, 3, 10, 1},
        {0, 100, 0, 100.0, 3, 10, 0},
        /* A fractional load below an integer threshold: 49.5 < 50. */
        {0, 50, 0, 49.5, 2, 10, 1},
        /* -minProcesses: nothing while total <= min; just above, yes. */
        {20, 50, 5, 0.0, 1, 5, 0},
        {20, 50, 5, 0.0, 2, 5, 0},
        {20, 50, 5, 0.0, 2, 4, 0},
        {20, 50, 5, 0.0, 1, 6, 1},
        {20, 50, 5, 0.0, 2, 6, 1},
        {20, 50, INT_MAX, 0.0, 2, (unsigned)INT_MAX, 0},
        {20, 50, INT_MAX, 0.0, 2, (unsigned)INT_MAX + 1u, 1},
        /* A class with no process has nothing to stop. */
        {100, 100, 0, 0.0, 0, 10, 0},
        /* A NaN load stops nothing. */
        {100, 100, 0, NAN, 1, 10, 0},
        {100, 100, 0, NAN, 2, 10, 0},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        fcgix_dyn_policy_t p = defaults();
        int got;

        p.single_threshold = t[i].single;
        p.multi_threshold = t[i].multi;
        p.min_total = t[i].min_total;
        got = fcgix_policy_should_kill(&p, t[i].load, t[i].class_procs,
                                       t[i].total);
        ck_assert_msg(got == t[i].want,
                      "row %zu: single %d multi %d min %d load %g class %u "
                      "total %u: got %d want %d",
                      i, t[i].single, t[i].multi, t[i].min_total, t[i].load,
                      t[i].class_procs, t[i].total, got, t[i].want);
    }
}
END_TEST

/* =========================================================== may_spawn */

START_TEST(test_may_spawn_table)
{
    static const struct {
        int max_class, max_total;
        unsigned class_procs, total;
        int want;
    } t[] = {
        /* Below both limits. */
        {10, 50, 0, 0, 1},
        {10, 50, 9, 49, 1},
        /* At / above the class limit. */
        {10, 50, 10, 20, 0},
        {10, 50, 11, 20, 0},
        /* At / above the total limit. */
        {10, 50, 3, 50, 0},
        {10, 50, 3, 51, 0},
        /* Both at the limit. */
        {10, 50, 10, 50, 0},
        /* Limits of 1: the first process only. */
        {1, 1, 0, 0, 1},
        {1, 1, 1, 1, 0},
        {1, 50, 0, 49, 1},
        /* Limits of 0 or below: nothing starts. */
        {0, 50, 0, 0, 0},
        {10, 0, 0, 0, 0},
        {-1, 50, 0, 0, 0},
        {10, -1, 0, 0, 0},
        /* Large counts are not truncated to a small int. */
        {INT_MAX, INT_MAX, (unsigned)INT_MAX - 1u, (unsigned)INT_MAX - 1u, 1},
        {INT_MAX, INT_MAX, (unsigned)INT_MAX, 0, 0},
        {INT_MAX, INT_MAX, 0, (unsigned)INT_MAX + 1u, 0},
        {INT_MAX, INT_MAX, UINT_MAX, UINT_MAX, 0},
        {10, 50, UINT_MAX, 0, 0},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        fcgix_dyn_policy_t p = defaults();
        int got;

        p.max_class = t[i].max_class;
        p.max_total = t[i].max_total;
        got = fcgix_policy_may_spawn(&p, t[i].class_procs, t[i].total);
        ck_assert_msg(got == t[i].want,
                      "row %zu: max_class %d max_total %d class %u total "
                      "%u: got %d want %d",
                      i, t[i].max_class, t[i].max_total, t[i].class_procs,
                      t[i].total, got, t[i].want);
    }
}
END_TEST

/* ============================================================== served */

START_TEST(test_served_table)
{
    static const struct {
        int clean;
        long lived_ms;
        int advanced, alone, want;
    } t[] = {
        /* The counter did not advance: never served. */
        {1, 0, 0, 0, 0},
        {1, 60000, 0, 0, 0},
        {0, 60000, 0, 0, 0},
        {0, LONG_MAX, 0, 0, 0},
        {0, 0, 0, 1, 0},
        /* Clean exit and the counter advanced: served, however short. */
        {1, 0, 1, 0, 1},
        {1, 1, 1, 0, 1},
        {1, -5, 1, 0, 1},
        /* Unclean exit with siblings: needs at least one second, exactly
         * at / below / above. */
        {0, 999, 1, 0, 0},
        {0, 1000, 1, 0, 1},
        {0, 1001, 1, 0, 1},
        {0, 0, 1, 0, 0},
        {0, -1000, 1, 0, 0},
        {0, LONG_MIN, 1, 0, 0},
        {0, LONG_MAX, 1, 0, 1},
        /* Alone all its life: the requests were its own, however short. */
        {0, 0, 1, 1, 1},
        {0, 999, 1, 1, 1},
        {0, LONG_MIN, 1, 1, 1},
        /* Flags are truth values: any non-zero counts. */
        {2, 0, 1, 0, 1},
        {-1, 0, 7, 0, 1},
        {0, 5000, -1, 0, 1},
        {0, 0, 3, -2, 1},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        int got = fcgix_policy_served(t[i].clean, t[i].lived_ms, t[i].advanced,
                                      t[i].alone);

        ck_assert_msg(got == t[i].want,
                      "row %zu: served(%d, %ld, %d, %d) = %d, want %d", i,
                      t[i].clean, t[i].lived_ms, t[i].advanced, t[i].alone, got,
                      t[i].want);
    }
}
END_TEST

/* ============================================================ start_ok */

START_TEST(test_start_ok_table)
{
    static const struct {
        int served;
        long lived_ms;
        int min_life_s, want;
    } t[] = {
        /* Served: a good start whatever its life. */
        {1, 0, 30, 1},
        {1, 0, 0, 1},
        {1, LONG_MIN, 30, 1},
        /* Not served: the life must reach -min-server-life, exactly at /
         * below / above (whole seconds). */
        {0, 29999, 30, 0},
        {0, 30000, 30, 1},
        {0, 30001, 30, 1},
        {0, 999, 1, 0},
        {0, 1000, 1, 1},
        {0, LONG_MAX, 86400, 1},
        /* 0 (or less) counts service only. */
        {0, LONG_MAX, 0, 0},
        {0, 5000, -1, 0},
        {0, -1000, 1, 0},
        {0, LONG_MIN, 1, 0},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        int got =
            fcgix_policy_start_ok(t[i].served, t[i].lived_ms, t[i].min_life_s);

        ck_assert_msg(
            got == t[i].want, "row %zu: start_ok(%d, %ld, %d) = %d, want %d", i,
            t[i].served, t[i].lived_ms, t[i].min_life_s, got, t[i].want);
    }
}
END_TEST

/* ======================================================= restart_delay */

START_TEST(test_restart_delay_table)
{
    static const struct {
        int delay;
        unsigned failures;
        int served, want;
    } t[] = {
        /* Served: replaced at once, whatever the history. */
        {5, 0, 1, 0},
        {5, 1, 1, 0},
        {5, 100, 1, 0},
        {30, UINT_MAX, 1, 0},
        {5, 3, -1, 0},
        /* delay 1: doubling per consecutive failure, capped at 30. */
        {1, 1, 0, 1},
        {1, 2, 0, 2},
        {1, 3, 0, 4},
        {1, 4, 0, 8},
        {1, 5, 0, 16},
        {1, 6, 0, 30},
        {1, 10, 0, 30},
        {1, 100, 0, 30},
        {1, UINT_MAX, 0, 30},
        /* delay 4: 4, 8, 16, then the cap. */
        {4, 1, 0, 4},
        {4, 2, 0, 8},
        {4, 3, 0, 16},
        {4, 4, 0, 30},
        {4, 10, 0, 30},
        {4, 100, 0, 30},
        /* Doubling to exactly the cap, just below, just above. */
        {15, 1, 0, 15},
        {15, 2, 0, 30},
        {7, 3, 0, 28},
        {7, 4, 0, 30},
        {29, 1, 0, 29},
        {29, 2, 0, 30},
        /* The setting itself at / above the cap. */
        {30, 1, 0, 30},
        {30, 2, 0, 30},
        {31, 1, 0, 30},
        {INT_MAX, 1, 0, 30},
        {INT_MAX, 10, 0, 30},
        {INT_MAX, 100, 0, 30},
        {INT_MAX, UINT_MAX, 0, 30},
        /* A delay of 0 stays 0; a negative one is never a wait. */
        {0, 1, 0, 0},
        {0, 100, 0, 0},
        {-1, 1, 0, 0},
        {-5, 10, 0, 0},
        {INT_MIN, 100, 0, 0},
        /* failures 0 without serving is read as the first failure. */
        {3, 0, 0, 3},
        {40, 0, 0, 30},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        int got =
            fcgix_policy_restart_delay(t[i].delay, t[i].failures, t[i].served);

        ck_assert_msg(got == t[i].want,
                      "row %zu: restart_delay(%d, %u, %d) = %d, want %d", i,
                      t[i].delay, t[i].failures, t[i].served, got, t[i].want);
    }
}
END_TEST

START_TEST(test_restart_delay_every_count)
{
    unsigned f;
    int prev = 0;

    /* Over a long run of failures the wait never shrinks, never passes
     * the cap and stays there once it gets there. */
    for (f = 1; f <= 1000; f++) {
        int d = fcgix_policy_restart_delay(3, f, 0);

        ck_assert_int_ge(d, prev);
        ck_assert_int_le(d, 30);
        ck_assert_int_ge(d, 3);
        prev = d;
    }
    ck_assert_int_eq(prev, 30);
}
END_TEST

/* ============================================================ scenario */

START_TEST(test_scenario_idle_class_shrinks)
{
    fcgix_dyn_policy_t p = defaults();
    double busy = 0.0, load;
    unsigned procs = 3, total = 10;
    int round;

    /* Three processes each busy 90% of a 10 s interval, then idle: the
     * smoothed load starts high, so nothing is stopped, then decays
     * below -multiThreshold, and one process is stopped per round down
     * to the last, which -singleThreshold 0 keeps. */
    p.update_interval = 10;
    p.min_total = 0;
    busy = fcgix_policy_smooth(busy, 3 * 9000.0, 1.0);
    load = fcgix_policy_load(busy, procs, p.update_interval);
    ck_assert_double_eq_tol(load, 90.0, TOL);
    ck_assert_int_eq(fcgix_policy_should_kill(&p, load, procs, total), 0);
    for (round = 0; round < 20; round++) {
        busy = fcgix_policy_smooth(busy, 0.0, p.gain);
        load = fcgix_policy_load(busy, procs, p.update_interval);
        if (fcgix_policy_kill_due(&p, total, 1) &&
            fcgix_policy_should_kill(&p, load, procs, total)) {
            procs--;
            total--;
        }
    }
    ck_assert_uint_eq(procs, 1);
    ck_assert_uint_eq(total, 8);
    ck_assert_int_eq(fcgix_policy_may_spawn(&p, procs, total), 1);
}
END_TEST

/* =========================================================== backends */

static fcgix_backend_cand_t cand(uint32_t load, uint32_t weight, int down,
                                 uint32_t until)
{
    fcgix_backend_cand_t c;

    c.load = load;
    c.weight = weight;
    c.down = down;
    c.down_until = until;
    return c;
}

START_TEST(test_backend_least_load)
{
    fcgix_backend_cand_t k[3] = {cand(5, 1, 0, 0), cand(2, 1, 0, 0),
                                 cand(3, 1, 0, 0)};

    ck_assert_int_eq(fcgix_policy_backend(k, 3, 0, 0), 1);
    ck_assert_int_eq(fcgix_policy_backend(k, 3, 0, 2), 1);
    /* the least loaded was tried: the next least */
    ck_assert_int_eq(fcgix_policy_backend(k, 3, 1u << 1, 0), 2);
    ck_assert_int_eq(fcgix_policy_backend(k, 3, 7u, 0), -1);
}
END_TEST

START_TEST(test_backend_weights)
{
    /* 4 in flight on weight 3 is less per weight than 2 on weight 1 */
    fcgix_backend_cand_t k[2] = {cand(2, 1, 0, 0), cand(4, 3, 0, 0)};

    ck_assert_int_eq(fcgix_policy_backend(k, 2, 0, 0), 1);
    k[1].load = 7; /* 7/3 > 2/1 */
    ck_assert_int_eq(fcgix_policy_backend(k, 2, 0, 0), 0);
}
END_TEST

START_TEST(test_backend_ties_take_turns)
{
    fcgix_backend_cand_t k[3] = {cand(1, 1, 0, 0), cand(1, 1, 0, 0),
                                 cand(1, 1, 0, 0)};
    int start;

    for (start = 0; start < 6; start++) {
        ck_assert_int_eq(fcgix_policy_backend(k, 3, 0, start % 3), start % 3);
    }
}
END_TEST

START_TEST(test_backend_down)
{
    fcgix_backend_cand_t k[3] = {cand(0, 1, 1, 50), cand(9, 1, 0, 0),
                                 cand(0, 1, 1, 40)};

    /* an enabled one, however loaded, before a disabled one */
    ck_assert_int_eq(fcgix_policy_backend(k, 3, 0, 0), 1);
    /* none enabled left: the one disabled the shortest */
    ck_assert_int_eq(fcgix_policy_backend(k, 3, 1u << 1, 0), 2);
    ck_assert_int_eq(fcgix_policy_backend(k, 3, (1u << 1) | (1u << 2), 0), 0);
    ck_assert_int_eq(fcgix_policy_backend(k, 0, 0, 0), -1);
}
END_TEST

/* =============================================================== main */

static Suite *policy_suite(void)
{
    Suite *s = suite_create("pm_policy");
    TCase *tc;

    tc = tcase_create("load");
    tcase_add_test(tc, test_smooth_table);
    tcase_add_test(tc, test_smooth_converges);
    tcase_add_test(tc, test_load_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("kill");
    tcase_add_test(tc, test_kill_due_table);
    tcase_add_test(tc, test_should_kill_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("backends");
    tcase_add_test(tc, test_backend_least_load);
    tcase_add_test(tc, test_backend_weights);
    tcase_add_test(tc, test_backend_ties_take_turns);
    tcase_add_test(tc, test_backend_down);
    suite_add_tcase(s, tc);

    tc = tcase_create("spawn");
    tcase_add_test(tc, test_may_spawn_table);
    tcase_add_test(tc, test_served_table);
    tcase_add_test(tc, test_start_ok_table);
    tcase_add_test(tc, test_restart_delay_table);
    tcase_add_test(tc, test_restart_delay_every_count);
    suite_add_tcase(s, tc);

    tc = tcase_create("scenario");
    tcase_add_test(tc, test_scenario_idle_class_shrinks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(policy_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
