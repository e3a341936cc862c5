/*
 * pm/pm_prober.c - the prober: the one process that looks after the
 * backends of external applications (FastCgiExternalServer -probe,
 * -resolve), so that no httpd child has to.
 *
 * The PM forks it for each configuration generation that has such
 * applications (and again should it die). It runs as User and Group, never
 * as root: it connects where the configuration says, from its own copy of
 * the definitions (inherited at the fork), never where the scoreboard says.
 * It writes only its results: the backend list of a name resolved again
 * (fcgix_pm_bset_write) and each backend's probe result.
 *
 * A probe is FCGI_GET_VALUES on a fresh connection; a backend that does not
 * answer a well-formed FCGI_GET_VALUES_RESULT within -probe-timeout is
 * marked failed (the handlers then send it nothing while another backend
 * is up), and good again when it answers again.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pm/pm_spawn.h"
#include "pm/pm_state.h"
#include "proto/fcgix_proto.h"

#define PROBER_RESTART_S 5 /* a prober that died is started again after */
#define MAX_JOBS FCGIX_SB_CLASSES

/* One external class the prober looks after. */
typedef struct {
    int idx;
    apr_uint32_t gen;
    const fcgix_def_app_t *def;
    fcgix_addr_t addrs[FCGIX_SB_BACKENDS];
    apr_uint32_t weights[FCGIX_SB_BACKENDS];
    apr_uint32_t target[FCGIX_SB_BACKENDS];
    int n;
    int names; /* -resolve applies: a target is a host name */
    apr_time_t next_probe, next_resolve;
} job_t;

static job_t *jobs;
static int njobs;

/* ------------------------------------------------------------ the PM */

static int wanted(const fcgix_def_app_t *a)
{
    int i, names = 0;

    for (i = 0; a->targets && i < a->targets->nelts; i++) {
        names |= APR_ARRAY_IDX(a->targets, i, fcgix_def_target_t).is_name != 0;
    }
    return a->probe > 0 || (names && a->resolve > 0);
}

static int needed(const pm_t *pm)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (pm->pub_class[i].state == FCGIX_CLASS_ACTIVE &&
            pm->pub_class[i].kind == FCGIX_APP_EXTERNAL && pm->class[i].def &&
            wanted(pm->class[i].def)) {
            return 1;
        }
    }
    return 0;
}

/* SIGTERM ends it at once, except while it writes to the scoreboard
 * (blocked there); SIGKILL if it is still there (stopped, say) after a
 * moment. */
void fcgix_pm_prober_stop(pm_t *pm)
{
    int i;

    if (pm->prober_pid <= 0) {
        return;
    }
    kill(pm->prober_pid, SIGTERM);
    for (i = 0; i < 50 && waitpid(pm->prober_pid, NULL, WNOHANG) == 0; i++) {
        apr_sleep(apr_time_from_msec(4));
    }
    if (i == 50) {
        kill(pm->prober_pid, SIGKILL);
        waitpid(pm->prober_pid, NULL, 0);
    }
    pm->prober_pid = 0;
}

/* Around a write to the scoreboard: no SIGTERM half-way. */
static void hold_term(int hold)
{
    sigset_t term;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &term, NULL);
}

/* ------------------------------------------------------- the results */

static int same_addr(const fcgix_sb_backend_t *b, const fcgix_addr_t *a)
{
    return b->addr_len == a->len && memcmp(b->addr, a->sa, a->len) == 0;
}

static void record(fcgix_sb_t *sb, const job_t *j, int i, int ok, int why)
{
    static const char *const whys[] = {
        "", "cannot connect", "no answer in time", "closed without answering",
        "answered something else"};
    fcgix_sb_bset_t *s = &sb->bsets[j->idx];
    fcgix_sb_backend_t *b = &s->b[i];
    apr_uint32_t prev;
    char text[160];

    if (apr_atomic_read32(&s->gen) != j->gen || !same_addr(b, &j->addrs[i])) {
        return; /* the list moved on meanwhile */
    }
    prev = apr_atomic_read32(&b->probe);
    hold_term(1);
    apr_atomic_set32(&b->probe_why, ok ? 0 : (apr_uint32_t)why);
    apr_atomic_set32(&b->probe_at, (apr_uint32_t)apr_time_sec(fcgix_clock()));
    apr_atomic_set32(&b->probe, ok ? FCGIX_PROBE_OK : FCGIX_PROBE_FAILED);
    if (ok) {
        apr_atomic_set32(&b->down_until, 0); /* it answers: no more skips */
    }
    hold_term(0);
    fcgix_addr_text(j->addrs[i].sa, j->addrs[i].len, text, sizeof(text));
    if (!ok && prev != FCGIX_PROBE_FAILED) {
        fcgix_pm_log("FCGIX0460: %s: backend %s failed its probe (%s): no "
                     "requests while another backend is up",
                     j->def->path, text, whys[why]);
    } else if (ok && prev == FCGIX_PROBE_FAILED) {
        fcgix_pm_logl(APLOG_NOTICE,
                      "FCGIX0461: %s: backend %s answers its probe again",
                      j->def->path, text);
    }
}

/* ------------------------------------------------------------ probes */

typedef struct {
    job_t *job;
    int i, fd, done, ok, why;
    size_t sent;
    apr_time_t deadline; /* now + its -probe-timeout */
    unsigned char in[FCGIX_REC_HEADER_LEN + 65535 + 255];
    size_t got;
} probe_t;

static unsigned char request[2 * FCGIX_REC_HEADER_LEN + 64];
static size_t request_len;

/* FCGI_GET_VALUES asking for the three values the specification names,
 * then an empty one: libfcgi reads a management record's pairs until the
 * next record begins, and answers only then (php-fpm answers both). */
static void build_request(void)
{
    static const char *const names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS",
                                        "FCGI_MPXS_CONNS"};
    size_t n = 0, i;

    for (i = 0; i < 3; i++) {
        n += fcgix_nv_encode(request + FCGIX_REC_HEADER_LEN + n,
                             sizeof(request) - FCGIX_REC_HEADER_LEN - n,
                             names[i], strlen(names[i]), "", 0);
    }
    fcgix_rec_header(request, FCGIX_T_GET_VALUES, 0, n, 0);
    fcgix_rec_header(request + FCGIX_REC_HEADER_LEN + n, FCGIX_T_GET_VALUES, 0,
                     0, 0);
    request_len = FCGIX_REC_HEADER_LEN + n + FCGIX_REC_HEADER_LEN;
}

static void probe_open(probe_t *p)
{
    const fcgix_addr_t *a = &p->job->addrs[p->i];
    const struct sockaddr *sa = (const struct sockaddr *)a->sa;

    p->fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0 || (connect(p->fd, sa, a->len) != 0 && errno != EINPROGRESS &&
                      errno != EAGAIN)) {
        p->done = 1;
        p->why = FCGIX_PROBE_WHY_CONNECT;
    }
}

/* A whole FCGI_GET_VALUES_RESULT: 1 good, -1 bad, 0 more to read. */
static int answer_state(const probe_t *p)
{
    const unsigned char *h = p->in, *c = p->in + FCGIX_REC_HEADER_LEN;
    size_t clen, plen, pos = 0;

    if (p->got < FCGIX_REC_HEADER_LEN) {
        return 0;
    }
    if (h[0] != 1 || h[1] != FCGIX_T_GET_VALUES_RESULT || h[2] || h[3]) {
        return -1;
    }
    clen = (size_t)h[4] << 8 | h[5];
    plen = h[6];
    if (p->got < FCGIX_REC_HEADER_LEN + clen + plen) {
        return 0;
    }
    while (pos < clen) {
        const unsigned char *name, *value;
        size_t used, nl, vl;
        if (fcgix_nv_decode(c + pos, clen - pos, &used, &name, &nl, &value,
                            &vl) != FCGIX_NV_OK) {
            return -1;
        }
        pos += used;
    }
    return 1;
}

/* Moves one probe on after poll() said revents. */
static void probe_step(probe_t *p, short revents)
{
    ssize_t n;
    int st;

    if (p->sent < request_len && (revents & (POLLOUT | POLLERR | POLLHUP))) {
        n = send(p->fd, request + p->sent, request_len - p->sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            p->done = 1;
            p->why = FCGIX_PROBE_WHY_CONNECT;
            return;
        }
        p->sent += n > 0 ? (size_t)n : 0;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)) || p->sent < request_len) {
        return;
    }
    n = recv(p->fd, p->in + p->got, sizeof(p->in) - p->got, 0);
    if (n < 0 && errno == EAGAIN) {
        return;
    }
    if (n > 0) {
        p->got += (size_t)n;
    }
    st = answer_state(p);
    if (st != 0 || n <= 0 || p->got == sizeof(p->in)) {
        p->done = 1;
        p->ok = st > 0;
        p->why = st < 0 || (n > 0 && st == 0) ? FCGIX_PROBE_WHY_BAD
                                              : FCGIX_PROBE_WHY_CLOSED;
    }
}

/* Runs the n probes at once until each is done or its time is up; each
 * connection is closed as soon as its probe is done. */
static void probe_run(probe_t *pr, int n)
{
    struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
    int i, left;

    for (i = 0; i < n; i++) {
        probe_open(&pr[i]);
    }
    for (;;) {
        apr_time_t now = fcgix_clock(), next = now + apr_time_from_sec(60);
        for (i = 0, left = 0; i < n; i++) {
            if (!pr[i].done && now >= pr[i].deadline) {
                pr[i].done = 1;
                pr[i].why = FCGIX_PROBE_WHY_TIMEOUT;
            }
            if (pr[i].done && pr[i].fd >= 0) {
                /* at once: a one-process app serves nobody while a
                 * probe's connection stays open */
                close(pr[i].fd);
                pr[i].fd = -1;
            }
            if (!pr[i].done && pr[i].deadline < next) {
                next = pr[i].deadline;
            }
            pfd[i].fd = pr[i].done ? -1 : pr[i].fd;
            pfd[i].events = pr[i].sent < request_len ? POLLOUT : POLLIN;
            pfd[i].revents = 0;
            left += !pr[i].done;
        }
        if (left == 0 || pfd == NULL) {
            break;
        }
        if (poll(pfd, (nfds_t)n, (int)apr_time_as_msec(next - now) + 1) < 0) {
            continue;
        }
        for (i = 0; i < n; i++) {
            if (!pr[i].done && pfd[i].revents) {
                probe_step(&pr[i], pfd[i].revents);
            }
        }
    }
    free(pfd);
}

/* Probes every backend of the jobs whose probe is due. */
static void probe_due(fcgix_sb_t *sb, apr_time_t now)
{
    probe_t *pr;
    int n = 0, j, i;

    for (j = 0; j < njobs; j++) {
        n += jobs[j].def->probe && now >= jobs[j].next_probe ? jobs[j].n : 0;
    }
    pr = n ? calloc((size_t)n, sizeof(*pr)) : NULL;
    n = 0;
    for (j = 0; pr && j < njobs; j++) {
        job_t *jb = &jobs[j];
        if (jb->def->probe == 0 || now < jb->next_probe) {
            continue;
        }
        jb->next_probe = now + apr_time_from_sec(jb->def->probe);
        for (i = 0; i < jb->n; i++, n++) {
            pr[n].job = jb;
            pr[n].i = i;
            pr[n].fd = -1;
            pr[n].deadline = now + apr_time_from_sec(jb->def->probe_timeout);
        }
    }
    if (n) {
        probe_run(pr, n); /* each within its own -probe-timeout */
    }
    for (i = 0; i < n; i++) {
        record(sb, pr[i].job, pr[i].i, pr[i].ok, pr[i].why);
        if (pr[i].fd >= 0) {
            close(pr[i].fd);
        }
    }
    free(pr);
}

/* -------------------------------------------------- names, again */

static void resolve_job(fcgix_sb_t *sb, job_t *j)
{
    fcgix_addr_t a[FCGIX_SB_BACKENDS];
    apr_uint32_t tg[FCGIX_SB_BACKENDS], t, w[FCGIX_SB_BACKENDS];
    char err[256];
    int n = 0, i, more = 0, r, changed;
    const char *cut = NULL; /* a name whose addresses did not all fit */

    for (t = 0; t < (apr_uint32_t)j->def->targets->nelts; t++) {
        const fcgix_def_target_t *d =
            &APR_ARRAY_IDX(j->def->targets, t, fcgix_def_target_t);
        r = d->is_name ? fcgix_addr_resolve(d->host, d->port, a + n,
                                            FCGIX_SB_BACKENDS - n, &more, err,
                                            sizeof(err))
                       : -2;
        if (r == -1) {
            fcgix_pm_log("FCGIX0462: %s: %s; its addresses stay as they were",
                         j->def->path, err);
        }
        if (r < 0) {
            n = fcgix_addr_keep(j->addrs, j->target, j->n, t, a, tg, n,
                                FCGIX_SB_BACKENDS);
            continue;
        }
        for (i = 0; i < r; i++) {
            tg[n + i] = t;
        }
        n += r;
        cut = more ? d->host : cut;
    }
    changed = n != j->n;
    for (i = 0; i < n; i++) {
        changed |= a[i].len != j->addrs[i].len ||
                   memcmp(a[i].sa, j->addrs[i].sa, a[i].len) != 0;
        w[i] = APR_ARRAY_IDX(j->def->targets, tg[i], fcgix_def_target_t).weight;
    }
    if (!changed || n == 0 ||
        apr_atomic_read32(&sb->bsets[j->idx].gen) != j->gen) {
        return;
    }
    memcpy(j->addrs, a, sizeof(a[0]) * (size_t)n);
    memcpy(j->target, tg, sizeof(tg[0]) * (size_t)n);
    memcpy(j->weights, w, sizeof(w[0]) * (size_t)n);
    j->n = n;
    hold_term(1);
    fcgix_pm_bset_write(sb, j->idx, j->gen, j->addrs, j->weights, n, 0);
    hold_term(0);
    fcgix_pm_logl(APLOG_INFO,
                  "FCGIX0464: %s: its host names resolved anew: %d backends",
                  j->def->path, n);
    if (cut) { /* said once per change, not at every resolution */
        fcgix_pm_log("FCGIX0463: %s: host %s has more addresses than the "
                     "%d backends an application may have; the rest are "
                     "not used",
                     j->def->path, cut, FCGIX_SB_BACKENDS);
    }
}

/* ------------------------------------------------------------ process */

static void add_job(const pm_t *pm, int idx, apr_time_t now)
{
    const fcgix_def_app_t *a = pm->class[idx].def;
    job_t *j = &jobs[njobs++];
    int i;

    memset(j, 0, sizeof(*j));
    j->idx = idx;
    j->gen = pm->pub_class[idx].gen;
    j->def = a;
    for (i = 0; i < a->backends->nelts && i < FCGIX_SB_BACKENDS; i++) {
        const fcgix_def_backend_t *b =
            &APR_ARRAY_IDX(a->backends, i, fcgix_def_backend_t);
        j->addrs[i] = b->addr;
        j->target[i] = b->target;
        j->weights[i] =
            APR_ARRAY_IDX(a->targets, b->target, fcgix_def_target_t).weight;
        j->names |=
            APR_ARRAY_IDX(a->targets, b->target, fcgix_def_target_t).is_name;
    }
    j->n = i;
    j->next_probe = now;
    j->next_resolve = now + apr_time_from_sec(a->resolve);
}

static void prober_loop(fcgix_sb_t *sb, pid_t pm_pid)
{
    for (;;) {
        apr_time_t now = fcgix_clock(), next = now + apr_time_from_sec(1);
        int j;

        if (getppid() != pm_pid) {
            _exit(0);
        }
        for (j = 0; j < njobs; j++) {
            if (jobs[j].names && jobs[j].def->resolve &&
                now >= jobs[j].next_resolve) {
                jobs[j].next_resolve =
                    now + apr_time_from_sec(jobs[j].def->resolve);
                resolve_job(sb, &jobs[j]);
            }
        }
        probe_due(sb, now);
        for (j = 0; j < njobs; j++) {
            if (jobs[j].def->probe && jobs[j].next_probe < next) {
                next = jobs[j].next_probe;
            }
        }
        now = fcgix_clock();
        if (next > now) {
            apr_sleep(next - now);
        }
    }
}

/* In the new process: no descriptor, signal or privilege of the PM. */
static void become_prober(const pm_t *pm)
{
    sigset_t none;

    fcgix_pm_close_fds(-1, -1);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    prctl(PR_SET_NAME, "fcgix-prober");
    if (geteuid() == 0 &&
        (initgroups(pm->cur->user_name, (gid_t)pm->cur->gid) != 0 ||
         setgid((gid_t)pm->cur->gid) != 0 || setuid((uid_t)pm->cur->uid) != 0 ||
         geteuid() == 0)) {
        fcgix_pm_logl(APLOG_ERR, "FCGIX0465: prober: cannot switch to uid %u",
                      pm->cur->uid);
        _exit(1);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* after the identity change */
}

void fcgix_pm_prober_start(pm_t *pm)
{
    pid_t pm_pid = getpid(), pid;
    apr_time_t now = fcgix_clock();
    int i;

    pm->prober_next = 0;
    if (pm->cur == NULL || pm->prober_pid > 0 || !needed(pm)) {
        return;
    }
    pid = fork();
    if (pid < 0) {
        pm->prober_next = now + apr_time_from_sec(PROBER_RESTART_S);
        return;
    }
    if (pid > 0) {
        pm->prober_pid = pid;
        return;
    }
    become_prober(pm);
    if (getppid() != pm_pid) {
        _exit(0);
    }
    jobs = calloc(MAX_JOBS, sizeof(*jobs));
    for (i = 0; jobs && i < FCGIX_SB_CLASSES; i++) {
        if (pm->pub_class[i].state == FCGIX_CLASS_ACTIVE &&
            pm->pub_class[i].kind == FCGIX_APP_EXTERNAL && pm->class[i].def &&
            wanted(pm->class[i].def)) {
            add_job(pm, i, now);
        }
    }
    build_request();
    prober_loop(pm->sb, pm_pid);
}

int fcgix_pm_prober_reaped(pm_t *pm, pid_t pid)
{
    if (pid != pm->prober_pid || pid <= 0) {
        return 0;
    }
    pm->prober_pid = 0;
    pm->prober_next = fcgix_clock() + apr_time_from_sec(PROBER_RESTART_S);
    return 1;
}

void fcgix_pm_prober_tick(pm_t *pm, apr_time_t now)
{
    if (pm->prober_pid == 0 && pm->prober_next && now >= pm->prober_next) {
        fcgix_pm_log("FCGIX0466: the prober ended; starting it again");
        fcgix_pm_prober_start(pm);
    }
}
