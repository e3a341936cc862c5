/*
 * sse.c - FastCGI app (libfcgi) that streams Server-Sent Events, for the
 * streaming tests (t/58-h2.t, t/59-sse.t) and the SSE bench.
 *
 * Query string parameters ('&'-separated, all optional):
 *   count=N        events to send (default 5)
 *   interval_ms=N  wait between events (default 200)
 *   pause_ms=N     wait after the FIRST event instead of interval_ms
 *   ctype=TYPE     Content-Type (default text/event-stream; '%2F' decoded)
 *   xab=VALUE      adds "X-Accel-Buffering: VALUE"
 *   pad=N          N bytes of 'x' appended to each event's data line
 * Every event is one FCGX_FFlush (one FCGI_STDOUT record):
 *   "id: N\ndata: N SEC.USEC PAD\n\n"   SEC.USEC = CLOCK_REALTIME at the write
 * The headers are flushed first, on their own.
 *
 * Every wait polls the FastCGI connection instead of sleeping: if httpd
 * closes it or sends anything (FCGI_ABORT_REQUEST) the app stops at once.
 * On its own stderr (the harness' app log) it writes one line per request:
 *   "sse: pid P sent N of M: complete|peer-gone after event K|write failed"
 */
#include <fcgiapp.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
    long count, interval_ms, pause_ms, pad;
    char ctype[256], xab[64];
};

static void qstr(const char *qs, const char *name, char *dst, size_t cap)
{
    size_t len = strlen(name), o = 0;
    const char *p = qs;

    while (p && *p) {
        if (strncmp(p, name, len) == 0 && p[len] == '=') {
            for (p += len + 1; *p && *p != '&' && o + 1 < cap; p++) {
                if (p[0] == '%' && p[1] && p[2]) {
                    char hex[3] = {p[1], p[2], 0};
                    dst[o++] = (char)strtol(hex, NULL, 16);
                    p += 2;
                } else {
                    dst[o++] = *p == '+' ? ' ' : *p;
                }
            }
            dst[o] = '\0';
            return;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
}

static long qnum(const char *qs, const char *name, long def, long max)
{
    char v[32] = "";
    long n;

    qstr(qs, name, v, sizeof v);
    if (!*v)
        return def;
    n = strtol(v, NULL, 10);
    return n < 0 ? 0 : n > max ? max : n;
}

static void parse(const char *qs, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->count = qnum(qs, "count", 5, 1000000);
    o->interval_ms = qnum(qs, "interval_ms", 200, 600000);
    o->pause_ms = qnum(qs, "pause_ms", -1, 600000);
    if (!strstr(qs, "pause_ms="))
        o->pause_ms = -1;
    o->pad = qnum(qs, "pad", 0, 65536);
    strcpy(o->ctype, "text/event-stream");
    qstr(qs, "ctype", o->ctype, sizeof o->ctype);
    qstr(qs, "xab", o->xab, sizeof o->xab);
}

/* Waits ms milliseconds on the connection; 1 when httpd closed it or sent
 * something (an abort) meanwhile. */
static int wait_peer(int fd, long ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    struct timespec t0, t1;
    long left = ms;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (left > 0) {
        int r = poll(&pfd, 1, (int)left);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 +
                     (t1.tv_nsec - t0.tv_nsec) / 1000000);
    }
    return 0;
}

static int put_event(FCGX_Stream *out, long n, long pad)
{
    struct timespec now;
    long i;

    clock_gettime(CLOCK_REALTIME, &now);
    FCGX_FPrintF(out, "id: %ld\ndata: %ld %lld.%06ld ", n, n,
                 (long long)now.tv_sec, now.tv_nsec / 1000);
    for (i = 0; i < pad; i++)
        FCGX_PutChar('x', out);
    FCGX_PutS("\n\n", out);
    return FCGX_FFlush(out) < 0 || FCGX_GetError(out) != 0 ? -1 : 0;
}

static void serve(FCGX_Request *rq)
{
    const char *qs = FCGX_GetParam("QUERY_STRING", rq->envp);
    static char drain[65536];
    struct opts o;
    const char *how = "complete";
    long n, sent = 0;

    parse(qs ? qs : "", &o);
    while (FCGX_GetStr(drain, sizeof drain, rq->in) > 0) {
    }
    FCGX_FPrintF(rq->out, "Content-Type: %s\r\nCache-Control: no-cache\r\n",
                 o.ctype);
    if (*o.xab)
        FCGX_FPrintF(rq->out, "X-Accel-Buffering: %s\r\n", o.xab);
    FCGX_PutS("\r\n", rq->out);
    if (FCGX_FFlush(rq->out) < 0)
        o.count = 0, how = "write failed";
    for (n = 1; n <= o.count; n++) {
        long ms = (n == 2 && o.pause_ms >= 0) ? o.pause_ms : o.interval_ms;
        if (n > 1 && wait_peer(rq->ipcFd, ms)) {
            how = "peer-gone";
            break;
        }
        if (put_event(rq->out, n, o.pad) < 0) {
            how = "write failed";
            break;
        }
        sent = n;
    }
    fprintf(stderr, "sse: pid %ld sent %ld of %ld: %s after event %ld\n",
            (long)getpid(), sent, o.count, how, sent);
}

int main(void)
{
    FCGX_Request rq;

    FCGX_Init();
    FCGX_InitRequest(&rq, 0, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    while (FCGX_Accept_r(&rq) >= 0) {
        serve(&rq);
        FCGX_Finish_r(&rq);
    }
    return 0;
}
