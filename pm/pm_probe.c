/*
 * pm/pm_probe.c - connections the kernel holds at an application's end.
 *
 * The handlers' in-flight count of a class can be left high by an httpd
 * child that died holding it; the kernel's connection tables cannot. The
 * parsers take the table's text as a stream, so that the unit tests feed
 * them samples (t/unit/test_pm.c).
 */
#include <stdlib.h>
#include <string.h>

#include "pm/pm_state.h"

/* Connections the kernel holds at the application end of a class's Unix
 * socket: queued ones not yet accepted, and accepted ones its processes
 * have not closed (an accepted socket keeps the listener's address: the
 * name it was bound under, which stays when the socket file is renamed or
 * removed). -1 for a relative address. A successor bound for the same
 * name is counted too, which only errs on the busy side. */
int fcgix_pm_count_unix(FILE *f, const char *path)
{
    size_t plen = strlen(path);
    char line[FCGIX_SB_ADDR + 256];
    int n = 0, cut = 0;

    if (path[0] != '/') {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        /* Num RefCount Protocol Flags Type St Inode Path */
        char *p = line, *end;
        unsigned st = 0;
        int field, was_cut = cut;
        cut = strchr(line, '\n') == NULL; /* longer than ours: skip it */
        if (was_cut || cut) {
            continue;
        }
        for (field = 0; field < 7 && p != NULL; field++) {
            p += strspn(p, " ");
            if (field == 5) {
                st = (unsigned)strtoul(p, NULL, 16);
            }
            p = strchr(p, ' ');
        }
        if (p == NULL || (st != 2 && st != 3)) {
            continue; /* 2 queued, 3 accepted; 1 is the listener */
        }
        p++;
        end = p + strcspn(p, "\n");
        if ((size_t)(end - p) == plen && memcmp(p, path, plen) == 0) {
            n++;
        }
    }
    return n;
}

/* The same for a -port app: TCP connections whose local port is the app's
 * (it listens on 127.0.0.1, and no other socket can have that local
 * port), in a state where the application end is still open:
 * queued or accepted (ESTABLISHED, SYN_RECV), or closed by httpd but not
 * yet by the app (CLOSE_WAIT). */
#define TCP_ESTABLISHED_ST 0x01
#define TCP_SYN_RECV_ST 0x03
#define TCP_CLOSE_WAIT_ST 0x08
int fcgix_pm_count_tcp(FILE *f, unsigned port)
{
    char line[512];
    int n = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        /* "sl: local_address rem_address st ...", addresses as hex
         * ADDR:PORT; the heading line has no "sl:" and is skipped */
        char *p = strchr(line, ':'), *end;
        unsigned long lport, st;
        if (p == NULL || (p = strchr(p + 1, ':')) == NULL) {
            continue;
        }
        lport = strtoul(p + 1, &end, 16);
        p = end + strspn(end, " "); /* rem_address */
        p += strcspn(p, " ");
        st = strtoul(p, &end, 16);
        if (end != p && lport == port &&
            (st == TCP_ESTABLISHED_ST || st == TCP_SYN_RECV_ST ||
             st == TCP_CLOSE_WAIT_ST)) {
            n++;
        }
    }
    return n;
}

/* Connections at the application end of class idx; -1 when unknown (no
 * /proc, or a relative address). */
static int app_conns(const pm_t *pm, int idx)
{
    const pm_class_t *k = &pm->class[idx];
    int tcp = k->port != 0; /* only a static -port app has one */
    FILE *f;
    int n;

    if (!tcp && k->sockaddr[0] != '/') {
        return -1;
    }
    f = fopen(tcp ? "/proc/net/tcp" : "/proc/net/unix", "r");
    if (f == NULL) {
        return -1;
    }
    n = tcp ? fcgix_pm_count_tcp(f, k->port)
            : fcgix_pm_count_unix(f, k->sockaddr);
    fclose(f);
    return n;
}

/* Handlers check the class's generation before they release a count, but
 * a decrement that races a slot's reuse can still wrap the zeroed counter:
 * a "negative" count is read as none. */
apr_uint32_t fcgix_pm_inflight_of(const pm_t *pm, int idx)
{
    apr_uint32_t n = apr_atomic_read32(&pm->sb->classes[idx].inflight);

    return n > 0x7fffffffu ? 0 : n;
}

/* A count with no connection at all is a handler done with the app and
 * still answering its client, or one an httpd child took and never gave
 * back because it died: no request of the app is lost by stopping or
 * retiring it. */
int fcgix_pm_in_flight(const pm_t *pm, int idx)
{
    return fcgix_pm_inflight_of(pm, idx) > 0 && app_conns(pm, idx) != 0;
}

/* Idle connections counted by an httpd child that died before it gave
 * them back (SIGKILL, the OOM killer) would shrink the class's budget for
 * kept connections for good. Every few seconds, a class with a count but
 * no connection at all at its application end gets its count back to 0:
 * a held connection is one the kernel shows. Compare-and-swap with the
 * value read, so a handler that counts meanwhile keeps its count. */
#define KEPT_CHECK_S 5
void fcgix_pm_kept_tick(pm_t *pm, apr_time_t now)
{
    static apr_time_t next;
    int idx;

    if (now < next) {
        return;
    }
    next = now + apr_time_from_sec(KEPT_CHECK_S);
    for (idx = 0; idx < FCGIX_SB_CLASSES; idx++) {
        volatile apr_uint32_t *held = &pm->sb->classes[idx].idle_kept;
        apr_uint32_t n;
        if (pm->pub_class[idx].state != FCGIX_CLASS_ACTIVE ||
            (n = apr_atomic_read32(held)) == 0 || app_conns(pm, idx) != 0) {
            continue;
        }
        apr_atomic_cas32(held, 0, n);
    }
}
