/*
 * pm/pm_gen.c - the PM leaves with mod_fcgix: when httpd's next
 * configuration generation runs without the module.
 *
 * At a graceful restart the httpd parent tells the PM, from a cleanup of
 * the ending generation's configuration pool (while this DSO is still
 * loaded), that the generation ends (FCGIX_CTL_GEN_ENDS). If the next
 * generation loads mod_fcgix, its post_config sends new definitions. If it
 * does not, nothing of the module runs in the parent any more: the PM must
 * see that on its own. An absence has no event, so the PM waits for a sign
 * that the next generation has started: a process the parent forked after
 * the notice under the parent's own name (an httpd child of the new
 * generation, or mod_cgid's daemon, which post_config forks). Reading a
 * configuration forks no such process, so a slow reading never ends the
 * PM; once the sign is there, post_config (and our definitions with it)
 * comes within milliseconds, and FCGIX_GEN_GRACE_MS without definitions
 * means the module is gone. The PM then lets the requests in flight finish
 * (FCGIX_GEN_DRAIN_MS at most) and stops every application and itself.
 *
 * A hard restart needs none of this: the parent stops the PM itself from
 * the same cleanup, whether or not the next generation loads the module.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pm/pm_state.h"

#define FCGIX_GEN_GRACE_MS 2000 /* sign seen, no definitions: gone */
#define FCGIX_GEN_DRAIN_MS 5000 /* in-flight requests may finish */

/* From /proc/PID/stat: the name (comm), the parent pid and the start time
 * in clock ticks since boot. 0 when read, -1 when not (gone, unreadable). */
static int proc_stat(pid_t pid, char *comm, size_t commsz, long *ppid,
                     unsigned long long *start)
{
    char path[64], buf[1024], *open, *close_p, *p, *end;
    FILE *f;
    size_t n;
    int i;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses */
    open = strchr(buf, '(');
    close_p = strrchr(buf, ')');
    if (open == NULL || close_p == NULL || close_p < open ||
        (size_t)(close_p - open - 1) >= commsz) {
        return -1;
    }
    memcpy(comm, open + 1, (size_t)(close_p - open - 1));
    comm[close_p - open - 1] = '\0';
    /* fields from 3 (state) on; ppid is 4, starttime 22 */
    p = close_p + 2;
    for (i = 3; i < 22 && p; i++) {
        if (i == 4) {
            *ppid = strtol(p, &end, 10);
        }
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    if (p == NULL) {
        return -1;
    }
    *start = strtoull(p, &end, 10);
    return end == p ? -1 : 0;
}

/* Now, in the unit of /proc's start times: clock ticks since boot. */
static unsigned long long boot_ticks(void)
{
    struct timespec ts;
    long hz = sysconf(_SC_CLK_TCK);

    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (unsigned long long)ts.tv_sec * (unsigned long long)hz +
           (unsigned long long)ts.tv_nsec / (1000000000ull / (unsigned)hz);
}

/* Whether the parent has forked, after the notice, a process of its own
 * name: the next generation has started. */
static int next_generation_runs(const pm_t *pm)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;

    while (d && !found && (e = readdir(d)) != NULL) {
        char *end, comm[64];
        long v = strtol(e->d_name, &end, 10), ppid = 0;
        unsigned long long start = 0;
        if (*end != '\0' || v <= 1 || (pid_t)v == getpid()) {
            continue;
        }
        found = proc_stat((pid_t)v, comm, sizeof(comm), &ppid, &start) == 0 &&
                ppid == (long)pm->parent && start > pm->gen.notice_ticks &&
                strcmp(comm, pm->gen.parent_comm) == 0;
    }
    if (d) {
        closedir(d);
    }
    return found;
}

void fcgix_pm_gen_ends(pm_t *pm, apr_time_t now)
{
    long ppid;
    unsigned long long start;

    memset(&pm->gen, 0, sizeof(pm->gen));
    if (proc_stat((pid_t)pm->parent, pm->gen.parent_comm,
                  sizeof(pm->gen.parent_comm), &ppid, &start) != 0) {
        return; /* cannot tell: keep going as before */
    }
    pm->gen.notice = now;
    pm->gen.notice_ticks = boot_ticks();
}

void fcgix_pm_gen_defs(pm_t *pm)
{
    memset(&pm->gen, 0, sizeof(pm->gen));
}

static apr_uint32_t inflight_all(const pm_t *pm)
{
    apr_uint32_t n = 0;
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        if (pm->pub_class[i].state == FCGIX_CLASS_ACTIVE ||
            pm->pub_class[i].state == FCGIX_CLASS_DRAINING) {
            n += fcgix_pm_inflight_of(pm, i);
        }
    }
    return n;
}

void fcgix_pm_gen_tick(pm_t *pm, apr_time_t now)
{
    if (pm->gen.notice == 0) {
        return;
    }
    if (pm->gen.leave_by) {
        if (now >= pm->gen.leave_by || inflight_all(pm) == 0) {
            pm->stopping = 1;
        }
        return;
    }
    if (pm->gen.seen == 0) {
        pm->gen.seen = next_generation_runs(pm) ? now : 0;
        return;
    }
    if (now - pm->gen.seen >= apr_time_from_msec(FCGIX_GEN_GRACE_MS)) {
        fcgix_pm_logl(APLOG_NOTICE,
                      "FCGIX0470: httpd's new configuration does not load "
                      "mod_fcgix: the process manager stops its applications "
                      "(after the requests in flight, %d s at most) and "
                      "leaves",
                      FCGIX_GEN_DRAIN_MS / 1000);
        pm->gen.leave_by = now + apr_time_from_msec(FCGIX_GEN_DRAIN_MS);
    }
}
