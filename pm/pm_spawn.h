/*
 * pm/pm_spawn.h - listen sockets and process creation for the PM.
 */
#ifndef FCGIX_PM_SPAWN_H
#define FCGIX_PM_SPAWN_H

#include <sys/types.h>

#include "pm/pm_int.h"

typedef struct {
    const char *path; /* the application, for chdir */
    char **argv;      /* argv[0] is what is executed */
    char **envp;      /* the whole environment */
    int listen_fd;    /* becomes fd 0 */
    int out_fd;       /* becomes fds 1 and 2; -1: /dev/null */
    int priority;
    uid_t drop_to_uid; /* (uid_t)-1: keep the PM's identity */
    gid_t drop_to_gid;
} fcgix_spawn_t;

/* A listen socket: Unix at sockpath (made under a temporary name and
 * renamed into place: it never exists without listening, and nothing at
 * the name is followed; addr gets the socket's address, that temporary
 * name), or TCP on 127.0.0.1 at port when sockpath is "". Returns the fd,
 * or -1 with err set. */
int fcgix_pm_listen(const char *sockpath, unsigned port, int backlog,
                    char *addr, size_t addrlen, char *err, size_t errlen);
/* Makes the PM's part of FastCgiIpcDir ready, as the file-system identity
 * the PM has when called: <ipc>/dynamic a directory of uid's (a link or
 * file at that name is replaced, *replaced set), sockets of earlier runs
 * removed. Returns 0, or -1 with err set. */
int fcgix_pm_ipc_prepare(const char *ipc_dir, uid_t uid, int *replaced,
                         char *err, size_t errlen);
/* Starts the application; err gets "" or why it failed before running it
 * (the process then exists and has exited: the caller's reaper sees it). */
pid_t fcgix_pm_spawn(const fcgix_spawn_t *sp, char *err, size_t errlen);
/* Closes every descriptor from 3 up but keep_a and keep_b (-1: none). */
void fcgix_pm_close_fds(int keep_a, int keep_b);

/* Something to stop: SIGTERM, a grace period, SIGKILL for what is left.
 * signal sends sig to all of it; gone says whether all of it has ended;
 * wait waits a little (and reaps); reap_all (may be NULL) reaps what is
 * left after SIGKILL. */
typedef struct {
    void *ctx;
    int (*signal)(void *ctx, int sig);
    int (*gone)(void *ctx);
    void (*wait)(void *ctx);
    void (*reap_all)(void *ctx);
} fcgix_stopper_t;
void fcgix_pm_term_wait_kill(const fcgix_stopper_t *s, int grace_ms);

#endif /* FCGIX_PM_SPAWN_H */
