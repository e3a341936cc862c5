/*
 * pm/pm_addr.c - backend addresses: resolving a host name to every address
 * it has, and showing an address. Used where the configuration is read
 * (httpd parent) and by the prober (pm_prober.c), which resolves names
 * again; neither reads anything but its arguments.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "pm/pm_int.h"

int fcgix_addr_is_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* Whether a is already among the n addresses in out. */
static int seen_before(const fcgix_addr_t *out, int n, const struct addrinfo *a)
{
    int i;

    for (i = 0; i < n; i++) {
        if (out[i].len == a->ai_addrlen &&
            memcmp(out[i].sa, a->ai_addr, a->ai_addrlen) == 0) {
            return 1;
        }
    }
    return 0;
}

static int addr_cmp(const void *a, const void *b)
{
    const fcgix_addr_t *x = a, *y = b;

    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    return memcmp(x->sa, y->sa, x->len);
}

int fcgix_addr_resolve(const char *host, unsigned port, fcgix_addr_t *out,
                       int max, int *more, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL, *a;
    char serv[16];
    int rc, n = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV; /* not AI_ADDRCONFIG: loopback counts */
    snprintf(serv, sizeof(serv), "%u", port);
    *more = 0;
    rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve host '%s': %s", host,
                 gai_strerror(rc));
        return -1;
    }
    for (a = res; a; a = a->ai_next) {
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            a->ai_addrlen > sizeof(out[0].sa) || seen_before(out, n, a)) {
            continue;
        }
        if (n == max) {
            *more = 1;
            break;
        }
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(out[n].sa, a->ai_addr, a->ai_addrlen);
        out[n].len = (apr_uint32_t)a->ai_addrlen;
        n++;
    }
    freeaddrinfo(res);
    /* one order whatever order the resolver gives (round-robin DNS): the
     * same addresses keep their places (and state) when resolved again */
    qsort(out, (size_t)n, sizeof(out[0]), addr_cmp);
    if (n == 0) {
        snprintf(err, errlen, "host '%s' has no IPv4 or IPv6 address", host);
        return -1;
    }
    return n;
}

void fcgix_addr_text(const void *sa, apr_uint32_t len, char *buf, size_t n)
{
    char ip[INET6_ADDRSTRLEN];
    struct sockaddr_storage ss;
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;

    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, sa, len < sizeof(ss) ? len : sizeof(ss));
    if (ss.ss_family == AF_INET && len >= sizeof(*in) &&
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip))) {
        snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6 && len >= sizeof(*in6) &&
               inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip))) {
        snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX && len > sizeof(un->sun_family)) {
        /* not necessarily terminated in what was copied */
        snprintf(buf, n, "unix:%.*s",
                 (int)strnlen(un->sun_path, sizeof(un->sun_path) - 1),
                 un->sun_path);
    } else {
        snprintf(buf, n, "(no address)");
    }
}

int fcgix_addr_valid(const void *sa, apr_uint32_t len)
{
    sa_family_t f;

    if (len < sizeof(f) || len > FCGIX_BACKEND_ADDR_MAX) {
        return 0;
    }
    memcpy(&f, sa, sizeof(f));
    return (f == AF_INET && len == sizeof(struct sockaddr_in)) ||
           (f == AF_INET6 && len == sizeof(struct sockaddr_in6)) ||
           (f == AF_UNIX && len > sizeof(f) &&
            len <= sizeof(struct sockaddr_un));
}

int fcgix_addr_keep(const fcgix_addr_t *cur, const apr_uint32_t *cur_target,
                    int ncur, apr_uint32_t t, fcgix_addr_t *out,
                    apr_uint32_t *out_target, int n, int max)
{
    int i;

    for (i = 0; i < ncur && n < max; i++) {
        if (cur_target[i] == t) {
            out[n] = cur[i];
            out_target[n++] = t;
        }
    }
    return n;
}
