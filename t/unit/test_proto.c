/*
 * t/unit/test_proto.c - unit tests for proto/fcgix_proto.c (Check).
 *
 * Built by `make -f Makefile.apxs unit`. Every buffer handed to the code
 * under test is an exact-size heap copy, so an ASan build turns any read
 * past the end into a failure instead of a silent pass.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fcgix_proto.h"

/* sizeof of a string literal, without its NUL. */
#define LIT_LEN(s) (sizeof(s) - 1)

/* Exact-size heap copy (at least 1 byte allocated, so n == 0 is fine). */
static unsigned char *dup_exact(const void *p, size_t n)
{
    unsigned char *q = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* ===================================================== golden vectors */
/* Byte layouts written out by hand from the FastCGI 1.0 specification
 * (section 3.3 FCGI_Record, 3.4 name-value pairs, 5.1 BeginRequestBody,
 * 5.5 EndRequestBody) and its appendix B message flows. */

/* {FCGI_BEGIN_REQUEST, 1, {FCGI_RESPONDER, 0}} (appendix B example 1) */
static const unsigned char v_begin[] = {0x01, 0x01, 0x00, 0x01, 0x00, 0x08,
                                        0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00};

/* {FCGI_BEGIN_REQUEST, 2, {FCGI_RESPONDER, FCGI_KEEP_CONN}} (example 4) */
static const unsigned char v_begin_keep[] = {0x01, 0x01, 0x00, 0x02, 0x00, 0x08,
                                             0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
                                             0x00, 0x00, 0x00, 0x00};

/* {FCGI_PARAMS, 1, "\013\002SERVER_PORT80\013\016SERVER_ADDR199.170.183.42"}
 * two FCGI_NameValuePair11 pairs, 42 content bytes, no padding. */
static const unsigned char v_params[] = "\x01\x04\x00\x01\x00\x2a\x00\x00"
                                        "\x0b\x02"
                                        "SERVER_PORT"
                                        "80"
                                        "\x0b\x0e"
                                        "SERVER_ADDR"
                                        "199.170.183.42";

/* FCGI_NameValuePair14: name "QUERY_STRING" (12), value 200 x 'q'.
 * FCGI_NameValuePair41: name 130 x 'N', value "v". Bodies built in code. */
static const unsigned char v_nv14_head[] = {0x0c, 0x80, 0x00, 0x00, 0xc8};
static const unsigned char v_nv41_head[] = {0x80, 0x00, 0x00, 0x82, 0x01};

/* Appendix B example 3, app -> server, with 8-byte alignment padding:
 *   {FCGI_STDOUT, 1, "Content-type: text/html\r\n\r\n<ht"}   30 + 2 pad
 *   {FCGI_STDERR, 1, "config error: missing SI_UID\n"}      29 + 3 pad
 *   {FCGI_STDOUT, 1, "ml>\n<head> ... "}                    15 + 1 pad
 *   {FCGI_STDOUT, 1, ""}
 *   {FCGI_STDERR, 1, ""}
 *   {FCGI_END_REQUEST, 1, {938, FCGI_REQUEST_COMPLETE}} */
static const unsigned char v_example3[] = "\x01\x06\x00\x01\x00\x1e\x02\x00"
                                          "Content-type: text/html\r\n\r\n<ht"
                                          "\x00\x00"
                                          "\x01\x07\x00\x01\x00\x1d\x03\x00"
                                          "config error: missing SI_UID\n"
                                          "\x00\x00\x00"
                                          "\x01\x06\x00\x01\x00\x0f\x01\x00"
                                          "ml>\n<head> ... "
                                          "\x00"
                                          "\x01\x06\x00\x01\x00\x00\x00\x00"
                                          "\x01\x07\x00\x01\x00\x00\x00\x00"
                                          "\x01\x03\x00\x01\x00\x08\x00\x00"
                                          "\x00\x00\x03\xaa\x00\x00\x00\x00";
static const char v_example3_out[] =
    "Content-type: text/html\r\n\r\n<html>\n<head> ... ";
static const char v_example3_err[] = "config error: missing SI_UID\n";

/* Appendix B example 1 response, request id 1, no padding. */
static const unsigned char v_example1[] = "\x01\x06\x00\x01\x00\x22\x00\x00"
                                          "Content-type: text/html\r\n\r\n"
                                          "<html>\n"
                                          "\x01\x06\x00\x01\x00\x00\x00\x00"
                                          "\x01\x03\x00\x01\x00\x08\x00\x00"
                                          "\x00\x00\x00\x00\x00\x00\x00\x00";

/* END_REQUEST alone with 5 bytes of (non-zero) padding, appStatus with the
 * top bit set, protocolStatus FCGI_CANT_MPX_CONN. */
static const unsigned char v_end_pad[] = "\x01\x03\x00\x01\x00\x08\x05\x00"
                                         "\xff\xff\xff\xfe\x01\x00\x00\x00"
                                         "\xaa\xbb\xcc\xdd\xee";

/* A STDERR record with padding and an empty STDOUT record with padding,
 * then END_REQUEST with FCGI_UNKNOWN_ROLE. */
static const unsigned char v_stderr_pad[] = "\x01\x07\x00\x01\x00\x05\x03\x00"
                                            "oops\n"
                                            "\x01\x02\x03"
                                            "\x01\x06\x00\x01\x00\x00\x07\x00"
                                            "\x00\x00\x00\x00\x00\x00\x00"
                                            "\x01\x03\x00\x01\x00\x08\x00\x00"
                                            "\x00\x00\x00\x01\x03\x00\x00\x00";

/* ============================================== decoder test harness */

typedef struct {
    unsigned char *out, *err; /* concatenated STDOUT / STDERR slices */
    size_t out_len, err_len, cap;
    int ends; /* END_REQUEST events */
    uint32_t app_status;
    unsigned protocol_status;
    fcgix_proto_err_t error; /* first ERROR, or FCGIX_E_NONE */
} run_t;

static void run_init(run_t *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap;
    r->out = malloc(cap ? cap : 1);
    r->err = malloc(cap ? cap : 1);
    ck_assert(r->out != NULL && r->err != NULL);
}

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

static void run_slice(run_t *r, const fcgix_event_t *ev)
{
    unsigned char *dst = ev->type == FCGIX_EV_STDOUT ? r->out : r->err;
    size_t *have = ev->type == FCGIX_EV_STDOUT ? &r->out_len : &r->err_len;

    ck_assert_uint_gt(ev->len, 0);
    ck_assert_uint_le(*have + ev->len, r->cap);
    ck_assert_int_eq(r->ends, 0);
    memcpy(dst + *have, ev->data, ev->len);
    *have += ev->len;
}

/* Feeds one chunk until the decoder says it consumed everything. Checks the
 * contract on every call: counts, zero-copy slices, sticky errors. */
static void dec_chunk(fcgix_dec_t *d, const unsigned char *p, size_t n,
                      run_t *r)
{
    for (;;) {
        fcgix_event_t ev;
        size_t used = fcgix_dec_feed(d, p, n, &ev);

        ck_assert_uint_le(used, n);
        if (r->error != FCGIX_E_NONE) {
            ck_assert_int_eq(ev.type, FCGIX_EV_ERROR);
            ck_assert_int_eq(ev.error, r->error);
            ck_assert_uint_eq(used, 0);
            return;
        }
        switch (ev.type) {
        case FCGIX_EV_NONE:
            ck_assert_uint_eq(used, n);
            return;
        case FCGIX_EV_STDOUT:
        case FCGIX_EV_STDERR:
            /* The slice points into this input and ends the event. */
            ck_assert(ev.data >= p && ev.data + ev.len == p + used);
            run_slice(r, &ev);
            break;
        case FCGIX_EV_END_REQUEST:
            ck_assert_int_eq(r->ends, 0);
            ck_assert_int_eq(fcgix_dec_ended(d), 1);
            r->ends++;
            r->app_status = ev.app_status;
            r->protocol_status = ev.protocol_status;
            break;
        case FCGIX_EV_ERROR:
            ck_assert_int_ne(ev.error, FCGIX_E_NONE);
            r->error = ev.error;
            break;
        default:
            ck_abort_msg("unknown event type %d", (int)ev.type);
        }
        if (ev.type != FCGIX_EV_ERROR)
            ck_assert_uint_gt(used, 0);
        p += used;
        n -= used;
    }
}

/* Decodes buf cut at the sorted offsets cuts[0..ncuts). */
static void dec_run(const unsigned char *buf, size_t len, const size_t *cuts,
                    size_t ncuts, unsigned id, run_t *r)
{
    fcgix_dec_t d;
    size_t i, at = 0;

    run_init(r, len);
    fcgix_dec_init(&d, id);
    for (i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        unsigned char *chunk;

        ck_assert_uint_ge(to, at);
        chunk = dup_exact(buf + at, to - at);
        dec_chunk(&d, chunk, to - at, r);
        free(chunk);
        at = to;
    }
    dec_chunk(&d, NULL, 0, r); /* an empty feed changes nothing */
    ck_assert_int_eq(fcgix_dec_ended(&d), r->ends && !r->error);
}

static void run_assert_eq(const run_t *a, const run_t *b, const char *how,
                          size_t i, size_t j)
{
    ck_assert_msg(a->out_len == b->out_len && a->err_len == b->err_len &&
                      memcmp(a->out, b->out, a->out_len) == 0 &&
                      memcmp(a->err, b->err, a->err_len) == 0 &&
                      a->ends == b->ends && a->error == b->error &&
                      a->app_status == b->app_status &&
                      a->protocol_status == b->protocol_status,
                  "%s split (%zu,%zu) differs from whole input", how, i, j);
}

/* Decodes buf whole, byte by byte, at every split point and (for short
 * vectors) at every pair of split points; all must agree. The whole-input
 * result is left in *ref for the caller to check. */
static void dec_all_splits(const unsigned char *buf, size_t len, unsigned id,
                           run_t *ref)
{
    size_t i, j, *cuts;
    run_t r;

    dec_run(buf, len, NULL, 0, id, ref);

    cuts = malloc((len + 1) * sizeof(*cuts));
    ck_assert_ptr_nonnull(cuts);
    for (i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    dec_run(buf, len, cuts, len ? len - 1 : 0, id, &r);
    run_assert_eq(ref, &r, "byte-by-byte", 0, 0);
    run_free(&r);
    free(cuts);

    for (i = 0; i <= len; i++) {
        size_t one[1];

        one[0] = i;
        dec_run(buf, len, one, 1, id, &r);
        run_assert_eq(ref, &r, "single", i, i);
        run_free(&r);
    }
    if (len > 200)
        return;
    for (i = 1; i < len; i++) {
        for (j = i + 1; j < len; j++) {
            size_t two[2];

            two[0] = i;
            two[1] = j;
            dec_run(buf, len, two, 2, id, &r);
            run_assert_eq(ref, &r, "double", i, j);
            run_free(&r);
        }
    }
}

/* ============================================================ records */

START_TEST(test_rec_header_golden)
{
    unsigned char out[FCGIX_REC_HEADER_LEN];

    /* The first header of the example-3 vector. */
    fcgix_rec_header(out, FCGIX_T_STDOUT, 1, 30, 2);
    ck_assert_mem_eq(out, v_example3, 8);
    /* The END_REQUEST header of the padded END vector. */
    fcgix_rec_header(out, FCGIX_T_END_REQUEST, 1, 8, 5);
    ck_assert_mem_eq(out, v_end_pad, 8);
    fcgix_rec_header(out, FCGIX_T_PARAMS, 0xbeef, 65535, 255);
    ck_assert_mem_eq(out, "\x01\x04\xbe\xef\xff\xff\xff\x00", 8);
}
END_TEST

START_TEST(test_rec_header_truncates)
{
    unsigned char buf[FCGIX_REC_HEADER_LEN + 2];

    memset(buf, 0x5a, sizeof(buf));
    fcgix_rec_header(buf + 1, 0x106, 0x10001, 0x12345, 0x1ff);
    ck_assert_mem_eq(buf + 1, "\x01\x06\x00\x01\x23\x45\xff\x00", 8);
    ck_assert_uint_eq(buf[0], 0x5a);
    ck_assert_uint_eq(buf[9], 0x5a);
}
END_TEST

START_TEST(test_rec_begin_request_golden)
{
    unsigned char out[FCGIX_BEGIN_REQUEST_LEN];

    ck_assert_uint_eq(sizeof(v_begin), FCGIX_BEGIN_REQUEST_LEN);
    memset(out, 0xee, sizeof(out));
    fcgix_rec_begin_request(out, 1, FCGIX_ROLE_RESPONDER, 0);
    ck_assert_mem_eq(out, v_begin, sizeof(v_begin));
    memset(out, 0xee, sizeof(out));
    fcgix_rec_begin_request(out, 2, FCGIX_ROLE_RESPONDER, FCGIX_FLAG_KEEP_CONN);
    ck_assert_mem_eq(out, v_begin_keep, sizeof(v_begin_keep));
    fcgix_rec_begin_request(out, 0x1234, FCGIX_ROLE_FILTER, 0);
    ck_assert_mem_eq(out,
                     "\x01\x01\x12\x34\x00\x08\x00\x00"
                     "\x00\x03\x00\x00\x00\x00\x00\x00",
                     16);
}
END_TEST

START_TEST(test_rec_wrap_size_table)
{
    ck_assert_uint_eq(fcgix_rec_wrap_size(0), 8);
    ck_assert_uint_eq(fcgix_rec_wrap_size(1), 9);
    ck_assert_uint_eq(fcgix_rec_wrap_size(65534), 65542);
    ck_assert_uint_eq(fcgix_rec_wrap_size(65535), 65543);
    ck_assert_uint_eq(fcgix_rec_wrap_size(65536), 65536 + 16);
    ck_assert_uint_eq(fcgix_rec_wrap_size(131070), 131070 + 16);
    ck_assert_uint_eq(fcgix_rec_wrap_size(131071), 131071 + 24);
    /* Overflowing sizes saturate instead of wrapping to something small. */
    ck_assert_uint_eq(fcgix_rec_wrap_size(SIZE_MAX), SIZE_MAX);
    ck_assert_uint_eq(fcgix_rec_wrap_size(SIZE_MAX - 8), SIZE_MAX);
}
END_TEST

START_TEST(test_rec_wrap_params_golden)
{
    /* The PARAMS golden record is what wrap makes of its content. */
    unsigned char out[64];
    size_t clen = LIT_LEN(v_params) - 8;

    ck_assert_uint_eq(clen, 42);
    ck_assert_uint_eq(
        fcgix_rec_wrap(out, sizeof(out), FCGIX_T_PARAMS, 1, v_params + 8, clen),
        LIT_LEN(v_params));
    ck_assert_mem_eq(out, v_params, LIT_LEN(v_params));
    /* len == 0: the empty end-of-stream record; data may be NULL. */
    ck_assert_uint_eq(
        fcgix_rec_wrap(out, sizeof(out), FCGIX_T_PARAMS, 1, NULL, 0), 8);
    ck_assert_mem_eq(out, "\x01\x04\x00\x01\x00\x00\x00\x00", 8);
}
END_TEST

/* Wraps n bytes and checks the record layout and the cap boundary. */
static void wrap_check(size_t n)
{
    size_t need = fcgix_rec_wrap_size(n), pos = 0, off = 0;
    unsigned char *data = malloc(n ? n : 1), *out = malloc(need + 1);
    size_t i;

    ck_assert(data != NULL && out != NULL);
    for (i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    /* One byte short: nothing is written. */
    memset(out, 0xa5, need + 1);
    ck_assert_uint_eq(fcgix_rec_wrap(out, need - 1, FCGIX_T_STDIN, 9, data, n),
                      0);
    for (i = 0; i <= need; i++)
        ck_assert_uint_eq(out[i], 0xa5);
    ck_assert_uint_eq(fcgix_rec_wrap(out, need, FCGIX_T_STDIN, 9, data, n),
                      need);
    ck_assert_uint_eq(out[need], 0xa5);
    do {
        size_t clen = ((size_t)out[pos + 4] << 8) | out[pos + 5];

        ck_assert_mem_eq(out + pos, "\x01\x05\x00\x09", 4);
        ck_assert_uint_eq(out[pos + 6], 0);
        ck_assert_uint_eq(out[pos + 7], 0);
        ck_assert_uint_le(clen, 65535);
        ck_assert(n == 0 || clen > 0);
        ck_assert_mem_eq(out + pos + 8, data + off, clen);
        pos += 8 + clen;
        off += clen;
    } while (pos < need);
    ck_assert_uint_eq(pos, need);
    ck_assert_uint_eq(off, n);
    free(data);
    free(out);
}

START_TEST(test_rec_wrap_boundaries)
{
    static const size_t sizes[] = {0,     1,     100,    65534, 65535,
                                   65536, 65537, 131070, 131071};
    size_t i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        wrap_check(sizes[i]);
}
END_TEST

START_TEST(test_rec_wrap_refuses)
{
    unsigned char out[16], one = 'x';

    ck_assert_uint_eq(fcgix_rec_wrap(NULL, 100, FCGIX_T_STDIN, 1, &one, 1), 0);
    ck_assert_uint_eq(
        fcgix_rec_wrap(out, sizeof(out), FCGIX_T_STDIN, 1, NULL, 1), 0);
    ck_assert_uint_eq(fcgix_rec_wrap(out, 7, FCGIX_T_STDIN, 1, NULL, 0), 0);
    /* A length whose size does not fit in size_t is refused, not wrapped. */
    ck_assert_uint_eq(
        fcgix_rec_wrap(out, SIZE_MAX, FCGIX_T_STDIN, 1, &one, SIZE_MAX - 4), 0);
}
END_TEST

/* =================================================== name-value pairs */

START_TEST(test_nv_size_table)
{
    ck_assert_uint_eq(fcgix_nv_size(0, 0), 2);
    ck_assert_uint_eq(fcgix_nv_size(11, 2), 15);
    ck_assert_uint_eq(fcgix_nv_size(127, 127), 256);
    ck_assert_uint_eq(fcgix_nv_size(128, 0), 133);
    ck_assert_uint_eq(fcgix_nv_size(0, 128), 133);
    ck_assert_uint_eq(fcgix_nv_size(128, 128), 264);
    ck_assert_uint_eq(fcgix_nv_size(0x7fffffff, 0), 0x7fffffffu + 5);
    ck_assert_uint_eq(fcgix_nv_size(0, 0x7fffffff), 0x7fffffffu + 5);
    ck_assert_uint_eq(fcgix_nv_size(0x80000000u, 0), 0);
    ck_assert_uint_eq(fcgix_nv_size(0, 0x80000000u), 0);
    ck_assert_uint_eq(fcgix_nv_size(SIZE_MAX, 1), 0);
    ck_assert_uint_eq(fcgix_nv_size(SIZE_MAX, SIZE_MAX), 0);
#if SIZE_MAX > 0xffffffffu
    ck_assert_uint_eq(fcgix_nv_size(0x7fffffff, 0x7fffffff),
                      (size_t)0xfffffffeu + 8);
#else
    ck_assert_uint_eq(fcgix_nv_size(0x7fffffff, 0x7fffffff), 0);
#endif
}
END_TEST

START_TEST(test_nv_params_golden)
{
    /* Both pairs of the PARAMS vector, encoded and decoded. */
    const unsigned char *pairs = v_params + 8, *n, *v;
    unsigned char out[32];
    size_t nl, vl, used;

    ck_assert_uint_eq(
        fcgix_nv_encode(out, sizeof(out), "SERVER_PORT", 11, "80", 2), 15);
    ck_assert_mem_eq(out, pairs, 15);
    ck_assert_uint_eq(fcgix_nv_encode(out, sizeof(out), "SERVER_ADDR", 11,
                                      "199.170.183.42", 14),
                      27);
    ck_assert_mem_eq(out, pairs + 15, 27);

    ck_assert_int_eq(fcgix_nv_decode(pairs, 42, &used, &n, &nl, &v, &vl),
                     FCGIX_NV_OK);
    ck_assert_uint_eq(used, 15);
    ck_assert(n == pairs + 2 && nl == 11 && v == pairs + 13 && vl == 2);
    ck_assert_mem_eq(n, "SERVER_PORT", 11);
    ck_assert_int_eq(fcgix_nv_decode(pairs + 15, 27, &used, &n, &nl, &v, &vl),
                     FCGIX_NV_OK);
    ck_assert_uint_eq(used, 27);
    ck_assert_mem_eq(v, "199.170.183.42", 14);
}
END_TEST

/* Builds head + body into an exact heap buffer; checks encode == golden
 * and that every truncation decodes as SHORT. */
static void nv_golden_4byte(const unsigned char *head, size_t nl,
                            unsigned char nc, size_t vl, unsigned char vc)
{
    size_t total = 5 + nl + vl, used, k, onl, ovl;
    unsigned char *want = malloc(total), *out = malloc(total), *name, *val;
    const unsigned char *n, *v;

    name = malloc(nl);
    val = malloc(vl);
    ck_assert(want && out && name && val);
    memset(name, nc, nl);
    memset(val, vc, vl);
    memcpy(want, head, 5);
    memcpy(want + 5, name, nl);
    memcpy(want + 5 + nl, val, vl);
    ck_assert_uint_eq(fcgix_nv_size(nl, vl), total);
    ck_assert_uint_eq(fcgix_nv_encode(out, total, name, nl, val, vl), total);
    ck_assert_mem_eq(out, want, total);
    ck_assert_uint_eq(fcgix_nv_encode(out, total - 1, name, nl, val, vl), 0);
    for (k = 0; k < total; k++) {
        unsigned char *cut = dup_exact(want, k);

        ck_assert_int_eq(fcgix_nv_decode(cut, k, &used, &n, &onl, &v, &ovl),
                         FCGIX_NV_SHORT);
        ck_assert_uint_eq(used, 0);
        free(cut);
    }
    ck_assert_int_eq(fcgix_nv_decode(want, total, &used, &n, &onl, &v, &ovl),
                     FCGIX_NV_OK);
    ck_assert(used == total && onl == nl && ovl == vl);
    ck_assert(n == want + 5 && v == want + 5 + nl);
    free(want);
    free(out);
    free(name);
    free(val);
}

START_TEST(test_nv_golden_4byte_lengths)
{
    nv_golden_4byte(v_nv14_head, 12, 'Q', 200, 'q');
    nv_golden_4byte(v_nv41_head, 130, 'N', 1, 'v');
}
END_TEST

/* Encodes a pair with the given lengths; returns the bytes used for the
 * two length fields, after checking the round trip. */
static size_t nv_len_bytes(size_t nl, size_t vl)
{
    size_t size = fcgix_nv_size(nl, vl), used, onl, ovl, lb;
    unsigned char *buf = malloc(size), *src = malloc(nl + vl + 1);
    const unsigned char *n, *v;

    ck_assert(buf != NULL && src != NULL);
    memset(src, 'a', nl + vl + 1);
    ck_assert_uint_eq(fcgix_nv_encode(buf, size, src, nl, src, vl), size);
    lb = size - nl - vl;
    ck_assert_int_eq(fcgix_nv_decode(buf, size, &used, &n, &onl, &v, &ovl),
                     FCGIX_NV_OK);
    ck_assert(used == size && onl == nl && ovl == vl);
    if (nl >= 128)
        ck_assert_uint_eq(buf[0], 0x80 | (unsigned)(nl >> 24));
    else
        ck_assert_uint_eq(buf[0], nl);
    free(buf);
    free(src);
    return lb;
}

START_TEST(test_nv_length_boundaries)
{
    ck_assert_uint_eq(nv_len_bytes(0, 0), 2);
    ck_assert_uint_eq(nv_len_bytes(127, 0), 2);
    ck_assert_uint_eq(nv_len_bytes(128, 0), 5);
    ck_assert_uint_eq(nv_len_bytes(0, 127), 2);
    ck_assert_uint_eq(nv_len_bytes(0, 128), 5);
    ck_assert_uint_eq(nv_len_bytes(127, 128), 5);
    ck_assert_uint_eq(nv_len_bytes(128, 128), 8);
    ck_assert_uint_eq(nv_len_bytes(65536, 70000), 8);
}
END_TEST

START_TEST(test_nv_encode_refuses)
{
    unsigned char out[8];

    memset(out, 0x33, sizeof(out));
    /* Lengths over 2^31-1, and a cap too small for 2^31-1, write nothing
     * (the data pointer is never read). */
    ck_assert_uint_eq(
        fcgix_nv_encode(out, sizeof(out), "x", 0x80000000u, "", 0), 0);
    ck_assert_uint_eq(
        fcgix_nv_encode(out, sizeof(out), "", 0, "x", 0x80000000u), 0);
    ck_assert_uint_eq(fcgix_nv_encode(out, sizeof(out), "x", 0x7fffffff, "", 0),
                      0);
    ck_assert_uint_eq(fcgix_nv_encode(NULL, 100, "a", 1, "b", 1), 0);
    ck_assert_uint_eq(fcgix_nv_encode(out, sizeof(out), NULL, 1, "b", 1), 0);
    ck_assert_uint_eq(fcgix_nv_encode(out, 2, "a", 1, "b", 1), 0);
    ck_assert_mem_eq(out, "\x33\x33\x33\x33\x33\x33\x33\x33", 8);
    /* Empty name and value with NULL pointers are fine. */
    ck_assert_uint_eq(fcgix_nv_encode(out, 2, NULL, 0, NULL, 0), 2);
    ck_assert_mem_eq(out, "\x00\x00", 2);
}
END_TEST

/* Decodes an exact heap copy of s[0..len) and expects SHORT. */
static void nv_expect_short(const char *s, size_t len)
{
    unsigned char *buf = dup_exact(s, len);
    const unsigned char *n = buf, *v = buf;
    size_t used = 99, nl = 99, vl = 99;

    ck_assert_int_eq(fcgix_nv_decode(buf, len, &used, &n, &nl, &v, &vl),
                     FCGIX_NV_SHORT);
    ck_assert(used == 0 && n == NULL && v == NULL && nl == 0 && vl == 0);
    free(buf);
}

START_TEST(test_nv_decode_huge_lengths)
{
    /* 2^31-1 announced, a few bytes present: SHORT, never an overread. */
    nv_expect_short("\xff\xff\xff\xff\x00"
                    "abc",
                    8);
    nv_expect_short("\x01\xff\xff\xff\xff"
                    "xyz",
                    8);
    nv_expect_short("\xff\xff\xff\xff\xff\xff\xff\xff"
                    "ab",
                    10);
    /* 2^31-1 + 2^31-1 must not wrap into something small. */
    nv_expect_short("\xff\xff\xff\xff\xff\xff\xff\xff", 8);
    nv_expect_short("\x80\x00\x00\x80", 4);
    /* Input ending inside a 4-byte length, and the empty input. */
    nv_expect_short("\x80", 1);
    nv_expect_short("\x80\x00\x00", 3);
    nv_expect_short("\x01\x80\x00", 3);
    nv_expect_short("", 0);
    nv_expect_short("\x05", 1);
}
END_TEST

START_TEST(test_nv_decode_truncated_every_length)
{
    unsigned char pair[300];
    const unsigned char *n, *v;
    size_t total, k, used, nl, vl;

    total = fcgix_nv_encode(pair, sizeof(pair), "HTTP_X", 6,
                            "0123456789abcdef0123456789abcdef"
                            "0123456789abcdef0123456789abcdef"
                            "0123456789abcdef0123456789abcdef"
                            "0123456789abcdef0123456789abcdef",
                            128);
    ck_assert_uint_eq(total, 1 + 4 + 6 + 128);
    for (k = 0; k < total; k++)
        nv_expect_short((const char *)pair, k);
    ck_assert_int_eq(fcgix_nv_decode(pair, total, &used, &n, &nl, &v, &vl),
                     FCGIX_NV_OK);
    ck_assert_uint_eq(used, total);
}
END_TEST

START_TEST(test_nv_decode_misc)
{
    const unsigned char *n, *v;
    size_t used, nl, vl;
    /* A non-minimal 4-byte length for 5 is still a valid length. */
    static const unsigned char wide[] = "\x80\x00\x00\x05\x00"
                                        "HELLO";
    /* Two pairs back to back: only the first is consumed. */
    static const unsigned char two[] = "\x01\x01"
                                       "ab"
                                       "\x01\x01"
                                       "cd";

    ck_assert_int_eq(
        fcgix_nv_decode(wide, LIT_LEN(wide), &used, &n, &nl, &v, &vl),
        FCGIX_NV_OK);
    ck_assert(used == 10 && nl == 5 && vl == 0 && n == wide + 5);
    ck_assert_int_eq(
        fcgix_nv_decode(two, LIT_LEN(two), &used, &n, &nl, &v, &vl),
        FCGIX_NV_OK);
    ck_assert(used == 4 && *n == 'a' && *v == 'b');
    ck_assert_int_eq(fcgix_nv_decode(NULL, 5, &used, &n, &nl, &v, &vl),
                     FCGIX_NV_SHORT);
}
END_TEST

/* ============================================================ decoder */

START_TEST(test_dec_example3_all_splits)
{
    run_t r;

    ck_assert_uint_eq(LIT_LEN(v_example3), 136);
    dec_all_splits(v_example3, LIT_LEN(v_example3), 1, &r);
    ck_assert_int_eq(r.error, FCGIX_E_NONE);
    ck_assert_int_eq(r.ends, 1);
    ck_assert_uint_eq(r.app_status, 938);
    ck_assert_uint_eq(r.protocol_status, FCGIX_PS_REQUEST_COMPLETE);
    ck_assert_uint_eq(r.out_len, LIT_LEN(v_example3_out));
    ck_assert_mem_eq(r.out, v_example3_out, r.out_len);
    ck_assert_uint_eq(r.err_len, LIT_LEN(v_example3_err));
    ck_assert_mem_eq(r.err, v_example3_err, r.err_len);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_example1_all_splits)
{
    static const char want[] = "Content-type: text/html\r\n\r\n<html>\n";
    run_t r;

    dec_all_splits(v_example1, LIT_LEN(v_example1), 1, &r);
    ck_assert(r.error == FCGIX_E_NONE && r.ends == 1);
    ck_assert(r.app_status == 0 && r.protocol_status == 0);
    ck_assert_uint_eq(r.out_len, LIT_LEN(want));
    ck_assert_mem_eq(r.out, want, r.out_len);
    ck_assert_uint_eq(r.err_len, 0);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_end_padding_all_splits)
{
    run_t r;

    dec_all_splits(v_end_pad, LIT_LEN(v_end_pad), 1, &r);
    ck_assert(r.error == FCGIX_E_NONE && r.ends == 1);
    ck_assert_uint_eq(r.app_status, 0xfffffffeu);
    ck_assert_uint_eq(r.protocol_status, FCGIX_PS_CANT_MPX_CONN);
    ck_assert(r.out_len == 0 && r.err_len == 0);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_stderr_padding_all_splits)
{
    run_t r;

    dec_all_splits(v_stderr_pad, LIT_LEN(v_stderr_pad), 1, &r);
    ck_assert(r.error == FCGIX_E_NONE && r.ends == 1);
    ck_assert_uint_eq(r.app_status, 1);
    ck_assert_uint_eq(r.protocol_status, FCGIX_PS_UNKNOWN_ROLE);
    ck_assert_uint_eq(r.out_len, 0);
    ck_assert_uint_eq(r.err_len, 5);
    ck_assert_mem_eq(r.err, "oops\n", 5);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_request_vectors_rejected)
{
    /* Records only a server sends: an app must not send them. Every split
     * reports the same error. */
    run_t r;

    dec_all_splits(v_begin, sizeof(v_begin), 1, &r);
    ck_assert_int_eq(r.error, FCGIX_E_TYPE);
    run_free(&r);
    dec_all_splits(v_params, LIT_LEN(v_params), 1, &r);
    ck_assert_int_eq(r.error, FCGIX_E_TYPE);
    run_free(&r);
    dec_all_splits(v_begin_keep, sizeof(v_begin_keep), 2, &r);
    ck_assert_int_eq(r.error, FCGIX_E_TYPE);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_truncated_every_length)
{
    size_t k, len = LIT_LEN(v_example3);
    run_t r;

    for (k = 0; k < len; k++) {
        dec_run(v_example3, k, NULL, 0, 1, &r);
        ck_assert_int_eq(r.error, FCGIX_E_NONE);
        ck_assert_int_eq(r.ends, 0);
        /* What was reported is a prefix of the full streams. */
        ck_assert_uint_le(r.out_len, LIT_LEN(v_example3_out));
        ck_assert_uint_le(r.err_len, LIT_LEN(v_example3_err));
        ck_assert_mem_eq(r.out, v_example3_out, r.out_len);
        ck_assert_mem_eq(r.err, v_example3_err, r.err_len);
        run_free(&r);
    }
}
END_TEST

START_TEST(test_dec_large_records)
{
    /* Data wrapped into maximal records decodes back unchanged. */
    size_t n = 200000, need = fcgix_rec_wrap_size(n), i, at;
    unsigned char *data = malloc(n), *wire = malloc(need + 16);
    size_t cuts[3] = {65543, 65544, 131086};
    run_t r, r2;

    ck_assert(data && wire);
    for (i = 0; i < n; i++)
        data[i] = (unsigned char)(i ^ (i >> 8));
    at = fcgix_rec_wrap(wire, need, FCGIX_T_STDOUT, 7, data, n);
    ck_assert_uint_eq(at, need);
    fcgix_rec_header(wire + at, FCGIX_T_END_REQUEST, 7, 8, 0);
    memset(wire + at + 8, 0, 8);
    dec_run(wire, need + 16, NULL, 0, 7, &r);
    ck_assert(r.error == FCGIX_E_NONE && r.ends == 1 && r.out_len == n);
    ck_assert_mem_eq(r.out, data, n);
    dec_run(wire, need + 16, cuts, 3, 7, &r2);
    run_assert_eq(&r, &r2, "large", 0, 0);
    run_free(&r);
    run_free(&r2);
    free(data);
    free(wire);
}
END_TEST

/* One record header + body in an exact heap buffer; expects an error. */
static void dec_expect_error(const unsigned char *buf, size_t len, unsigned id,
                             fcgix_proto_err_t want)
{
    run_t r;

    dec_all_splits(buf, len, id, &r);
    ck_assert_msg(r.error == want, "got error %d (%s), want %d (%s)",
                  (int)r.error, fcgix_proto_strerror(r.error), (int)want,
                  fcgix_proto_strerror(want));
    run_free(&r);
}

static void rec(unsigned char *out, unsigned version, unsigned type,
                unsigned id, unsigned clen, unsigned plen)
{
    fcgix_rec_header(out, type, id, clen, plen);
    out[0] = (unsigned char)version;
}

START_TEST(test_dec_err_version)
{
    static const unsigned versions[] = {0, 2, 0x81, 0xff};
    unsigned char b[24];
    size_t i;

    memset(b, 0, sizeof(b));
    for (i = 0; i < 4; i++) {
        rec(b, versions[i], FCGIX_T_STDOUT, 1, 4, 0);
        dec_expect_error(b, 12, 1, FCGIX_E_VERSION);
    }
    /* An app speaking HTTP instead of FastCGI. */
    dec_expect_error((const unsigned char *)"HTTP/1.1 200 OK\r\n", 17, 1,
                     FCGIX_E_VERSION);
    /* Version is checked first, whatever else is wrong. */
    rec(b, 0, FCGIX_T_BEGIN_REQUEST, 0, 3, 0);
    dec_expect_error(b, 8, 1, FCGIX_E_VERSION);
}
END_TEST

START_TEST(test_dec_err_request_id)
{
    unsigned char b[16];
    run_t r;

    memset(b, 0, sizeof(b));
    rec(b, 1, FCGIX_T_STDOUT, 0, 1, 0);
    dec_expect_error(b, 9, 1, FCGIX_E_REQUEST_ID);
    rec(b, 1, FCGIX_T_STDOUT, 2, 1, 0);
    dec_expect_error(b, 9, 1, FCGIX_E_REQUEST_ID);
    /* Both bytes of the id count (0x0201 vs 0x0102). */
    rec(b, 1, FCGIX_T_END_REQUEST, 0x0201, 8, 0);
    dec_expect_error(b, 16, 0x0102, FCGIX_E_REQUEST_ID);
    /* A management record (null id, GET_VALUES_RESULT). */
    rec(b, 1, FCGIX_T_GET_VALUES_RESULT, 0, 0, 0);
    dec_expect_error(b, 8, 1, FCGIX_E_REQUEST_ID);
    /* Init with 0: id 0 records are still never ours. */
    rec(b, 1, FCGIX_T_STDOUT, 0, 1, 0);
    dec_expect_error(b, 9, 0, FCGIX_E_REQUEST_ID);
    /* The id is compared as the 16 bits fcgix_rec_header() sends. */
    rec(b, 1, FCGIX_T_END_REQUEST, 1, 8, 0);
    dec_run(b, 16, NULL, 0, 0x10001, &r);
    ck_assert(r.error == FCGIX_E_NONE && r.ends == 1);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_err_type)
{
    unsigned char b[16];
    unsigned t;

    memset(b, 0, sizeof(b));
    for (t = 0; t < 256; t++) {
        if (t == FCGIX_T_STDOUT || t == FCGIX_T_STDERR ||
            t == FCGIX_T_END_REQUEST)
            continue;
        rec(b, 1, t, 1, 8, 0);
        {
            run_t r;

            dec_run(b, 16, NULL, 0, 1, &r);
            ck_assert_msg(r.error == FCGIX_E_TYPE, "type %u", t);
            run_free(&r);
        }
    }
    rec(b, 1, FCGIX_T_UNKNOWN_TYPE, 1, 8, 0);
    dec_expect_error(b, 16, 1, FCGIX_E_TYPE);
}
END_TEST

START_TEST(test_dec_err_end_request_length)
{
    static const unsigned lens[] = {0, 1, 7, 9, 16, 65535};
    unsigned char b[8];
    size_t i;

    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        rec(b, 1, FCGIX_T_END_REQUEST, 1, lens[i], 0);
        dec_expect_error(b, 8, 1, FCGIX_E_END_REQUEST);
    }
}
END_TEST

START_TEST(test_dec_err_after_end)
{
    unsigned char b[128];
    size_t plain = LIT_LEN(v_example1), padded = LIT_LEN(v_end_pad);

    /* One byte after END_REQUEST; after its padding; a whole record. */
    memcpy(b, v_example1, plain);
    b[plain] = 0;
    dec_expect_error(b, plain + 1, 1, FCGIX_E_AFTER_END);
    memcpy(b, v_end_pad, padded);
    b[padded] = 1;
    dec_expect_error(b, padded + 1, 1, FCGIX_E_AFTER_END);
    memcpy(b, v_end_pad, padded);
    rec(b + padded, 1, FCGIX_T_STDOUT, 1, 1, 0);
    b[padded + 8] = 'x';
    dec_expect_error(b, padded + 9, 1, FCGIX_E_AFTER_END);
    /* A second END_REQUEST is data after the end, too. */
    memcpy(b, v_end_pad, padded);
    memcpy(b + padded, v_end_pad, padded);
    dec_expect_error(b, 2 * padded, 1, FCGIX_E_AFTER_END);
}
END_TEST

START_TEST(test_dec_after_end_separate_call)
{
    fcgix_dec_t d;
    fcgix_event_t ev;
    unsigned char *end = dup_exact(v_end_pad, LIT_LEN(v_end_pad));
    unsigned char *more = dup_exact("\x01\x06\x00\x01", 4);
    size_t used;

    fcgix_dec_init(&d, 1);
    /* END_REQUEST is reported only once its padding is consumed. */
    used = fcgix_dec_feed(&d, end, 16, &ev);
    ck_assert(used == 16 && ev.type == FCGIX_EV_NONE);
    ck_assert_int_eq(fcgix_dec_ended(&d), 0);
    used = fcgix_dec_feed(&d, end + 16, 5, &ev);
    ck_assert(used == 5 && ev.type == FCGIX_EV_END_REQUEST);
    ck_assert_int_eq(fcgix_dec_ended(&d), 1);
    used = fcgix_dec_feed(&d, end, 0, &ev);
    ck_assert(used == 0 && ev.type == FCGIX_EV_NONE);
    used = fcgix_dec_feed(&d, more, 4, &ev);
    ck_assert(ev.type == FCGIX_EV_ERROR && ev.error == FCGIX_E_AFTER_END);
    ck_assert_uint_eq(used, 1); /* the offending byte */
    ck_assert_int_eq(fcgix_dec_ended(&d), 0);
    free(end);
    free(more);
}
END_TEST

START_TEST(test_dec_error_sticky)
{
    fcgix_dec_t d;
    fcgix_event_t ev;
    unsigned char bad[8], *good = dup_exact(v_example1, LIT_LEN(v_example1));
    size_t used;

    rec(bad, 1, FCGIX_T_STDOUT, 9, 0, 0);
    fcgix_dec_init(&d, 1);
    /* No error before the header is complete. */
    used = fcgix_dec_feed(&d, bad, 7, &ev);
    ck_assert(used == 7 && ev.type == FCGIX_EV_NONE);
    used = fcgix_dec_feed(&d, bad + 7, 1, &ev);
    ck_assert(ev.type == FCGIX_EV_ERROR && ev.error == FCGIX_E_REQUEST_ID);
    ck_assert_uint_eq(used, 1);
    for (int i = 0; i < 3; i++) {
        used = fcgix_dec_feed(&d, good, LIT_LEN(v_example1), &ev);
        ck_assert(used == 0 && ev.type == FCGIX_EV_ERROR);
        ck_assert_int_eq(ev.error, FCGIX_E_REQUEST_ID);
        ck_assert(ev.data == NULL && ev.len == 0);
    }
    ck_assert_int_eq(fcgix_dec_ended(&d), 0);
    free(good);
}
END_TEST

START_TEST(test_dec_error_after_data)
{
    /* Data before a bad record is still delivered, then the error. */
    unsigned char b[32];
    run_t r;

    memcpy(b, v_stderr_pad, 16);
    rec(b + 16, 1, FCGIX_T_STDIN, 1, 0, 0);
    dec_all_splits(b, 24, 1, &r);
    ck_assert_int_eq(r.error, FCGIX_E_TYPE);
    ck_assert(r.err_len == 5 && memcmp(r.err, "oops\n", 5) == 0);
    run_free(&r);
}
END_TEST

START_TEST(test_dec_feed_null_input)
{
    fcgix_dec_t d;
    fcgix_event_t ev;

    fcgix_dec_init(&d, 1);
    ck_assert_uint_eq(fcgix_dec_feed(&d, NULL, 10, &ev), 0);
    ck_assert_int_eq(ev.type, FCGIX_EV_NONE);
}
END_TEST

START_TEST(test_dec_strerror)
{
    fcgix_proto_err_t e;

    for (e = FCGIX_E_NONE; e <= FCGIX_E_AFTER_END; e++) {
        ck_assert_ptr_nonnull(fcgix_proto_strerror(e));
        ck_assert_uint_gt(strlen(fcgix_proto_strerror(e)), 0);
    }
    ck_assert_str_eq(fcgix_proto_strerror(FCGIX_E_AFTER_END),
                     "data after END_REQUEST");
    ck_assert_str_eq(fcgix_proto_strerror((fcgix_proto_err_t)99),
                     "unknown protocol error");
}
END_TEST

/* ===================================================== header framer */

typedef struct {
    const char *s;
    size_t len;
    size_t max_bytes, max_lines, max_line;
    fcgix_hdr_status_t st;
    size_t at; /* DONE: bytes in the block; TOO_BIG/BAD: offending offset */
} hdr_case_t;

#define BIG 100000, 1000, 10000
#define HC(lit, lim, st, at)                                                   \
    {                                                                          \
        lit, LIT_LEN(lit), lim, FCGIX_HDR_##st, at                             \
    }

/* Feeds s cut at cuts[]; returns the status and the absolute offset. */
static fcgix_hdr_status_t hdr_run(const hdr_case_t *c, const size_t *cuts,
                                  size_t ncuts, size_t *at)
{
    fcgix_hdr_t h;
    fcgix_hdr_status_t st = FCGIX_HDR_MORE;
    size_t i, from = 0, used;

    fcgix_hdr_init(&h, c->max_bytes, c->max_lines, c->max_line);
    *at = 0;
    for (i = 0; i <= ncuts && st == FCGIX_HDR_MORE; i++) {
        size_t to = i < ncuts ? cuts[i] : c->len;
        unsigned char *chunk = dup_exact(c->s + from, to - from);

        st = fcgix_hdr_feed(&h, chunk, to - from, &used);
        ck_assert_uint_le(used, to - from);
        if (st == FCGIX_HDR_MORE)
            ck_assert_uint_eq(used, to - from);
        *at = from + used;
        free(chunk);
        from = to;
    }
    if (st != FCGIX_HDR_MORE) {
        /* Terminal states are sticky and consume nothing. */
        ck_assert_int_eq(
            fcgix_hdr_feed(&h, (const unsigned char *)"x", 1, &used), st);
        ck_assert_uint_eq(used, 0);
    }
    return st;
}

static void hdr_check_case(const hdr_case_t *c, size_t idx)
{
    size_t at, i, cuts[1];
    fcgix_hdr_status_t st = hdr_run(c, NULL, 0, &at);

    ck_assert_msg(st == c->st && at == c->at,
                  "case %zu: got status %d at %zu, want %d at %zu", idx,
                  (int)st, at, (int)c->st, c->at);
    for (i = 0; i <= c->len; i++) {
        size_t at2;

        cuts[0] = i;
        ck_assert_msg(hdr_run(c, cuts, 1, &at2) == st && at2 == at,
                      "case %zu split at %zu differs", idx, i);
    }
    {
        size_t *all = malloc((c->len + 1) * sizeof(*all)), at3;

        ck_assert_ptr_nonnull(all);
        for (i = 0; i + 1 < c->len; i++)
            all[i] = i + 1;
        ck_assert_msg(hdr_run(c, all, c->len ? c->len - 1 : 0, &at3) == st &&
                          at3 == at,
                      "case %zu byte by byte differs", idx);
        free(all);
    }
}

static void hdr_check_cases(const hdr_case_t *cs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        hdr_check_case(&cs[i], i);
}

START_TEST(test_hdr_good_blocks)
{
    static const hdr_case_t cs[] = {
        HC("Content-Type: text/html\n\n", BIG, DONE, 25),
        HC("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n", BIG, DONE, 44),
        HC("A: b\r\nC: d\n\r\n", BIG, DONE, 13),
        HC("A: b\nC: d\r\n\n", BIG, DONE, 12),
        HC("X-A: 1\n\nbody\r\n\r\n", BIG, DONE, 8),
        HC("\n", BIG, DONE, 1),
        HC("\r\n", BIG, DONE, 2),
        HC("\r\nA: b\n\n", BIG, DONE, 2),
        HC("X:\n\n", BIG, DONE, 4),
        HC("X:\tA\tB \n\n", BIG, DONE, 9),
        HC("X: \x80\xff\xc3\xa9\n\n", BIG, DONE, 9),
        HC("Location: http://example.com:8080/x?y=z\n\n", BIG, DONE, 41),
        HC("!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", BIG, DONE, 28),
        /* Incomplete blocks want more input. */
        HC("Content-Type: text/html\n", BIG, MORE, 24),
        HC("A: b\r\n\r", BIG, MORE, 7),
        HC("A: b\r", BIG, MORE, 5),
        HC("", BIG, MORE, 0),
    };

    hdr_check_cases(cs, sizeof(cs) / sizeof(cs[0]));
}
END_TEST

START_TEST(test_hdr_bad_blocks)
{
    static const hdr_case_t cs[] = {
        /* bare CR */
        HC("A: b\rc\n\n", BIG, BAD, 5),
        HC("A: b\r\r\n\n", BIG, BAD, 5),
        HC("\rX", BIG, BAD, 1),
        HC("\r\r\n", BIG, BAD, 1),
        HC("A: b\n\rX", BIG, BAD, 6),
        HC("A: b\n\r\r", BIG, BAD, 6),
        /* NUL and other controls, DEL */
        HC("A\0: b\n\n", BIG, BAD, 1),
        HC("A: b\0c\n\n", BIG, BAD, 4),
        HC("\0A: b\n\n", BIG, BAD, 0),
        HC("A: \x01\n\n", BIG, BAD, 3),
        HC("A: b\x1f\n\n", BIG, BAD, 4),
        HC("A: \x1b[31m\n\n", BIG, BAD, 3),
        HC("A: b\x7f\n\n", BIG, BAD, 4),
        HC("A\x7f: b\n\n", BIG, BAD, 1),
        HC("A: b\x0b\n\n", BIG, BAD, 4),
        HC("A: b\x0c\n\n", BIG, BAD, 4),
        /* obs-fold, leading whitespace */
        HC("A: b\n c\n\n", BIG, BAD, 5),
        HC("A: b\n\tc\n\n", BIG, BAD, 5),
        HC(" A: b\n\n", BIG, BAD, 0),
        HC("\tA: b\n\n", BIG, BAD, 0),
        /* not name ":" value */
        HC(": b\n\n", BIG, BAD, 0),
        HC("Foo\n\n", BIG, BAD, 3),
        HC("Foo\r\n\r\n", BIG, BAD, 3),
        HC("Foo : bar\n\n", BIG, BAD, 3),
        HC("Foo\t: bar\n\n", BIG, BAD, 3),
        HC("Fo(o: x\n\n", BIG, BAD, 2),
        HC("Foo@: x\n\n", BIG, BAD, 3),
        HC("F\x80: x\n\n", BIG, BAD, 1),
        HC("F\"o: x\n\n", BIG, BAD, 1),
        HC("A: b\nC\n\n", BIG, BAD, 6),
        HC("HTTP/1.1 200 OK\r\n\r\n", BIG, BAD, 4),
        HC("<html>\n", BIG, BAD, 0),
    };

    hdr_check_cases(cs, sizeof(cs) / sizeof(cs[0]));
}
END_TEST

#define LIM(b, n, l) b, n, l

START_TEST(test_hdr_limits)
{
    static const hdr_case_t cs[] = {
        /* total bytes, LF and CRLF: at the limit and one over */
        HC("A: b\n\n", LIM(6, 10, 100), DONE, 6),
        HC("A: b\n\n", LIM(5, 10, 100), TOO_BIG, 5),
        HC("A: b\r\n\r\n", LIM(8, 10, 100), DONE, 8),
        HC("A: b\r\n\r\n", LIM(7, 10, 100), TOO_BIG, 7),
        HC("\n", LIM(0, 10, 100), TOO_BIG, 0),
        /* Reported at the first byte over, without waiting for more. */
        HC("A: bcdef", LIM(5, 10, 100), TOO_BIG, 5),
        HC("A: bcdef", LIM(8, 10, 100), MORE, 8),
        /* number of header lines */
        HC("A: 1\nB: 2\n\n", LIM(100, 2, 100), DONE, 11),
        HC("A: 1\nB: 2\n\n", LIM(100, 1, 100), TOO_BIG, 5),
        HC("A: 1\r\nB: 2\r\n\r\n", LIM(100, 1, 100), TOO_BIG, 6),
        HC("A: 1\nB", LIM(100, 1, 100), TOO_BIG, 5),
        HC("\n", LIM(100, 0, 100), DONE, 1),
        HC("A", LIM(100, 0, 100), TOO_BIG, 0),
        /* bytes per line, excluding the line ending */
        HC("Abc: de\n\n", LIM(100, 10, 7), DONE, 9),
        HC("Abc: de\n\n", LIM(100, 10, 6), TOO_BIG, 6),
        HC("Abc: de\r\n\r\n", LIM(100, 10, 7), DONE, 11),
        HC("Abc: de\r\n\r\n", LIM(100, 10, 6), TOO_BIG, 6),
        HC("Abc: de", LIM(100, 10, 6), TOO_BIG, 6),
        HC("Abcdefgh", LIM(100, 10, 3), TOO_BIG, 3),
        HC("A: 1\nBcdefg: 2\n\n", LIM(100, 10, 4), TOO_BIG, 9),
        HC("\r\n", LIM(100, 10, 0), DONE, 2),
        HC("A", LIM(100, 10, 0), TOO_BIG, 0),
        /* A limit is checked before the byte's syntax. */
        HC("A: \x01", LIM(100, 10, 3), TOO_BIG, 3),
        HC("A: 1\n B", LIM(100, 1, 100), TOO_BIG, 5),
        HC("A: \x01", LIM(3, 10, 100), TOO_BIG, 3),
    };

    hdr_check_cases(cs, sizeof(cs) / sizeof(cs[0]));
}
END_TEST

START_TEST(test_hdr_null_and_empty)
{
    fcgix_hdr_t h;
    size_t used = 7;

    fcgix_hdr_init(&h, 10, 10, 10);
    ck_assert_int_eq(fcgix_hdr_feed(&h, NULL, 5, &used), FCGIX_HDR_MORE);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(fcgix_hdr_feed(&h, (const unsigned char *)"\n", 1, &used),
                     FCGIX_HDR_DONE);
    ck_assert_uint_eq(used, 1);
}
END_TEST

/* ======================================================= fcgix_hdr_next */

START_TEST(test_hdr_next_iterates)
{
    static const char blk[] = "Status: 404 Not Found\r\n"
                              "Content-Type:text/html\r\n"
                              "X-Empty:\r\n"
                              "X-Pad: \t a b \t\r\n"
                              "Set-Cookie: a=b; c=d\n"
                              "\r\n"
                              "BODY: not a header\n";
    static const char *const want[][2] = {{"Status", "404 Not Found"},
                                          {"Content-Type", "text/html"},
                                          {"X-Empty", ""},
                                          {"X-Pad", "a b"},
                                          {"Set-Cookie", "a=b; c=d"}};
    size_t used, lens[2], i, pass;
    fcgix_hdr_t h;
    unsigned char *b = dup_exact(blk, LIT_LEN(blk));

    fcgix_hdr_init(&h, 1000, 10, 100);
    ck_assert_int_eq(fcgix_hdr_feed(&h, b, LIT_LEN(blk), &used),
                     FCGIX_HDR_DONE);
    lens[0] = used;
    lens[1] = LIT_LEN(blk); /* the body after the block is never read */
    for (pass = 0; pass < 2; pass++) {
        const unsigned char *n, *v;
        size_t pos = 0, nl, vl;

        for (i = 0; i < 5; i++) {
            ck_assert_int_eq(
                fcgix_hdr_next(b, lens[pass], &pos, &n, &nl, &v, &vl), 1);
            ck_assert_uint_eq(nl, strlen(want[i][0]));
            ck_assert_mem_eq(n, want[i][0], nl);
            ck_assert_uint_eq(vl, strlen(want[i][1]));
            ck_assert_mem_eq(v, want[i][1], vl);
            ck_assert(n >= b && v >= b && v + vl <= b + lens[pass]);
        }
        ck_assert_int_eq(fcgix_hdr_next(b, lens[pass], &pos, &n, &nl, &v, &vl),
                         0);
        ck_assert_int_eq(fcgix_hdr_next(b, lens[pass], &pos, &n, &nl, &v, &vl),
                         0);
    }
    free(b);
}
END_TEST

START_TEST(test_hdr_next_edges)
{
    const unsigned char *n, *v;
    size_t pos, nl, vl;
    unsigned char *b = dup_exact("A: 1\nB:2", 8);

    /* An unterminated last line stays inside the buffer. */
    pos = 0;
    ck_assert_int_eq(fcgix_hdr_next(b, 8, &pos, &n, &nl, &v, &vl), 1);
    ck_assert(pos == 5 && nl == 1 && vl == 1 && *v == '1');
    ck_assert_int_eq(fcgix_hdr_next(b, 8, &pos, &n, &nl, &v, &vl), 1);
    ck_assert(pos == 8 && nl == 1 && *n == 'B' && vl == 1 && *v == '2');
    ck_assert_int_eq(fcgix_hdr_next(b, 8, &pos, &n, &nl, &v, &vl), 0);
    /* pos past the end, NULL block, empty block. */
    pos = 100;
    ck_assert_int_eq(fcgix_hdr_next(b, 8, &pos, &n, &nl, &v, &vl), 0);
    pos = 0;
    ck_assert_int_eq(fcgix_hdr_next(NULL, 8, &pos, &n, &nl, &v, &vl), 0);
    ck_assert_int_eq(fcgix_hdr_next(b, 0, &pos, &n, &nl, &v, &vl), 0);
    ck_assert(n == NULL && v == NULL && nl == 0 && vl == 0);
    free(b);
    /* A value of only whitespace is empty; CR only strips as CRLF. */
    b = dup_exact("X: \t \r\n", 7);
    pos = 0;
    ck_assert_int_eq(fcgix_hdr_next(b, 7, &pos, &n, &nl, &v, &vl), 1);
    ck_assert(vl == 0 && pos == 7);
    free(b);
}
END_TEST

START_TEST(test_hdr_name_is)
{
    static const unsigned char line[] = "Status: 200";

    ck_assert_int_eq(fcgix_hdr_name_is(line, 6, "status"), 1);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 6, "STATUS"), 1);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 6, "Status"), 1);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 5, "status"), 0);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 7, "status"), 0);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 6, "statu"), 0);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 6, "statuss"), 0);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 0, ""), 1);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 0, "s"), 0);
    ck_assert_int_eq(fcgix_hdr_name_is(line, 6, NULL), 0);
    ck_assert_int_eq(fcgix_hdr_name_is(NULL, 0, ""), 1);
    /* Only ASCII letters fold: '[' is not '{', '-' is not '_'. */
    ck_assert_int_eq(fcgix_hdr_name_is((const unsigned char *)"[", 1, "{"), 0);
    ck_assert_int_eq(fcgix_hdr_name_is((const unsigned char *)"X-A", 3, "x_a"),
                     0);
    ck_assert_int_eq(
        fcgix_hdr_name_is((const unsigned char *)"\xc9", 1, "\xe9"), 0);
}
END_TEST

START_TEST(test_hdr_status_code_table)
{
    static const struct {
        const char *s;
        int want;
    } t[] = {
        {"200", 200},        {"599", 599},  {"404 Not Found", 404},
        {"302\tFound", 302}, {"500 ", 500}, {"201 ", 201},
        {"199", -1},         {"100", -1},   {"101 Switching", -1},
        {"600", -1},         {"999", -1},   {"000", -1},
        {"20", -1},          {"2", -1},     {"", -1},
        {"2000", -1},        {" 200", -1},  {"\t200", -1},
        {"20a", -1},         {"200x", -1},  {"200:", -1},
        {"+20", -1},         {"-200", -1},  {"2 00", -1},
        {"abc", -1},         {"200\r", -1}, {"200\n", -1},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t len = strlen(t[i].s);
        unsigned char *b = dup_exact(t[i].s, len);

        ck_assert_msg(fcgix_hdr_status_code(b, len) == t[i].want,
                      "\"%s\": got %d want %d", t[i].s,
                      fcgix_hdr_status_code(b, len), t[i].want);
        free(b);
    }
    /* The length is honoured: a slice of "2000", an embedded NUL. */
    ck_assert_int_eq(fcgix_hdr_status_code((const unsigned char *)"2000", 3),
                     200);
    ck_assert_int_eq(fcgix_hdr_status_code((const unsigned char *)"200\0", 4),
                     -1);
    ck_assert_int_eq(fcgix_hdr_status_code(NULL, 3), -1);
}
END_TEST

/* ========================================================= log escape */

static void esc_check(const char *in, size_t len, size_t cap, const char *want,
                      size_t want_used)
{
    char *out = malloc(cap ? cap : 1);
    unsigned char *b = dup_exact(in, len);
    size_t used;

    ck_assert_ptr_nonnull(out);
    used = fcgix_log_escape(out, cap, b, len);
    ck_assert_msg(used == want_used, "consumed %zu, want %zu", used, want_used);
    ck_assert_str_eq(out, want);
    free(out);
    free(b);
}

START_TEST(test_log_escape)
{
    esc_check("hello world", 11, 64, "hello world", 11);
    esc_check(" ~", 2, 64, " ~", 2);
    esc_check("a\\b", 3, 64, "a\\\\b", 3);
    esc_check("\x00\x1f\x7f\x80\xff\n", 6, 64, "\\x00\\x1f\\x7f\\x80\\xff\\x0a",
              6);
    esc_check("", 0, 1, "", 0);
    /* cap == 1: room only for the NUL. */
    esc_check("abc", 3, 1, "", 0);
    /* Cut exactly at the end, and cut before an escape that does not
     * fit whole. */
    esc_check("abc", 3, 4, "abc", 3);
    esc_check("abcd", 4, 4, "abc", 3);
    esc_check("ab\\", 3, 4, "ab", 2);
    esc_check("ab\\", 3, 5, "ab\\\\", 3);
    esc_check("a\x01", 2, 5, "a", 1);
    esc_check("a\x01", 2, 6, "a\\x01", 2);
    esc_check("\x01z", 2, 4, "", 0);
}
END_TEST

START_TEST(test_log_escape_cap0_and_resume)
{
    char out[8] = "zzzzzzz", all[256], part[256];
    unsigned char in[100];
    size_t i, used, at = 0;

    /* cap == 0 writes nothing at all. */
    ck_assert_uint_eq(fcgix_log_escape(out, 0, (const unsigned char *)"a", 1),
                      0);
    ck_assert_str_eq(out, "zzzzzzz");
    ck_assert_uint_eq(fcgix_log_escape(out, 8, NULL, 5), 0);
    ck_assert_str_eq(out, "");
    /* The return value lets a caller continue where the cut was. */
    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37);
    ck_assert_uint_eq(fcgix_log_escape(all, 1, in, 0), 0);
    used = fcgix_log_escape(all, sizeof(all), in, 60);
    ck_assert_uint_eq(used, 60);
    part[0] = '\0';
    while (at < 60) {
        char piece[7];

        used = fcgix_log_escape(piece, sizeof(piece), in + at, 60 - at);
        ck_assert_uint_gt(used, 0);
        ck_assert_uint_le(strlen(piece), sizeof(piece) - 1);
        strcat(part, piece);
        at += used;
    }
    ck_assert_str_eq(part, all);
}
END_TEST

/* ================================================= fuzzer regressions */
/* (Inputs found by t/fuzz/ go here, one test each.) */

/* =============================================================== main */

static Suite *proto_suite(void)
{
    Suite *s = suite_create("fcgix_proto");
    TCase *tc;

    tc = tcase_create("records");
    tcase_add_test(tc, test_rec_header_golden);
    tcase_add_test(tc, test_rec_header_truncates);
    tcase_add_test(tc, test_rec_begin_request_golden);
    tcase_add_test(tc, test_rec_wrap_size_table);
    tcase_add_test(tc, test_rec_wrap_params_golden);
    tcase_add_test(tc, test_rec_wrap_boundaries);
    tcase_add_test(tc, test_rec_wrap_refuses);
    suite_add_tcase(s, tc);

    tc = tcase_create("name-value");
    tcase_add_test(tc, test_nv_size_table);
    tcase_add_test(tc, test_nv_params_golden);
    tcase_add_test(tc, test_nv_golden_4byte_lengths);
    tcase_add_test(tc, test_nv_length_boundaries);
    tcase_add_test(tc, test_nv_encode_refuses);
    tcase_add_test(tc, test_nv_decode_huge_lengths);
    tcase_add_test(tc, test_nv_decode_truncated_every_length);
    tcase_add_test(tc, test_nv_decode_misc);
    suite_add_tcase(s, tc);

    tc = tcase_create("decoder");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dec_example3_all_splits);
    tcase_add_test(tc, test_dec_example1_all_splits);
    tcase_add_test(tc, test_dec_end_padding_all_splits);
    tcase_add_test(tc, test_dec_stderr_padding_all_splits);
    tcase_add_test(tc, test_dec_request_vectors_rejected);
    tcase_add_test(tc, test_dec_truncated_every_length);
    tcase_add_test(tc, test_dec_large_records);
    tcase_add_test(tc, test_dec_err_version);
    tcase_add_test(tc, test_dec_err_request_id);
    tcase_add_test(tc, test_dec_err_type);
    tcase_add_test(tc, test_dec_err_end_request_length);
    tcase_add_test(tc, test_dec_err_after_end);
    tcase_add_test(tc, test_dec_after_end_separate_call);
    tcase_add_test(tc, test_dec_error_sticky);
    tcase_add_test(tc, test_dec_error_after_data);
    tcase_add_test(tc, test_dec_feed_null_input);
    tcase_add_test(tc, test_dec_strerror);
    suite_add_tcase(s, tc);

    tc = tcase_create("header");
    tcase_add_test(tc, test_hdr_good_blocks);
    tcase_add_test(tc, test_hdr_bad_blocks);
    tcase_add_test(tc, test_hdr_limits);
    tcase_add_test(tc, test_hdr_null_and_empty);
    tcase_add_test(tc, test_hdr_next_iterates);
    tcase_add_test(tc, test_hdr_next_edges);
    tcase_add_test(tc, test_hdr_name_is);
    tcase_add_test(tc, test_hdr_status_code_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("log");
    tcase_add_test(tc, test_log_escape);
    tcase_add_test(tc, test_log_escape_cap0_and_resume);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
