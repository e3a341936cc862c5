/*
 * t/unit/test_scoreboard.c - the scoreboard's layout and accessors.
 *
 * Handlers find classes by probing from the identity hash; the PM places
 * them the same way. These tests pin the probing rules (GONE keeps the
 * chain, FREE ends it), the checks a reader makes on what it copies, and
 * the size limits the design relies on.
 */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pm/pm.h"

static fcgix_sb_t *sb;

static void setup(void)
{
    sb = calloc(1, sizeof(*sb));
}

static void teardown(void)
{
    free(sb);
}

/* Places a class the way the PM does: first FREE or GONE slot from the
 * hash position. */
static int place(const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    apr_uint32_t start =
        (apr_uint32_t)(fcgix_sb_hash(path, uid, gid) % FCGIX_SB_CLASSES);
    apr_uint32_t i;

    for (i = 0; i < FCGIX_SB_CLASSES; i++) {
        fcgix_sb_class_t *c = &sb->classes[(start + i) % FCGIX_SB_CLASSES];
        if (c->state == FCGIX_CLASS_FREE || c->state == FCGIX_CLASS_GONE) {
            c->state = FCGIX_CLASS_ACTIVE;
            c->uid = uid;
            c->gid = gid;
            strcpy(c->path, path);
            return (int)((start + i) % FCGIX_SB_CLASSES);
        }
    }
    return -1;
}

START_TEST(test_limits)
{
    /* A doorbell message is written atomically only below PIPE_BUF. */
    ck_assert_uint_le(sizeof(fcgix_bell_t), PIPE_BUF);
    /* The longest Unix socket path fits the address field. */
    ck_assert_uint_ge(FCGIX_SB_ADDR, 108);
    ck_assert_uint_eq(sizeof(((fcgix_sb_class_t *)0)->path), FCGIX_SB_PATH);
}
END_TEST

START_TEST(test_hash_identity)
{
    apr_uint64_t a = fcgix_sb_hash("/srv/app.fcgi", 33, 33);

    ck_assert(a == fcgix_sb_hash("/srv/app.fcgi", 33, 33));
    ck_assert(a != fcgix_sb_hash("/srv/app.fcgi", 34, 33));
    ck_assert(a != fcgix_sb_hash("/srv/app.fcgi", 33, 34));
    ck_assert(a != fcgix_sb_hash("/srv/app.fcgj", 33, 33));
}
END_TEST

START_TEST(test_find_probes_past_gone)
{
    char path[64];
    int i, idx[40];

    /* Fill many classes; then retire every other one: the rest must
     * still be found (GONE keeps probe chains intact). */
    for (i = 0; i < 40; i++) {
        snprintf(path, sizeof(path), "/srv/app%d.fcgi", i);
        idx[i] = place(path, 33, 33);
        ck_assert_int_ge(idx[i], 0);
    }
    for (i = 0; i < 40; i += 2) {
        sb->classes[idx[i]].state = FCGIX_CLASS_GONE;
    }
    for (i = 0; i < 40; i++) {
        snprintf(path, sizeof(path), "/srv/app%d.fcgi", i);
        ck_assert_int_eq(fcgix_sb_class_find(sb, path, 33, 33),
                         i % 2 ? idx[i] : -1);
    }
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/srv/app1.fcgi", 0, 33), -1);
}
END_TEST

START_TEST(test_find_collisions)
{
    /* Force every class to collide: all hash positions are taken by a
     * chain; find must walk it and stop at the first FREE slot. */
    int i, n = FCGIX_SB_CLASSES;
    char path[64];

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/c/%d", i);
        ck_assert_int_ge(place(path, 1, 1), 0);
    }
    ck_assert_int_eq(place("/one/too/many", 1, 1), -1);
    for (i = 0; i < n; i += 37) {
        snprintf(path, sizeof(path), "/c/%d", i);
        ck_assert_int_ge(fcgix_sb_class_find(sb, path, 1, 1), 0);
    }
    /* A full table without the class: find gives up after one round. */
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/absent", 1, 1), -1);
}
END_TEST

START_TEST(test_find_prefers_active)
{
    /* An app changed at a graceful restart: its old class drains at the
     * hash position, its successor (same identity) sits further along the
     * chain. Handlers must find the successor, and the draining one only
     * while it is the only one. */
    int old = place("/srv/changed.fcgi", 5, 5), succ;

    ck_assert_int_ge(old, 0);
    sb->classes[old].state = FCGIX_CLASS_DRAINING;
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/srv/changed.fcgi", 5, 5), old);
    succ = place("/srv/changed.fcgi", 5, 5);
    ck_assert_int_ne(succ, old);
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/srv/changed.fcgi", 5, 5), succ);
    /* the old one ends: the chain through its GONE slot still leads on */
    sb->classes[old].state = FCGIX_CLASS_GONE;
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/srv/changed.fcgi", 5, 5), succ);
    /* a draining class with another identity is not a match */
    sb->classes[succ].state = FCGIX_CLASS_DRAINING;
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/srv/changed.fcgi", 5, 6), -1);
    ck_assert_int_eq(fcgix_sb_class_find(sb, "/srv/changed.fcgi", 5, 5), succ);
}
END_TEST

START_TEST(test_copy_checks)
{
    fcgix_sb_class_t out;
    int idx = place("/srv/x.fcgi", 1, 1);

    ck_assert(fcgix_sb_class_copy(sb, (apr_uint32_t)idx, &out));
    ck_assert_str_eq(out.path, "/srv/x.fcgi");
    ck_assert(!fcgix_sb_class_copy(sb, FCGIX_SB_CLASSES, &out));
    ck_assert(!fcgix_sb_class_copy(sb, 0xffffffffu, &out));
    /* Garbage a crashed writer could leave: no terminator. */
    memset(sb->classes[idx].path, 'A', FCGIX_SB_PATH);
    ck_assert(!fcgix_sb_class_copy(sb, (apr_uint32_t)idx, &out));
    strcpy(sb->classes[idx].path, "/srv/x.fcgi");
    memset(sb->classes[idx].addr, 'B', FCGIX_SB_ADDR);
    ck_assert(!fcgix_sb_class_copy(sb, (apr_uint32_t)idx, &out));
    sb->classes[idx].addr[0] = '\0';
    sb->classes[idx].state = 77; /* not a state */
    ck_assert(!fcgix_sb_class_copy(sb, (apr_uint32_t)idx, &out));
    sb->classes[idx].state = FCGIX_CLASS_GONE;
    ck_assert(!fcgix_sb_class_copy(sb, (apr_uint32_t)idx, &out));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scoreboard");
    TCase *tc = tcase_create("layout");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_hash_identity);
    tcase_add_test(tc, test_find_probes_past_gone);
    tcase_add_test(tc, test_find_collisions);
    tcase_add_test(tc, test_find_prefers_active);
    tcase_add_test(tc, test_copy_checks);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
