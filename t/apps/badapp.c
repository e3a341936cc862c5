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
 * FCGI_KEEP_CONN: when BEGIN_REQUEST asks for it, the connection serves the
 * next request after a protocol-correct response (modes that misbehave, or
 * end in a close, keep closing). Environment (set by the harness):
 *   BADAPP_NOKEEP=1  ignore FCGI_KEEP_CONN: close after every response
 *   BADAPP_LOG=PATH  append one line per event:
 *     begin pid=P n=N id=I keep=K q=QUERY  a request (its params read)
 *     abort pid=P n=N id=I   abortwatch saw an ABORT_REQUEST
 *     eof pid=P n=N          the server closed while abortwatch streamed
 *     stale pid=P n=N id=I   closed at a BEGIN_REQUEST (stale_next)
 *     idleclose pid=P n=N    closed an idle kept connection (close_idle)
 *     end pid=P n=N          the connection ends (after the app's FIN)
 * Every response with good_headers (good, env, slow, ...) and echo has
 *   X-Conn: P        the pid of the child serving this connection
 *   X-Conn-Req: N    the N-th request on this connection
 *   X-Req-Id: I      this request's FastCGI request id
 *   X-Keep: K        1 when BEGIN_REQUEST had FCGI_KEEP_CONN
 *
 * Per request: reads BEGIN_REQUEST, PARAMS up to the empty PARAMS record,
 * then (unless stdin=0) STDIN up to the empty STDIN record, and then behaves
 * according to QUERY_STRING: mode=NAME plus optional parameters. Each mode
 * is one function, found by its name in the table behaviours[]; the
 * protocol plumbing they use is in badapp_wire.h.
 *
 * Parameters (all optional):
 *   size=N   body size for good / *_after modes (FcgixTest::pattern(N) bytes)
 *   n=N      a count or length, see the mode
 *   ll=N     header line length for hdr_huge (default 1000)
 *   v=STR    Status value (mode=status), URL-decoded
 *   to=STR   Location value (mode=location), URL-decoded
 *   ms=N     delay in milliseconds (slow, trickle: default 500 / 1000)
 *   wait=N   good: ms to wait before answering (default 0)
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
 *   die_after_headers  headers + body, then close (no END_REQUEST); also "die"
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
 *   stale_next         a good response, the connection kept; when the next
 *                      BEGIN_REQUEST arrives on it, close without answering
 *                      (a kept connection gone stale)
 *   close_idle         a good response, the connection kept; when no
 *                      request arrives on it within ms (300) ms, close it
 *                      (an app that ends idle connections)
 *   abortwatch         headers, then n (50) chunks "chunk K\n", ms (200) ms
 *                      apart, watching the connection in between: on an
 *                      ABORT_REQUEST for this request, log it (BADAPP_LOG),
 *                      end the request (END_REQUEST) and keep the
 *                      connection; when the server closes, log "eof"
 *   garbage            like afterend_after (headers + size bytes, pause,
 *                      then tail, END_REQUEST and one more STDOUT record in
 *                      one write), but keeps the connection for the next
 *                      request, so reusing it would be visible
 */
#define _GNU_SOURCE
#include "badapp_wire.h"

#define BADAPP_LIFETIME 150 /* s: hard limit for one connection's child */

/* ----------------------------------------- pieces the behaviours share */

/* Appends one line to $BADAPP_LOG (when set): what the tests read about
 * connections besides the response headers. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    const char *path = getenv("BADAPP_LOG");
    char line[512];
    va_list ap;
    if (!path || !*path)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    write_all(fd, line, (size_t)n);
    close(fd);
}

/* The header lines that tell the connection (see the top). */
static void conn_headers(conn_t *c)
{
    buf_t h = {0};
    buf_printf(&h,
               "X-Conn: %ld\r\nX-Conn-Req: %u\r\nX-Req-Id: %u\r\n"
               "X-Keep: %d\r\n",
               (long)getpid(), c->nreq, c->id, c->keep);
    out_bytes(c, h.b, h.len);
    free(h.b);
}

static void good_headers(conn_t *c)
{
    conn_headers(c);
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

/* ------------------------------------------------------------ behaviours
 *
 * One function per mode (the names tests ask for in mode=NAME), found
 * through the table below. c->after tells a *_after variant. */

static void mode_good(conn_t *c)
{
    long size = qnum(c, "size", -1);
    msleep(qnum(c, "wait", 0));
    good_headers(c);
    if (size >= 0)
        out_pattern(c, (size_t)size);
    else
        out_str(c, "hello from badapp\n");
    finish(c, (unsigned)qnum(c, "as", 0));
}

static void mode_env(conn_t *c)
{
    good_headers(c);
    for (size_t i = 0; i < c->nparams; i++) {
        buf_t l = {0};
        buf_printf(&l, "%s=%s\n", c->names[i], c->values[i]);
        out_bytes(c, l.b, l.len);
        free(l.b);
    }
    finish(c, 0);
}

static void mode_echo(conn_t *c)
{
    buf_t h = {0};
    conn_headers(c);
    buf_printf(&h,
               "Content-Type: application/octet-stream\r\nX-Stdin-Len: "
               "%zu\r\n\r\n",
               c->inlen);
    out_bytes(c, h.b, h.len);
    free(h.b);
    out_bytes(c, c->in, c->inlen);
    finish(c, 0);
}

static void status_reply(conn_t *c, const char *st)
{
    buf_t h = {0};
    buf_printf(
        &h, "Status: %s\r\nContent-Type: text/plain\r\n\r\nstatus body\n", st);
    out_bytes(c, h.b, h.len);
    free(h.b);
    finish(c, 0);
}

static void mode_status(conn_t *c)
{
    char v[4096];
    if (!qget(c, "v", v, sizeof v, NULL))
        snprintf(v, sizeof v, "200");
    status_reply(c, v);
}

static void mode_status_1xx(conn_t *c)
{
    status_reply(c, "103 Early Hints");
}

static void mode_status_bad(conn_t *c)
{
    status_reply(c, "2000");
}

static void mode_location(conn_t *c)
{
    char v[4096];
    buf_t h = {0};
    if (!qget(c, "to", v, sizeof v, NULL))
        snprintf(v, sizeof v, "/");
    buf_printf(&h, "Location: %s\r\n\r\n", v);
    out_bytes(c, h.b, h.len);
    free(h.b);
    finish(c, 0);
}

static void mode_cookies(conn_t *c)
{
    out_str(c, "Content-Type: text/plain\r\n"
               "Set-Cookie: a=1; Path=/\r\n"
               "Set-Cookie: b=2; Path=/\r\n"
               "Set-Cookie: c=3; Path=/; HttpOnly\r\n"
               "\r\ncookies\n");
    finish(c, 0);
}

static void mode_lastmod(conn_t *c)
{
    out_str(c, "Content-Type: text/plain\r\n"
               "Last-Modified: Sat, 01 Jan 2000 00:00:00 GMT\r\n"
               "\r\nlastmod body\n");
    finish(c, 0);
}

/* "chunk K\n", flushed: one step of the slow and abortwatch streams */
static void out_chunk(conn_t *c, long k)
{
    buf_t l = {0};
    buf_printf(&l, "chunk %ld\n", k);
    out_bytes(c, l.b, l.len);
    free(l.b);
    flush_out(c);
}

static void mode_slow(conn_t *c)
{
    long n = qnum(c, "n", 3), ms = qnum(c, "ms", 500);
    good_headers(c);
    for (long k = 1; k <= n; k++) {
        out_chunk(c, k);
        if (k < n)
            msleep(ms);
    }
    finish(c, 0);
}

/* A record the app must not send (the given version, type and request
 * id), then a correct rest: a lenient server would answer 200 / complete. */
static void violating_record(conn_t *c, unsigned ver, unsigned type,
                             unsigned id)
{
    static const char resp[] =
        "Content-Type: text/plain\r\n\r\nviolating record\n";
    static const char more[] = "more\n";
    if (c->after) {
        headers_out(c);
        rec_raw(c, ver, type, id, more, sizeof more - 1);
    } else {
        rec_raw(c, ver, type, id, resp, sizeof resp - 1);
        out_str(c, "Content-Type: text/plain\r\n\r\nlenient\n");
    }
    rest_of_good(c);
}

static void mode_badversion(conn_t *c)
{
    violating_record(c, (unsigned)qnum(c, "ver", 2), T_STDOUT, c->id);
}

static void mode_otherid(conn_t *c)
{
    violating_record(c, V1, T_STDOUT,
                     (unsigned)qnum(c, "oid", (long)((c->id + 1) & 0xffff)));
}

static void mode_unknowntype(conn_t *c)
{
    violating_record(c, V1, (unsigned)qnum(c, "t", 42), c->id);
}

static void mode_shortend(conn_t *c)
{
    long n = qnum(c, "n", 4);
    unsigned char z[64] = {0};
    if (n < 0 || n > 64)
        n = 4;
    if (c->after) {
        headers_out(c);
        end_stream(c, T_STDOUT);
    } else {
        /* an incomplete header block, then the malformed END */
        out_str(c, "Content-Type: text/plain\r\n");
    }
    rec_raw(c, V1, T_END, c->id, z, (size_t)n);
    flush_out(c);
}

static void mode_afterend(conn_t *c)
{
    if (c->after) {
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
}

/* END_REQUEST with protocolStatus ps and no output (after the headers in
 * the *_after variant). */
static void end_with(conn_t *c, unsigned ps)
{
    if (c->after)
        headers_out(c);
    end_request_ps(c, (unsigned)qnum(c, "as", 0), ps);
    flush_out(c);
}

static void mode_end(conn_t *c)
{
    end_with(c, (unsigned)qnum(c, "ps", 0));
}

static void mode_overloaded(conn_t *c)
{
    end_with(c, 2u);
}

static void mode_die_before_headers(conn_t *c)
{
    out_str(c, "Content-Type: text/pl");
    close_conn(c, (int)qnum(c, "rst", 0));
}

static void mode_die_silent(conn_t *c)
{
    close_conn(c, (int)qnum(c, "rst", 0));
}

static void mode_die_after_headers(conn_t *c)
{
    headers_out(c);
    out_str(c, "partial");
    close_conn(c, (int)qnum(c, "rst", 0));
}

static void mode_hdr_huge(conn_t *c)
{
    header_flood(c, 0, qnum(c, "n", 0), qnum(c, "ll", 1000));
}

static void mode_hdr_lines(conn_t *c)
{
    header_flood(c, 1, qnum(c, "n", 0), 0);
}

static void mode_hdr_longline(conn_t *c)
{
    header_flood(c, 2, qnum(c, "n", 0), 0);
}

/* "X-Bad: a?b" with the byte ch in place of the "?". */
static void bad_value_byte(conn_t *c, int ch)
{
    char line[32];
    size_t n = (size_t)snprintf(line, sizeof line, "X-Bad: a?b\r\n");
    line[8] = (char)ch;
    bad_header_line(c, line, n);
}

static void mode_hdr_ctl(conn_t *c)
{
    bad_value_byte(c, 0x01);
}

static void mode_hdr_nul(conn_t *c)
{
    bad_value_byte(c, 0x00);
}

static void mode_hdr_cr(conn_t *c)
{
    bad_value_byte(c, '\r');
}

static void mode_hdr_lf(conn_t *c)
{
    bad_value_byte(c, '\n');
}

static void mode_hdr_del(conn_t *c)
{
    bad_value_byte(c, 0x7f);
}

static void mode_hdr_esc(conn_t *c)
{
    bad_value_byte(c, 0x1b);
}

static void mode_hdr_byte(conn_t *c)
{
    char hx[8];
    bad_value_byte(c, qget(c, "c", hx, sizeof hx, NULL)
                          ? (int)strtol(hx, NULL, 16) & 0xff
                          : 1);
}

static void mode_hdr_ctlname(conn_t *c)
{
    static const char l[] = "X-B\x01d: v\r\n";
    bad_header_line(c, l, sizeof l - 1);
}

static void mode_hdr_obsfold(conn_t *c)
{
    const char *l =
        qnum(c, "tab", 0) ? "X-Fold: a\r\n\tb\r\n" : "X-Fold: a\r\n  b\r\n";
    bad_header_line(c, l, strlen(l));
}

static void mode_hdr_nocolon(conn_t *c)
{
    static const char l[] = "X-No-Colon\r\n";
    bad_header_line(c, l, sizeof l - 1);
}

static void mode_cl_lie(conn_t *c)
{
    out_str(c, "Content-Type: text/plain\r\nContent-Length: "
               "1000000\r\n\r\nshort body\n");
    finish(c, 0);
}

static void mode_cl_short(conn_t *c)
{
    out_str(c, "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
               "a body longer than three bytes\n");
    finish(c, 0);
}

static void mode_te_chunked(conn_t *c)
{
    out_str(c, "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
               "raw body, not chunked\n");
    finish(c, 0);
}

static void mode_stderr_flood(conn_t *c)
{
    stderr_flood(c, qnum(c, "n", 10000000));
}

static void mode_stderr_lines(conn_t *c)
{
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
}

static void mode_trickle(conn_t *c)
{
    trickle(c, 0);
}

static void mode_trickle_body(conn_t *c)
{
    trickle(c, 1);
}

static void mode_silent(conn_t *c)
{
    if (c->after)
        headers_out(c);
    wait_for_close(c);
}

/* Runs before the request body is read: never reads it, never answers,
 * waits until the server gives up. */
static void mode_silent_noread(conn_t *c)
{
    for (;;) {
        struct pollfd p = {c->fd, POLLRDHUP, 0};
        int r = poll(&p, 1, -1);
        if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            break;
        if (r < 0 && errno != EINTR)
            break;
    }
    close(c->fd);
    _exit(0);
}

static void mode_stale_next(conn_t *c)
{
    mode_good(c);
    c->stale = 1;
}

static void mode_close_idle(conn_t *c)
{
    long ms = qnum(c, "ms", 300);
    mode_good(c);
    flush_out(c);
    struct pollfd p = {c->fd, POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, (int)ms)) < 0 && errno == EINTR) {
    }
    if (r == 0) {
        note("idleclose pid=%ld n=%u", (long)getpid(), c->nreq);
        close_conn(c, 0);
    }
}

/* Waits up to ms for a record from the server. Returns 1 on an
 * ABORT_REQUEST for this request, -1 when the server closed, else 0. */
static int watch_abort(conn_t *c, long ms)
{
    struct pollfd p = {c->fd, POLLIN, 0};
    int r = poll(&p, 1, (int)ms);
    if (r <= 0)
        return 0;
    unsigned ver, rid;
    unsigned char *d;
    size_t len;
    int type = read_record(c->fd, &ver, &rid, &d, &len);
    if (type < 0)
        return -1;
    free(d);
    return type == T_ABORT && rid == c->id ? 1 : 0;
}

static void mode_abortwatch(conn_t *c)
{
    long n = qnum(c, "n", 50), ms = qnum(c, "ms", 200);
    good_headers(c);
    for (long k = 1; k <= n; k++) {
        out_chunk(c, k);
        int w = k < n ? watch_abort(c, ms) : 0;
        if (w < 0) {
            note("eof pid=%ld n=%u", (long)getpid(), c->nreq);
            close(c->fd);
            _exit(0);
        }
        if (w > 0) {
            note("abort pid=%ld n=%u id=%u", (long)getpid(), c->nreq, c->id);
            break;
        }
    }
    finish(c, 0);
}

static void mode_garbage(conn_t *c)
{
    headers_out(c);
    out_str(c, "tail\n");
    end_stream(c, T_STDOUT);
    end_request_ps(c, 0, 0);
    out_str(c, "after the end\n");
    flush_out(c);
}

typedef struct {
    const char *name;
    void (*run)(conn_t *c);
    int reusable; /* protocol-correct: the connection may serve another
                     request afterwards (never after a *_after variant) */
    int noread;   /* runs before the request body is read */
} behaviour_t;

static const behaviour_t behaviours[] = {
    {"good", mode_good, 1, 0},
    {"env", mode_env, 1, 0},
    {"echo", mode_echo, 1, 0},
    {"status", mode_status, 1, 0},
    {"status_1xx", mode_status_1xx, 0, 0},
    {"status_bad", mode_status_bad, 0, 0},
    {"location", mode_location, 1, 0},
    {"cookies", mode_cookies, 1, 0},
    {"lastmod", mode_lastmod, 1, 0},
    {"slow", mode_slow, 1, 0},
    {"badversion", mode_badversion, 0, 0},
    {"otherid", mode_otherid, 0, 0},
    {"unknowntype", mode_unknowntype, 0, 0},
    {"shortend", mode_shortend, 0, 0},
    {"afterend", mode_afterend, 0, 0},
    {"end", mode_end, 0, 0},
    {"overloaded", mode_overloaded, 0, 0},
    {"die_before_headers", mode_die_before_headers, 0, 0},
    {"die_silent", mode_die_silent, 0, 0},
    {"die_after_headers", mode_die_after_headers, 0, 0},
    {"die", mode_die_after_headers, 0, 0},
    {"hdr_huge", mode_hdr_huge, 0, 0},
    {"hdr_lines", mode_hdr_lines, 0, 0},
    {"hdr_longline", mode_hdr_longline, 0, 0},
    {"hdr_ctl", mode_hdr_ctl, 0, 0},
    {"hdr_nul", mode_hdr_nul, 0, 0},
    {"hdr_cr", mode_hdr_cr, 0, 0},
    {"hdr_lf", mode_hdr_lf, 0, 0},
    {"hdr_del", mode_hdr_del, 0, 0},
    {"hdr_esc", mode_hdr_esc, 0, 0},
    {"hdr_byte", mode_hdr_byte, 0, 0},
    {"hdr_ctlname", mode_hdr_ctlname, 0, 0},
    {"hdr_obsfold", mode_hdr_obsfold, 0, 0},
    {"hdr_nocolon", mode_hdr_nocolon, 0, 0},
    {"cl_lie", mode_cl_lie, 1, 0},
    {"cl_short", mode_cl_short, 1, 0},
    {"te_chunked", mode_te_chunked, 1, 0},
    {"stderr_flood", mode_stderr_flood, 1, 0},
    {"stderr_ctl", stderr_ctl, 1, 0},
    {"stderr_lines", mode_stderr_lines, 1, 0},
    {"trickle", mode_trickle, 0, 0},
    {"trickle_body", mode_trickle_body, 0, 0},
    {"silent", mode_silent, 0, 0},
    {"silent_noread", mode_silent_noread, 0, 1},
    {"stale_next", mode_stale_next, 1, 0},
    {"close_idle", mode_close_idle, 1, 0},
    {"abortwatch", mode_abortwatch, 1, 0},
    {"garbage", mode_garbage, 1, 0},
};

/* The behaviour QUERY_STRING asks for (mode=NAME, default good), NULL for
 * an unknown one; its name, less an "_after" suffix, in mode[cap]; sets
 * c->after. */
static const behaviour_t *find_behaviour(conn_t *c, char *mode, size_t cap)
{
    size_t ml;
    if (!qget(c, "mode", mode, cap, NULL))
        snprintf(mode, cap, "good");
    ml = strlen(mode);
    c->after = ml > 6 && strcmp(mode + ml - 6, "_after") == 0;
    if (c->after)
        mode[ml - 6] = 0;
    for (size_t i = 0; i < sizeof behaviours / sizeof behaviours[0]; i++)
        if (!strcmp(mode, behaviours[i].name))
            return &behaviours[i];
    return NULL;
}

/* Runs behaviour b (NULL: unknown mode, a 500). Returns 1 when the
 * connection may serve another request. */
static int serve(conn_t *c, const behaviour_t *b, const char *mode)
{
    c->split = (size_t)qnum(c, "split", 0);
    c->pad = (unsigned)qnum(c, "pad", 0) & 0xff;
    if (!b) {
        buf_t h = {0};
        buf_printf(&h,
                   "Status: 500\r\nContent-Type: text/plain\r\n\r\nbadapp: "
                   "unknown mode %s\n",
                   mode);
        out_bytes(c, h.b, h.len);
        free(h.b);
        finish(c, 1);
        return 0;
    }
    b->run(c);
    return b->reusable && !c->after;
}

static void handle_conn(int fd)
{
    conn_t c;
    char mode[64];
    const char *nk = getenv("BADAPP_NOKEEP");
    int nokeep = nk && *nk && strcmp(nk, "0") != 0;
    memset(&c, 0, sizeof c);
    c.fd = fd;
    for (;;) {
        if (read_begin(&c) < 0)
            break;
        if (c.stale) {
            note("stale pid=%ld n=%u id=%u", (long)getpid(), c.nreq, c.id);
            close(c.fd); /* at once: the request stays unanswered */
            _exit(0);
        }
        if (read_stream(&c, T_PARAMS) < 0)
            break;
        note("begin pid=%ld n=%u id=%u keep=%d q=%s", (long)getpid(), c.nreq,
             c.id, c.keep, qbuf);
        const behaviour_t *b = find_behaviour(&c, mode, sizeof mode);
        if (b && b->noread)
            b->run(&c); /* does not return */
        if (qnum(&c, "stdin", 1) != 0) {
            if (read_stream(&c, T_STDIN) < 0)
                break;
        }
        int reuse = serve(&c, b, mode);
        flush_out(&c);
        int again = c.keep && !nokeep && reuse && qnum(&c, "stdin", 1) != 0;
        free_request(&c);
        if (!again)
            break;
    }
    shutdown(c.fd, SHUT_WR); /* first: "end" means the server can see it */
    note("end pid=%ld n=%u", (long)getpid(), c.nreq);
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
