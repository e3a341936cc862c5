/*
 * pm/pm_start.c - starting application processes: their argv and
 * environment, one start, and the starts that are due.
 */
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "pm/pm_spawn.h"
#include "pm/pm_state.h"

#include "apr_strings.h"

static char **make_env(apr_pool_t *p, apr_array_header_t *env)
{
    char **envp = apr_palloc(p, sizeof(char *) * ((size_t)env->nelts + 1));
    int i;

    for (i = 0; i < env->nelts; i++) {
        envp[i] = apr_pstrdup(p, APR_ARRAY_IDX(env, i, const char *));
    }
    envp[env->nelts] = NULL;
    return envp;
}

/* argv: the application alone, or the wrapper with user, group and the
 * application, as mod_fastcgi invoked it. */
static char **make_argv(apr_pool_t *p, const fcgix_defs_t *cur,
                        const fcgix_sb_class_t *c, const fcgix_def_app_t *def)
{
    char **argv = apr_pcalloc(p, sizeof(char *) * 5);
    struct passwd *pw;
    struct group *gr;

    if (cur->wrapper == NULL) {
        argv[0] = apr_pstrdup(p, c->path);
        return argv;
    }
    argv[0] = apr_pstrdup(p, cur->wrapper);
    if (def && def->run_user[0] && def->run_group[0]) {
        /* FastCgiServer -user / -group */
        argv[1] = apr_pstrdup(p, def->run_user);
        argv[2] = apr_pstrdup(p, def->run_group);
    } else {
        pw = getpwuid((uid_t)c->uid);
        gr = getgrgid((gid_t)c->gid);
        argv[1] = apr_pstrdup(p, pw ? pw->pw_name : cur->user_name);
        argv[2] = apr_pstrdup(p, gr ? gr->gr_name : cur->group_name);
    }
    /* suexec takes the command relative to the working directory (the
     * app's, see child_setup) and refuses a path; other wrappers get the
     * application as declared, as mod_fastcgi gave it. */
    argv[3] = apr_pstrdup(p, cur->wrapper_is_suexec && strrchr(c->path, '/')
                                 ? strrchr(c->path, '/') + 1
                                 : c->path);
    return argv;
}

static int proc_slot(const pm_t *pm)
{
    int p;

    for (p = 0; p < FCGIX_SB_PROCS; p++) {
        if (pm->pub_proc[p].state == FCGIX_PROC_FREE &&
            !pm->proc[p].verdict_pending) {
            return p;
        }
    }
    return -1;
}

/* Process p of class idx has started as pid: it and its siblings are no
 * longer alone (a verdict on one that shared its class is milder). */
static void proc_started(pm_t *pm, int p, int idx, pid_t pid)
{
    fcgix_sb_class_t *c = &pm->pub_class[idx];
    pm_proc_t *x = &pm->proc[p];
    int q;

    pm->pub_proc[p].class_idx = (apr_uint32_t)idx;
    x->class_run = pm->class[idx].run;
    pm->pub_proc[p].pid = (apr_uint32_t)pid;
    pm->pub_proc[p].started = fcgix_pm_now_sec();
    x->killed = 0;
    x->kill_at = 0;
    x->shared = c->procs_running > 0;
    for (q = 0; x->shared && q < FCGIX_SB_PROCS; q++) {
        if (pm->pub_proc[q].state != FCGIX_PROC_FREE &&
            pm->pub_proc[q].class_idx == (apr_uint32_t)idx) {
            pm->proc[q].shared = 1;
        }
    }
    pm->pub_proc[p].state = FCGIX_PROC_RUNNING;
    c->procs_running++;
}

int fcgix_pm_spawn_one(pm_t *pm, int idx)
{
    fcgix_sb_class_t *c = &pm->pub_class[idx];
    const pm_class_t *k = &pm->class[idx];
    const fcgix_defs_t *cur = pm->cur;
    int dyn = c->kind == FCGIX_APP_DYNAMIC;
    fcgix_spawn_t sp;
    apr_pool_t *tmp;
    char err[160];
    int p = proc_slot(pm), out;
    pid_t pid;

    if (p < 0 || k->listen_fd < 0) {
        return -1;
    }
    apr_pool_create(&tmp, pm->pool);
    memset(&sp, 0, sizeof(sp));
    sp.path = c->path;
    sp.argv = make_argv(tmp, cur, c, dyn ? NULL : k->def);
    sp.envp = make_env(tmp, dyn ? cur->dyn.env : k->def->env);
    sp.listen_fd = k->listen_fd;
    sp.priority = dyn ? cur->dyn.priority : k->def->priority;
    sp.drop_to_uid = pm->privileged ? (uid_t)cur->uid : (uid_t)-1;
    sp.drop_to_gid = (gid_t)cur->gid;
    sp.out_fd = fcgix_pm_out_open(c->path, &out);
    /* Read before the spawn: once the child runs, the PM may not get the
     * CPU back before the child has served a request and been counted. */
    pm->proc[p].started = fcgix_clock();
    pm->proc[p].requests_at_start =
        apr_atomic_read32(&pm->sb->classes[idx].completed);
    pid = fcgix_pm_spawn(&sp, err, sizeof(err));
    apr_pool_destroy(tmp);
    if (sp.out_fd >= 0) {
        close(sp.out_fd); /* the process has its copy */
    }
    fcgix_pm_out_started(out, pid);
    if (pid < 0) {
        fcgix_pm_logl(APLOG_ERR, "FCGIX0432: %s: %s", c->path, err);
        c->spawn_failures++;
        apr_snprintf(c->last_error, sizeof(c->last_error), "cannot start: %s",
                     err);
        return -1;
    }
    if (*err) {
        fcgix_pm_logl(APLOG_ERR, "FCGIX0420: %s: cannot execute: %s", c->path,
                      err);
        c->spawn_failures++;
        apr_snprintf(c->last_error, sizeof(c->last_error), "cannot execute: %s",
                     err);
    }
    proc_started(pm, p, idx, pid);
    pm->proc[p].exec_failed = *err != '\0';
    return 0;
}

static unsigned start_spacing(const pm_t *pm, int idx)
{
    return pm->pub_class[idx].kind == FCGIX_APP_DYNAMIC
               ? pm->cur->dyn.init_start_delay
               : pm->class[idx].def->init_start_delay;
}

/* Starts what is due: one process per class per pass, spaced by
 * -init-start-delay, after any back-off. */
void fcgix_pm_start_due(pm_t *pm, apr_time_t now)
{
    int i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &pm->pub_class[i];
        pm_class_t *k = &pm->class[i];
        if (c->state != FCGIX_CLASS_ACTIVE || k->draining ||
            c->kind == FCGIX_APP_EXTERNAL || c->procs_running >= k->want ||
            now < k->next_start) {
            continue;
        }
        /* With no spacing, start every missing one now. */
        while (fcgix_pm_spawn_one(pm, i) == 0 && start_spacing(pm, i) == 0 &&
               c->procs_running < k->want) {
        }
        /* from the fork, not the pass: a pass may fork many apps */
        k->next_start = fcgix_clock() + apr_time_from_sec(start_spacing(pm, i));
    }
}
