/*
 * badapp_wire.h - the raw FastCGI side of badapp.c (see there): buffers,
 * the connection and its records out, the request's params and query
 * string, reading records in, closing. Static functions, like md5.h: only
 * badapp.c includes it (after defining _GNU_SOURCE), so the behaviours
 * read apart from the protocol plumbing.
 *
 * Independent raw-protocol implementation: no libfcgi, nothing from the
 * project's proto/ code, so the tests do not share bugs with the module.
 */
#ifndef FCGIX_TEST_BADAPP_WIRE_H
#define FCGIX_TEST_BADAPP_WIRE_H

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
    buf_t out;     /* pending bytes for the server */
    unsigned id;   /* current request id */
    int keep;      /* FCGI_KEEP_CONN */
    unsigned nreq; /* requests begun on this connection, this one counted */
    int stale;     /* close at the next BEGIN_REQUEST (mode stale_next) */
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
    int after;    /* the mode asked for its *_after variant */
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
            c->nreq++;
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

#endif
