/*
 * pm/pm_main.c - fcgix-pm, the process manager: its setup and identity,
 * the control channel, signals, the loop and shutdown.
 *
 * One loop waits on the control channel (definitions from the httpd
 * parent), the doorbell (messages from handlers), a signalfd (SIGCHLD,
 * SIGTERM) and a timer. What it does about each is in the files named in
 * pm_state.h.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pm/pm_spawn.h"
#include "pm/pm_state.h"

#define STOP_GRACE_MS FCGIX_PM_STOP_GRACE_MS /* SIGTERM to SIGKILL */

/* The PM's state: one, in its own process (pm_state.h). */
static pm_t the_pm;

/* ----------------------------------------------------------- identity */

/* A PM kept root for a wrapper does every file-system operation with
 * User's file-system identity (and groups): everything it touches (the
 * IPC dir, socket directories, the files of dynamic applications) is
 * User's to change, so a link put there leads only where User could go
 * anyway. For good, not around each call: a change of the file-system ids
 * clears the parent-death signal. Root stays for what needs it: signalling
 * applications that run as other users, and giving a child its identity
 * before it execs the wrapper. */
static int take_fs_identity(const fcgix_defs_t *d)
{
    if (initgroups(d->user_name, (gid_t)d->gid) != 0) {
        return -1;
    }
    setfsgid((gid_t)d->gid);
    setfsuid((uid_t)d->uid);
    /* an invalid id changes nothing and returns the current one */
    if (setfsgid((gid_t)-1) != (int)d->gid ||
        setfsuid((uid_t)-1) != (int)d->uid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

/* The first definitions decide the PM's identity: it keeps root only to
 * run a wrapper (which needs it to signal applications of other users). */
static int become(pm_t *pm, const fcgix_defs_t *d)
{
    char err[256];
    int replaced;

    pm->privileged = d->wrapper != NULL && geteuid() == 0;
    if (geteuid() == 0 && !pm->privileged &&
        (initgroups(d->user_name, (gid_t)d->gid) != 0 ||
         setgid((gid_t)d->gid) != 0 || setuid((uid_t)d->uid) != 0)) {
        fcgix_pm_logl(APLOG_ERR, "FCGIX0439: cannot switch to uid %u: %s",
                      d->uid, strerror(errno));
        return -1;
    }
    if (pm->privileged && take_fs_identity(d) != 0) {
        fcgix_pm_logl(APLOG_ERR,
                      "FCGIX0443: cannot take uid %u's file-system identity: "
                      "%s",
                      d->uid, strerror(errno));
        return -1;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* after the identity change */
    if (getppid() != (pid_t)pm->parent) {
        return -1;
    }
    if (fcgix_pm_ipc_prepare(d->ipc_dir,
                             pm->privileged ? (uid_t)d->uid : geteuid(),
                             &replaced, err, sizeof(err)) != 0) {
        fcgix_pm_logl(APLOG_ERR, "FCGIX0440: %s", err);
    }
    if (replaced) {
        fcgix_pm_log("FCGIX0442: %s/dynamic was not a directory (a symbolic "
                     "link or a file, which nothing here follows); replaced "
                     "it with one",
                     d->ipc_dir);
    }
    return 0;
}

/* ---------------------------------------------------- control channel */

/* Receives the len bytes of a definitions message into a new pool (*dp); NULL
 * when the channel is gone. */
static char *recv_defs(pm_t *pm, apr_pool_t **dp, apr_uint32_t len)
{
    char *buf;
    ssize_t n;
    size_t got = 0;

    if (len > FCGIX_DEFS_MAX) {
        return NULL;
    }
    apr_pool_create(dp, pm->pool);
    buf = apr_palloc(*dp, len ? len : 1);
    while (got < len) {
        n = recv(pm->ctl_fd, buf + got, len - got, MSG_WAITALL);
        if (n <= 0) {
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

/* Reads one framed definitions message and applies it; 1: answered, -1:
 * channel gone. (The parent writes it whole before waiting.) */
static int read_defs(pm_t *pm)
{
    apr_uint32_t len, ack[2];
    apr_pool_t *dp = NULL;
    char *buf;
    fcgix_defs_t *d;

    if (recv(pm->ctl_fd, &len, sizeof(len), MSG_WAITALL) !=
        (ssize_t)sizeof(len)) {
        return -1;
    }
    if (len == FCGIX_CTL_GEN_ENDS) {
        fcgix_pm_gen_ends(pm, fcgix_clock());
        return 1;
    }
    fcgix_pm_gen_defs(pm);
    if ((buf = recv_defs(pm, &dp, len)) == NULL) {
        return -1;
    }
    d = fcgix_defs_decode(dp, buf, len);
    if (d) {
        fcgix_pm_log_level((int)d->log_level);
    }
    ack[0] = d ? d->generation : 0;
    ack[1] = 1;
    if (d == NULL) {
        fcgix_pm_logl(APLOG_ERR, "FCGIX0433: refused malformed definitions");
    } else if (pm->cur == NULL && become(pm, d) != 0) {
        pm->stopping = 1;
    } else if (pm->cur && (pm->cur->uid != d->uid || pm->cur->gid != d->gid ||
                           (d->wrapper && !pm->privileged) ||
                           strcmp(pm->cur->ipc_dir, d->ipc_dir) != 0)) {
        fcgix_pm_logl(APLOG_NOTICE,
                      "FCGIX0434: User, Group, FastCgiIpcDir or "
                      "FastCgiWrapper changed; a new process manager takes "
                      "over");
    } else {
        fcgix_pm_prober_stop(pm); /* it writes to classes about to change */
        fcgix_pm_apply_defs(pm, d, dp);
        fcgix_pm_publish(pm); /* handlers see the classes before httpd
                                 serves */
        fcgix_pm_prober_start(pm);
        ack[1] = 0;
        dp = NULL;
    }
    if (dp) {
        apr_pool_destroy(dp);
    }
    return send(pm->ctl_fd, ack, sizeof(ack), MSG_NOSIGNAL) == sizeof(ack) ? 1
                                                                           : -1;
}

/* ------------------------------------------------------------ stopping */

static int procs_signal(void *ctx, int sig)
{
    pm_t *pm = ctx;
    int p;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        if (sig == SIGTERM) {
            fcgix_pm_proc_stop(pm, p);
        } else if (pm->pub_proc[p].state != FCGIX_PROC_FREE &&
                   pm->pub_proc[p].pid > 0) {
            kill((pid_t)pm->pub_proc[p].pid, sig);
        }
    }
    return 0;
}

static int procs_gone(void *ctx)
{
    const pm_t *pm = ctx;
    int p;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        if (pm->pub_proc[p].state != FCGIX_PROC_FREE) {
            return 0;
        }
    }
    return 1;
}

static void procs_wait(void *ctx)
{
    fcgix_pm_reap(ctx);
    fcgix_pm_out_pump(10); /* an app that logs as it stops goes on */
}

static void procs_reap_all(void *ctx)
{
    while (!procs_gone(ctx) && waitpid(-1, NULL, 0) > 0) {
        fcgix_pm_reap(ctx);
    }
}

/* SIGTERM to every application, SIGKILL to what is left after the grace
 * period, reap them all, remove our sockets, exit. */
static void shutdown_all(pm_t *pm)
{
    fcgix_stopper_t s = {pm, procs_signal, procs_gone, procs_wait,
                         procs_reap_all};
    int i;

    pm->stopping = 1;
    fcgix_pm_prober_stop(pm);
    fcgix_pm_term_wait_kill(&s, STOP_GRACE_MS);
    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (pm->pub_class[i].state != FCGIX_CLASS_FREE &&
            pm->class[i].sockpath[0]) {
            unlink(pm->class[i].sockpath);
        }
        pm->pub_class[i].state = FCGIX_CLASS_FREE;
    }
    fcgix_pm_publish(pm);
    pm->sb->pm_heartbeat = 0;
    fcgix_pm_out_close_all();
    _exit(0); /* never run httpd's atexit handlers or pool cleanups here */
}

/* The processes of session `sid`, from /proc (not from the scoreboard,
 * which children can write): a dead PM's applications live in its session
 * and nothing else can join it. Sends sig to each; returns how many. */
static int signal_session(pid_t sid, int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        pid_t pid = *end == '\0' && v > 0 ? (pid_t)v : 0;
        if (pid > 1 && pid != getpid() && getsid(pid) == sid) {
            kill(pid, sig);
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

typedef struct {
    pid_t sid;
    int left; /* processes the last signal reached */
} session_t;

static int session_signal(void *ctx, int sig)
{
    session_t *s = ctx;

    s->left = signal_session(s->sid, sig);
    return s->left;
}

static int session_gone(void *ctx)
{
    return ((session_t *)ctx)->left == 0;
}

/* While any is left: SIGTERM again (one that started meanwhile too). */
static void session_wait(void *ctx)
{
    apr_sleep(apr_time_from_msec(20));
    session_signal(ctx, SIGTERM);
}

/* A PM that died left its applications behind: stop them (SIGTERM, then
 * SIGKILL after the grace period) before starting anew. */
static void clean_previous(pid_t old_sid)
{
    session_t ses = {old_sid, 0};
    fcgix_stopper_t s = {&ses, session_signal, session_gone, session_wait,
                         NULL};

    if (old_sid > 1) {
        fcgix_pm_term_wait_kill(&s, STOP_GRACE_MS);
    }
}

/* ---------------------------------------------------------------- loop */

static void on_signals(pm_t *pm)
{
    struct signalfd_siginfo si;

    while (read(pm->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            fcgix_pm_reap(pm);
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            pm->stopping = 1;
        }
    }
}

static void tick(pm_t *pm, apr_time_t now)
{
    pm->sb->pm_heartbeat = (apr_uint32_t)apr_time_sec(now);
    fcgix_pm_out_tick(now);
    fcgix_pm_bell_log_tick(pm, now);
    if (getppid() != (pid_t)pm->parent) {
        pm->stopping = 1; /* the httpd parent is gone */
        return;
    }
    fcgix_pm_gen_tick(pm, now);
    if (pm->cur == NULL) {
        return;
    }
    fcgix_pm_settle_verdicts(pm, now);
    fcgix_pm_failing_tick(pm);
    fcgix_pm_drain_tick(pm, now);
    fcgix_pm_kept_tick(pm, now);
    fcgix_pm_prober_tick(pm, now);
    fcgix_pm_dynamic_policy(pm, now);
    fcgix_pm_watch_tick(pm, now);
    fcgix_pm_kill_stuck(pm, now);
    fcgix_pm_check_sockets(pm);
    fcgix_pm_start_due(pm, now);
}

/* One pass of the PM's loop: wait for the control channel, the doorbell
 * (once there are definitions), signals, the applications' output or the
 * timer; handle a bounded amount of each; run the timer work. */
static void loop_pass(pm_t *pm)
{
    static struct pollfd pfd[3 + FCGIX_OUT_PIPES];
    int nout, n;

    pfd[0] = (struct pollfd){pm->sig_fd, POLLIN, 0};
    pfd[1] = (struct pollfd){pm->ctl_fd, POLLIN, 0};
    pfd[2] = (struct pollfd){pm->cur ? pm->bell_fd : -1, POLLIN, 0};
    nout = fcgix_pm_out_poll(pfd + 3, FCGIX_OUT_PIPES);
    n = poll(pfd, (nfds_t)nout + 3,
             pm->verdicts_pending ? FCGIX_PM_VERDICT_POLL_MS
                                  : FCGIX_PM_TICK_MS);
    if (n > 0 && nout > 0) {
        fcgix_pm_out_read(pfd + 3, nout);
    }
    if (n > 0 && pfd[0].revents) {
        on_signals(pm);
    }
    if (n > 0 && pfd[1].revents && read_defs(pm) < 0) {
        pm->stopping = 1;
    }
    if (n > 0 && pm->cur && pfd[2].revents) {
        fcgix_pm_read_bells(pm);
    }
    tick(pm, fcgix_clock());
    fcgix_pm_publish(pm);
}

/* ----------------------------------------------------------- lifecycle */

/* Signals come through a signalfd; httpd's process-group signals are not
 * for the PM's applications. */
static int block_signals(void)
{
    sigset_t mask;

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGWINCH);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

void fcgix_pm_main(int ctl, int bell, fcgix_sb_t *sbp, apr_uint32_t ppid,
                   apr_uint32_t old_pm, server_rec *s)
{
    pm_t *pm = &the_pm;

    /* Everything else the parent held (listeners, logs but stderr) goes. */
    fcgix_pm_close_fds(ctl, bell);
    pm->ctl_fd = ctl;
    pm->bell_fd = bell;
    fcgix_pm_out_init();
    setsid(); /* httpd's process-group signals are not for the apps */
    prctl(PR_SET_NAME, "fcgix-pm");
    pm->sig_fd = block_signals();
    apr_pool_create(&pm->pool, NULL);
    pm->sb = sbp;
    pm->parent = ppid;
    clean_previous((pid_t)old_pm);
    fcgix_pm_publish(pm);
    pm->sb->pm_heartbeat = (apr_uint32_t)apr_time_sec(fcgix_clock());
    while (!pm->stopping) {
        loop_pass(pm);
    }
    shutdown_all(pm);
}
