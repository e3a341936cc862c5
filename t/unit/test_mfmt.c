/*
 * t/unit/test_mfmt.c - unit tests for mod_fcgix_mfmt.c (Check): the
 * histogram's bucket of a duration (each bound exactly, just below, just
 * above), the cumulative counts a hostile writer cannot make decrease, and
 * the escapes of label values and JSON strings.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mod_fcgix_mfmt.h"

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

START_TEST(test_bucket_table)
{
    static const struct {
        uint64_t us;
        int bucket;
    } rows[] = {
        {0, 0},         {99, 0},        {100, 0},       {101, 1},
        {500, 1},       {501, 2},       {1000, 2},      {1001, 3},
        {5000, 3},      {10000, 4},     {10001, 5},     {50000, 5},
        {100000, 6},    {250000, 7},    {500000, 8},    {999999, 9},
        {1000000, 9},   {1000001, 10},  {2500000, 10},  {10000000, 11},
        {29999999, 12}, {30000000, 12}, {30000001, 13}, {UINT64_MAX, 13},
    };
    size_t i;

    for (i = 0; i < N_ROWS(rows); i++) {
        ck_assert_msg(fcgix_mfmt_bucket(rows[i].us) == rows[i].bucket,
                      "row %zu: %llu us -> %d, want %d", i,
                      (unsigned long long)rows[i].us,
                      fcgix_mfmt_bucket(rows[i].us), rows[i].bucket);
    }
}
END_TEST

/* Every bound's label is the bound in seconds, and the bucket of that many
 * microseconds is its own (le is inclusive). */
START_TEST(test_le_matches_bounds)
{
    int i;

    for (i = 0; i < FCGIX_MFMT_BOUNDS; i++) {
        double s = strtod(fcgix_mfmt_le(i), NULL);
        uint64_t us = (uint64_t)(s * 1e6 + 0.5);
        ck_assert_int_eq(fcgix_mfmt_bucket(us), i);
        ck_assert_int_eq(fcgix_mfmt_bucket(us + 1), i + 1);
        if (i) {
            ck_assert(s > strtod(fcgix_mfmt_le(i - 1), NULL));
        }
    }
    ck_assert_str_eq(fcgix_mfmt_le(FCGIX_MFMT_BOUNDS), "+Inf");
    ck_assert_str_eq(fcgix_mfmt_le(FCGIX_MFMT_BOUNDS - 1), "30");
    ck_assert_str_eq(fcgix_mfmt_le(0), "0.0001");
}
END_TEST

START_TEST(test_cumulate_saturates)
{
    uint64_t n[FCGIX_MFMT_BUCKETS] = {3, 0, UINT64_MAX - 1, 5, 0xffffffffu};
    uint64_t cum[FCGIX_MFMT_BUCKETS];
    int i;

    fcgix_mfmt_cumulate(n, FCGIX_MFMT_BUCKETS, cum);
    ck_assert_uint_eq(cum[0], 3);
    ck_assert_uint_eq(cum[1], 3);
    ck_assert_uint_eq(cum[2], UINT64_MAX);
    for (i = 1; i < FCGIX_MFMT_BUCKETS; i++) {
        ck_assert(cum[i] >= cum[i - 1]);
    }
    ck_assert_uint_eq(cum[FCGIX_MFMT_BUCKETS - 1], UINT64_MAX);
}
END_TEST

static const char *prom(const char *s, size_t len)
{
    static char buf[FCGIX_MFMT_ESC_MAX(64)];

    ck_assert(len <= 64);
    fcgix_mfmt_escape_prom(s, len, buf);
    return buf;
}

static const char *json(const char *s, size_t len)
{
    static char buf[FCGIX_MFMT_ESC_MAX(64)];

    ck_assert(len <= 64);
    fcgix_mfmt_escape_json(s, len, buf);
    return buf;
}

#define P(lit) prom(lit, sizeof(lit) - 1)
#define J(lit) json(lit, sizeof(lit) - 1)

START_TEST(test_escape_prom)
{
    ck_assert_str_eq(P("/srv/a.fcgi"), "/srv/a.fcgi");
    ck_assert_str_eq(P("a\"b\\c\n.fcgi"), "a\\\"b\\\\c\\n.fcgi");
    ck_assert_str_eq(P("tab\there"), "tab\xef\xbf\xbdhere");
    ck_assert_str_eq(P("del\x7f"), "del\xef\xbf\xbd");
    ck_assert_str_eq(P("caf\xc3\xa9"), "caf\xc3\xa9"); /* UTF-8 kept */
    ck_assert_str_eq(P("\xff"), "\xef\xbf\xbd");       /* bad byte */
    ck_assert_str_eq(P("\xc3"), "\xef\xbf\xbd");       /* cut short */
    ck_assert_str_eq(P("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    ck_assert_str_eq(P("\xed\xa0\x80"),                          /* surrogate */
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    ck_assert_str_eq(P("\xf4\x90\x80\x80x"), /* past U+10FFFF */
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
    ck_assert_str_eq(P("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
    ck_assert_str_eq(prom("a\0b", 3), "a\xef\xbf\xbd"
                                      "b");
}
END_TEST

START_TEST(test_escape_json)
{
    ck_assert_str_eq(J("a\"b\\c\n.fcgi"), "a\\\"b\\\\c\\u000a.fcgi");
    ck_assert_str_eq(J("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f");
    ck_assert_str_eq(J("\xfe</script>"), "\xef\xbf\xbd</script>");
    ck_assert_str_eq(J("\xe2\x82\xac"), "\xe2\x82\xac");
}
END_TEST

/* The worst case fits FCGIX_MFMT_ESC_MAX: every byte a control character
 * (JSON: 6 bytes each), and the result is NUL-terminated right there. */
START_TEST(test_escape_worst_case)
{
    char src[64], dst[FCGIX_MFMT_ESC_MAX(64) + 8];
    size_t n;

    memset(src, 0x01, sizeof(src));
    memset(dst, 'Z', sizeof(dst));
    n = fcgix_mfmt_escape_json(src, sizeof(src), dst);
    ck_assert_uint_eq(n, 64 * 6);
    ck_assert_int_eq(dst[n], '\0');
    ck_assert_int_eq(dst[n + 1], 'Z');
    memset(src, 0xff, sizeof(src));
    n = fcgix_mfmt_escape_prom(src, sizeof(src), dst);
    ck_assert_uint_eq(n, 64 * 3);
}
END_TEST

START_TEST(test_utf8_len)
{
    ck_assert_uint_eq(fcgix_mfmt_utf8_len((const unsigned char *)"a", 1), 1);
    ck_assert_uint_eq(fcgix_mfmt_utf8_len((const unsigned char *)"\xc3\xa9", 2),
                      2);
    ck_assert_uint_eq(fcgix_mfmt_utf8_len((const unsigned char *)"\xc3\xa9", 1),
                      0);
    ck_assert_uint_eq(
        fcgix_mfmt_utf8_len((const unsigned char *)"\xe0\x80\x80", 3), 0);
    ck_assert_uint_eq(
        fcgix_mfmt_utf8_len((const unsigned char *)"\xef\xbf\xbd", 3), 3);
    ck_assert_uint_eq(fcgix_mfmt_utf8_len((const unsigned char *)"\x80", 1), 0);
    ck_assert_uint_eq(fcgix_mfmt_utf8_len((const unsigned char *)"", 0), 0);
}
END_TEST

static Suite *mfmt_suite(void)
{
    Suite *s = suite_create("mfmt");
    TCase *tc = tcase_create("buckets");

    tcase_add_test(tc, test_bucket_table);
    tcase_add_test(tc, test_le_matches_bounds);
    tcase_add_test(tc, test_cumulate_saturates);
    suite_add_tcase(s, tc);
    tc = tcase_create("escape");
    tcase_add_test(tc, test_escape_prom);
    tcase_add_test(tc, test_escape_json);
    tcase_add_test(tc, test_escape_worst_case);
    tcase_add_test(tc, test_utf8_len);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mfmt_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
