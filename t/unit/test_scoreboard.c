/*
 * t/unit/test_scoreboard.c - the scoreboard's layout and accessors.
 *
 * Handlers find classes by probing from the identity hash; the PM places
 * them the same way. These tests pin the probing rules (GONE keeps the
 * chain, FREE ends it), the checks a reader makes on what it copies, and
 * the size limits the design relies on; and the count of spooled request
 * bodies (FastCgiSpoolLimit): entries per httpd child, a limit that holds
 * under concurrent takers, and a dead child's entry given back whole.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pm/pm_int.h"

static fcgix_sb_t *sb;

static void setup(void)
{
    sb = calloc(1, sizeof(*sb));
}

static void teardown(void)
{
    free(sb);
}

/* Places a class where the PM does (fcgix_sb_class_place) and fills it. */
static int place(const char *path, apr_uint32_t uid, apr_uint32_t gid)
{
    int idx = fcgix_sb_class_place(sb->classes, path, uid, gid);
    fcgix_sb_class_t *c;

    if (idx < 0) {
        return -1;
    }
    c = &sb->classes[idx];
    c->state = FCGIX_CLASS_ACTIVE;
    c->uid = uid;
    c->gid = gid;
    strcpy(c->path, path);
    return idx;
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

START_TEST(test_spool_claim)
{
    int a = fcgix_sb_spool_claim(sb, 101), b = fcgix_sb_spool_claim(sb, 102);
    int i;

    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, 0);
    ck_assert_int_ne(a, b);
    ck_assert_int_eq(fcgix_sb_spool_claim(sb, 0), -1);
    /* a dead process with the same pid left its entry: reused, zeroed */
    sb->spool[a].kib = 77;
    ck_assert_int_eq(fcgix_sb_spool_claim(sb, 101), a);
    ck_assert_uint_eq(sb->spool[a].kib, 0);
    /* a full table: no entry */
    for (i = 0; i < FCGIX_SB_CHILDREN; i++) {
        if (sb->spool[i].pid == 0) {
            sb->spool[i].pid = 1000000 + (apr_uint32_t)i;
        }
    }
    ck_assert_int_eq(fcgix_sb_spool_claim(sb, 103), -1);
}
END_TEST

START_TEST(test_spool_limit)
{
    int a = fcgix_sb_spool_claim(sb, 201), b = fcgix_sb_spool_claim(sb, 202);

    ck_assert(fcgix_sb_spool_take(sb, a, 600, 1024));
    ck_assert(!fcgix_sb_spool_take(sb, b, 500, 1024)); /* 1100 > 1024 */
    ck_assert_uint_eq(sb->spool[b].kib, 0);            /* nothing kept */
    ck_assert(fcgix_sb_spool_take(sb, b, 424, 1024));  /* exactly 1024 */
    ck_assert(!fcgix_sb_spool_take(sb, a, 1, 1024));
    ck_assert(fcgix_sb_spool_take(sb, a, 0, 1024));
    ck_assert_uint_eq(fcgix_sb_spool_total(sb), 1024);
    fcgix_sb_spool_give(sb, a, 100);
    ck_assert(fcgix_sb_spool_take(sb, b, 100, 1024));
    ck_assert_uint_eq(sb->spool[a].kib, 500);
    ck_assert_uint_eq(sb->spool[b].kib, 524);
    /* no entry, or more than the limit alone: refused, nothing counted */
    ck_assert(!fcgix_sb_spool_take(sb, -1, 1, 1 << 20));
    ck_assert(!fcgix_sb_spool_take(sb, FCGIX_SB_CHILDREN, 1, 1 << 20));
    ck_assert(!fcgix_sb_spool_take(sb, a, 2000, 1024));
    ck_assert_uint_eq(fcgix_sb_spool_total(sb), 1024);
    /* giving back more than is held stops at zero */
    fcgix_sb_spool_give(sb, a, 100000);
    ck_assert_uint_eq(sb->spool[a].kib, 0);
    fcgix_sb_spool_give(sb, -1, 5); /* ignored */
    ck_assert_uint_eq(fcgix_sb_spool_total(sb), 524);
}
END_TEST

START_TEST(test_spool_release)
{
    int a = fcgix_sb_spool_claim(sb, 301), b = fcgix_sb_spool_claim(sb, 302);

    ck_assert(fcgix_sb_spool_take(sb, a, 700, 1024));
    ck_assert(!fcgix_sb_spool_take(sb, b, 700, 1024));
    /* child 301 dies holding 700 KiB: its reaping gives them back */
    ck_assert_uint_eq(fcgix_sb_spool_release(sb, 301), 700);
    ck_assert_uint_eq(sb->spool[a].pid, 0);
    ck_assert_uint_eq(sb->spool[a].kib, 0);
    ck_assert(fcgix_sb_spool_take(sb, b, 700, 1024));
    ck_assert_uint_eq(fcgix_sb_spool_release(sb, 301), 0); /* once */
    ck_assert_uint_eq(fcgix_sb_spool_release(sb, 0), 0);
    /* the freed entry is taken again by a new child */
    ck_assert_int_eq(fcgix_sb_spool_claim(sb, 303), a);
    ck_assert_uint_eq(fcgix_sb_spool_total(sb), 700);
}
END_TEST

/* Concurrent takers (two threads per entry, as in a threaded httpd child)
 * never hold more than the limit together: `held` counts what successful
 * takes hold, raised after a take and lowered before the give. */
#define SPOOL_LIMIT 1000
static volatile apr_uint32_t held, over;

static void *spool_worker(void *arg)
{
    int idx = *(int *)arg, i;
    volatile int spin;

    for (i = 0; i < 20000; i++) {
        /* 300 KiB each: three fit, a fourth does not */
        if (fcgix_sb_spool_take(sb, idx, 300, SPOOL_LIMIT)) {
            if (apr_atomic_add32(&held, 300) + 300 > SPOOL_LIMIT) {
                apr_atomic_inc32(&over);
            }
            for (spin = 0; spin < 2000; spin++) { /* hold it a while */
            }
            apr_atomic_sub32(&held, 300);
            fcgix_sb_spool_give(sb, idx, 300);
        }
    }
    return NULL;
}

START_TEST(test_spool_concurrent)
{
    pthread_t th[8];
    int idx[4], i;

    for (i = 0; i < 4; i++) {
        idx[i] = fcgix_sb_spool_claim(sb, 400 + (apr_uint32_t)i);
    }
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(
            pthread_create(&th[i], NULL, spool_worker, &idx[i % 4]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
    }
    ck_assert_uint_eq(over, 0);
    ck_assert_uint_eq(fcgix_sb_spool_total(sb), 0);
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
    tcase_add_test(tc, test_spool_claim);
    tcase_add_test(tc, test_spool_limit);
    tcase_add_test(tc, test_spool_release);
    tcase_add_test(tc, test_spool_concurrent);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
