/*
 * respond.c - FastCGI app whose response the query string selects (for the
 * response-path tests).  Parameters (all optional, '&'-separated, values
 * %-decoded):
 *   size=N        body of N bytes of the pattern
 *                 "0123456789a..zA..Z\n" (63 bytes) repeated, continuous
 *                 (default: the 11-byte body "respond ok\n")
 *   status=NNN    "Status: NNN" header
 *   location=URL  "Location: URL" header
 *   cookie=N      N "Set-Cookie: cI=vI; Path=/" headers (I = 1..N)
 *   lastmod=DATE  "Last-Modified: DATE" header
 *   ctype=TYPE    Content-Type (default text/plain); ctype=none omits it
 *   hdr=LINE      an extra raw header line "Name: value" (repeatable)
 *   stderr=N      write N bytes to FCGI_STDERR before the body; text lines
 *                 "respond stderr line\n" repeated, or with stderrbin=1 lines
 *                 that carry control bytes (ESC, BEL, NUL, CR, DEL, 0x01)
 *   chunks=K      write the body in K parts, FCGX_FFlush after each
 *   sleep_ms=N    sleep N ms before each part (also the first)
 *   readbody=0    never read the request body
 *   readbody=after  read (and discard) it only after writing the response
 *                 (default: read and discard it all before responding)
 *   exit=1        exit(1) right after the headers are flushed, without
 *                 ending the request
 *   exit=body     exit(1) after half the body was flushed (after sleep_ms)
 *   exit=done     end the request normally, then exit(0) at once (the
 *                 fastest PHP_FCGI_MAX_REQUESTS=1)
 *   linger_ms=N   with exit=done: first fork a child that keeps the
 *                 connection (every fd) open N ms after the app is gone, as
 *                 a script's background command does, and close without
 *                 libfcgi's half-close and wait for the peer's EOF (as
 *                 FastCGI libraries without a lingering close do)
 * The app also adds "X-Respond-Body-Read: N" (bytes of request body read
 * before responding).
 */
#include <fcgiapp.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXHDR 16

struct opts {
    long long size;
    int has_size;
    int status;
    char location[2048];
    long cookies;
    char lastmod[256];
    char ctype[256];
    char hdr[MAXHDR][1024];
    int nhdr;
    long long stderr_n;
    int stderrbin;
    long chunks;
    long sleep_ms;
    int readbody;  /* 1 before, 0 never, 2 after */
    int exit_mode; /* 0 no, 1 after headers, 2 mid-body, 3 after the end */
    long linger_ms;
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* %-decode src[0..len) into dst (size cap) */
static void decode(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        if (src[i] == '%' && i + 2 < len &&
            hexval((unsigned char)src[i + 1]) >= 0 &&
            hexval((unsigned char)src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval((unsigned char)src[i + 1]) * 16 +
                              hexval((unsigned char)src[i + 2]));
            i += 2;
        } else if (src[i] == '+') {
            dst[o++] = ' ';
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
}

static void parse(const char *qs, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->readbody = 1;
    o->chunks = 1;
    strcpy(o->ctype, "text/plain");
    while (qs && *qs) {
        const char *amp = strchr(qs, '&');
        size_t len = amp ? (size_t)(amp - qs) : strlen(qs);
        const char *eq = memchr(qs, '=', len);
        char key[64], val[2048];
        if (eq) {
            decode(key, sizeof key, qs, (size_t)(eq - qs));
            decode(val, sizeof val, eq + 1, len - (size_t)(eq - qs) - 1);
        } else {
            decode(key, sizeof key, qs, len);
            val[0] = '\0';
        }
        if (!strcmp(key, "size")) {
            o->size = atoll(val);
            o->has_size = 1;
        } else if (!strcmp(key, "status"))
            o->status = atoi(val);
        else if (!strcmp(key, "location"))
            snprintf(o->location, sizeof o->location, "%s", val);
        else if (!strcmp(key, "cookie"))
            o->cookies = atol(val);
        else if (!strcmp(key, "lastmod"))
            snprintf(o->lastmod, sizeof o->lastmod, "%s", val);
        else if (!strcmp(key, "ctype"))
            snprintf(o->ctype, sizeof o->ctype, "%s", val);
        else if (!strcmp(key, "hdr") && o->nhdr < MAXHDR)
            snprintf(o->hdr[o->nhdr++], sizeof o->hdr[0], "%s", val);
        else if (!strcmp(key, "stderr"))
            o->stderr_n = atoll(val);
        else if (!strcmp(key, "stderrbin"))
            o->stderrbin = atoi(val);
        else if (!strcmp(key, "chunks"))
            o->chunks = atol(val) > 0 ? atol(val) : 1;
        else if (!strcmp(key, "sleep_ms"))
            o->sleep_ms = atol(val);
        else if (!strcmp(key, "readbody"))
            o->readbody = !strcmp(val, "after") ? 2 : atoi(val) ? 1 : 0;
        else if (!strcmp(key, "linger_ms"))
            o->linger_ms = atol(val);
        else if (!strcmp(key, "exit"))
            o->exit_mode = !strcmp(val, "body")   ? 2
                           : !strcmp(val, "done") ? 3
                           : atoi(val)            ? 1
                                                  : 0;
        qs = amp ? amp + 1 : NULL;
    }
}

static void msleep(long ms)
{
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static long long drain(FCGX_Stream *in)
{
    static char buf[65536];
    long long total = 0;
    int n;
    while ((n = FCGX_GetStr(buf, sizeof buf, in)) > 0)
        total += n;
    return total;
}

static const char PATTERN[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";
#define PLEN (sizeof PATTERN - 1)

/* write body bytes [from, to) of the pattern */
static int put_pattern(FCGX_Stream *out, long long from, long long to)
{
    static char buf[PLEN * 1024];
    static int init;
    if (!init) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = PATTERN[i % PLEN];
        init = 1;
    }
    while (from < to) {
        size_t off = (size_t)(from % (long long)PLEN);
        long long n = (long long)(sizeof buf - off);
        if (n > to - from)
            n = to - from;
        if (FCGX_PutStr(buf + off, (int)n, out) != (int)n)
            return -1;
        from += n;
    }
    return 0;
}

static void put_stderr(FCGX_Stream *err, long long n, int bin)
{
    static const char text[] = "respond stderr line\n";
    static const char binl[] = "bin\x1b[31mred\x07\x01nul\0del\x7f\r-cr\t\n";
    const char *src = bin ? binl : text;
    size_t len = bin ? sizeof binl - 1 : sizeof text - 1;
    for (long long i = 0; i < n; i++)
        FCGX_PutChar(src[i % (long long)len], err);
    FCGX_FFlush(err);
}

int main(void)
{
    FCGX_Request req;

    FCGX_Init();
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_Stream *in = req.in, *out = req.out, *err = req.err;
        FCGX_ParamArray envp = req.envp;
        struct opts o;
        long long body_read = 0, size;
        const char *dflt = "respond ok\n";

        parse(FCGX_GetParam("QUERY_STRING", envp), &o);
        if (o.readbody == 1)
            body_read = drain(in);
        if (o.stderr_n > 0)
            put_stderr(err, o.stderr_n, o.stderrbin);

        if (o.status)
            FCGX_FPrintF(out, "Status: %d\r\n", o.status);
        if (strcmp(o.ctype, "none") != 0)
            FCGX_FPrintF(out, "Content-Type: %s\r\n", o.ctype);
        if (o.location[0])
            FCGX_FPrintF(out, "Location: %s\r\n", o.location);
        for (long i = 1; i <= o.cookies; i++)
            FCGX_FPrintF(out, "Set-Cookie: c%ld=v%ld; Path=/\r\n", i, i);
        if (o.lastmod[0])
            FCGX_FPrintF(out, "Last-Modified: %s\r\n", o.lastmod);
        for (int i = 0; i < o.nhdr; i++)
            FCGX_FPrintF(out, "%s\r\n", o.hdr[i]);
        FCGX_FPrintF(out, "X-Respond-Body-Read: %lld\r\n\r\n", body_read);
        if (o.exit_mode == 1) {
            FCGX_FFlush(out);
            _exit(1);
        }

        size = o.has_size ? o.size : (long long)strlen(dflt);
        if (o.exit_mode == 2) {
            msleep(o.sleep_ms);
            if (o.has_size)
                put_pattern(out, 0, size / 2);
            else
                FCGX_PutStr(dflt, (int)(size / 2), out);
            FCGX_FFlush(out);
            _exit(1);
        }
        for (long k = 0; k < o.chunks; k++) {
            long long from = size * k / o.chunks,
                      to = size * (k + 1) / o.chunks;
            msleep(o.sleep_ms);
            if (o.has_size) {
                if (put_pattern(out, from, to) < 0)
                    break;
            } else {
                FCGX_PutStr(dflt + from, (int)(to - from), out);
            }
            FCGX_FFlush(out);
        }
        if (o.readbody == 2)
            drain(in);
        if (o.exit_mode == 3) {
            if (o.linger_ms > 0) {
                if (fork() == 0) {
                    msleep(o.linger_ms);
                    _exit(0);
                }
                FCGX_Detach(&req); /* a plain close() in FCGX_Finish_r */
            }
            FCGX_Finish_r(&req);
            _exit(0);
        }
    }
    return 0;
}
