/*
 * mod_fcgix_mfmt.h - the pure parts of the metrics (no httpd, no shared
 * memory): histogram buckets, and escaping of strings for Prometheus label
 * values and JSON. Unit-tested in t/unit/test_mfmt.c.
 */
#ifndef MOD_FCGIX_MFMT_H
#define MOD_FCGIX_MFMT_H

#include <stddef.h>
#include <stdint.h>

/* Histogram buckets: FCGIX_MFMT_BOUNDS upper bounds (inclusive, as
 * Prometheus' `le`), then +Inf. pm/scoreboard.h's FCGIX_SB_HBUCKETS
 * is FCGIX_MFMT_BUCKETS. */
#define FCGIX_MFMT_BOUNDS 13
#define FCGIX_MFMT_BUCKETS (FCGIX_MFMT_BOUNDS + 1)

/* The bucket of a duration in microseconds: the first whose bound is not
 * below it; FCGIX_MFMT_BOUNDS (+Inf) past the last bound. */
int fcgix_mfmt_bucket(uint64_t us);
/* Bucket i's `le` label value in seconds ("0.0001" ... "30", "+Inf"). */
const char *fcgix_mfmt_le(int i);

/* Cumulative counts of n per-bucket counts (what shared memory holds,
 * which any writer may have made anything): each cum[i] is the sum of
 * n[0..i], saturating at UINT64_MAX, so the series never decreases. */
void fcgix_mfmt_cumulate(const uint64_t *n, int k, uint64_t *cum);

/* Escapes len bytes of s into dst, which has room for at least
 * FCGIX_MFMT_ESC_MAX(len) bytes; NUL-terminates, returns the length.
 * Both forms give valid UTF-8: a byte that is no part of a well-formed
 * UTF-8 sequence becomes U+FFFD.
 *   prom: a Prometheus text-format label value: \ " and newline as \\ \"
 *         \n; other control characters (C0, DEL) as U+FFFD.
 *   json: a JSON string's content: \ and " escaped, control characters
 *         as \u00XX (and DEL too). */
#define FCGIX_MFMT_ESC_MAX(len) ((len)*6 + 1)
size_t fcgix_mfmt_escape_prom(const char *s, size_t len, char *dst);
size_t fcgix_mfmt_escape_json(const char *s, size_t len, char *dst);

/* The length of the well-formed UTF-8 sequence at s (n bytes left): 1 to
 * 4, or 0 when the bytes there are none (overlong forms, surrogates and
 * code points past U+10FFFF are none). */
size_t fcgix_mfmt_utf8_len(const unsigned char *s, size_t n);

#endif /* MOD_FCGIX_MFMT_H */
