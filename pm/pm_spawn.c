/*
 * pm/pm_spawn.c - listen sockets and application processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "pm/pm_spawn.h"

#include "apr_strings.h"

/* Creates the listen socket of a class: a Unix socket at sockpath (a stale
 * file there is replaced; mode 0600, owner uid/gid when we are root), or a
 * TCP socket on every address at port. Returns the fd or -1 with err set. */
int fcgix_pm_listen(const char *sockpath, unsigned port, int backlog, uid_t uid,
                    gid_t gid, char *err, size_t errlen)
{
    int fd, one = 1;

    if (sockpath && *sockpath) {
        struct sockaddr_un sun;
        struct stat sb;
        mode_t mask;
        int rc;
        if (strlen(sockpath) >= sizeof(sun.sun_path)) {
            snprintf(err, errlen, "socket path too long");
            return -1;
        }
        if (lstat(sockpath, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
            unlink(sockpath);
        }
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
        /* Created 0600 by the umask; the mode and owner are set again once
         * it listens: a handler waiting for the socket watches the directory
         * for that change and connects then (the PM is single-threaded). */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        mask = umask(077);
        rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
        umask(mask);
        if (rc != 0 || listen(fd, backlog) != 0 || chmod(sockpath, 0600) != 0 ||
            (geteuid() == 0 && chown(sockpath, uid, gid) != 0)) {
            snprintf(err, errlen, "bind %s: %s", sockpath, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return -1;
        }
        return fd;
    } else {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)port);
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
            bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
            snprintf(err, errlen, "bind port %u: %s", port, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return -1;
        }
    }
    if (listen(fd, backlog) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* In the child, between fork and exec: give the app the state a FastCGI
 * application expects. Only async-signal-safe calls; no return on error. */
static void child_setup(const fcgix_spawn_t *sp)
{
    sigset_t none;
    int sig;
    char *slash;
    char dir[FCGIX_SB_PATH];

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (sig = 1; sig < NSIG; sig++) {
        signal(sig, SIG_DFL);
    }
    signal(SIGPIPE, SIG_IGN); /* a client that goes away is no crash */
    if (dup2(sp->listen_fd, 0) != 0) {
        _exit(126);
    }
    /* stderr is httpd's main error log; stdout (which httpd pointed at
     * /dev/null when it detached) goes there too, so output written
     * outside the FastCGI protocol is seen. */
    dup2(2, 1);
    fcgix_pm_closefrom3();
    if (sp->priority) {
        setpriority(PRIO_PROCESS, 0, sp->priority);
    }
    if (sp->drop_to_uid != (uid_t)-1) {
        if (setgroups(0, NULL) != 0 || setgid(sp->drop_to_gid) != 0 ||
            setuid(sp->drop_to_uid) != 0) {
            _exit(126);
        }
    }
    /* Die with the PM (not kept across exec of a set-uid wrapper; the
     * next PM cleans such processes up from the scoreboard). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    apr_cpystrn(dir, sp->path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (chdir(dir) != 0) {
            _exit(126);
        }
    }
}

void fcgix_pm_closefrom3(void)
{
    int fd;
    long max = sysconf(_SC_OPEN_MAX);

#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, ~0U, 0) == 0) {
        return;
    }
#endif
    for (fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++) {
        close(fd);
    }
}

pid_t fcgix_pm_spawn(const fcgix_spawn_t *sp)
{
    pid_t pid = fork();

    if (pid != 0) {
        return pid;
    }
    child_setup(sp);
    execve(sp->argv[0], sp->argv, sp->envp);
    dprintf(2, "[fcgix-pm] FCGIX0420: cannot execute %s: %s\n", sp->argv[0],
            strerror(errno));
    _exit(127);
}
