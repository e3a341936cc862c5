/*
 * mod_fcgix_mfmt.c - histogram buckets and string escaping for the
 * metrics (see mod_fcgix_mfmt.h). Pure functions: no httpd, no APR.
 */
#include <string.h>

#include "mod_fcgix_mfmt.h"

/* Upper bounds in microseconds, from 100 us (a kept connection to an app
 * that answers from memory) to 30 s (httpd's default-ish timeouts). */
static const uint64_t bound_us[FCGIX_MFMT_BOUNDS] = {
    100,    500,    1000,    5000,    10000,    50000,   100000,
    250000, 500000, 1000000, 2500000, 10000000, 30000000};
static const char *const bound_le[FCGIX_MFMT_BUCKETS] = {
    "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.05", "0.1",
    "0.25",   "0.5",    "1",     "2.5",   "10",   "30",   "+Inf"};

int fcgix_mfmt_bucket(uint64_t us)
{
    int i;

    for (i = 0; i < FCGIX_MFMT_BOUNDS; i++) {
        if (us <= bound_us[i]) {
            return i;
        }
    }
    return FCGIX_MFMT_BOUNDS;
}

const char *fcgix_mfmt_le(int i)
{
    return i >= 0 && i < FCGIX_MFMT_BUCKETS ? bound_le[i] : "+Inf";
}

void fcgix_mfmt_cumulate(const uint64_t *n, int k, uint64_t *cum)
{
    uint64_t sum = 0;
    int i;

    for (i = 0; i < k; i++) {
        sum = sum + n[i] < sum ? UINT64_MAX : sum + n[i];
        cum[i] = sum;
    }
}

static int cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

size_t fcgix_mfmt_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c;

    if (n == 0) {
        return 0;
    }
    c = s[0];
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        return n >= 2 && cont(s[1]) ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        /* E0: no overlong (A0..BF); ED: no surrogates (80..9F) */
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && cont(s[2]) ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        /* F0: no overlong (90..BF); F4: up to U+10FFFF (80..8F) */
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && cont(s[2]) && cont(s[3])
                   ? 4
                   : 0;
    }
    return 0;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Puts the bytes of s (no NUL: the escape goes on) at out; their count. */
static size_t put(char *out, const char *s)
{
    size_t n;

    for (n = 0; s[n]; n++) {
        out[n] = s[n];
    }
    return n;
}

/* One character of s at *i for either form: the escape (into out), or 0
 * when it is copied as it is (*len bytes). */
static size_t escape_one(const unsigned char *s, size_t n, int json,
                         size_t *len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = s[0];

    *len = fcgix_mfmt_utf8_len(s, n);
    if (*len == 0) {
        *len = 1; /* the bad byte alone */
        return put(out, replacement);
    }
    if (c == '\\' || c == '"') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c == '\n' && !json) {
        return put(out, "\\n");
    }
    if (c < 0x20 || c == 0x7f) {
        if (!json) {
            return put(out, replacement);
        }
        put(out, "\\u00");
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        return 6;
    }
    return 0;
}

static size_t escape(const char *s, size_t len, char *dst, int json)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;

    while (i < len) {
        size_t used, w = escape_one(u + i, len - i, json, &used, dst + o);
        if (w == 0) {
            memcpy(dst + o, u + i, used);
            w = used;
        }
        o += w;
        i += used;
    }
    dst[o] = '\0';
    return o;
}

size_t fcgix_mfmt_escape_prom(const char *s, size_t len, char *dst)
{
    return escape(s, len, dst, 0);
}

size_t fcgix_mfmt_escape_json(const char *s, size_t len, char *dst)
{
    return escape(s, len, dst, 1);
}
