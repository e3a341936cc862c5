/*
 * t/fuzz/fuzz_header.c - libFuzzer target for the CGI header framer.
 *
 * Input: 3 bytes of limits, then the STDOUT bytes. The stream is framed
 * whole, at one split point, in pseudo-random chunks and byte by byte;
 * all must give the same status at the same absolute offset. For a DONE
 * block, fcgix_hdr_next() walks an exact heap copy of it: every line must
 * lie inside the block, every name be a token, every value be trimmed and
 * free of CR/LF, and the lines must respect the limits. Any mismatch
 * abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fcgix_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t max_bytes, max_lines, max_line;
} limits_t;

static void check(int ok)
{
    if (!ok)
        abort();
}

static uint64_t hash(const uint8_t *data, size_t size)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    size_t i;

    for (i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Frames s in chunks (mode as in fuzz_decoder.c); returns the status and
 * the absolute offset it refers to. */
static fcgix_hdr_status_t frame(const limits_t *lim, const uint8_t *s,
                                size_t len, int mode, uint64_t seed, size_t *at)
{
    fcgix_hdr_t h;
    fcgix_hdr_status_t st = FCGIX_HDR_MORE;
    size_t from = 0, used;
    uint64_t r = seed | 1;
    int first = 1;

    fcgix_hdr_init(&h, lim->max_bytes, lim->max_lines, lim->max_line);
    *at = 0;
    do {
        size_t n = len - from;
        unsigned char *chunk;

        /* The first piece may be empty: an empty feed must be harmless. */
        if (mode == 1 && first)
            n = (size_t)(seed % (len + 1));
        else if (mode == 2)
            n = 1 + (size_t)(next_rand(&r) % 9);
        else if (mode == 3)
            n = 1;
        if (n > len - from)
            n = len - from;
        chunk = malloc(n ? n : 1);
        check(chunk != NULL);
        memcpy(chunk, s + from, n);
        st = fcgix_hdr_feed(&h, chunk, n, &used);
        free(chunk);
        check(used <= n);
        check(st != FCGIX_HDR_MORE || used == n);
        *at = from + used;
        from += n;
        first = 0;
    } while (st == FCGIX_HDR_MORE && from < len);
    if (st != FCGIX_HDR_MORE) {
        check(fcgix_hdr_feed(&h, s, len, &used) == st && used == 0);
        check(st == FCGIX_HDR_DONE || *at < len);
    }
    return st;
}

static void walk_block(const limits_t *lim, const uint8_t *s, size_t len)
{
    unsigned char *b = malloc(len ? len : 1);
    const unsigned char *n, *v;
    size_t pos = 0, nl, vl, lines = 0, i, line;

    check(b != NULL);
    memcpy(b, s, len);
    check(len > 0 && b[len - 1] == '\n' && len <= lim->max_bytes);
    for (;;) {
        size_t before = pos;

        if (!fcgix_hdr_next(b, len, &pos, &n, &nl, &v, &vl))
            break;
        check(pos > before && pos <= len && b[pos - 1] == '\n');
        check(n == b + before && nl > 0 && n + nl < b + pos);
        check(v >= n + nl + 1 && v + vl <= b + pos);
        line = pos - before - 1 - (b[pos - 2] == '\r');
        check(line <= lim->max_line);
        for (i = 0; i < nl; i++)
            check(is_tchar(n[i]));
        for (i = 0; i < vl; i++)
            check(v[i] != '\r' && v[i] != '\n' && v[i] != '\0');
        check(vl == 0 || (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' &&
                          v[vl - 1] != '\t'));
        (void)fcgix_hdr_name_is(n, nl, "Status");
        if (fcgix_hdr_name_is(n, nl, "status")) {
            int code = fcgix_hdr_status_code(v, vl);

            check(code == -1 || (code >= 200 && code <= 599));
        }
        lines++;
    }
    /* The walk stops at the empty line, which ends the block. */
    check(lines <= lim->max_lines);
    check(pos + 1 == len || pos + 2 == len);
    check(b[pos] == '\n' || b[pos] == '\r');
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    limits_t lim;
    const uint8_t *s = data + 3;
    size_t len, at, at2;
    fcgix_hdr_status_t st;
    uint64_t seed;
    int mode;

    if (size < 3)
        return 0;
    len = size - 3;
    /* 0xff means "no limit", so valid long blocks are reachable too. */
    lim.max_bytes = data[0] == 0xff ? SIZE_MAX : (size_t)data[0] * 4;
    lim.max_lines = data[1] == 0xff ? SIZE_MAX : data[1];
    lim.max_line = data[2] == 0xff ? SIZE_MAX : data[2];
    seed = hash(data, size);
    st = frame(&lim, s, len, 0, seed, &at);
    for (mode = 1; mode <= 3; mode++)
        check(frame(&lim, s, len, mode, seed, &at2) == st && at2 == at);
    if (st == FCGIX_HDR_DONE)
        walk_block(&lim, s, at);
    /* Everything before the offending byte (or the final LF) was fine. */
    if (st != FCGIX_HDR_MORE) {
        size_t ok = st == FCGIX_HDR_DONE ? at - 1 : at;

        check(frame(&lim, s, ok, 0, seed, &at2) == FCGIX_HDR_MORE);
        check(at2 == ok);
    }
    return 0;
}
