/*
 * upload.c - FastCGI app that reads the whole request body (until the end of
 * FCGI_STDIN, NOT merely CONTENT_LENGTH bytes) in chunks and answers with
 * what it got:
 *   length=N               bytes read
 *   md5=HEX                MD5 of the body
 *   content_length=CL      CONTENT_LENGTH as passed ("-" if unset)
 *   reads=K                number of read calls that returned data
 * Query string: delay_ms=N sleeps N ms between reads (a slow consumer),
 * bufsize=N read size (default 8192).
 */
#include <fcgiapp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "md5.h"

static long qparam(const char *qs, const char *name, long def)
{
    size_t len = strlen(name);
    const char *p = qs;
    while (p && *p) {
        if (strncmp(p, name, len) == 0 && p[len] == '=')
            return strtol(p + len + 1, NULL, 10);
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return def;
}

int main(void)
{
    FCGX_Stream *in, *out, *err;
    FCGX_ParamArray envp;
    static char buf[1 << 20];

    while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
        const char *qs = FCGX_GetParam("QUERY_STRING", envp);
        const char *cl = FCGX_GetParam("CONTENT_LENGTH", envp);
        long delay = qparam(qs, "delay_ms", 0);
        long bs = qparam(qs, "bufsize", 8192);
        long long total = 0, reads = 0;
        md5_ctx md5;
        char hex[33];
        int n;

        if (bs < 1 || bs > (long)sizeof buf)
            bs = 8192;
        md5_init(&md5);
        while ((n = FCGX_GetStr(buf, (int)bs, in)) > 0) {
            md5_update(&md5, buf, (size_t)n);
            total += n;
            reads++;
            if (delay > 0) {
                struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        md5_hex(&md5, hex);
        FCGX_FPrintF(out,
                     "Content-Type: text/plain\r\n\r\n"
                     "length=%lld\nmd5=%s\ncontent_length=%s\nreads=%lld\n",
                     total, hex, cl ? cl : "-", reads);
    }
    return 0;
}
