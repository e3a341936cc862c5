/*
 * pm/pm_names.c - names both sides of the process manager must agree on,
 * written once: the handlers connect where the PM binds.
 */
#include <stdio.h>
#include <sys/un.h>

#include "pm/pm_int.h"

#include "apr_strings.h"

/* The name must fit a Unix socket address with its NUL. */
#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

int fcgix_pm_socket_name(char *buf, size_t len, const char *ipc_dir,
                         const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    int n = snprintf(buf, len, "%s/dynamic/d-%016llx.sock", ipc_dir,
                     (unsigned long long)fcgix_sb_hash(path, uid, gid));

    return n > 0 && (size_t)n < len && (size_t)n < SUN_PATH_LEN;
}

const char *fcgix_pm_dynamic_socket(apr_pool_t *p, const char *ipc_dir,
                                    const char *path, apr_uint32_t uid,
                                    apr_uint32_t gid)
{
    char name[FCGIX_SB_PATH + 64];

    /* too long for a socket: the caller sees its length and refuses it */
    fcgix_pm_socket_name(name, sizeof(name), ipc_dir, path, uid, gid);
    return apr_pstrdup(p, name);
}

/* A static application's socket, in FastCgiIpcDir (the parent sends the
 * PM the whole path with the definitions). */
const char *fcgix_pm_static_socket(apr_pool_t *p, const char *path,
                                   apr_uint32_t uid, apr_uint32_t gid)
{
    return apr_psprintf(p, "s-%016" APR_UINT64_T_HEX_FMT ".sock",
                        fcgix_sb_hash(path, uid, gid));
}
