/*
 * wsecho.c - a WebSocket echo server over FastCGI (libfcgi), for mod_fcgix's
 * -upgrade. It answers an upgrade request (HTTP_UPGRADE websocket and
 * HTTP_SEC_WEBSOCKET_KEY) with "Status: 101", Upgrade, Connection and
 * Sec-WebSocket-Accept (RFC 6455: SHA-1 and base64, both below), then reads
 * WebSocket frames from its FastCGI stdin (the client's bytes) and writes
 * frames to its stdout (the bytes to the client):
 *   text / binary / continuation frames: echoed unmasked, opcode and FIN
 *     kept (a fragmented message comes back fragmented the same way);
 *   ping: pong with the same payload; pong: ignored;
 *   close: a close frame with the same status code back, then the request
 *     ends;
 *   the text message "bye": the request ends at once, without a close frame
 *     (the app ends the tunnel).
 * Any other request: 400 with a text body saying what it saw
 * ("upgrade=<HTTP_UPGRADE or ->"). The query string "force101" answers 101
 * to any request (to see the module refuse it) and ends; "stall" answers
 * the upgrade, then never reads (to see backpressure): it sleeps until it
 * is killed.
 *
 * On its own stderr (not FastCGI's), one line per tunnel end:
 *   wsecho: pid P tunnel end: close | bye | eof
 * (eof: stdin ended or the connection went away without a close frame).
 */
#include "fcgiapp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PAYLOAD (16u << 20)

/* ------------------------------------------------------------- SHA-1 */

typedef struct {
    uint32_t h[5];
    uint64_t len;
    unsigned char buf[64];
    size_t n;
} sha1_ctx;

static uint32_t rol(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static void sha1_block(sha1_ctx *c, const unsigned char *p)
{
    uint32_t w[80], a, b, d, e, f, k, t, cc;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20)
            f = (b & cc) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ cc ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & cc) | (b & d) | (cc & d), k = 0x8F1BBCDC;
        else
            f = b ^ cc ^ d, k = 0xCA62C1D6;
        t = rol(a, 5) + f + e + k + w[i];
        e = d, d = cc, cc = rol(b, 30), b = a, a = t;
    }
    c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d, c->h[4] += e;
}

static void sha1_init(sha1_ctx *c)
{
    static const uint32_t h0[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE,
                                   0x10325476, 0xC3D2E1F0};
    memcpy(c->h, h0, sizeof(h0));
    c->len = 0;
    c->n = 0;
}

static void sha1_update(sha1_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = data;

    c->len += len;
    while (len--) {
        c->buf[c->n++] = *p++;
        if (c->n == 64) {
            sha1_block(c, c->buf);
            c->n = 0;
        }
    }
}

static void sha1_final(sha1_ctx *c, unsigned char out[20])
{
    uint64_t bits = c->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    int i;

    sha1_update(c, &pad, 1);
    while (c->n != 56)
        sha1_update(c, &zero, 1);
    for (i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(c, lenb, 8);
    for (i = 0; i < 20; i++)
        out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = tab[v >> 18], *out++ = tab[(v >> 12) & 63];
        *out++ = tab[(v >> 6) & 63], *out++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0);
        *out++ = tab[v >> 18], *out++ = tab[(v >> 12) & 63];
        *out++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

static void ws_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[20];
    sha1_ctx c;

    sha1_init(&c);
    sha1_update(&c, key, strlen(key));
    sha1_update(&c, guid, strlen(guid));
    sha1_final(&c, digest);
    base64(digest, 20, out);
}

/* ------------------------------------------------------------ frames */

/* Reads exactly n bytes of stdin: 0, or -1 at its end. */
static int get(FCGX_Stream *in, void *buf, size_t n)
{
    return FCGX_GetStr(buf, (int)n, in) == (int)n ? 0 : -1;
}

static void put_frame(FCGX_Stream *out, int fin, int op, const unsigned char *p,
                      uint64_t len)
{
    unsigned char h[10];
    int hl = 2, i;

    h[0] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (len < 126) {
        h[1] = (unsigned char)len;
    } else if (len < 65536) {
        h[1] = 126, h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
        hl = 10;
    }
    FCGX_PutStr((const char *)h, hl, out);
    if (len)
        FCGX_PutStr((const char *)p, (int)len, out);
    FCGX_FFlush(out);
}

/* One frame in: its opcode (FIN in *fin), payload unmasked in *pp (malloc),
 * or -1 at the end of stdin / on a frame it does not take. */
static int get_frame(FCGX_Stream *in, int *fin, unsigned char **pp,
                     uint64_t *lenp)
{
    unsigned char h[2], ext[8], mask[4] = {0, 0, 0, 0}, *p;
    uint64_t len, i;

    if (get(in, h, 2) < 0)
        return -1;
    len = h[1] & 0x7f;
    if (len == 126 || len == 127) {
        int k = len == 126 ? 2 : 8, j;
        if (get(in, ext, (size_t)k) < 0)
            return -1;
        for (len = 0, j = 0; j < k; j++)
            len = len << 8 | ext[j];
    }
    if (len > MAX_PAYLOAD || ((h[1] & 0x80) && get(in, mask, 4) < 0))
        return -1;
    p = malloc(len ? len : 1);
    if (p == NULL || (len && get(in, p, len) < 0)) {
        free(p);
        return -1;
    }
    for (i = 0; i < len; i++)
        p[i] ^= mask[i % 4];
    *fin = h[0] >> 7;
    *pp = p;
    *lenp = len;
    return h[0] & 0x0f;
}

/* The echo loop: how it ended. */
static const char *echo(FCGX_Stream *in, FCGX_Stream *out)
{
    for (;;) {
        unsigned char *p;
        uint64_t len;
        int fin, op = get_frame(in, &fin, &p, &len);

        if (op < 0)
            return "eof";
        if (op == 8) { /* close: the code back (none: none) */
            put_frame(out, 1, 8, p, len >= 2 ? 2 : 0);
            free(p);
            return "close";
        }
        if (op == 1 && fin && len == 3 && memcmp(p, "bye", 3) == 0) {
            free(p);
            return "bye";
        }
        if (op == 9)
            put_frame(out, 1, 10, p, len);
        else if (op <= 2)
            put_frame(out, fin, op, p, len);
        free(p);
    }
}

static void handle(FCGX_Request *rq)
{
    const char *up = FCGX_GetParam("HTTP_UPGRADE", rq->envp);
    const char *key = FCGX_GetParam("HTTP_SEC_WEBSOCKET_KEY", rq->envp);
    const char *qs = FCGX_GetParam("QUERY_STRING", rq->envp);
    char acc[29];

    if (qs && strcmp(qs, "force101") == 0) {
        FCGX_FPrintF(rq->out, "Status: 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "\r\n");
        return;
    }
    if (up == NULL || strcasecmp(up, "websocket") != 0 || key == NULL) {
        FCGX_FPrintF(rq->out,
                     "Status: 400 Bad Request\r\nContent-Type: text/plain\r\n"
                     "\r\nupgrade=%s\n",
                     up ? up : "-");
        return;
    }
    ws_accept(key, acc);
    FCGX_FPrintF(rq->out,
                 "Status: 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 acc);
    FCGX_FFlush(rq->out);
    while (qs && strcmp(qs, "stall") == 0)
        sleep(60);
    fprintf(stderr, "wsecho: pid %ld tunnel end: %s\n", (long)getpid(),
            echo(rq->in, rq->out));
    fflush(stderr);
}

int main(void)
{
    FCGX_Request rq;

    FCGX_Init();
    FCGX_InitRequest(&rq, 0, 0);
    while (FCGX_Accept_r(&rq) >= 0) {
        handle(&rq);
        FCGX_Finish_r(&rq);
    }
    return 0;
}
