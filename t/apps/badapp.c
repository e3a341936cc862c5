/*
 * badapp.c - a deliberately misbehaving FastCGI responder for the black-box
 * tests of mod_fcgix.
 *
 * Independent raw-protocol implementation: no libfcgi, nothing from the
 * project's proto/ code, so the tests do not share bugs with the module.
 *
 * Listens on fd 0 (the listen socket handed over by the test harness, like a
 * FastCGI process manager does), or on argv[1] when given ("HOST:PORT" or a
 * Unix socket path; handy for manual runs). Every accepted connection is
 * served by a forked child (so a hanging mode never blocks other requests);
 * children die with the parent (PR_SET_PDEATHSIG) and after at most
 * BADAPP_LIFETIME seconds in any case.
 *
 * Per request: reads BEGIN_REQUEST, PARAMS up to the empty PARAMS record,
 * then (unless stdin=0) STDIN up to the empty STDIN record, and then behaves
 * according to QUERY_STRING: mode=NAME plus optional parameters.
 *
 * Parameters (all optional):
 *   size=N   body size for good / *_after modes (FcgixTest::pattern(N) bytes)
 *   n=N      a count or length, see the mode
 *   ll=N     header line length for hdr_huge (default 1000)
 *   v=STR    Status value (mode=status), URL-decoded
 *   to=STR   Location value (mode=location), URL-decoded
 *   ms=N     delay in milliseconds (slow, trickle: default 500 / 1000)
 *   c=HH     the byte (hex) hdr_byte puts into a header value
 *   t=N      record type for unknowntype (default 42)
 *   ver=N    version byte for badversion (default 2)
 *   oid=N    request id for otherid (default: own id + 1)
 *   ps=N     protocolStatus for mode=end (default 0)
 *   as=N     appStatus in END_REQUEST (default 0)
 *   split=N  at most N content bytes per STDOUT record (good, status, ...)
 *   pad=N    padding bytes per STDOUT record (0..255)
 *   stdin=0  do not read the request body
 *   rst=1    die_* modes: close with RST instead of FIN
 *   delay=N  ms to wait between "headers out" and the misbehaviour in
 *            *_after modes (default 300)
 *
 * Modes (the *_after variants first send a correct header block and `size`
 * (default 131072) body bytes, flush them, wait `delay` ms, then misbehave):
 *   good               correct response: "hello from badapp\n" or size=N
 *   env                body lists the params, NAME=VALUE per line
 *   echo               body is the request body
 *   status             "Status: <v>" + body "status body\n"
 *   status_1xx         "Status: 103 Early Hints"
 *   status_bad         "Status: 2000"
 *   location           "Location: <to>", no body
 *   cookies            three Set-Cookie headers (a=1, b=2, c=3)
 *   lastmod            Last-Modified: Sat, 01 Jan 2000 00:00:00 GMT + body
 *   slow               n (3) chunks "chunk K\n", ms (500) apart
 *   badversion[_after] STDOUT record with version byte `ver`
 *   otherid[_after]    STDOUT record with request id `oid`
 *   unknowntype[_after] record of type `t`
 *   shortend[_after]   END_REQUEST with content length n (default 4)
 *   afterend           END_REQUEST first, then a full response
 *   afterend_after     ... full response, END_REQUEST, then one more
 *                      STDOUT record, all in one write
 *   end                END_REQUEST with protocolStatus ps, no output
 *   overloaded         END_REQUEST with protocolStatus 2 (OVERLOADED)
 *   die_before_headers half a header line, then close
 *   die_silent         close without sending anything
 *   die_after_headers  headers + body, then close (no END_REQUEST)
 *   hdr_huge           header lines of `ll` bytes: n bytes total then a
 *                      correct end, or (no n) forever
 *   hdr_lines          n short header lines (or forever)
 *   hdr_longline       one header line of n bytes (or forever)
 *   hdr_ctl / hdr_nul / hdr_cr / hdr_lf / hdr_del / hdr_esc
 *                      a header value with 0x01 / NUL / bare CR / bare LF /
 *                      DEL / ESC in it; hdr_byte uses c=HH
 *   hdr_ctlname        a control byte in a header name
 *   hdr_obsfold        an obs-fold continuation line
 *   hdr_nocolon        a header line without a colon
 *   cl_lie             Content-Length: 1000000 with a short body
 *   cl_short           Content-Length: 3 with a longer body
 *   te_chunked         Transfer-Encoding: chunked with a raw (unchunked) body
 *   stderr_flood       n (10000000) bytes of stderr lines, then a response
 *   stderr_ctl         a few stderr lines (control bytes, a 5000-byte line),
 *                      then a response
 *   stderr_lines       n (5) short stderr lines "stderr line K", response
 *   trickle            header bytes, one per `ms` (1000) ms, forever
 *   trickle_body       headers, then body bytes one per `ms` ms, forever
 *   silent[_after]     never answers (waits for the server to close)
 *   silent_noread      reads BEGIN_REQUEST and PARAMS, then nothing more
 *                      (never the body) and never answers
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BADAPP_LIFETIME 150 /* s: hard limit for one connection's child */

/* wire constants (FastCGI 1.0) */
#define V1 1
#define T_BEGIN 1
#define T_ABORT 2
#define T_END 3
#define T_PARAMS 4
#define T_STDIN 5
#define T_STDOUT 6
#define T_STDERR 7
#define T_GETVALUES 9
#define T_GETVALUES_RESULT 10
#define T_UNKNOWN 11
#define ROLE_RESPONDER 1
#define FLAG_KEEP 1

static const char PATTERN[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

/* ------------------------------------------------------------ utilities */

static void die_quiet(void)
{
    _exit(0);
}

static void msleep(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "badapp: out of memory\n");
        _exit(2);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "badapp: out of memory\n");
        _exit(2);
    }
    return q;
}

/* Writes all of buf; on any error (EPIPE when the server went away, ...)
 * the child simply exits: there is no one left to talk to. */
static void write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die_quiet();
        }
        p += w;
        len -= (size_t)w;
    }
}

/* Reads exactly len bytes. Returns 0, or -1 on EOF/error. */
static int read_full(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* --------------------------------------------------------- output buffer */

typedef struct {
    unsigned char *b;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t c = o->cap ? o->cap : 4096;
        while (c < o->len + n)
            c *= 2;
        o->b = xrealloc(o->b, c);
        o->cap = c;
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void buf_adds(buf_t *o, const char *s)
{
    buf_add(o, s, strlen(s));
}

static void buf_printf(buf_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void buf_printf(buf_t *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof tmp)
        n = (int)sizeof tmp - 1;
    buf_add(o, tmp, (size_t)n);
}

/* ----------------------------------------------------------- connection */

typedef struct {
    int fd;
    buf_t out;   /* pending bytes for the server */
    unsigned id; /* current request id */
    int keep;    /* FCGI_KEEP_CONN */
    /* params */
    char **names, **values;
    size_t nparams;
    /* stdin */
    unsigned char *in;
    size_t inlen;
    int aborted;
    /* options for STDOUT framing */
    size_t split; /* max content bytes per STDOUT record (0: 65535) */
    unsigned pad; /* padding bytes per STDOUT record */
} conn_t;

static void flush_out(conn_t *c)
{
    if (c->out.len) {
        write_all(c->fd, c->out.b, c->out.len);
        c->out.len = 0;
    }
}

/* One record header with free-form version/type/id/length/padding. */
static void rec_hdr(conn_t *c, unsigned ver, unsigned type, unsigned id,
                    size_t clen, unsigned plen)
{
    unsigned char h[8];
    h[0] = (unsigned char)ver;
    h[1] = (unsigned char)type;
    h[2] = (unsigned char)((id >> 8) & 0xff);
    h[3] = (unsigned char)(id & 0xff);
    h[4] = (unsigned char)((clen >> 8) & 0xff);
    h[5] = (unsigned char)(clen & 0xff);
    h[6] = (unsigned char)plen;
    h[7] = 0;
    buf_add(&c->out, h, 8);
}

static void rec_pad(conn_t *c, unsigned plen)
{
    static const unsigned char z[256];
    buf_add(&c->out, z, plen);
}

/* A record with raw parameters (single record; clen <= 65535). */
static void rec_raw(conn_t *c, unsigned ver, unsigned type, unsigned id,
                    const void *data, size_t clen)
{
    rec_hdr(c, ver, type, id, clen, 0);
    buf_add(&c->out, data, clen);
}

/* Stream data as records of `type`, honouring split/pad for STDOUT. */
static void stream(conn_t *c, unsigned type, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t max = 65535;
    unsigned pad = 0;
    if (type == T_STDOUT) {
        if (c->split && c->split < max)
            max = c->split;
        pad = c->pad;
    }
    while (len > 0) {
        size_t n = len < max ? len : max;
        rec_hdr(c, V1, type, c->id, n, pad);
        buf_add(&c->out, p, n);
        rec_pad(c, pad);
        p += n;
        len -= n;
    }
}

static void out_str(conn_t *c, const char *s)
{
    stream(c, T_STDOUT, s, strlen(s));
}

static void out_bytes(conn_t *c, const void *p, size_t n)
{
    stream(c, T_STDOUT, p, n);
}

static void err_bytes(conn_t *c, const void *p, size_t n)
{
    stream(c, T_STDERR, p, n);
}

static void out_pattern(conn_t *c, size_t n)
{
    unsigned char blk[8192];
    size_t plen = sizeof PATTERN - 1, off = 0;
    while (n > 0) {
        size_t k = n < sizeof blk ? n : sizeof blk;
        for (size_t i = 0; i < k; i++)
            blk[i] = (unsigned char)PATTERN[(off + i) % plen];
        out_bytes(c, blk, k);
        off += k;
        n -= k;
        if (c->out.len > 262144)
            flush_out(c);
    }
}

static void end_stream(conn_t *c, unsigned type)
{
    rec_hdr(c, V1, type, c->id, 0, 0);
}

static void end_request_ps(conn_t *c, unsigned app_status, unsigned ps)
{
    unsigned char b[8] = {0};
    b[0] = (unsigned char)((app_status >> 24) & 0xff);
    b[1] = (unsigned char)((app_status >> 16) & 0xff);
    b[2] = (unsigned char)((app_status >> 8) & 0xff);
    b[3] = (unsigned char)(app_status & 0xff);
    b[4] = (unsigned char)ps;
    rec_raw(c, V1, T_END, c->id, b, 8);
}

/* Empty STDOUT + STDERR end markers and END_REQUEST(complete). */
static void finish(conn_t *c, unsigned app_status)
{
    end_stream(c, T_STDOUT);
    end_request_ps(c, app_status, 0);
}

/* ------------------------------------------------------------ params */

static void free_request(conn_t *c)
{
    for (size_t i = 0; i < c->nparams; i++) {
        free(c->names[i]);
        free(c->values[i]);
    }
    free(c->names);
    free(c->values);
    c->names = c->values = NULL;
    c->nparams = 0;
    free(c->in);
    c->in = NULL;
    c->inlen = 0;
    c->aborted = 0;
}

static const char *param(const conn_t *c, const char *name)
{
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->names[i], name) == 0)
            return c->values[i];
    return NULL;
}

static int nv_len(const unsigned char *p, size_t len, size_t *pos, size_t *out)
{
    if (*pos >= len)
        return -1;
    if (p[*pos] & 0x80) {
        if (*pos + 4 > len)
            return -1;
        *out = ((size_t)(p[*pos] & 0x7f) << 24) | ((size_t)p[*pos + 1] << 16) |
               ((size_t)p[*pos + 2] << 8) | (size_t)p[*pos + 3];
        *pos += 4;
    } else {
        *out = p[*pos];
        *pos += 1;
    }
    return 0;
}

static char *dupn(const unsigned char *p, size_t n)
{
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static void parse_params(conn_t *c, const unsigned char *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        size_t nl, vl;
        if (nv_len(p, len, &pos, &nl) < 0 || nv_len(p, len, &pos, &vl) < 0)
            return;
        if (nl > len - pos || vl > len - pos - nl)
            return;
        c->names = xrealloc(c->names, (c->nparams + 1) * sizeof *c->names);
        c->values = xrealloc(c->values, (c->nparams + 1) * sizeof *c->values);
        c->names[c->nparams] = dupn(p + pos, nl);
        c->values[c->nparams] = dupn(p + pos + nl, vl);
        c->nparams++;
        pos += nl + vl;
    }
}

/* Query string: a static copy, looked up by key, URL-decoded value. */
static char qbuf[8192];

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decoded value of key in the query string into out (NUL-terminated; may
 * contain NUL bytes, *olen tells). Returns 1 if present. */
static int qget(const conn_t *c, const char *key, char *out, size_t cap,
                size_t *olen)
{
    const char *q = param(c, "QUERY_STRING");
    size_t klen = strlen(key);
    if (!q || cap == 0)
        return 0;
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        if (seg > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t o = 0;
            for (size_t i = klen + 1; i < seg && o + 1 < cap; i++) {
                int ch = (unsigned char)p[i];
                if (ch == '+')
                    ch = ' ';
                else if (ch == '%' && i + 2 < seg && hexval(p[i + 1]) >= 0 &&
                         hexval(p[i + 2]) >= 0) {
                    ch = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
                    i += 2;
                }
                out[o++] = (char)ch;
            }
            out[o] = 0;
            if (olen)
                *olen = o;
            return 1;
        }
        if (seg == klen && strncmp(p, key, klen) == 0) {
            out[0] = 0;
            if (olen)
                *olen = 0;
            return 1;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return 0;
}

static long qnum(const conn_t *c, const char *key, long dflt)
{
    char v[64];
    if (!qget(c, key, v, sizeof v, NULL) || !v[0])
        return dflt;
    return strtol(v, NULL, 0);
}

/* ------------------------------------------------------------ reading */

/* Reads one record. Returns type, or -1 on EOF. Content in *data (malloc'd),
 * its length in *clen; request id in *rid; version in *ver. */
static int read_record(int fd, unsigned *ver, unsigned *rid,
                       unsigned char **data, size_t *clen)
{
    unsigned char h[8];
    if (read_full(fd, h, 8) < 0)
        return -1;
    *ver = h[0];
    *rid = ((unsigned)h[2] << 8) | h[3];
    *clen = ((size_t)h[4] << 8) | h[5];
    size_t plen = h[6];
    *data = xmalloc(*clen + plen);
    if (read_full(fd, *data, *clen + plen) < 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return h[1];
}

/* Answers management records (request id 0). */
static void management(conn_t *c, unsigned type, const unsigned char *d,
                       size_t len)
{
    unsigned saved = c->id;
    c->id = 0;
    if (type == T_GETVALUES) {
        buf_t r = {0};
        size_t pos = 0;
        while (pos < len) {
            size_t nl, vl;
            if (nv_len(d, len, &pos, &nl) < 0 || nv_len(d, len, &pos, &vl) < 0)
                break;
            if (nl > len - pos || vl > len - pos - nl)
                break;
            const char *val = NULL;
            if (nl == 14 && memcmp(d + pos, "FCGI_MAX_CONNS", 14) == 0)
                val = "100";
            else if (nl == 13 && memcmp(d + pos, "FCGI_MAX_REQS", 13) == 0)
                val = "100";
            else if (nl == 15 && memcmp(d + pos, "FCGI_MPXS_CONNS", 15) == 0)
                val = "0";
            if (val && nl < 128) {
                unsigned char l2[2] = {(unsigned char)nl,
                                       (unsigned char)strlen(val)};
                buf_add(&r, l2, 2);
                buf_add(&r, d + pos, nl);
                buf_adds(&r, val);
            }
            pos += nl + vl;
        }
        rec_raw(c, V1, T_GETVALUES_RESULT, 0, r.b, r.len);
        free(r.b);
    } else {
        unsigned char b[8] = {0};
        b[0] = (unsigned char)type;
        rec_raw(c, V1, T_UNKNOWN, 0, b, 8);
    }
    c->id = saved;
    flush_out(c);
}

/* Reads up to and including the next BEGIN_REQUEST. Returns 0, or -1 on
 * EOF. */
static int read_begin(conn_t *c)
{
    for (;;) {
        unsigned ver, rid;
        unsigned char *d;
        size_t len;
        int type = read_record(c->fd, &ver, &rid, &d, &len);
        if (type < 0)
            return -1;
        if (rid == 0) {
            management(c, (unsigned)type, d, len);
            free(d);
            continue;
        }
        if (type == T_BEGIN && len >= 8) {
            c->id = rid;
            c->keep = (d[2] & FLAG_KEEP) ? 1 : 0;
            unsigned role = ((unsigned)d[0] << 8) | d[1];
            free(d);
            if (role != ROLE_RESPONDER) {
                end_request_ps(c, 0, 3 /* UNKNOWN_ROLE */);
                flush_out(c);
                continue;
            }
            return 0;
        }
        free(d); /* stray record: ignore */
    }
}

/* Reads records of the current request until the empty record of `want`
 * (T_PARAMS or T_STDIN). Returns 0, or -1 on EOF/abort. */
static int read_stream(conn_t *c, unsigned want)
{
    buf_t acc = {0};
    for (;;) {
        unsigned ver, rid;
        unsigned char *d;
        size_t len;
        int type = read_record(c->fd, &ver, &rid, &d, &len);
        if (type < 0) {
            free(acc.b);
            return -1;
        }
        if (rid == 0) {
            management(c, (unsigned)type, d, len);
            free(d);
            continue;
        }
        if (rid != c->id) {
            free(d);
            continue;
        }
        if (type == T_ABORT) {
            free(d);
            free(acc.b);
            c->aborted = 1;
            return -1;
        }
        if ((unsigned)type != want) {
            free(d);
            continue;
        }
        if (len == 0) {
            free(d);
            break;
        }
        buf_add(&acc, d, len);
        free(d);
    }
    if (want == T_PARAMS) {
        parse_params(c, acc.b, acc.len);
        free(acc.b);
        const char *q = param(c, "QUERY_STRING");
        snprintf(qbuf, sizeof qbuf, "%s", q ? q : "");
    } else {
        c->in = acc.b;
        c->inlen = acc.len;
    }
    return 0;
}

/* Graceful close: FIN, then drain what the server still sends (so unread
 * request bytes do not turn our close into a RST that could destroy the
 * response in flight), at most 3 s. */
static void close_conn(conn_t *c, int rst)
{
    flush_out(c);
    if (rst) {
        struct linger lg = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c->fd);
        _exit(0);
    }
    shutdown(c->fd, SHUT_WR);
    struct timeval t0, now;
    gettimeofday(&t0, NULL);
    for (;;) {
        struct pollfd p = {c->fd, POLLIN, 0};
        gettimeofday(&now, NULL);
        long el = (now.tv_sec - t0.tv_sec) * 1000L +
                  (now.tv_usec - t0.tv_usec) / 1000L;
        if (el >= 3000)
            break;
        int r = poll(&p, 1, (int)(3000 - el));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        char b[4096];
        ssize_t n = read(c->fd, b, sizeof b);
        if (n <= 0)
            break;
    }
    close(c->fd);
    _exit(0);
}

/* Blocks until the server closes the connection (or sends an abort). */
static void wait_for_close(conn_t *c)
{
    flush_out(c);
    for (;;) {
        char b[4096];
        ssize_t n = read(c->fd, b, sizeof b);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
    }
    close(c->fd);
    _exit(0);
}

/* ------------------------------------------------------------ modes */

static void good_headers(conn_t *c)
{
    out_str(c, "Content-Type: text/plain\r\nX-Badapp: 1\r\n\r\n");
}

/* headers + size bytes, flushed, then a pause: "headers are out" */
static void headers_out(conn_t *c)
{
    long size = qnum(c, "size", 131072);
    good_headers(c);
    out_pattern(c, size > 0 ? (size_t)size : 0);
    flush_out(c);
    msleep(qnum(c, "delay", 300));
}

static void rest_of_good(conn_t *c)
{
    out_str(c, "tail\n");
    finish(c, 0);
}

/* A header block with one bad line, then a correct rest. */
static void bad_header_line(conn_t *c, const void *line, size_t n)
{
    out_str(c, "Content-Type: text/plain\r\n");
    out_bytes(c, line, n);
    out_str(c, "X-After: 1\r\n\r\nbody after a bad header\n");
    finish(c, 0);
}

/* Sends header lines forever (until the server goes away) or, when limit
 * > 0, until `limit` bytes/lines, then a correct end. kind: 0 huge,
 * 1 lines, 2 longline. */
static void header_flood(conn_t *c, int kind, long limit, long ll)
{
    char *line;
    size_t sent = 0;
    long count = 0;
    if (kind == 2)
        ll = 4096;
    if (ll < 16)
        ll = 16;
    line = xmalloc((size_t)ll + 64);
    out_str(c, "Content-Type: text/plain\r\n");
    if (kind == 2)
        out_str(c, "X-Long: ");
    for (;;) {
        size_t n;
        if (kind == 0) {
            int h = snprintf(line, 64, "X-Huge-%06ld: ", count);
            long fill = ll - h;
            memset(line + h, 'h', (size_t)fill);
            memcpy(line + ll, "\r\n", 2);
            n = (size_t)ll + 2;
        } else if (kind == 1) {
            n = (size_t)snprintf(line, 64, "X-L%06ld: v\r\n", count);
        } else {
            n = (size_t)ll;
            memset(line, 'l', n);
        }
        if (limit > 0) {
            if (kind == 1 && count >= limit)
                break;
            if (kind != 1 && sent >= (size_t)limit)
                break;
            if (kind == 2 && sent + n > (size_t)limit)
                n = (size_t)limit - sent;
        }
        out_bytes(c, line, n);
        sent += n;
        count++;
        if (c->out.len >= 16384)
            flush_out(c); /* exits when the server has closed */
    }
    free(line);
    if (kind == 2)
        out_str(c, "\r\n");
    out_str(c, "\r\nbody after many headers\n");
    finish(c, 0);
}

static void stderr_flood(conn_t *c, long total)
{
    char line[128];
    long sent = 0, k = 0;
    buf_t chunk = {0};
    while (sent < total) {
        int n = snprintf(line, sizeof line, "flood line %08ld %s\n", k++,
                         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                         "xxxxxxxxxxxxxxxx");
        buf_add(&chunk, line, (size_t)n);
        sent += n;
        if (chunk.len >= 60000 || sent >= total) {
            err_bytes(c, chunk.b, chunk.len);
            chunk.len = 0;
            flush_out(c);
        }
    }
    free(chunk.b);
    end_stream(c, T_STDERR);
    good_headers(c);
    out_str(c, "flooded\n");
    finish(c, 0);
}

static void stderr_ctl(conn_t *c)
{
    static const char a[] = "stderr plain line\n";
    static const char b[] = "stderr ctl\x01here\x1b[31m and \x7f del\n";
    err_bytes(c, a, sizeof a - 1);
    err_bytes(c, b, sizeof b - 1);
    /* a line split across two records */
    err_bytes(c, "stderr split ", 13);
    err_bytes(c, "across records\n", 15);
    /* a 5000-byte line */
    char *lng = xmalloc(5000 + 32);
    memcpy(lng, "stderr long ", 12);
    memset(lng + 12, 'L', 5000 - 12);
    memcpy(lng + 5000 - 4, "END\n", 4);
    err_bytes(c, lng, 5000);
    free(lng);
    /* no final newline */
    err_bytes(c, "stderr unterminated", 19);
    end_stream(c, T_STDERR);
    good_headers(c);
    out_str(c, "stderr done\n");
    finish(c, 0);
}

static void trickle(conn_t *c, int body)
{
    long ms = qnum(c, "ms", 1000);
    if (body) {
        good_headers(c);
        out_str(c, "trickle:");
    } else {
        out_str(c, "Content-Type: text/plain\r\nX-Trickle: ");
    }
    flush_out(c);
    for (;;) {
        msleep(ms);
        out_str(c, "t");
        flush_out(c); /* exits when the server has closed */
    }
}

static void serve(conn_t *c)
{
    char mode[64];
    char v[4096];

    if (!qget(c, "mode", mode, sizeof mode, NULL))
        snprintf(mode, sizeof mode, "good");
    c->split = (size_t)qnum(c, "split", 0);
    c->pad = (unsigned)qnum(c, "pad", 0) & 0xff;
    int after = 0;
    size_t ml = strlen(mode);
    if (ml > 6 && strcmp(mode + ml - 6, "_after") == 0) {
        after = 1;
        mode[ml - 6] = 0;
    }

    if (!strcmp(mode, "good")) {
        long size = qnum(c, "size", -1);
        good_headers(c);
        if (size >= 0)
            out_pattern(c, (size_t)size);
        else
            out_str(c, "hello from badapp\n");
        finish(c, (unsigned)qnum(c, "as", 0));
    } else if (!strcmp(mode, "env")) {
        good_headers(c);
        for (size_t i = 0; i < c->nparams; i++) {
            buf_t l = {0};
            buf_printf(&l, "%s=%s\n", c->names[i], c->values[i]);
            out_bytes(c, l.b, l.len);
            free(l.b);
        }
        finish(c, 0);
    } else if (!strcmp(mode, "echo")) {
        buf_t h = {0};
        buf_printf(&h,
                   "Content-Type: application/octet-stream\r\nX-Stdin-Len: "
                   "%zu\r\n\r\n",
                   c->inlen);
        out_bytes(c, h.b, h.len);
        free(h.b);
        out_bytes(c, c->in, c->inlen);
        finish(c, 0);
    } else if (!strcmp(mode, "status") || !strcmp(mode, "status_1xx") ||
               !strcmp(mode, "status_bad")) {
        const char *st = !strcmp(mode, "status_1xx")   ? "103 Early Hints"
                         : !strcmp(mode, "status_bad") ? "2000"
                                                       : NULL;
        if (!st) {
            if (!qget(c, "v", v, sizeof v, NULL))
                snprintf(v, sizeof v, "200");
            st = v;
        }
        buf_t h = {0};
        buf_printf(
            &h, "Status: %s\r\nContent-Type: text/plain\r\n\r\nstatus body\n",
            st);
        out_bytes(c, h.b, h.len);
        free(h.b);
        finish(c, 0);
    } else if (!strcmp(mode, "location")) {
        if (!qget(c, "to", v, sizeof v, NULL))
            snprintf(v, sizeof v, "/");
        buf_t h = {0};
        buf_printf(&h, "Location: %s\r\n\r\n", v);
        out_bytes(c, h.b, h.len);
        free(h.b);
        finish(c, 0);
    } else if (!strcmp(mode, "cookies")) {
        out_str(c, "Content-Type: text/plain\r\n"
                   "Set-Cookie: a=1; Path=/\r\n"
                   "Set-Cookie: b=2; Path=/\r\n"
                   "Set-Cookie: c=3; Path=/; HttpOnly\r\n"
                   "\r\ncookies\n");
        finish(c, 0);
    } else if (!strcmp(mode, "lastmod")) {
        out_str(c, "Content-Type: text/plain\r\n"
                   "Last-Modified: Sat, 01 Jan 2000 00:00:00 GMT\r\n"
                   "\r\nlastmod body\n");
        finish(c, 0);
    } else if (!strcmp(mode, "slow")) {
        long n = qnum(c, "n", 3), ms = qnum(c, "ms", 500);
        good_headers(c);
        for (long k = 1; k <= n; k++) {
            buf_t l = {0};
            buf_printf(&l, "chunk %ld\n", k);
            out_bytes(c, l.b, l.len);
            free(l.b);
            flush_out(c);
            if (k < n)
                msleep(ms);
        }
        finish(c, 0);
    } else if (!strcmp(mode, "badversion") || !strcmp(mode, "otherid") ||
               !strcmp(mode, "unknowntype")) {
        static const char resp[] =
            "Content-Type: text/plain\r\n\r\nviolating record\n";
        static const char more[] = "more\n";
        const char *data = after ? more : resp;
        size_t dlen = after ? sizeof more - 1 : sizeof resp - 1;
        if (after)
            headers_out(c);
        if (!strcmp(mode, "badversion"))
            rec_raw(c, (unsigned)qnum(c, "ver", 2), T_STDOUT, c->id, data,
                    dlen);
        else if (!strcmp(mode, "otherid"))
            rec_raw(c, V1, T_STDOUT,
                    (unsigned)qnum(c, "oid", (long)((c->id + 1) & 0xffff)),
                    data, dlen);
        else
            rec_raw(c, V1, (unsigned)qnum(c, "t", 42), c->id, data, dlen);
        /* then a correct rest: a lenient server would answer 200 / complete */
        if (!after)
            out_str(c, "Content-Type: text/plain\r\n\r\nlenient\n");
        rest_of_good(c);
    } else if (!strcmp(mode, "shortend")) {
        long n = qnum(c, "n", 4);
        unsigned char z[64] = {0};
        if (n < 0 || n > 64)
            n = 4;
        if (after) {
            headers_out(c);
            end_stream(c, T_STDOUT);
        } else {
            /* an incomplete header block, then the malformed END */
            out_str(c, "Content-Type: text/plain\r\n");
        }
        rec_raw(c, V1, T_END, c->id, z, (size_t)n);
        flush_out(c);
    } else if (!strcmp(mode, "afterend")) {
        if (after) {
            headers_out(c);
            out_str(c, "tail\n");
            end_stream(c, T_STDOUT);
            end_request_ps(c, 0, 0);
            out_str(c, "after the end\n");
        } else {
            end_request_ps(c, 0, 0);
            out_str(c, "Content-Type: text/plain\r\n\r\nafter the end\n");
            end_stream(c, T_STDOUT);
        }
        flush_out(c);
    } else if (!strcmp(mode, "end") || !strcmp(mode, "overloaded")) {
        unsigned ps =
            !strcmp(mode, "overloaded") ? 2u : (unsigned)qnum(c, "ps", 0);
        if (after)
            headers_out(c);
        end_request_ps(c, (unsigned)qnum(c, "as", 0), ps);
        flush_out(c);
    } else if (!strcmp(mode, "die_before_headers")) {
        out_str(c, "Content-Type: text/pl");
        close_conn(c, (int)qnum(c, "rst", 0));
    } else if (!strcmp(mode, "die_silent")) {
        close_conn(c, (int)qnum(c, "rst", 0));
    } else if (!strcmp(mode, "die_after_headers") || !strcmp(mode, "die")) {
        headers_out(c);
        out_str(c, "partial");
        close_conn(c, (int)qnum(c, "rst", 0));
    } else if (!strcmp(mode, "hdr_huge")) {
        header_flood(c, 0, qnum(c, "n", 0), qnum(c, "ll", 1000));
    } else if (!strcmp(mode, "hdr_lines")) {
        header_flood(c, 1, qnum(c, "n", 0), 0);
    } else if (!strcmp(mode, "hdr_longline")) {
        header_flood(c, 2, qnum(c, "n", 0), 0);
    } else if (!strncmp(mode, "hdr_", 4) &&
               (!strcmp(mode + 4, "ctl") || !strcmp(mode + 4, "nul") ||
                !strcmp(mode + 4, "cr") || !strcmp(mode + 4, "lf") ||
                !strcmp(mode + 4, "del") || !strcmp(mode + 4, "esc") ||
                !strcmp(mode + 4, "byte"))) {
        int ch = !strcmp(mode + 4, "ctl")   ? 0x01
                 : !strcmp(mode + 4, "nul") ? 0x00
                 : !strcmp(mode + 4, "cr")  ? '\r'
                 : !strcmp(mode + 4, "lf")  ? '\n'
                 : !strcmp(mode + 4, "del") ? 0x7f
                 : !strcmp(mode + 4, "esc") ? 0x1b
                                            : -1;
        if (ch < 0) {
            char hx[8];
            ch = qget(c, "c", hx, sizeof hx, NULL)
                     ? (int)strtol(hx, NULL, 16) & 0xff
                     : 1;
        }
        char line[32];
        size_t n = (size_t)snprintf(line, sizeof line, "X-Bad: a?b\r\n");
        line[8] = (char)ch;
        bad_header_line(c, line, n);
    } else if (!strcmp(mode, "hdr_ctlname")) {
        static const char l[] = "X-B\x01d: v\r\n";
        bad_header_line(c, l, sizeof l - 1);
    } else if (!strcmp(mode, "hdr_obsfold")) {
        const char *l =
            qnum(c, "tab", 0) ? "X-Fold: a\r\n\tb\r\n" : "X-Fold: a\r\n  b\r\n";
        bad_header_line(c, l, strlen(l));
    } else if (!strcmp(mode, "hdr_nocolon")) {
        static const char l[] = "X-No-Colon\r\n";
        bad_header_line(c, l, sizeof l - 1);
    } else if (!strcmp(mode, "cl_lie")) {
        out_str(c, "Content-Type: text/plain\r\nContent-Length: "
                   "1000000\r\n\r\nshort body\n");
        finish(c, 0);
    } else if (!strcmp(mode, "cl_short")) {
        out_str(c, "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
                   "a body longer than three bytes\n");
        finish(c, 0);
    } else if (!strcmp(mode, "te_chunked")) {
        out_str(c,
                "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                "raw body, not chunked\n");
        finish(c, 0);
    } else if (!strcmp(mode, "stderr_flood")) {
        stderr_flood(c, qnum(c, "n", 10000000));
    } else if (!strcmp(mode, "stderr_ctl")) {
        stderr_ctl(c);
    } else if (!strcmp(mode, "stderr_lines")) {
        long n = qnum(c, "n", 5);
        for (long k = 1; k <= n; k++) {
            buf_t l = {0};
            buf_printf(&l, "stderr line %ld\n", k);
            err_bytes(c, l.b, l.len);
            free(l.b);
        }
        end_stream(c, T_STDERR);
        good_headers(c);
        out_str(c, "stderr lines\n");
        finish(c, 0);
    } else if (!strcmp(mode, "trickle")) {
        trickle(c, 0);
    } else if (!strcmp(mode, "trickle_body")) {
        trickle(c, 1);
    } else if (!strcmp(mode, "silent")) {
        if (after)
            headers_out(c);
        wait_for_close(c);
    } else {
        buf_t h = {0};
        buf_printf(&h,
                   "Status: 500\r\nContent-Type: text/plain\r\n\r\nbadapp: "
                   "unknown mode %s\n",
                   mode);
        out_bytes(c, h.b, h.len);
        free(h.b);
        finish(c, 1);
        /* good or unknown: allow keep-alive */
        return;
    }
}

/* Modes after which the connection may be reused (the response was
 * protocol-correct). */
static int reusable(const conn_t *c)
{
    char mode[64];
    if (!qget(c, "mode", mode, sizeof mode, NULL))
        return 1;
    static const char *ok[] = {
        "good",       "env",          "echo",       "status",       "location",
        "cookies",    "lastmod",      "slow",       "cl_lie",       "cl_short",
        "te_chunked", "stderr_flood", "stderr_ctl", "stderr_lines", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strcmp(mode, ok[i]))
            return 1;
    return 0;
}

static void handle_conn(int fd)
{
    conn_t c;
    memset(&c, 0, sizeof c);
    c.fd = fd;
    for (;;) {
        if (read_begin(&c) < 0)
            break;
        if (read_stream(&c, T_PARAMS) < 0)
            break;
        if (strstr(qbuf, "mode=silent_noread")) {
            /* stop reading; just wait until the server gives up */
            for (;;) {
                struct pollfd p = {c.fd, POLLRDHUP, 0};
                int r = poll(&p, 1, -1);
                if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                    break;
                if (r < 0 && errno != EINTR)
                    break;
            }
            close(c.fd);
            _exit(0);
        }
        if (qnum(&c, "stdin", 1) != 0) {
            if (read_stream(&c, T_STDIN) < 0)
                break;
        }
        serve(&c);
        flush_out(&c);
        int again = c.keep && reusable(&c) && qnum(&c, "stdin", 1) != 0;
        free_request(&c);
        if (!again)
            break;
    }
    close_conn(&c, 0);
}

/* ------------------------------------------------------------ main */

static int listen_on(const char *spec)
{
    int fd;
    const char *colon = strrchr(spec, ':');
    if (spec[0] == '/' || !colon) {
        struct sockaddr_un un;
        memset(&un, 0, sizeof un);
        un.sun_family = AF_UNIX;
        snprintf(un.sun_path, sizeof un.sun_path, "%s", spec);
        unlink(spec);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) < 0)
            return -1;
    } else {
        struct sockaddr_in in;
        char host[256];
        size_t hl = (size_t)(colon - spec);
        if (hl >= sizeof host)
            return -1;
        memcpy(host, spec, hl);
        host[hl] = 0;
        memset(&in, 0, sizeof in);
        in.sin_family = AF_INET;
        in.sin_port = htons((unsigned short)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &in.sin_addr) != 1)
            return -1;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) < 0)
            return -1;
    }
    if (listen(fd, 128) < 0)
        return -1;
    return fd;
}

int main(int argc, char **argv)
{
    int lfd = 0;
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* children are reaped automatically */
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, NULL);

    if (argc > 1) {
        lfd = listen_on(argv[1]);
        if (lfd < 0) {
            perror("badapp: listen");
            return 1;
        }
    }
    pid_t parent = getpid();
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
                errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (errno != EINTR && errno != ECONNABORTED)
                    msleep(100); /* never busy-spin */
                continue;
            }
            perror("badapp: accept");
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            close(fd);
            msleep(100);
            continue;
        }
        if (pid == 0) {
            close(lfd);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            alarm(BADAPP_LIFETIME);
            handle_conn(fd);
            _exit(0);
        }
        close(fd);
    }
}
