/*
 * pm/pm_log.h - what the process manager writes to httpd's error log: its
 * own lines, and what its applications write to their stdout and stderr.
 *
 * Both carry text others choose (a path a doorbell message names, an app's
 * output), so every line is written escaped (control bytes, bytes above
 * 0x7e and '\\' as in fcgix_log_escape) in one write() to the PM's stderr,
 * which is the main error log: nothing can start a line of its own.
 */
#ifndef FCGIX_PM_LOG_H
#define FCGIX_PM_LOG_H

#include <poll.h>
#include <stdarg.h>
#include <sys/types.h>

#include "pm/pm_int.h"

#include "http_log.h"

/* One log line of the PM at an APLOG_* level: "[time] [fcgix:LEVEL] [pid
 * N] " and the message, escaped; dropped above mod_fcgix's LogLevel,
 * except notices (as httpd does). */
void fcgix_pm_vlog(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void fcgix_pm_logl(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* At warn. */
void fcgix_pm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The level the lines must reach (the definitions' LogLevel). */
void fcgix_pm_log_level(int level);

/* ---- the applications' stdout and stderr ---------------------------
 *
 * Every process gets a pipe of its own as fds 1 and 2, whose read end the
 * PM holds (non-blocking) and reads in its loop: a bounded amount per pipe
 * and pass, logged a line at a time with the app's path and pid, cut at
 * FCGIX_OUT_LINE_MAX, and within a byte budget per interval (per process
 * and for all of them); what is over it is counted in one line. */
#define FCGIX_OUT_LINE_MAX 1024     /* bytes of one logged line */
#define FCGIX_OUT_INTERVAL_S 10     /* the budgets' interval */
#define FCGIX_OUT_PROC_BUDGET 16384 /* bytes one process may log in it */
#define FCGIX_OUT_ALL_BUDGET 65536  /* bytes all processes may log in it */
/* Pipes at most: one per process, and a few of processes that ended while
 * something they started still holds the write end. */
#define FCGIX_OUT_PIPES (FCGIX_SB_PROCS + 64)

/* At PM start: raises the soft limit of open files to the hard one, so that
 * every pipe and listen socket fits, and keeps the descriptors a pipe may
 * take below what listen sockets and the PM's own need. The original limit
 * is what applications get (fcgix_pm_out_app_limit). */
void fcgix_pm_out_init(void);
/* In a child about to exec an application: the open-file limit it had
 * before the PM raised its own. */
void fcgix_pm_out_app_limit(void);

/* A pipe for a process of the application at path about to be started.
 * Returns the write end for the child (the caller closes it once the child
 * has it) and sets *slot, or -1 when there is none (the child then gets
 * /dev/null; logged). */
int fcgix_pm_out_open(const char *path, int *slot);
/* The process started (pid > 0) or did not (pid <= 0: the pipe goes). */
void fcgix_pm_out_started(int slot, pid_t pid);
/* The process ended: its pipe stays until whatever it left running
 * closes it too (or until the slot is needed, oldest first). */
void fcgix_pm_out_reaped(pid_t pid);
/* Fills pfd (room for max) with the open pipes; returns how many. */
int fcgix_pm_out_poll(struct pollfd *pfd, int max);
/* Reads and logs what the pipes polled last have (pfd as filled, after
 * poll()). */
void fcgix_pm_out_read(const struct pollfd *pfd, int n);
/* Ends an interval that is over: one line per process whose output was
 * dropped in it. */
void fcgix_pm_out_tick(apr_time_t now);
/* Waits up to ms for output and reads it (while the PM waits for its
 * applications to stop: one that logs as it stops must not block). */
void fcgix_pm_out_pump(int ms);
/* At shutdown: logs what is left (one bounded read each) and closes every
 * pipe. */
void fcgix_pm_out_close_all(void);

#endif /* FCGIX_PM_LOG_H */
