/*
 * mod_fcgix_opts.h - what mod_fcgix_conf.c (the directives) asks of
 * mod_fcgix_opts.c (their option lists): defaults, parsing one list, and
 * the Unix socket address a static application's -socket also gets.
 */
#ifndef MOD_FCGIX_OPTS_H
#define MOD_FCGIX_OPTS_H

#include "mod_fcgix.h"

/* The directive whose option list is parsed: the options it accepts. */
#define FCGIX_OPTS_EXT 0x1 /* FastCgiExternalServer */
#define FCGIX_OPTS_SRV 0x2 /* FastCgiServer */
#define FCGIX_OPTS_CFG 0x4 /* FastCgiConfig */

/* Room for the `seen` marks of one option list: at least one per option
 * of the table (checked where the table is). */
#define FCGIX_OPTS_MAX 64

/* Every option at its default. */
void fcgix_opts_defaults(fcgix_opts_t *o, apr_pool_t *p);

/* Parses the option words of a directive for app. `seen` marks options
 * already given (index into the table, fcgix_opts_index). */
const char *fcgix_opts_parse(cmd_parms *cmd, fcgix_app_t *app,
                             unsigned directive, const char *args,
                             unsigned char *seen);

/* The index of the option named exactly name (as in the table). */
size_t fcgix_opts_index(const char *name);

/* app's address: the Unix socket path (relative: in FastCgiIpcDir). */
const char *fcgix_opts_unix_addr(cmd_parms *cmd, fcgix_app_t *app,
                                 const char *path);

#endif /* MOD_FCGIX_OPTS_H */
