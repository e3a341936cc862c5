/*
 * t/fuzz/fuzz_decoder.c - libFuzzer target for fcgix_dec_feed().
 *
 * The input is an app -> server byte stream for request id 1. It is
 * decoded whole, at one split point, in pseudo-random chunks and byte by
 * byte (split points derived from the data, so a crash replays); every run
 * must give the same concatenated STDOUT/STDERR bytes and the same END or
 * error outcome. Each call is also checked against the contract (counts,
 * zero-copy slices, sticky errors); any violation abort()s.
 *
 * Chunks are exact-size heap copies so ASan sees a read past a chunk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fcgix_proto.h"

#define REQ_ID 1

typedef struct {
    unsigned char *out, *err;
    size_t out_len, err_len;
    int ended;
    uint32_t app_status;
    unsigned protocol_status;
    fcgix_proto_err_t error;
} outcome_t;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static void on_event(outcome_t *o, const fcgix_dec_t *d,
                     const fcgix_event_t *ev, const unsigned char *p,
                     size_t used)
{
    unsigned char *dst;
    size_t *have;

    switch (ev->type) {
    case FCGIX_EV_STDOUT:
    case FCGIX_EV_STDERR:
        check(ev->len > 0 && ev->data >= p && ev->data + ev->len == p + used);
        check(!o->ended);
        dst = ev->type == FCGIX_EV_STDOUT ? o->out : o->err;
        have = ev->type == FCGIX_EV_STDOUT ? &o->out_len : &o->err_len;
        memcpy(dst + *have, ev->data, ev->len);
        *have += ev->len;
        break;
    case FCGIX_EV_END_REQUEST:
        check(!o->ended && fcgix_dec_ended(d) && used > 0);
        o->ended = 1;
        o->app_status = ev->app_status;
        o->protocol_status = ev->protocol_status;
        break;
    case FCGIX_EV_ERROR:
        check(ev->error != FCGIX_E_NONE);
        o->error = ev->error;
        break;
    default:
        abort();
    }
}

/* Feeds one chunk to the end, checking each call against the contract. */
static void feed_chunk(fcgix_dec_t *d, const unsigned char *p, size_t n,
                       outcome_t *o)
{
    for (;;) {
        fcgix_event_t ev;
        size_t used = fcgix_dec_feed(d, p, n, &ev);

        check(used <= n);
        if (o->error != FCGIX_E_NONE) {
            check(ev.type == FCGIX_EV_ERROR && ev.error == o->error &&
                  used == 0);
            return;
        }
        if (ev.type == FCGIX_EV_NONE) {
            check(used == n);
            return;
        }
        on_event(o, d, &ev, p, used);
        if (ev.type != FCGIX_EV_ERROR)
            check(used > 0);
        p += used;
        n -= used;
    }
}

/* Decodes data in chunks: mode 0 whole, 1 one split at seed % (size + 1),
 * 2 pseudo-random chunks of 1..17 bytes, 3 byte by byte. */
static void decode(const uint8_t *data, size_t size, int mode, uint64_t seed,
                   outcome_t *o)
{
    fcgix_dec_t d;
    size_t at = 0;
    uint64_t s = seed | 1;
    int first = 1;

    memset(o, 0, sizeof(*o));
    o->out = malloc(size + 1);
    o->err = malloc(size + 1);
    check(o->out != NULL && o->err != NULL);
    fcgix_dec_init(&d, REQ_ID);
    while (at < size) {
        size_t n = size - at;
        unsigned char *chunk;

        /* The first piece may be empty: an empty feed must be harmless. */
        if (mode == 1 && first)
            n = (size_t)(seed % (size + 1));
        else if (mode == 2)
            n = 1 + (size_t)(next_rand(&s) % 17);
        else if (mode == 3)
            n = 1;
        if (n > size - at)
            n = size - at;
        chunk = malloc(n ? n : 1);
        check(chunk != NULL);
        memcpy(chunk, data + at, n);
        feed_chunk(&d, chunk, n, o);
        free(chunk);
        at += n;
        first = 0;
    }
    feed_chunk(&d, NULL, 0, o);
    check(fcgix_dec_ended(&d) == (o->ended && o->error == FCGIX_E_NONE));
    check(o->out_len + o->err_len <= size);
}

static void same(const outcome_t *a, const outcome_t *b)
{
    check(a->out_len == b->out_len && a->err_len == b->err_len);
    check(memcmp(a->out, b->out, a->out_len) == 0);
    check(memcmp(a->err, b->err, a->err_len) == 0);
    check(a->ended == b->ended && a->error == b->error);
    check(a->app_status == b->app_status);
    check(a->protocol_status == b->protocol_status);
}

static void release(outcome_t *o)
{
    free(o->out);
    free(o->err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = hash(data, size);
    outcome_t whole, split;
    int mode;

    decode(data, size, 0, seed, &whole);
    for (mode = 1; mode <= 3; mode++) {
        decode(data, size, mode, seed, &split);
        same(&whole, &split);
        release(&split);
    }
    check(fcgix_proto_strerror(whole.error) != NULL);
    release(&whole);
    return 0;
}
