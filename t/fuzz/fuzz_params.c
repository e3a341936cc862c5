/*
 * t/fuzz/fuzz_params.c - libFuzzer target for the name-value pair codec.
 *
 * 1. Round trip: the input is read as a list of pairs (two length bytes,
 *    then that many name and value bytes, clamped to what is left), each
 *    pair is encoded with fcgix_nv_encode() into one stream and decoded
 *    back with fcgix_nv_decode(); lengths and bytes must match, and every
 *    truncation of the stream must stop with FCGIX_NV_SHORT.
 * 2. The raw input is decoded directly as a PARAMS stream: every pair
 *    must lie inside the input and re-encode to the same bytes when its
 *    lengths were minimally encoded.
 * Any mismatch abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fcgix_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* A length byte: < 0x80 as is, else 120..501 so both encodings and the
 * 127/128 boundary are reached from short inputs. */
static size_t map_len(uint8_t b)
{
    return b < 0x80 ? b : 120 + (size_t)(b & 0x7f) * 3;
}

typedef struct {
    const uint8_t *name, *value;
    size_t name_len, value_len;
} pair_t;

/* Splits the input into pairs; returns how many (at most max). */
static size_t read_pairs(const uint8_t *data, size_t size, pair_t *pairs,
                         size_t max)
{
    size_t at = 0, n = 0;

    while (n < max && size - at >= 2) {
        pair_t *p = &pairs[n++];

        p->name_len = map_len(data[at]);
        p->value_len = map_len(data[at + 1]);
        at += 2;
        if (p->name_len > size - at)
            p->name_len = size - at;
        p->name = data + at;
        at += p->name_len;
        if (p->value_len > size - at)
            p->value_len = size - at;
        p->value = data + at;
        at += p->value_len;
    }
    return n;
}

static size_t encode_all(const pair_t *pairs, size_t n, unsigned char *buf,
                         size_t cap)
{
    size_t i, at = 0;

    for (i = 0; i < n; i++) {
        const pair_t *p = &pairs[i];
        size_t need = fcgix_nv_size(p->name_len, p->value_len);
        size_t w;

        check(need == p->name_len + p->value_len + (p->name_len < 128 ? 1 : 4) +
                          (p->value_len < 128 ? 1 : 4));
        check(fcgix_nv_encode(buf + at, need - 1, p->name, p->name_len,
                              p->value, p->value_len) == 0);
        w = fcgix_nv_encode(buf + at, cap - at, p->name, p->name_len, p->value,
                            p->value_len);
        check(w == need);
        at += w;
    }
    return at;
}

static void round_trip(const uint8_t *data, size_t size)
{
    size_t max = size / 2 + 1, n, i, len, at = 0, cut;
    pair_t *pairs = malloc(max * sizeof(*pairs));
    unsigned char *buf = malloc(size * 4 + 16), *trunc;

    check(pairs != NULL && buf != NULL);
    n = read_pairs(data, size, pairs, max);
    len = encode_all(pairs, n, buf, size * 4 + 16);
    for (i = 0; i < n; i++) {
        const unsigned char *nm, *val;
        size_t used, nl, vl;

        check(fcgix_nv_decode(buf + at, len - at, &used, &nm, &nl, &val, &vl) ==
              FCGIX_NV_OK);
        check(nl == pairs[i].name_len && vl == pairs[i].value_len);
        check(memcmp(nm, pairs[i].name, nl) == 0);
        check(memcmp(val, pairs[i].value, vl) == 0);
        at += used;
    }
    check(at == len);
    /* A cut inside the last pair gives SHORT, read from an exact copy. */
    if (n > 0) {
        const unsigned char *nm, *val;
        size_t used, nl, vl,
            last = len -
                   fcgix_nv_size(pairs[n - 1].name_len, pairs[n - 1].value_len);

        cut = last + (size ? data[0] : 0) % (len - last);
        trunc = malloc(cut - last + 1);
        check(trunc != NULL);
        memcpy(trunc, buf + last, cut - last);
        check(fcgix_nv_decode(trunc, cut - last, &used, &nm, &nl, &val, &vl) ==
              FCGIX_NV_SHORT);
        check(used == 0 && nm == NULL && val == NULL);
        free(trunc);
    }
    free(pairs);
    free(buf);
}

/* Decodes the input itself as a stream of pairs. */
static void raw_decode(const uint8_t *data, size_t size)
{
    size_t at = 0;
    unsigned char *re = malloc(size + 1);

    check(re != NULL);
    for (;;) {
        const unsigned char *nm, *val;
        size_t used, nl, vl, canon;

        if (fcgix_nv_decode(data + at, size - at, &used, &nm, &nl, &val, &vl) !=
            FCGIX_NV_OK)
            break;
        check(used >= 2 && used <= size - at);
        check(nm >= data + at && nm + nl <= data + at + used);
        check(val == nm + nl && val + vl == data + at + used);
        /* Re-encoding is byte-identical when the lengths were minimal. */
        canon = fcgix_nv_size(nl, vl);
        check(canon != 0 && canon <= used);
        if (canon == used) {
            check(fcgix_nv_encode(re, size + 1, nm, nl, val, vl) == used);
            check(memcmp(re, data + at, used) == 0);
        }
        at += used;
    }
    check(at <= size);
    free(re);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    round_trip(data, size);
    raw_decode(data, size);
    return 0;
}
