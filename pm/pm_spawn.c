/*
 * pm/pm_spawn.c - listen sockets and application processes.
 */
#include <dirent.h>
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

#include "pm/pm_log.h"
#include "pm/pm_spawn.h"

#include "apr_strings.h"

/* A Unix socket at sockpath: bound and listening under the same name with
 * a dot in front, then renamed into place. The name appears only once the
 * socket accepts (handlers waiting on the directory wake on the rename),
 * with its final mode (0600, from the umask) and owner (the process's
 * file-system identity, see become() in pm_main.c): no path-based chmod or
 * chown remains that a link put at the name could redirect, and whatever
 * was at the name (a stale socket, a link someone put there) is replaced,
 * not followed. The socket's address, which /proc/net/unix and `ss -xl`
 * show for the listener and for every connection it accepts, stays the
 * temporary name: it is copied to addr. The directory is opened once and
 * the rename goes through it, so it happens where the socket was made. */
static int listen_unix(const char *sockpath, int backlog, char *addr,
                       size_t addrlen, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    char dir[sizeof(sun.sun_path)], tmp[sizeof(sun.sun_path)];
    const char *base = strrchr(sockpath, '/');
    struct stat st;
    int dfd, fd = -1, bound = 0, rel;
    mode_t mask;

    if (sockpath[0] != '/' || base[1] == '\0' ||
        strlen(sockpath) >= sizeof(dir)) {
        snprintf(err, errlen, "socket path %s: not absolute, or too long",
                 sockpath);
        return -1;
    }
    apr_cpystrn(dir, sockpath, (size_t)(base - sockpath) + 1);
    snprintf(tmp, sizeof(tmp), ".%s", ++base);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    /* An absolute address says where the socket is; one that would not
     * fit is taken relative to the directory as the working directory
     * (the PM is single-threaded). */
    rel = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, tmp) >=
          (int)sizeof(sun.sun_path);
    if (rel) {
        apr_cpystrn(sun.sun_path, tmp, sizeof(sun.sun_path));
    }
    dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0 && (!rel || fchdir(dfd) == 0) &&
        (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
        /* left by a PM that died between bind and rename, or put there */
        if (fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (S_ISSOCK(st.st_mode) || S_ISLNK(st.st_mode))) {
            unlinkat(dfd, tmp, 0);
        }
        mask = umask(0177);
        bound = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        umask(mask);
    }
    if ((!rel || chdir("/") == 0) && bound && listen(fd, backlog) == 0 &&
        renameat(dfd, tmp, dfd, base) == 0) {
        apr_cpystrn(addr, sun.sun_path, addrlen);
        close(dfd);
        return fd;
    }
    snprintf(err, errlen, "bind %s: %s", sockpath, strerror(errno));
    if (bound) {
        unlinkat(dfd, tmp, 0);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return -1;
}

/* Creates the listen socket of a class: a Unix socket at sockpath
 * (listen_unix), or a TCP socket on 127.0.0.1 at port (handlers connect
 * there and nowhere else, so no other host reaches the app). Returns the
 * fd or -1 with err set. */
int fcgix_pm_listen(const char *sockpath, unsigned port, int backlog,
                    char *addr, size_t addrlen, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    int fd, one = 1;

    if (sockpath && *sockpath) {
        return listen_unix(sockpath, backlog, addr, addrlen, err, errlen);
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        snprintf(err, errlen, "bind port %u: %s", port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    if (listen(fd, backlog) != 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Sockets of earlier runs in a directory of the PM's: generated names
 * (prefix "s-" or "d-", ".sock"), also as the temporary names of
 * listen_unix() (a dot in front). Only sockets go; the directory is read
 * through dfd, and nothing found in it is followed. */
static void remove_stale(int dfd, const char *prefix)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    struct stat st;

    if (d == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name + (e->d_name[0] == '.');
        size_t n = strlen(name);
        int ours = strncmp(name, prefix, 2) == 0 && n > 7 &&
                   strcmp(name + n - 5, ".sock") == 0;
        if (ours &&
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISSOCK(st.st_mode)) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

/* <ipc>/dynamic, opened without following a link: made if missing; a link
 * or a file at that name (the IPC dir is User's, so User can put one
 * there) is removed and the directory made instead (*replaced set). */
static int open_dynamic(int ipc, int *replaced)
{
    int fd;

    if (mkdirat(ipc, "dynamic", 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    fd =
        openat(ipc, "dynamic", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
        unlinkat(ipc, "dynamic", 0) == 0) {
        *replaced = 1;
        if (mkdirat(ipc, "dynamic", 0700) == 0) {
            fd = openat(ipc, "dynamic",
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
    }
    return fd;
}

int fcgix_pm_ipc_prepare(const char *ipc_dir, uid_t uid, int *replaced,
                         char *err, size_t errlen)
{
    struct stat st;
    int ipc, dyn, rc = -1;

    *replaced = 0;
    /* the httpd parent checked it: a directory of uid's, no link */
    ipc = open(ipc_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (ipc < 0) {
        snprintf(err, errlen, "cannot open FastCgiIpcDir %s: %s", ipc_dir,
                 strerror(errno));
        return -1;
    }
    remove_stale(ipc, "s-");
    dyn = open_dynamic(ipc, replaced);
    if (dyn < 0 || fstat(dyn, &st) != 0) {
        snprintf(err, errlen, "cannot create %s/dynamic: %s", ipc_dir,
                 strerror(errno));
    } else if (st.st_uid != uid) {
        snprintf(err, errlen, "%s/dynamic is owned by uid %ld, not %ld",
                 ipc_dir, (long)st.st_uid, (long)uid);
    } else if ((st.st_mode & 077) && fchmod(dyn, 0700) != 0) {
        snprintf(err, errlen, "cannot make %s/dynamic mode 0700: %s", ipc_dir,
                 strerror(errno));
    } else {
        remove_stale(dyn, "d-");
        rc = 0;
    }
    if (dyn >= 0) {
        close(dyn);
    }
    close(ipc);
    return rc;
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
    fcgix_pm_out_app_limit(); /* the PM raised its own, not the app's */
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
    fcgix_pm_close_fds(-1, -1);
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
     * next PM stops such processes, found by their session in /proc,
     * never by pids read from the scoreboard: clean_previous). */
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

/* Closes fds first..last; close_range where the kernel has it (only system
 * calls: this runs between vfork and exec too). */
static void close_span(unsigned first, unsigned last)
{
    long max = sysconf(_SC_OPEN_MAX);
    unsigned fd, end = max > 0 && max < 65536 ? (unsigned)max : 65536u;

    if (first > last) {
        return;
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, first, last, 0) == 0) {
        return;
    }
#endif
    for (fd = first; fd <= last && fd < end; fd++) {
        close((int)fd);
    }
}

void fcgix_pm_close_fds(int keep_a, int keep_b)
{
    int keep[2];
    unsigned from = 3;
    int i;

    keep[0] = keep_a < keep_b ? keep_a : keep_b;
    keep[1] = keep_a < keep_b ? keep_b : keep_a;
    for (i = 0; i < 2; i++) {
        if (keep[i] >= (int)from) {
            close_span(from, (unsigned)keep[i] - 1);
            from = (unsigned)keep[i] + 1;
        }
    }
    close_span(from, ~0U);
}

void fcgix_pm_term_wait_kill(const fcgix_stopper_t *s, int grace_ms)
{
    apr_time_t deadline = fcgix_clock() + apr_time_from_msec(grace_ms);

    s->signal(s->ctx, SIGTERM);
    while (!s->gone(s->ctx)) {
        if (fcgix_clock() > deadline) {
            s->signal(s->ctx, SIGKILL);
            if (s->reap_all) {
                s->reap_all(s->ctx);
            }
            return;
        }
        s->wait(s->ctx);
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
