/*
 * pm/pm_reap.c - processes that ended: reaped, and judged by what the
 * handlers counted (served: replaced at once; not: the class backs off).
 * The decisions are pure functions of what is known about the process
 * (fcgix_pm_exit_action, fcgix_pm_verdict), tested in t/unit/test_pm.c.
 */
#include <sys/wait.h>

#include "pm/pm_state.h"

#include "apr_strings.h"

fcgix_exit_action_t fcgix_pm_exit_action(const fcgix_exit_facts_t *f)
{
    if (!f->class_here) {
        return FCGIX_EXIT_FORGET;
    }
    if (f->killed || f->stopping || f->draining) {
        return FCGIX_EXIT_NONE; /* we asked for it, or its class is going */
    }
    /* Without -restart a dynamic app that ended is started by its next
     * request; requests already queued on its socket (in flight) are
     * such requests: retiring the class would reset them. */
    if (f->kind == FCGIX_APP_DYNAMIC && !f->dyn_restart && f->running == 0 &&
        !f->in_flight && !f->queue_waits) {
        return FCGIX_EXIT_RETIRE;
    }
    /* libfcgi and PHP half-close and wait for the handler's close before
     * an app can exit, so its request is counted first. An app that exits
     * right after its answer (a library without that wait, or a child it
     * left holding the connection) is reaped before its handler counts
     * the request: with handlers busy, wait for their count. */
    if (!f->counted && f->inflight > 0) {
        return FCGIX_EXIT_WAIT;
    }
    return FCGIX_EXIT_JUDGE;
}

fcgix_verdict_t fcgix_pm_verdict(const fcgix_verdict_in_t *in)
{
    fcgix_verdict_t v;
    int clean = WIFEXITED(in->status) && WEXITSTATUS(in->status) == 0;

    v.served =
        fcgix_policy_served(clean, in->lived_ms, in->counted, !in->shared);
    /* -min-server-life (static): a long enough run was a good start. */
    v.served = fcgix_policy_start_ok(
        v.served, in->lived_ms,
        in->kind == FCGIX_APP_STATIC ? in->min_server_life : 0);
    v.failures = v.served ? 0 : in->failures + 1;
    v.delay =
        fcgix_policy_restart_delay(in->restart_delay, v.failures, v.served);
    return v;
}

/* Whether a handler counted a completed request on the process's class
 * since the process started (the PM's proof of service, pm_policy.h). */
static int counted_since_start(const pm_t *pm, const pm_proc_t *x,
                               apr_uint32_t idx)
{
    return apr_atomic_read32(&pm->sb->classes[idx].completed) !=
           x->requests_at_start;
}

/* Whether the class the process was started for is still in its slot. */
static int proc_class_here(const pm_t *pm, const pm_proc_t *x, apr_uint32_t idx)
{
    return x->class_run == pm->class[idx].run &&
           pm->pub_class[idx].state != FCGIX_CLASS_GONE;
}

static void verdict_done(pm_t *pm, pm_proc_t *x)
{
    if (x->verdict_pending) {
        x->verdict_pending = 0;
        pm->verdicts_pending--;
    }
}

/* Publishes why the class is failing: the exec error its start logged, or
 * how the process ended without serving. A process that served clears it. */
static void note_failure(fcgix_sb_class_t *c, const pm_proc_t *x,
                         unsigned failures)
{
    if (failures == 0) {
        c->last_error[0] = '\0';
    } else if (x->exec_failed) {
        return; /* "cannot execute: ..." from its start says more */
    } else if (WIFSIGNALED(x->status)) {
        apr_snprintf(c->last_error, sizeof(c->last_error),
                     "killed by signal %d after %ld ms without serving",
                     WTERMSIG(x->status), x->lived_ms);
    } else {
        apr_snprintf(c->last_error, sizeof(c->last_error),
                     "exited with status %d after %ld ms without serving",
                     WEXITSTATUS(x->status), x->lived_ms);
    }
}

/* Judges an ended process and sets its class's restart accordingly. */
static void judge(pm_t *pm, int p, apr_time_t now)
{
    pm_proc_t *x = &pm->proc[p];
    apr_uint32_t idx = pm->pub_proc[p].class_idx;
    fcgix_sb_class_t *c = &pm->pub_class[idx];
    pm_class_t *k = &pm->class[idx];
    int dyn = c->kind == FCGIX_APP_DYNAMIC;
    fcgix_verdict_in_t in;
    fcgix_verdict_t v;

    verdict_done(pm, x);
    in.status = x->status;
    in.lived_ms = x->lived_ms;
    in.counted = counted_since_start(pm, x, idx);
    in.shared = x->shared;
    in.kind = c->kind;
    in.min_server_life =
        c->kind == FCGIX_APP_STATIC ? (int)k->def->min_server_life : 0;
    in.restart_delay =
        (int)(dyn ? pm->cur->dyn.restart_delay : k->def->restart_delay);
    in.failures = k->failures;
    v = fcgix_pm_verdict(&in);
    k->failures = v.failures;
    c->fail_streak = v.failures;
    k->completed_at_fail = apr_atomic_read32(&pm->sb->classes[idx].completed);
    c->restarts++;
    note_failure(c, x, v.failures);
    c->backoff_until =
        v.delay ? (apr_uint32_t)apr_time_sec(now) + (apr_uint32_t)v.delay : 0;
    /* -init-start-delay spaces the first starts only: a replacement waits
     * for its back-off and nothing else. */
    k->next_start = now + apr_time_from_sec(v.delay);
    if (WIFSIGNALED(x->status)) {
        fcgix_pm_log("FCGIX0410: %s (pid %ld) was killed by signal %d; "
                     "restarting in %d s",
                     c->path, x->pid, WTERMSIG(x->status), v.delay);
    } else {
        /* a clean exit after serving is a planned one (gitweb after 100
         * requests, PHP_FCGI_MAX_REQUESTS): routine */
        fcgix_pm_logl(v.failures == 0 && WEXITSTATUS(x->status) == 0
                          ? APLOG_INFO
                          : APLOG_WARNING,
                      "FCGIX0411: %s (pid %ld) exited with status %d; "
                      "restarting in %d s",
                      c->path, x->pid, WEXITSTATUS(x->status), v.delay);
    }
}

static void exit_facts(const pm_t *pm, int p, fcgix_exit_facts_t *f)
{
    const pm_proc_t *x = &pm->proc[p];
    apr_uint32_t idx = pm->pub_proc[p].class_idx;

    f->class_here = proc_class_here(pm, x, idx);
    f->killed = x->killed;
    f->stopping = pm->stopping;
    f->draining = pm->class[idx].draining;
    f->kind = pm->pub_class[idx].kind;
    f->dyn_restart = pm->cur != NULL && (int)pm->cur->dyn.restart;
    f->running = pm->pub_class[idx].procs_running;
    f->counted = counted_since_start(pm, x, idx);
    f->inflight = fcgix_pm_inflight_of(pm, (int)idx);
    /* the kernel is asked only when the answer can matter */
    f->in_flight = f->class_here && !f->killed && !f->stopping &&
                   !f->draining && f->kind == FCGIX_APP_DYNAMIC &&
                   !f->dyn_restart && f->running == 0 &&
                   fcgix_pm_in_flight(pm, (int)idx);
    f->queue_waits = 0;
}

static void retire_ended(pm_t *pm, int p, int status)
{
    apr_uint32_t idx = pm->pub_proc[p].class_idx;

    fcgix_pm_logl(APLOG_INFO,
                  "FCGIX0412: %s (pid %ld) ended (%s %d); its next request "
                  "starts it again",
                  pm->pub_class[idx].path, pm->proc[p].pid,
                  WIFSIGNALED(status) ? "signal" : "status",
                  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    fcgix_pm_class_retire(pm, (int)idx);
}

static void on_exit_proc(pm_t *pm, int p, int status, apr_time_t now)
{
    fcgix_sb_proc_t *sp = &pm->pub_proc[p];
    apr_uint32_t idx = sp->class_idx;
    pm_proc_t *x = &pm->proc[p];
    fcgix_exit_facts_t f;
    fcgix_exit_action_t a;

    x->status = status;
    x->lived_ms = (long)apr_time_as_msec(now - x->started);
    x->pid = (long)sp->pid;
    sp->state = FCGIX_PROC_FREE;
    sp->pid = 0;
    if (proc_class_here(pm, x, idx) && pm->pub_class[idx].procs_running) {
        pm->pub_class[idx].procs_running--;
    }
    exit_facts(pm, p, &f);
    a = fcgix_pm_exit_action(&f);
    if (a == FCGIX_EXIT_RETIRE &&
        fcgix_pm_unname_if_queue_empty(pm, (int)idx)) {
        retire_ended(pm, p, status);
        return;
    }
    if (a == FCGIX_EXIT_RETIRE) { /* a connection waits: it is served */
        f.queue_waits = 1;
        a = fcgix_pm_exit_action(&f);
    }
    if (a == FCGIX_EXIT_WAIT) {
        x->verdict_pending = 1;
        x->verdict_by = now + apr_time_from_msec(FCGIX_PM_VERDICT_WAIT_MS);
        pm->verdicts_pending++;
        pm->class[idx].next_start = x->verdict_by; /* no replacement before */
    } else if (a == FCGIX_EXIT_JUDGE) {
        judge(pm, p, now);
    }
}

/* Settles the verdicts that were waiting for the handlers: once the count
 * moved, once no handler is busy with the class, or at the deadline. */
void fcgix_pm_settle_verdicts(pm_t *pm, apr_time_t now)
{
    int p;

    for (p = 0; p < FCGIX_SB_PROCS && pm->verdicts_pending > 0; p++) {
        pm_proc_t *x = &pm->proc[p];
        apr_uint32_t idx = pm->pub_proc[p].class_idx;
        if (!x->verdict_pending) {
            continue;
        }
        if (!proc_class_here(pm, x, idx) || pm->class[idx].draining ||
            pm->stopping) {
            verdict_done(pm, x); /* its class is gone: nothing to judge */
            continue;
        }
        if (counted_since_start(pm, x, idx) ||
            fcgix_pm_inflight_of(pm, (int)idx) == 0 || now >= x->verdict_by) {
            judge(pm, p, now);
        }
    }
}

void fcgix_pm_failing_tick(pm_t *pm)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &pm->pub_class[i];
        if (c->fail_streak &&
            apr_atomic_read32(&pm->sb->classes[i].completed) !=
                pm->class[i].completed_at_fail) {
            /* a process has served since the last failure */
            c->fail_streak = 0;
            pm->class[i].failures = 0;
            c->last_error[0] = '\0';
        }
    }
}

void fcgix_pm_reap(pm_t *pm)
{
    apr_time_t now = fcgix_clock();
    int status, p;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (fcgix_pm_prober_reaped(pm, pid)) {
            continue;
        }
        fcgix_pm_out_reaped(pid);
        for (p = 0; p < FCGIX_SB_PROCS; p++) {
            if (pm->pub_proc[p].pid == (apr_uint32_t)pid &&
                pm->pub_proc[p].state != FCGIX_PROC_FREE) {
                on_exit_proc(pm, p, status, now);
                break;
            }
        }
    }
}
