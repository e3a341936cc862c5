/*
 * pm/pm_log.c - the process manager's error-log lines, and its
 * applications' stdout and stderr (see pm_log.h).
 *
 * An application's fds 1 and 2 used to be httpd's main error log itself:
 * any app (under a wrapper, another user's) could truncate it, seek in it or
 * write lines that pass for httpd's own. Now each process writes into a pipe
 * of its own and only the PM writes the log. A pipe per process, not per
 * class: its lines carry the pid, the lines of two processes never mix, and
 * one process's flood uses up its own budget first. It costs one descriptor
 * per process, within the PM's table of FCGIX_OUT_PIPES.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pm/pm_log.h"
#include "proto/fcgix_proto.h"

#include "apr_strings.h"

#define OUT_READ_MAX 16384 /* bytes read from one pipe per loop pass */
#define LINE_CUT " [line cut]"
/* The longest message: a tag, an application path, a pid, one line. */
#define MSG_MAX (FCGIX_SB_PATH + FCGIX_OUT_LINE_MAX + 128)

/* mod_fcgix's LogLevel, from the definitions (fcgix_pm_log_level). */
static int max_level = APLOG_WARNING;

void fcgix_pm_log_level(int level)
{
    max_level = level;
}

static const char *level_name(int level)
{
    static const char *const names[] = {"emerg", "alert",  "crit", "error",
                                        "warn",  "notice", "info", "debug"};

    return level >= 0 && level <= APLOG_DEBUG ? names[level] : "trace";
}

/* Writes msg[0..len) as one line, escaped, in one write(): the PM's
 * stderr is the error log, opened for appending by httpd. As httpd does,
 * a line above LogLevel is dropped, and notices never are. */
static void emit(int level, const char *msg, size_t len)
{
    char esc[MSG_MAX * 4 + 1];
    char line[sizeof(esc) + 128];
    char ts[APR_CTIME_LEN];
    int n;

    if (level != APLOG_NOTICE && level > max_level) {
        return;
    }
    apr_ctime(ts, apr_time_now());
    fcgix_log_escape(esc, sizeof(esc), (const unsigned char *)msg,
                     len < MSG_MAX ? len : MSG_MAX);
    n = snprintf(line, sizeof(line), "[%s] [fcgix:%s] [pid %ld] %s\n", ts,
                 level_name(level), (long)getpid(), esc);
    if (n > 0 && (size_t)n < sizeof(line) && write(2, line, (size_t)n) < 0) {
        return; /* nowhere else to say it */
    }
}

void fcgix_pm_vlog(int level, const char *fmt, va_list ap)
{
    char buf[MSG_MAX];

    apr_vsnprintf(buf, sizeof(buf), fmt, ap);
    emit(level, buf, strlen(buf));
}

void fcgix_pm_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fcgix_pm_vlog(APLOG_WARNING, fmt, ap);
    va_end(ap);
}

void fcgix_pm_logl(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fcgix_pm_vlog(level, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------ applications' output */

typedef struct {
    int fd;           /* the read end; -1: a free slot */
    pid_t pid;        /* 0 until the process started */
    apr_time_t ended; /* when it was reaped; 0 while it runs */
    char *line;       /* FCGIX_OUT_LINE_MAX bytes being collected, */
    char *path;       /* then the application's path (one allocation) */
    size_t len;
    int skip;                      /* the rest of a cut line is not logged */
    unsigned long logged, dropped; /* bytes in this interval */
} out_t;

static out_t *outs; /* FCGIX_OUT_PIPES, allocated in the PM at first use */
static int polled[FCGIX_OUT_PIPES]; /* slot of each pollfd filled */
static apr_time_t interval_end;
static unsigned long all_logged; /* by every process in this interval */

static void say_dropped(const out_t *o)
{
    fcgix_pm_log(
        "FCGIX0303: %s (pid %ld): %lu bytes of its stdout/stderr not "
        "logged in the last %d s (limits: lines of %d bytes, %d bytes per "
        "process and %d for all applications per %d s)",
        o->path, (long)o->pid, o->dropped, FCGIX_OUT_INTERVAL_S,
        FCGIX_OUT_LINE_MAX, FCGIX_OUT_PROC_BUDGET, FCGIX_OUT_ALL_BUDGET,
        FCGIX_OUT_INTERVAL_S);
}

/* One line of output, within the budgets. As for FCGI_STDERR, the line
 * that crosses a budget is still logged whole: the bound is the budget
 * plus one line. */
static void line_out(out_t *o, size_t len, int cut)
{
    char msg[MSG_MAX];
    int n;

    if (len && o->line[len - 1] == '\r') {
        len--;
    }
    if (o->logged >= FCGIX_OUT_PROC_BUDGET ||
        all_logged >= FCGIX_OUT_ALL_BUDGET) {
        o->dropped += len + 1;
        return;
    }
    o->logged += len + 1;
    all_logged += len + 1;
    /* the line's bytes are copied, not formatted: a NUL in them is kept
     * (and escaped) instead of ending the line */
    n = snprintf(msg, sizeof(msg), "FCGIX0302: %s (pid %ld): ", o->path,
                 (long)o->pid);
    if (n < 0 || (size_t)n + len + sizeof(LINE_CUT) > sizeof(msg)) {
        return; /* cannot be: the path and the line are bounded */
    }
    memcpy(msg + n, o->line, len);
    memcpy(msg + (size_t)n + len, LINE_CUT, cut ? sizeof(LINE_CUT) - 1 : 0);
    emit(APLOG_WARNING, msg,
         (size_t)n + len + (cut ? sizeof(LINE_CUT) - 1 : 0));
}

/* Splits output into lines; a line longer than FCGIX_OUT_LINE_MAX is
 * logged cut, and the rest of it only counted. */
static void take(out_t *o, const char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\n') {
            if (!o->skip) {
                line_out(o, o->len, 0);
            }
            o->len = 0;
            o->skip = 0;
        } else if (o->skip) {
            o->dropped++;
        } else if (o->len < FCGIX_OUT_LINE_MAX) {
            o->line[o->len++] = p[i];
        } else {
            line_out(o, o->len, 1);
            o->len = 0;
            o->skip = 1;
            o->dropped++;
        }
    }
}

static void out_close(int i)
{
    out_t *o = &outs[i];

    if (o->len && !o->skip) {
        line_out(o, o->len, 0); /* the last line had no newline */
    }
    if (o->dropped) {
        say_dropped(o);
    }
    close(o->fd);
    free(o->line);
    memset(o, 0, sizeof(*o));
    o->fd = -1;
}

/* A free slot, or the one of the process that ended first (its pipe is
 * then closed: whatever it left running gets EPIPE). -1: none. */
static int out_slot(void)
{
    int i, oldest = -1;

    if (outs == NULL) {
        outs = calloc(FCGIX_OUT_PIPES, sizeof(*outs));
        for (i = 0; outs && i < FCGIX_OUT_PIPES; i++) {
            outs[i].fd = -1;
        }
    }
    for (i = 0; outs && i < FCGIX_OUT_PIPES; i++) {
        if (outs[i].fd < 0) {
            return i;
        }
        if (outs[i].ended &&
            (oldest < 0 || outs[i].ended < outs[oldest].ended)) {
            oldest = i;
        }
    }
    if (oldest >= 0) {
        out_close(oldest);
    }
    return oldest;
}

/* Descriptors kept free of pipes: one listen socket per class, and the
 * PM's own (control, doorbell, signalfd, /proc reads, a spawn's). An app
 * whose leftovers hold their pipes open must not leave the PM unable to
 * create a socket. */
#define FD_RESERVE (FCGIX_SB_CLASSES + 64)

static struct rlimit app_nofile; /* what applications get */
static rlim_t pipe_fd_ceiling = (rlim_t)-1;

void fcgix_pm_out_init(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    app_nofile = rl;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || getrlimit(RLIMIT_NOFILE, &rl)) {
        rl = app_nofile;
    }
    pipe_fd_ceiling = rl.rlim_cur > FD_RESERVE ? rl.rlim_cur - FD_RESERVE : 0;
    if (rl.rlim_cur < FCGIX_OUT_PIPES * 2 + FD_RESERVE) {
        fcgix_pm_log("FCGIX0307: only %lu open files allowed (ulimit -n): with "
                     "many application processes, some get /dev/null for their "
                     "stdout and stderr",
                     (unsigned long)rl.rlim_cur);
    }
}

void fcgix_pm_out_app_limit(void)
{
    if (app_nofile.rlim_cur) {
        setrlimit(RLIMIT_NOFILE, &app_nofile);
    }
}

/* The process gets /dev/null instead of a pipe: one line says why. */
static int no_pipe(const char *path, const char *why, const int *p)
{
    if (p) {
        close(p[0]);
        close(p[1]);
    }
    fcgix_pm_log(
        "FCGIX0305: %s: no pipe for its stdout and stderr (%s); they go to "
        "/dev/null",
        path, why);
    return -1;
}

int fcgix_pm_out_open(const char *path, int *slot)
{
    size_t plen = strlen(path) + 1;
    int i = out_slot(), p[2];
    char *buf;

    *slot = -1;
    if (i < 0) {
        fcgix_pm_log("FCGIX0304: %s: no pipe for its stdout and stderr (%d in "
                     "use); they go to /dev/null",
                     path, FCGIX_OUT_PIPES);
        return -1;
    }
    /* The app's end blocks, as a log file would; the PM's never does. */
    if (pipe2(p, O_CLOEXEC) != 0) {
        return no_pipe(path, strerror(errno), NULL);
    }
    if ((rlim_t)p[0] >= pipe_fd_ceiling || (rlim_t)p[1] >= pipe_fd_ceiling) {
        return no_pipe(path, "the open files left are kept for listen sockets",
                       p);
    }
    buf = malloc(FCGIX_OUT_LINE_MAX + plen);
    if (buf == NULL || fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
        free(buf);
        return no_pipe(path, "cannot set it up", p);
    }
    memset(&outs[i], 0, sizeof(outs[i]));
    outs[i].fd = p[0];
    outs[i].line = buf;
    outs[i].path = buf + FCGIX_OUT_LINE_MAX;
    memcpy(outs[i].path, path, plen);
    *slot = i;
    return p[1];
}

void fcgix_pm_out_started(int slot, pid_t pid)
{
    if (slot < 0 || outs == NULL || outs[slot].fd < 0) {
        return;
    }
    if (pid <= 0) {
        out_close(slot);
        return;
    }
    outs[slot].pid = pid;
}

void fcgix_pm_out_reaped(pid_t pid)
{
    int i;

    for (i = 0; outs && i < FCGIX_OUT_PIPES; i++) {
        if (outs[i].fd >= 0 && outs[i].pid == pid && !outs[i].ended) {
            outs[i].ended = fcgix_clock();
            return;
        }
    }
}

int fcgix_pm_out_poll(struct pollfd *pfd, int max)
{
    int i, n = 0;

    for (i = 0; outs && i < FCGIX_OUT_PIPES && n < max; i++) {
        if (outs[i].fd >= 0) {
            pfd[n].fd = outs[i].fd;
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            polled[n++] = i;
        }
    }
    return n;
}

/* One bounded read: a process that writes without pause gets no more of
 * the loop's pass than this, and the rest waits in its pipe (the process
 * blocks on a full one). */
static void out_read_one(int i)
{
    char buf[OUT_READ_MAX];
    ssize_t n = read(outs[i].fd, buf, sizeof(buf));

    if (n > 0) {
        take(&outs[i], buf, (size_t)n);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_close(i); /* every writer is gone */
    }
}

void fcgix_pm_out_read(const struct pollfd *pfd, int n)
{
    int k;

    for (k = 0; k < n; k++) {
        int i = polled[k];
        if (pfd[k].revents && outs[i].fd == pfd[k].fd) {
            out_read_one(i);
        }
    }
}

void fcgix_pm_out_tick(apr_time_t now)
{
    int i;

    if (now < interval_end) {
        return;
    }
    for (i = 0; outs && i < FCGIX_OUT_PIPES; i++) {
        if (outs[i].fd >= 0 && outs[i].dropped) {
            say_dropped(&outs[i]);
        }
        if (outs[i].fd >= 0) {
            outs[i].logged = outs[i].dropped = 0;
        }
    }
    all_logged = 0;
    interval_end = now + apr_time_from_sec(FCGIX_OUT_INTERVAL_S);
}

void fcgix_pm_out_pump(int ms)
{
    static struct pollfd pfd[FCGIX_OUT_PIPES];
    int n = fcgix_pm_out_poll(pfd, FCGIX_OUT_PIPES);

    if (n == 0) {
        apr_sleep(apr_time_from_msec(ms));
        return;
    }
    if (poll(pfd, (nfds_t)n, ms) > 0) {
        fcgix_pm_out_read(pfd, n);
    }
    fcgix_pm_out_tick(fcgix_clock());
}

void fcgix_pm_out_close_all(void)
{
    int i;

    for (i = 0; outs && i < FCGIX_OUT_PIPES; i++) {
        if (outs[i].fd >= 0) {
            out_read_one(i); /* what the stopped app wrote last */
        }
        if (outs[i].fd >= 0) {
            out_close(i);
        }
    }
}
