/*
 * proto/fcgix_proto.c - the FastCGI wire protocol, as pure functions.
 *
 * The contract is in fcgix_proto.h. Everything here works on caller
 * buffers given as (pointer, length): no allocation, no I/O, no logging,
 * and every function is total - any input bytes give a defined result.
 */
#include "fcgix_proto.h"

#include <string.h>

/* Name-value lengths go up to 2^31-1 and record arithmetic assumes that
 * such a length fits in size_t. */
_Static_assert(SIZE_MAX >= 0xffffffffu, "size_t must have 32 bits or more");

/* ---------------------------------------------------------------- records */

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)((v >> 8) & 0xff);
    p[1] = (unsigned char)(v & 0xff);
}

void fcgix_rec_header(unsigned char out[FCGIX_REC_HEADER_LEN], unsigned type,
                      unsigned request_id, size_t content_len,
                      unsigned padding_len)
{
    out[0] = FCGIX_PROTO_VERSION;
    out[1] = (unsigned char)(type & 0xff);
    put16(out + 2, request_id);
    put16(out + 4, content_len);
    out[6] = (unsigned char)(padding_len & 0xff);
    out[7] = 0;
}

void fcgix_rec_begin_request(unsigned char out[FCGIX_BEGIN_REQUEST_LEN],
                             unsigned request_id, unsigned role, unsigned flags)
{
    unsigned char *body = out + FCGIX_REC_HEADER_LEN;

    fcgix_rec_header(out, FCGIX_T_BEGIN_REQUEST, request_id, 8, 0);
    put16(body, role);
    body[2] = (unsigned char)(flags & 0xff);
    memset(body + 3, 0, 5);
}

size_t fcgix_rec_wrap_size(size_t len)
{
    size_t nrec;

    if (len == 0)
        return FCGIX_REC_HEADER_LEN;
    nrec = len / FCGIX_REC_MAX_CONTENT + (len % FCGIX_REC_MAX_CONTENT != 0);
    /* Saturate instead of wrapping: no buffer can be that big, so the
     * caller's allocation or fcgix_rec_wrap() fails cleanly. */
    if (nrec > (SIZE_MAX - len) / FCGIX_REC_HEADER_LEN)
        return SIZE_MAX;
    return len + nrec * FCGIX_REC_HEADER_LEN;
}

size_t fcgix_rec_wrap(unsigned char *out, size_t cap, unsigned type,
                      unsigned request_id, const unsigned char *data,
                      size_t len)
{
    size_t need = fcgix_rec_wrap_size(len);
    size_t pos = 0, off = 0;

    /* need == SIZE_MAX means "does not fit in size_t" (see above). */
    if (out == NULL || cap < need || need == SIZE_MAX)
        return 0;
    if (len == 0) {
        fcgix_rec_header(out, type, request_id, 0, 0);
        return FCGIX_REC_HEADER_LEN;
    }
    if (data == NULL)
        return 0;
    while (off < len) {
        size_t chunk = len - off;

        if (chunk > FCGIX_REC_MAX_CONTENT)
            chunk = FCGIX_REC_MAX_CONTENT;
        fcgix_rec_header(out + pos, type, request_id, chunk, 0);
        memcpy(out + pos + FCGIX_REC_HEADER_LEN, data + off, chunk);
        pos += FCGIX_REC_HEADER_LEN + chunk;
        off += chunk;
    }
    return pos;
}

/* ------------------------------------------------------ name-value pairs */

static size_t nv_len_size(size_t n)
{
    return n < 128 ? 1 : 4;
}

size_t fcgix_nv_size(size_t name_len, size_t value_len)
{
    size_t fixed;

    if (name_len > FCGIX_NV_MAX_LEN || value_len > FCGIX_NV_MAX_LEN)
        return 0;
    fixed = nv_len_size(name_len) + nv_len_size(value_len);
    /* Two maximal lengths need 2^32 + 6 bytes: more than a 32-bit size_t
     * holds. Refuse rather than return a wrapped, too small size. */
    if (value_len > SIZE_MAX - fixed || name_len > SIZE_MAX - fixed - value_len)
        return 0;
    return fixed + name_len + value_len;
}

static unsigned char *nv_put_len(unsigned char *p, size_t n)
{
    if (n < 128) {
        *p = (unsigned char)n;
        return p + 1;
    }
    p[0] = (unsigned char)(0x80 | ((n >> 24) & 0x7f));
    p[1] = (unsigned char)((n >> 16) & 0xff);
    p[2] = (unsigned char)((n >> 8) & 0xff);
    p[3] = (unsigned char)(n & 0xff);
    return p + 4;
}

size_t fcgix_nv_encode(unsigned char *out, size_t cap, const void *name,
                       size_t name_len, const void *value, size_t value_len)
{
    size_t size = fcgix_nv_size(name_len, value_len);
    unsigned char *p;

    if (size == 0 || out == NULL || cap < size)
        return 0;
    if ((name == NULL && name_len != 0) || (value == NULL && value_len != 0))
        return 0;
    p = nv_put_len(out, name_len);
    p = nv_put_len(p, value_len);
    /* memcpy with a NULL pointer is undefined even for 0 bytes. */
    if (name_len != 0)
        memcpy(p, name, name_len);
    if (value_len != 0)
        memcpy(p + name_len, value, value_len);
    return size;
}

/* Reads one length at in[*off]; 0 if the input ends inside it. */
static int nv_get_len(const unsigned char *in, size_t len, size_t *off,
                      size_t *n)
{
    const unsigned char *p;

    if (*off >= len)
        return 0;
    p = in + *off;
    if ((p[0] & 0x80) == 0) {
        *n = p[0];
        *off += 1;
        return 1;
    }
    if (len - *off < 4)
        return 0;
    *n = ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) |
         ((size_t)p[2] << 8) | (size_t)p[3];
    *off += 4;
    return 1;
}

fcgix_nv_status_t fcgix_nv_decode(const unsigned char *in, size_t len,
                                  size_t *consumed, const unsigned char **name,
                                  size_t *name_len, const unsigned char **value,
                                  size_t *value_len)
{
    size_t off = 0, nl = 0, vl = 0, rest;

    *consumed = 0;
    *name = NULL;
    *value = NULL;
    *name_len = 0;
    *value_len = 0;
    if (in == NULL)
        return FCGIX_NV_SHORT;
    if (!nv_get_len(in, len, &off, &nl) || !nv_get_len(in, len, &off, &vl))
        return FCGIX_NV_SHORT;
    /* Compare against what is left instead of adding the lengths: a
     * hostile 0x7fffffff must not wrap the sum or be trusted. */
    rest = len - off;
    if (nl > rest || vl > rest - nl)
        return FCGIX_NV_SHORT;
    *name = in + off;
    *name_len = nl;
    *value = in + off + nl;
    *value_len = vl;
    *consumed = off + nl + vl;
    return FCGIX_NV_OK;
}

/* --------------------------------------------- response record decoder */

enum {
    DEC_HEADER = 0, /* collecting the 8-byte record header */
    DEC_CONTENT,    /* inside a record's content */
    DEC_PADDING,    /* skipping a record's padding */
    DEC_ENDED,      /* END_REQUEST record fully consumed */
    DEC_ERROR       /* sticky protocol error */
};

void fcgix_dec_init(fcgix_dec_t *d, unsigned request_id)
{
    memset(d, 0, sizeof(*d));
    /* Compare with what fcgix_rec_header() put on the wire for this id. */
    d->request_id = request_id & 0xffff;
    d->state = DEC_HEADER;
    d->error = FCGIX_E_NONE;
}

static void dec_fail(fcgix_dec_t *d, fcgix_event_t *ev, fcgix_proto_err_t e)
{
    d->state = DEC_ERROR;
    d->error = e;
    ev->type = FCGIX_EV_ERROR;
    ev->error = e;
}

/* Validates a complete header and sets up the record; FCGIX_E_NONE if ok.
 * The checks run in a fixed order, so a header with several faults is
 * reported the same way however the stream is split. */
static fcgix_proto_err_t dec_start_record(fcgix_dec_t *d)
{
    const unsigned char *h = d->hdr;
    unsigned id = ((unsigned)h[2] << 8) | h[3];
    size_t clen = ((size_t)h[4] << 8) | h[5];

    if (h[0] != FCGIX_PROTO_VERSION)
        return FCGIX_E_VERSION;
    /* Id 0 is the management id: never ours, even if init was given 0. */
    if (id == 0 || id != d->request_id)
        return FCGIX_E_REQUEST_ID;
    if (h[1] != FCGIX_T_STDOUT && h[1] != FCGIX_T_STDERR &&
        h[1] != FCGIX_T_END_REQUEST)
        return FCGIX_E_TYPE;
    if (h[1] == FCGIX_T_END_REQUEST && clen != 8)
        return FCGIX_E_END_REQUEST;
    d->type = h[1];
    d->content_left = clen;
    d->padding_left = h[6];
    d->body_have = 0;
    d->hdr_have = 0;
    d->state = clen != 0 ? DEC_CONTENT : DEC_PADDING;
    return FCGIX_E_NONE;
}

/* Called when content and padding are both used up. END_REQUEST is
 * reported only here, after its padding: once fcgix_dec_ended() is true
 * the connection sits on a record boundary and can be reused. */
static void dec_end_record(fcgix_dec_t *d, fcgix_event_t *ev)
{
    const unsigned char *b = d->body;

    if (d->type != FCGIX_T_END_REQUEST) {
        d->state = DEC_HEADER;
        return;
    }
    d->state = DEC_ENDED;
    ev->type = FCGIX_EV_END_REQUEST;
    ev->app_status = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
                     ((uint32_t)b[2] << 8) | (uint32_t)b[3];
    ev->protocol_status = b[4];
}

/* Consumes content bytes from in[0..len), len > 0. Returns the bytes
 * taken; sets ev for a stream slice or a completed END_REQUEST. */
static size_t dec_content(fcgix_dec_t *d, const unsigned char *in, size_t len,
                          fcgix_event_t *ev)
{
    size_t n = len < d->content_left ? len : d->content_left;

    d->content_left -= n;
    if (d->type == FCGIX_T_END_REQUEST) {
        /* content_left started at 8, so body_have + n <= 8. */
        memcpy(d->body + d->body_have, in, n);
        d->body_have += n;
    } else {
        ev->type =
            d->type == FCGIX_T_STDOUT ? FCGIX_EV_STDOUT : FCGIX_EV_STDERR;
        ev->data = in;
        ev->len = n;
    }
    if (d->content_left == 0) {
        d->state = DEC_PADDING;
        if (d->padding_left == 0)
            dec_end_record(d, ev);
    }
    return n;
}

/* Consumes up to one record header's worth of bytes. */
static size_t dec_header(fcgix_dec_t *d, const unsigned char *in, size_t len,
                         fcgix_event_t *ev)
{
    size_t n = FCGIX_REC_HEADER_LEN - d->hdr_have;
    fcgix_proto_err_t e;

    if (n > len)
        n = len;
    memcpy(d->hdr + d->hdr_have, in, n);
    d->hdr_have += n;
    if (d->hdr_have < FCGIX_REC_HEADER_LEN)
        return n;
    e = dec_start_record(d);
    if (e != FCGIX_E_NONE)
        dec_fail(d, ev, e);
    else if (d->state == DEC_PADDING && d->padding_left == 0)
        dec_end_record(d, ev); /* an empty record without padding */
    return n;
}

size_t fcgix_dec_feed(fcgix_dec_t *d, const unsigned char *in, size_t len,
                      fcgix_event_t *ev)
{
    size_t off = 0;

    memset(ev, 0, sizeof(*ev));
    if (d->state == DEC_ERROR) {
        ev->type = FCGIX_EV_ERROR;
        ev->error = d->error;
        return 0;
    }
    if (in == NULL)
        len = 0;
    /* Each step consumes at least one byte, so the loop ends. */
    while (off < len && ev->type == FCGIX_EV_NONE) {
        size_t n;

        switch (d->state) {
        case DEC_HEADER:
            off += dec_header(d, in + off, len - off, ev);
            break;
        case DEC_CONTENT:
            off += dec_content(d, in + off, len - off, ev);
            break;
        case DEC_PADDING:
            n = len - off < d->padding_left ? len - off : d->padding_left;
            d->padding_left -= n;
            off += n;
            if (d->padding_left == 0)
                dec_end_record(d, ev);
            break;
        default: /* DEC_ENDED: the offending byte completes the error */
            dec_fail(d, ev, FCGIX_E_AFTER_END);
            off++;
            break;
        }
    }
    return off;
}

int fcgix_dec_ended(const fcgix_dec_t *d)
{
    return d->state == DEC_ENDED;
}

const char *fcgix_proto_strerror(fcgix_proto_err_t e)
{
    switch (e) {
    case FCGIX_E_NONE:
        return "no error";
    case FCGIX_E_VERSION:
        return "bad protocol version";
    case FCGIX_E_REQUEST_ID:
        return "record for another request id";
    case FCGIX_E_TYPE:
        return "unexpected record type";
    case FCGIX_E_END_REQUEST:
        return "END_REQUEST body is not 8 bytes";
    case FCGIX_E_AFTER_END:
        return "data after END_REQUEST";
    }
    return "unknown protocol error";
}

/* ---------------------------------------------- response header framer */

enum {
    HDR_LINE_START = 0, /* at the first byte of a line */
    HDR_NAME,           /* inside the field name */
    HDR_VALUE,          /* after the colon */
    HDR_VALUE_CR,       /* CR seen at the end of a header line */
    HDR_EMPTY_CR,       /* CR seen at the start of a line */
    HDR_DONE,
    HDR_TOO_BIG,
    HDR_BAD
};

void fcgix_hdr_init(fcgix_hdr_t *h, size_t max_bytes, size_t max_lines,
                    size_t max_line)
{
    memset(h, 0, sizeof(*h));
    h->max_bytes = max_bytes;
    h->max_lines = max_lines;
    h->max_line = max_line;
    h->state = HDR_LINE_START;
}

/* RFC 9110 tchar. Spelled out rather than via <ctype.h>, whose answer
 * depends on the locale. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes no header line may contain: controls other than HTAB, and DEL.
 * CR and LF are handled by the state machine before this is asked. */
static int is_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static fcgix_hdr_status_t hdr_stop(fcgix_hdr_t *h, fcgix_hdr_status_t st)
{
    h->state = st == FCGIX_HDR_DONE      ? HDR_DONE
               : st == FCGIX_HDR_TOO_BIG ? HDR_TOO_BIG
                                         : HDR_BAD;
    return st;
}

/* Counts one byte of line content (never CR or LF) against max_line. */
static int hdr_grow_line(fcgix_hdr_t *h)
{
    if (h->line_len >= h->max_line)
        return 0;
    h->line_len++;
    return 1;
}

static fcgix_hdr_status_t hdr_line_start(fcgix_hdr_t *h, unsigned char c)
{
    if (c == '\n')
        return hdr_stop(h, FCGIX_HDR_DONE);
    if (c == '\r') {
        h->state = HDR_EMPTY_CR;
        return FCGIX_HDR_MORE;
    }
    /* A header line begins: limits before syntax, like everywhere. */
    if (h->lines >= h->max_lines)
        return hdr_stop(h, FCGIX_HDR_TOO_BIG);
    h->lines++;
    h->line_len = 0;
    if (!hdr_grow_line(h))
        return hdr_stop(h, FCGIX_HDR_TOO_BIG);
    /* Catches obs-fold (SP/HTAB), an empty name (':') and controls. */
    if (!is_tchar(c))
        return hdr_stop(h, FCGIX_HDR_BAD);
    h->state = HDR_NAME;
    return FCGIX_HDR_MORE;
}

static fcgix_hdr_status_t hdr_byte(fcgix_hdr_t *h, unsigned char c)
{
    /* Limits are checked before syntax, so a stream is cut at the same
     * byte whatever it contains beyond the limit. */
    if (h->bytes >= h->max_bytes)
        return hdr_stop(h, FCGIX_HDR_TOO_BIG);
    h->bytes++;
    switch (h->state) {
    case HDR_LINE_START:
        return hdr_line_start(h, c);
    case HDR_NAME:
        if (c == '\r' || c == '\n') /* a line without a colon */
            return hdr_stop(h, FCGIX_HDR_BAD);
        if (!hdr_grow_line(h))
            return hdr_stop(h, FCGIX_HDR_TOO_BIG);
        if (c == ':')
            h->state = HDR_VALUE;
        else if (!is_tchar(c)) /* incl. SP before the colon */
            return hdr_stop(h, FCGIX_HDR_BAD);
        return FCGIX_HDR_MORE;
    case HDR_VALUE:
        if (c == '\n')
            h->state = HDR_LINE_START;
        else if (c == '\r')
            h->state = HDR_VALUE_CR;
        else if (!hdr_grow_line(h))
            return hdr_stop(h, FCGIX_HDR_TOO_BIG);
        else if (is_bad_ctl(c))
            return hdr_stop(h, FCGIX_HDR_BAD);
        return FCGIX_HDR_MORE;
    case HDR_VALUE_CR:
        if (c != '\n')
            return hdr_stop(h, FCGIX_HDR_BAD);
        h->state = HDR_LINE_START;
        return FCGIX_HDR_MORE;
    default: /* HDR_EMPTY_CR */
        if (c != '\n')
            return hdr_stop(h, FCGIX_HDR_BAD);
        return hdr_stop(h, FCGIX_HDR_DONE);
    }
}

fcgix_hdr_status_t fcgix_hdr_feed(fcgix_hdr_t *h, const unsigned char *in,
                                  size_t len, size_t *consumed)
{
    size_t i;

    *consumed = 0;
    switch (h->state) {
    case HDR_DONE:
        return FCGIX_HDR_DONE;
    case HDR_TOO_BIG:
        return FCGIX_HDR_TOO_BIG;
    case HDR_BAD:
        return FCGIX_HDR_BAD;
    }
    if (in == NULL)
        len = 0;
    for (i = 0; i < len; i++) {
        fcgix_hdr_status_t st = hdr_byte(h, in[i]);

        if (st == FCGIX_HDR_DONE) {
            *consumed = i + 1;
            return st;
        }
        if (st != FCGIX_HDR_MORE) {
            *consumed = i;
            return st;
        }
    }
    *consumed = len;
    return FCGIX_HDR_MORE;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

int fcgix_hdr_next(const unsigned char *block, size_t len, size_t *pos,
                   const unsigned char **name, size_t *name_len,
                   const unsigned char **value, size_t *value_len)
{
    size_t p = *pos, eol, end, colon, v;

    *name = NULL;
    *value = NULL;
    *name_len = 0;
    *value_len = 0;
    if (block == NULL || p >= len)
        return 0;
    eol = p;
    while (eol < len && block[eol] != '\n')
        eol++;
    end = eol;
    if (end > p && block[end - 1] == '\r')
        end--;
    colon = p;
    while (colon < end && block[colon] != ':')
        colon++;
    /* The empty line ends the block: what follows it is body, never
     * headers. A line without a name and colon cannot occur in an
     * accepted block; stopping there keeps the result defined. */
    if (end == p || colon == end || colon == p)
        return 0;
    v = colon + 1;
    while (v < end && is_ows(block[v]))
        v++;
    while (end > v && is_ows(block[end - 1]))
        end--;
    *name = block + p;
    *name_len = colon - p;
    *value = block + v;
    *value_len = end - v;
    *pos = eol < len ? eol + 1 : len;
    return 1;
}

int fcgix_hdr_status_code(const unsigned char *value, size_t len)
{
    int code = 0;
    size_t i;

    if (value == NULL || len < 3)
        return -1;
    for (i = 0; i < 3; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        code = code * 10 + (value[i] - '0');
    }
    if (code < 200 || code > 599)
        return -1;
    if (len > 3 && !is_ows(value[3]))
        return -1;
    return code;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

int fcgix_hdr_name_is(const unsigned char *name, size_t len, const char *s)
{
    size_t i;

    if (s == NULL || (name == NULL && len != 0))
        return 0;
    /* Stops at the NUL of s, so a longer slice never reads past it. */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\0' || ascii_lower(name[i]) != ascii_lower(c))
            return 0;
    }
    return s[len] == '\0';
}

/* ----------------------------------------------------------- log escape */

size_t fcgix_log_escape(char *out, size_t cap, const unsigned char *in,
                        size_t len)
{
    /* Lower-case hex, as httpd's own log escaping writes it. */
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0;

    if (out == NULL || cap == 0)
        return 0;
    if (in == NULL)
        len = 0;
    for (i = 0; i < len; i++) {
        unsigned char c = in[i];
        size_t need = c == '\\' ? 2 : (c >= 0x20 && c <= 0x7e) ? 1 : 4;

        /* Whole escapes only: a cut "\\x4" would mislead the reader. */
        if (need > cap - 1 - o)
            break;
        if (need == 1) {
            out[o++] = (char)c;
        } else if (need == 2) {
            out[o++] = '\\';
            out[o++] = '\\';
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0x0f];
        }
    }
    out[o] = '\0';
    return i;
}
