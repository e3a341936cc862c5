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

/* What the child reports when it fails before or at exec. It shares the
 * PM's memory (vfork) and the PM runs again only once the child has exec'd
 * or exited, so plain stores suffice. */
static struct {
    const char *what; /* NULL: exec succeeded */
    int err;
} child_failed;

static void child_fail(const char *what)
{
    child_failed.err = errno;
    child_failed.what = what;
    _exit(126);
}

/* In the child, between vfork and exec: give the app the state a FastCGI
 * application expects. It runs on the PM's memory with every signal
 * blocked: handlers go back to the default before the mask is cleared, so
 * none of the PM's can run here. Only system calls; no return. */
static void child_setup(const fcgix_spawn_t *sp)
{
    sigset_t none;
    int sig, out;
    char *slash;
    char dir[FCGIX_SB_PATH];

    for (sig = 1; sig < NSIG; sig++) {
        signal(sig, SIG_DFL);
    }
    signal(SIGPIPE, SIG_IGN); /* a client that goes away is no crash */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(sp->listen_fd, 0) != 0) {
        child_fail("dup2");
    }
    /* stdout and stderr: the process's pipe to the PM, which logs what
     * comes through it (pm_log.c). Never the error log itself, which an app
     * (under a wrapper, another user's) could truncate or forge lines in. */
    out = sp->out_fd >= 0 ? sp->out_fd : open("/dev/null", O_WRONLY);
    if (out < 0 || dup2(out, 1) != 1 || dup2(out, 2) != 2) {
        child_fail("stdout and stderr");
    }
    fcgix_pm_closefrom3();
    if (sp->priority) {
        setpriority(PRIO_PROCESS, 0, sp->priority);
    }
    /* Raw system calls: glibc's wrappers would synchronise credentials
     * across the threads of a process, here the PM's memory. */
    if (sp->drop_to_uid != (uid_t)-1 &&
        (syscall(SYS_setgroups, 0, NULL) != 0 ||
         syscall(SYS_setgid, sp->drop_to_gid) != 0 ||
         syscall(SYS_setuid, sp->drop_to_uid) != 0)) {
        child_fail("dropping privileges");
    }
    /* Die with the PM (not kept across exec of a set-uid wrapper; the
     * next PM cleans such processes up from the scoreboard). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    apr_cpystrn(dir, sp->path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (chdir(dir) != 0) {
            child_fail("chdir");
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

/* vfork: the PM is a fork of the httpd parent, and copying its page tables
 * for every start was a fifth of a dynamic application's cold start.
 * posix_spawn (which glibc builds on the same kind of clone) cannot drop
 * privileges or set the parent-death signal, so the child does it itself:
 * child_setup() makes only system calls and never returns, which is what
 * the analyzer's vfork rules (any call at all is flagged) are there for. */
pid_t fcgix_pm_spawn(const fcgix_spawn_t *sp, char *err, size_t errlen)
{
    sigset_t all, old;
    pid_t pid;

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    child_failed.what = NULL;
    pid = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork)
    if (pid == 0) {
        child_setup(sp); // NOLINT(clang-analyzer-unix.Vfork)
        execve(sp->argv[0], sp->argv, sp->envp);
        child_fail("exec");
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
    } else if (child_failed.what) { /* it has exited: the reaper sees it */
        snprintf(err, errlen, "%s: %s", child_failed.what,
                 strerror(child_failed.err));
    } else {
        *err = '\0';
    }
    return pid;
}
