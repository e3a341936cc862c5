/*
 * pm/pm_names.c - names both sides of the process manager must agree on,
 * written once: the handlers connect where the PM binds.
 */
#include <stdio.h>
#include <sys/un.h>

#include "pm/pm_int.h"

/* The name must fit a Unix socket address with its NUL. */
#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

int fcgix_pm_socket_name(char *buf, size_t len, const char *ipc_dir,
                         const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    int n = snprintf(buf, len, "%s/dynamic/d-%016llx.sock", ipc_dir,
                     (unsigned long long)fcgix_sb_hash(path, uid, gid));

    return n > 0 && (size_t)n < len && (size_t)n < SUN_PATH_LEN;
}
