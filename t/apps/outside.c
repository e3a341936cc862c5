/*
 * outside.c - FastCGI app (libfcgi) that writes to its fds 1 and 2 outside
 * the FastCGI protocol, as careless apps and their libraries do, and tries
 * what a hostile app under a wrapper could do to them (t/41-pm-inputs.t).
 *
 * At start it writes "outside: hello on stdout" to fd 1 and "outside: hello
 * on stderr" to fd 2. Per request, the query string (&-separated, values
 * %-decoded, so they may hold newlines, NULs and escapes) selects:
 *   say=TEXT      write TEXT to fd 2 as it is (repeatable)
 *   out=TEXT      write TEXT to fd 1 as it is
 *   flood=N       write N bytes of 100-byte lines "outside flood ...\n" to
 *                 fd 2 before answering
 *   flood_ms=M    spread the flood over about M ms: 100 parts, one every
 *                 M/100 ms, each written as fast as the pipe takes it
 *   long=N        write one line of N bytes ('L') and a newline to fd 2
 *   truncate=1    ftruncate(2, 0) and say whether it worked
 * The body says "ftruncate: ok" or "ftruncate: <error>" (when asked) and
 * "wrote N" (bytes written to fds 1 and 2 for this request).
 */
#include <fcgiapp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %-decodes src[0..len) into dst (cap bytes); returns the length. */
static size_t decode(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < len && o < cap; i++) {
        if (src[i] == '%' && i + 2 < len && hexval(src[i + 1]) >= 0 &&
            hexval(src[i + 2]) >= 0) {
            dst[o++] = (char)(hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
            i += 2;
        } else {
            dst[o++] = src[i] == '+' ? ' ' : src[i];
        }
    }
    return o;
}

/* Writes it all (the pipe may be full: write blocks, or comes back short). */
static long put(int fd, const char *p, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return (long)done;
}

static long flood(long long n, long ms)
{
    char line[100];
    long total = 0;
    long long part = n / 100 + 1, in_part = 0;

    memset(line, 'f', sizeof line);
    memcpy(line, "outside flood ", 14);
    line[sizeof line - 1] = '\n';
    while (n > 0) {
        size_t k = n < (long long)sizeof line ? (size_t)n : sizeof line;
        if (ms > 0 && in_part >= part) {
            usleep((useconds_t)(ms * 10)); /* ms / 100 parts, in us */
            in_part = 0;
        }
        total += put(2, line, k);
        n -= (long long)k;
        in_part += (long long)k;
    }
    return total;
}

static long longline(long long n)
{
    char buf[4096];
    long total = 0;

    memset(buf, 'L', sizeof buf);
    while (n > 0) {
        size_t k = n < (long long)sizeof buf ? (size_t)n : sizeof buf;
        total += put(2, buf, k);
        n -= (long long)k;
    }
    return total + put(2, "\n", 1);
}

int main(void)
{
    FCGX_Stream *in, *out, *err;
    FCGX_ParamArray envp;

    put(1, "outside: hello on stdout\n", 25);
    put(2, "outside: hello on stderr\n", 25);
    while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
        const char *qs = FCGX_GetParam("QUERY_STRING", envp);
        const char *trunc = NULL;
        long wrote = 0, flood_ms = 0;
        long long flood_n = 0;

        while (qs && *qs) {
            const char *amp = strchr(qs, '&');
            size_t len = amp ? (size_t)(amp - qs) : strlen(qs);
            const char *eq = memchr(qs, '=', len);
            char key[32], val[8192];
            size_t klen, vlen = 0;
            klen =
                decode(key, sizeof key - 1, qs, eq ? (size_t)(eq - qs) : len);
            key[klen] = '\0';
            if (eq)
                vlen = decode(val, sizeof val - 1, eq + 1,
                              len - (size_t)(eq - qs) - 1);
            val[vlen] = '\0';
            if (!strcmp(key, "say"))
                wrote += put(2, val, vlen);
            else if (!strcmp(key, "out"))
                wrote += put(1, val, vlen);
            else if (!strcmp(key, "flood"))
                flood_n = atoll(val);
            else if (!strcmp(key, "flood_ms"))
                flood_ms = atol(val);
            else if (!strcmp(key, "long"))
                wrote += longline(atoll(val));
            else if (!strcmp(key, "truncate"))
                trunc = ftruncate(2, 0) == 0 ? "ok" : strerror(errno);
            qs = amp ? amp + 1 : NULL;
        }
        wrote += flood(flood_n, flood_ms);
        FCGX_PutS("Content-Type: text/plain\r\n\r\n", out);
        if (trunc)
            FCGX_FPrintF(out, "ftruncate: %s\n", trunc);
        FCGX_FPrintF(out, "wrote %ld\n", wrote);
    }
    return 0;
}
