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

int fcgix_pm_listen(const char *sockpath, unsigned port, int backlog, uid_t uid,
                    gid_t gid, char *err, size_t errlen);
/* Starts the application; err gets "" or why it failed before running it
 * (the process then exists and has exited: the caller's reaper sees it). */
pid_t fcgix_pm_spawn(const fcgix_spawn_t *sp, char *err, size_t errlen);
void fcgix_pm_closefrom3(void);

#endif /* FCGIX_PM_SPAWN_H */
