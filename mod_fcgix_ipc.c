/*
 * mod_fcgix_ipc.c - FastCgiIpcDir: where it is, and making it ready.
 *
 * The httpd parent does this as root, before it serves. The directory's
 * path is walked one name at a time through directory descriptors, so
 * that nothing another user can put on the way (a link, a directory
 * swapped in between two calls) redirects what root does: a link is
 * followed only where only root could have made it; a missing directory
 * is made as root only where only root can write (and then given to User
 * through its descriptor), elsewhere with User's file-system identity, so
 * that root never acts on a name someone else can change; the directory
 * reached is checked on its descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mod_fcgix.h"

#include "http_config.h"
#include "http_log.h"
#include "apr_strings.h"
#include "unixd.h"

APLOG_USE_MODULE(fcgix);

#define WALK_MAX_LINKS 32
#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

const char *fcgix_ipc_dir(apr_pool_t *pconf)
{
    if (fcgix_globals->ipc_dir == NULL) {
        fcgix_globals->ipc_dir =
            ap_runtime_dir_relative(pconf, FCGIX_DEFAULT_IPC_DIR);
    }
    return fcgix_globals->ipc_dir;
}

typedef struct {
    apr_pool_t *p;
    server_rec *s;
    const char *dir; /* FastCgiIpcDir, for messages */
    uid_t uid;       /* its owner: User, or whoever runs httpd */
    gid_t gid;
    int fd;           /* the directory reached so far */
    int links;        /* links followed so far */
    int made_by_root; /* the last name was made here, by root */
} walk_t;

/* Whether only root (or whoever runs httpd) can change the names in the
 * directory at fd: then a link found there is theirs, and nobody can swap
 * what is at a name between two of our calls. */
static int trusted(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && (st.st_uid == 0 || st.st_uid == geteuid()) &&
           !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/* mkdirat with User's file-system identity: a directory root made where
 * others can write could be swapped for theirs before root gave it to
 * User. (Per thread, and the parent is alone in post_config.) */
static int mkdir_as_user(const walk_t *w, const char *name, mode_t mode)
{
    int rc, err;

    if (geteuid() != 0) {
        return mkdirat(w->fd, name, mode);
    }
    setfsgid(w->gid);
    setfsuid(w->uid);
    rc = mkdirat(w->fd, name, mode);
    err = errno;
    setfsuid(geteuid());
    setfsgid(getegid());
    errno = err;
    return rc;
}

static apr_status_t walk_fail(const walk_t *w, const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, w->s,
                 "FCGIX0006: FastCgiIpcDir %s: %s", w->dir, why);
    return APR_EGENERAL;
}

static apr_status_t not_real(const walk_t *w, int is_link)
{
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, w->s,
                 "FCGIX0002: FastCgiIpcDir %s is %s; it must be a real "
                 "directory",
                 w->dir, is_link ? "a symbolic link" : "not a directory");
    return APR_EGENERAL;
}

/* The link `name` in the directory reached: its target goes in front of
 * what is left of the path, *rest. */
static apr_status_t follow(walk_t *w, const char *name, const char **rest)
{
    char target[4096];
    ssize_t n;
    int root;

    if (!trusted(w->fd)) {
        return walk_fail(w, apr_psprintf(w->p,
                                         "%s is a symbolic link in a "
                                         "directory others can write; not "
                                         "followed",
                                         name));
    }
    n = readlinkat(w->fd, name, target, sizeof(target) - 1);
    if (++w->links > WALK_MAX_LINKS || n <= 0) {
        return walk_fail(w, apr_psprintf(w->p,
                                         "%s: too many links, or "
                                         "unreadable",
                                         name));
    }
    target[n] = '\0';
    if (target[0] == '/') {
        if ((root = open("/", DIR_FLAGS)) < 0) {
            return walk_fail(w, strerror(errno));
        }
        close(w->fd);
        w->fd = root;
    }
    *rest = apr_pstrcat(w->p, target, "/", *rest, NULL);
    return APR_SUCCESS;
}

/* Makes the missing directory `name` in the one reached. */
static apr_status_t make(walk_t *w, const char *name, int last)
{
    mode_t mode = last ? 0700 : 0755;
    int rc;

    if (trusted(w->fd)) {
        rc = mkdirat(w->fd, name, mode);
        w->made_by_root = rc == 0 && last && geteuid() == 0;
    } else {
        rc = mkdir_as_user(w, name, mode);
    }
    if (rc != 0 && errno != EEXIST) { /* EEXIST: openat() decides */
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, w->s,
                     "FCGIX0001: FastCgiIpcDir %s: cannot create %s for uid "
                     "%ld",
                     w->dir, name, (long)w->uid);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* One name of the path: the directory reached moves on to it, made if
 * missing; a link there is expanded into *rest instead. */
static apr_status_t step(walk_t *w, const char *name, int last,
                         const char **rest)
{
    struct stat st;
    apr_status_t rv = APR_SUCCESS;
    int fd;

    w->made_by_root = 0;
    if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            return last ? not_real(w, 1) : follow(w, name, rest);
        }
    } else if (errno == ENOENT) {
        rv = make(w, name, last);
    } else {
        rv = walk_fail(w, apr_psprintf(w->p, "%s: %s", name, strerror(errno)));
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* O_NOFOLLOW: a link put here since the look above is not followed */
    if ((fd = openat(w->fd, name, DIR_FLAGS)) < 0) {
        if (last && (errno == ELOOP || errno == ENOTDIR)) {
            return not_real(w, errno == ELOOP);
        }
        if (last && errno == ENOENT) { /* gone as soon as it was made */
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, w->s,
                         "FCGIX0009: FastCgiIpcDir %s vanished while it was "
                         "being created (is its parent directory writable "
                         "by others?)",
                         w->dir);
            return APR_EGENERAL;
        }
        return walk_fail(w,
                         apr_psprintf(w->p, "%s: %s", name, strerror(errno)));
    }
    close(w->fd);
    w->fd = fd;
    return APR_SUCCESS;
}

/* Whether nothing but "." follows in what is left of the path. */
static int at_end(const char *rest)
{
    for (;;) {
        size_t n;
        rest += strspn(rest, "/");
        n = strcspn(rest, "/");
        if (n == 0) {
            return 1;
        }
        if (n != 1 || rest[0] != '.') {
            return 0;
        }
        rest += n;
    }
}

/* ".." (from a link's target): the parent of the directory reached. */
static apr_status_t up(walk_t *w, const char *rest)
{
    int fd;

    if (at_end(rest)) {
        return walk_fail(w, "the path ends in \"..\"");
    }
    if ((fd = openat(w->fd, "..", DIR_FLAGS)) < 0) {
        return walk_fail(w, strerror(errno));
    }
    close(w->fd);
    w->fd = fd;
    return APR_SUCCESS;
}

static apr_status_t walk(walk_t *w)
{
    const char *rest = w->dir;
    apr_status_t rv = APR_SUCCESS;

    if (w->dir[0] != '/' || (w->fd = open("/", DIR_FLAGS)) < 0) {
        return walk_fail(w, "not an absolute path");
    }
    while (rv == APR_SUCCESS) {
        size_t n;
        const char *name;
        rest += strspn(rest, "/");
        if ((n = strcspn(rest, "/")) == 0) {
            break;
        }
        name = apr_pstrmemdup(w->p, rest, n);
        rest += n;
        if (strcmp(name, ".") == 0) {
            continue;
        }
        rv = strcmp(name, "..") == 0 ? up(w, rest)
                                     : step(w, name, at_end(rest), &rest);
    }
    return rv;
}

/* The directory reached must be User's and writable by nobody else. */
static apr_status_t check_final(const walk_t *w, const struct stat *st)
{
    if (st->st_uid != w->uid) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, w->s,
                     "FCGIX0003: FastCgiIpcDir %s is owned by uid %ld; it "
                     "must be owned by the server's User (uid %ld)",
                     w->dir, (long)st->st_uid, (long)w->uid);
        return APR_EGENERAL;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, w->s,
                     "FCGIX0004: FastCgiIpcDir %s is writable by group or "
                     "others (mode %04o); use mode 0700",
                     w->dir, (unsigned)(st->st_mode & 07777));
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Finds or creates FastCgiIpcDir (owner: the server's User, mode 0700) and
 * refuses one that others could tamper with. Runs in post_config, as root
 * when httpd starts as root. */
apr_status_t fcgix_ipc_dir_prepare(apr_pool_t *pconf, server_rec *s)
{
    walk_t w;
    struct stat st;
    apr_status_t rv;

    memset(&w, 0, sizeof(w));
    w.p = pconf;
    w.s = s;
    w.fd = -1;
    w.dir = fcgix_ipc_dir(pconf);
    w.uid = geteuid() == 0 ? ap_unixd_config.user_id : geteuid();
    w.gid = geteuid() == 0 ? ap_unixd_config.group_id : getegid();
    if (w.dir == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "FCGIX0007: no FastCgiIpcDir, and none can be placed "
                     "under DefaultRuntimeDir");
        return APR_EGENERAL;
    }
    rv = walk(&w);
    if (rv == APR_SUCCESS && w.made_by_root &&
        (fchown(w.fd, w.uid, w.gid) != 0 || fchmod(w.fd, 0700) != 0)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s,
                     "FCGIX0008: FastCgiIpcDir %s: cannot give it to uid %ld "
                     "with mode 0700",
                     w.dir, (long)w.uid);
        rv = APR_EGENERAL;
    }
    if (rv == APR_SUCCESS && fstat(w.fd, &st) != 0) {
        rv = walk_fail(&w, strerror(errno));
    }
    if (rv == APR_SUCCESS) {
        rv = check_final(&w, &st);
    }
    if (w.fd >= 0) {
        close(w.fd);
    }
    return rv;
}
