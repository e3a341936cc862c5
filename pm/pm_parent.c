/*
 * pm/pm_parent.c - the httpd parent's side of the process manager.
 *
 * What must survive a graceful restart (the scoreboard, the doorbell, the
 * PM's pid and control channel) lives in process-pool userdata: httpd
 * unloads and reloads this DSO on every restart, so its statics do not
 * survive, and no function pointer into it may be left in the process
 * pool (only plain data is kept there).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pm/pm_int.h"
#include "pm/pm_spawn.h"

#include "http_core.h"
#include "http_log.h"
#include "mpm_common.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "unixd.h"

APLOG_USE_MODULE(fcgix);

#define USERDATA_KEY "fcgix-pm-state"
#define ACK_TIMEOUT_MS 30000
#define STOP_WAIT_MS 10000

#define STATE_MAGIC 0x53584346u /* "FCXS" */

static fcgix_pm_state_t *state; /* this generation's view of the state */
static const char *defs;        /* this generation's definitions */
static apr_size_t defs_len;
static apr_proc_t pm_proc; /* for apr_proc_other_child_* */
static server_rec *main_server;
static apr_pool_t *gen_pool; /* pconf */

fcgix_pm_state_t *fcgix_pm_parent_state(void)
{
    return state;
}

/* The httpd children the MPM reported started and not yet reaped (the
 * child_status hook), kept in the parent's own memory: any child can write
 * any pid into the scoreboard, so whether an entry belongs to a live httpd
 * child is decided here, not by kill(pid, 0), which a forged entry with the
 * parent's pid, pid 1 or -1 passes for ever. Process-pool userdata, as the
 * state: the DSO's statics do not survive a restart. */
#define KIDS_KEY "fcgix-pm-kids-1"

typedef struct {
    int n;
    int overflow; /* one did not fit: no entry is taken for unowned */
    pid_t pid[FCGIX_SB_CHILDREN];
} kids_t;

static kids_t *kids_of(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    void *v = NULL;

    apr_pool_userdata_get(&v, KIDS_KEY, pp);
    if (v == NULL) {
        v = apr_pcalloc(pp, sizeof(kids_t));
        apr_pool_userdata_set(v, KIDS_KEY, NULL, pp);
    }
    return v;
}

static int pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

    return (x > y) - (x < y);
}

/* Frees the entries whose pid is no live httpd child's: one a child left
 * when its reaping was not reported, and any a child wrote with another
 * pid. Returns the KiB they held. Children started before this build was
 * loaded (an upgrade at a graceful restart) are unknown: their counts may
 * go early, which only lets the total pass the limit by what they held. */
static apr_uint32_t release_unowned(kids_t *k)
{
    pid_t sorted[FCGIX_SB_CHILDREN];
    apr_uint32_t left = 0;
    int i;

    if (k->overflow) {
        return 0;
    }
    memcpy(sorted, k->pid, sizeof(pid_t) * (size_t)k->n);
    qsort(sorted, (size_t)k->n, sizeof(pid_t), pid_cmp);
    for (i = 0; i < FCGIX_SB_CHILDREN; i++) {
        apr_uint32_t v = apr_atomic_read32(&state->sb->spool[i].pid);
        pid_t pid = (pid_t)v;
        if (v != 0 && bsearch(&pid, sorted, (size_t)k->n, sizeof(pid_t),
                              pid_cmp) == NULL) {
            left += fcgix_sb_spool_release(state->sb, v);
        }
    }
    return left;
}

void fcgix_pm_child_started(server_rec *s, pid_t pid)
{
    kids_t *k;

    if (state == NULL || getpid() != state->parent_pid) {
        return;
    }
    k = kids_of(s);
    if (k->n < FCGIX_SB_CHILDREN) {
        k->pid[k->n++] = pid;
    } else {
        k->overflow = 1;
    }
}

/* The MPM reports every child it reaps, with its pid, also one that had
 * lost its scoreboard slot, so no entry outlives its child. Entries no
 * live child owns are freed along (release_unowned). */
void fcgix_pm_child_exited(server_rec *s, pid_t pid)
{
    apr_uint32_t left, other;
    kids_t *k;
    int i;

    if (state == NULL || getpid() != state->parent_pid) {
        return;
    }
    k = kids_of(s);
    for (i = 0; i < k->n; i++) {
        if (k->pid[i] == pid) {
            k->pid[i] = k->pid[--k->n];
            break;
        }
    }
    left = fcgix_sb_spool_release(state->sb, (apr_uint32_t)pid);
    other = release_unowned(k);
    if (left) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "FCGIX0125: httpd child %ld ended holding %u KiB of "
                     "spooled request bodies: given back",
                     (long)pid, left);
    }
    if (other) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "FCGIX0140: %u KiB of spooled request bodies were "
                     "counted for processes that are no httpd child: "
                     "given back (did a child write the scoreboard?)",
                     other);
    }
}

/* Parent, from the MPM's monitor hook (every few seconds): a server whose
 * children never exit frees unowned entries too. */
void fcgix_pm_monitor(server_rec *s)
{
    apr_uint32_t other;

    if (state == NULL || getpid() != state->parent_pid) {
        return;
    }
    if ((other = release_unowned(kids_of(s))) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "FCGIX0141: %u KiB of spooled request bodies were "
                     "counted for processes that are no httpd child: "
                     "given back (did a child write the scoreboard?)",
                     other);
    }
}

/* ---------------------------------------------------------- control */

/* Moves len bytes over the control channel within ACK_TIMEOUT_MS: the PM
 * answers at once unless it is stuck, and a stuck PM is replaced. */
static int xfer(int fd, const char *out, char *in, apr_size_t len)
{
    apr_time_t deadline = fcgix_clock() + apr_time_from_msec(ACK_TIMEOUT_MS);

    while (len) {
        struct pollfd pfd = {fd, (short)(out ? POLLOUT : POLLIN), 0};
        int ms = (int)apr_time_as_msec(deadline - fcgix_clock());
        ssize_t n;
        if (ms <= 0 || poll(&pfd, 1, ms) <= 0) {
            return -1;
        }
        n = out ? send(fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                : recv(fd, in, len, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        if (out) {
            out += n;
        } else {
            in += n;
        }
        len -= (apr_size_t)n;
    }
    return 0;
}

/* Sends the definitions and waits until the PM says every static
 * application's socket exists. */
static apr_status_t send_defs(void)
{
    apr_uint32_t hdr = (apr_uint32_t)defs_len, ack[2];

    if (xfer(state->ctl, (const char *)&hdr, NULL, sizeof(hdr)) != 0 ||
        xfer(state->ctl, defs, NULL, defs_len) != 0 ||
        xfer(state->ctl, NULL, (char *)ack, sizeof(ack)) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, main_server,
                     "FCGIX0401: the process manager (pid %ld) did not take "
                     "the configuration",
                     (long)state->pm_pid);
        return APR_EGENERAL;
    }
    if (ack[0] != state->generation || ack[1] != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, main_server,
                     "FCGIX0402: the process manager refused configuration "
                     "generation %u (see the lines before)",
                     state->generation);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------- lifecycle */

static void pm_maintenance(int reason, void *data, apr_wait_t status);

static void watch_pm(void)
{
    pm_proc.pid = state->pm_pid;
    apr_proc_other_child_register(&pm_proc, pm_maintenance, &pm_proc, NULL,
                                  gen_pool);
}

static apr_status_t start_pm(void)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return errno;
    }
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return errno;
    }
    if (pid == 0) {
        close(sv[0]);
        close(state->bell_w);
        fcgix_pm_main(sv[1], state->bell_r, state->sb,
                      (apr_uint32_t)state->parent_pid,
                      (apr_uint32_t)state->dead_pm, main_server);
    }
    close(sv[1]);
    state->ctl = sv[0];
    state->pm_pid = pid;
    state->dead_pm = 0;
    state->sb->pm_pid = (apr_uint32_t)pid;
    apr_atomic_inc32(&state->sb->pm_starts);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, main_server,
                 "FCGIX0403: process manager started, pid %ld", (long)pid);
    return send_defs();
}

static int pm_signal(void *ctx, int sig)
{
    return kill(*(pid_t *)ctx, sig);
}

static int pm_gone(void *ctx)
{
    int status;

    return waitpid(*(pid_t *)ctx, &status, WNOHANG) != 0;
}

static void pm_wait(void *ctx)
{
    apr_sleep(apr_time_from_msec(10));
}

static void pm_reap(void *ctx)
{
    int status;

    waitpid(*(pid_t *)ctx, &status, 0);
}

/* Whether pid is still an unreaped child of this process: a PM that left
 * on its own (pm_gen.c) was reaped by the MPM, and its pid may be
 * another process's by now, which must never get our signals. A zombie is
 * reaped here. */
static int pm_is_ours(pid_t pid)
{
    int status;

    return pid > 0 && waitpid(pid, &status, WNOHANG) == 0;
}

/* SIGTERM to a PM, which stops every application (SIGTERM, then SIGKILL
 * within its own bound); SIGKILL for the PM after ours. Reaps it. */
static void end_pm(pid_t pid)
{
    fcgix_stopper_t s = {&pid, pm_signal, pm_gone, pm_wait, pm_reap};

    if (pm_is_ours(pid)) {
        fcgix_pm_term_wait_kill(&s, STOP_WAIT_MS);
    }
}

/* Stops the PM and, through it, every application. */
static void stop_pm(void)
{
    if (state->pm_pid <= 0) {
        return;
    }
    end_pm(state->pm_pid);
    if (state->ctl >= 0) {
        close(state->ctl);
        state->ctl = -1;
    }
    state->pm_pid = 0;
    state->sb->pm_pid = 0;
}

/* The PM ended without us: its channel goes, its applications are the
 * next PM's to stop (clean_previous). */
static void pm_ended(void)
{
    if (state->ctl >= 0) {
        close(state->ctl);
        state->ctl = -1;
    }
    state->dead_pm = state->pm_pid;
    state->pm_pid = 0;
    state->sb->pm_pid = 0;
}

static void pm_maintenance(int reason, void *data, apr_wait_t status)
{
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) {
        return;
    }
    apr_proc_other_child_unregister(data);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                 "FCGIX0404: the process manager (pid %ld) died; starting "
                 "a new one",
                 (long)state->pm_pid);
    pm_ended();
    if (start_pm() == APR_SUCCESS) {
        watch_pm();
    }
}

/* The end of this configuration generation, in the parent, while this
 * DSO is still loaded (the cleanup was registered after mod_so's). At
 * httpd's exit and at a hard restart, stop the PM: every application is
 * gone when apache2 has exited, and a hard restart ends them anyway, also
 * when the next configuration no longer loads mod_fcgix. At a graceful
 * restart, tell the PM: if no definitions follow, the module is gone and
 * the PM leaves with its applications (pm_gen.c). */
static apr_status_t pm_gen_cleanup(void *data)
{
    apr_uint32_t hdr = FCGIX_CTL_GEN_ENDS;

    if (state == NULL || getpid() != state->parent_pid) {
        return APR_SUCCESS;
    }
    /* the MPM has set was_graceful for the restart under way */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING ||
        !ap_unixd_mpm_get_retained_data()->was_graceful) {
        stop_pm();
    } else if (state->pm_pid > 0 && state->ctl >= 0 &&
               send(state->ctl, &hdr, sizeof(hdr),
                    MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(hdr)) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, main_server,
                     "the process manager was not told that the "
                     "configuration generation ends");
    }
    return APR_SUCCESS;
}

/* Whether the PM's end of the control channel is closed: a PM that left
 * closed it, and its pid, reaped by the MPM, may be another child of ours
 * by now (which pm_is_ours cannot tell apart). A live PM never closes it
 * and sends nothing unasked. */
static int ctl_closed(void)
{
    struct pollfd p = {state->ctl, POLLIN, 0};
    char c;

    return state->ctl < 0 ||
           (poll(&p, 1, 0) > 0 &&
            recv(state->ctl, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0);
}

/* A PM that is no longer there when a generation with mod_fcgix begins:
 * it left when a configuration without the module ran (pm_gen.c), or it
 * died while no generation watched it. Its applications are stopped by
 * the next PM (clean_previous). */
static void forget_gone_pm(server_rec *s)
{
    if (state->pm_pid <= 0 || (pm_is_ours(state->pm_pid) && !ctl_closed())) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "FCGIX0408: the process manager (pid %ld) had ended "
                 "(mod_fcgix was not loaded for a while); starting a new one",
                 (long)state->pm_pid);
    pm_ended();
}

static apr_status_t create_state(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm;
    int bell[2];

    state = apr_pcalloc(pp, sizeof(*state));
    state->magic = STATE_MAGIC;
    state->abi = FCGIX_ABI_VERSION;
    if (apr_shm_create(&shm, sizeof(fcgix_sb_t), NULL, pp) != APR_SUCCESS ||
        pipe2(bell, O_CLOEXEC | O_NONBLOCK) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "FCGIX0405: cannot create the scoreboard or doorbell");
        return APR_EGENERAL;
    }
    state->shm = shm;
    state->sb = apr_shm_baseaddr_get(shm);
    memset(state->sb, 0, sizeof(*state->sb));
    state->sb->magic = FCGIX_SB_MAGIC;
    state->sb->layout = FCGIX_SB_LAYOUT;
    state->sb->size = (apr_uint32_t)sizeof(fcgix_sb_t);
    state->bell_r = bell[0];
    state->bell_w = bell[1];
    state->ctl = -1;
    state->parent_pid = getpid();
    apr_pool_userdata_set(state, USERDATA_KEY, NULL, pp);
    return APR_SUCCESS;
}

/* The state a graceful restart found was made by a build of the module with
 * another interface to its PM (the module was upgraded or downgraded in
 * place): that PM cannot be adopted. Stop it, which stops its applications,
 * and free what the parent holds of the old state, reading only the frozen
 * prefix. The old generation's children, still finishing requests, keep
 * their own mapping of the old scoreboard; requests they have in flight to
 * the old applications may fail, as at a hard restart. */
static void drop_foreign_state(fcgix_pm_state_t *old, server_rec *s)
{
    if (old->magic != STATE_MAGIC) { /* nothing of it can be trusted */
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     "FCGIX0407: unrecognised process-manager state from an "
                     "earlier load of mod_fcgix: left alone");
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "FCGIX0406: mod_fcgix was replaced by a build with another "
                 "process-manager interface (%#x, now %#x): stopping the "
                 "old process manager (pid %ld) and its applications",
                 old->abi, FCGIX_ABI_VERSION, (long)old->pm_pid);
    if (old->pm_pid > 0) {
        end_pm(old->pm_pid);
    }
    if (old->ctl >= 0) {
        close(old->ctl);
    }
    if (old->bell_r >= 0) {
        close(old->bell_r);
    }
    if (old->bell_w >= 0) {
        close(old->bell_w);
    }
    if (old->shm) {
        apr_shm_destroy(old->shm);
    }
    old->magic = 0;
}

/* This generation's definitions, from the module's configuration. */
static const char *encode_defs(apr_pool_t *pconf, const fcgix_globals_t *g)
{
    fcgix_defs_src_t src;

    src.generation = state->generation;
    src.ipc_dir = g->ipc_dir;
    src.wrapper = g->wrapper;
    src.wrapper_is_suexec = g->wrapper && strcmp(g->wrapper, SUEXEC_BIN) == 0;
    src.uid = (apr_uint32_t)ap_unixd_config.user_id;
    src.gid = (apr_uint32_t)ap_unixd_config.group_id;
    src.user_name = ap_unixd_config.user_name;
    src.group_name = ap_unixd_config.group_name;
    src.log_level =
        ap_get_server_module_loglevel(main_server, APLOG_MODULE_INDEX);
    src.dynamic = &g->dynamic;
    src.apps = g->apps;
    return fcgix_defs_encode(pconf, &src, &defs_len);
}

/* One-process mode (apache2 -X): the one process is the parent and the
 * only child, so it runs every request's code while it holds the PM's
 * control channel and doorbell. A PM that keeps root (for FastCgiWrapper)
 * must not be reachable from there: none is started. */
static int no_root_pm_here(server_rec *s, const fcgix_globals_t *conf)
{
    if (!conf->wrapper || !(ap_exists_config_define("ONE_PROCESS") ||
                            ap_exists_config_define("DEBUG"))) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 "FCGIX0409: FastCgiWrapper is not available in one-process "
                 "mode (apache2 -X): no process manager is started, and "
                 "FastCgiServer and dynamic applications get 503");
    return 1;
}

apr_status_t fcgix_pm_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                  server_rec *s, const fcgix_globals_t *conf)
{
    void *data = NULL;
    int graceful;

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS; /* the pre-flight pass: no processes yet */
    }
    main_server = s;
    gen_pool = pconf;
    apr_pool_userdata_get(&data, USERDATA_KEY, s->process->pool);
    state = data;
    if (state != NULL &&
        (state->magic != STATE_MAGIC || state->abi != FCGIX_ABI_VERSION)) {
        drop_foreign_state(state, s);
        state = NULL;
    }
    if (state == NULL && create_state(s) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    state->generation++;
    defs = encode_defs(pconf, conf);
    graceful = ap_unixd_mpm_get_retained_data()->was_graceful;
    forget_gone_pm(s);
    if (state->pm_pid > 0 && (!graceful || send_defs() != APR_SUCCESS)) {
        stop_pm(); /* a hard restart ends every application */
    }
    if (state->pm_pid <= 0 && no_root_pm_here(s, conf)) {
        return APR_SUCCESS;
    }
    if (state->pm_pid <= 0 && start_pm() != APR_SUCCESS) {
        stop_pm();
        return APR_EGENERAL;
    }
    watch_pm();
    apr_pool_cleanup_register(pconf, NULL, pm_gen_cleanup,
                              apr_pool_cleanup_null);
    return APR_SUCCESS;
}
