/*
 * printenv.c - prints the request environment, sorted, one NAME=value per
 * line, then the request body length and MD5.  Built on fcgi_stdio.h, so the
 * same binary runs as a FastCGI app (fd 0 is a listen socket) and as a plain
 * CGI program (under mod_cgi / mod_cgid), which lets the tests compare the
 * environment mod_fcgix builds with the one mod_cgi builds.
 *
 * Output (text/plain):
 *   NAME=value            every variable, sorted by strcmp; in values, '\\'
 *                         is written as "\\\\", LF as "\\n", CR as "\\r"
 *   #body_length=N        bytes read from stdin (exactly CONTENT_LENGTH,
 *                         or fewer if stdin ended early; 0 without it)
 *   #body_md5=HEX         MD5 of those bytes
 *   #body_eof=0|1         1 if stdin ended before CONTENT_LENGTH bytes
 */
#include "fcgi_stdio.h"

#include <stdlib.h>
#include <string.h>

#include "md5.h"

extern char **environ;

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_escaped(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", stdout);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else if (*s == '\r')
            fputs("\\r", stdout);
        else
            putchar(*s);
    }
}

int main(void)
{
    static char buf[65536];

    while (FCGI_Accept() >= 0) {
        size_t n = 0, i;
        char **env;
        const char *cl = getenv("CONTENT_LENGTH");
        long long want = cl && *cl ? atoll(cl) : 0, got = 0;
        int eof = 0;
        md5_ctx md5;
        char hex[33];

        md5_init(&md5);
        while (got < want) {
            size_t k = sizeof buf;
            size_t r;
            if ((long long)k > want - got)
                k = (size_t)(want - got);
            r = fread(buf, 1, k, stdin);
            if (r == 0) {
                eof = 1;
                break;
            }
            md5_update(&md5, buf, r);
            got += (long long)r;
        }
        md5_hex(&md5, hex);

        for (env = environ; env && *env; env++)
            n++;
        env = malloc((n + 1) * sizeof *env);
        if (!env)
            return 1;
        for (i = 0; i < n; i++)
            env[i] = environ[i];
        qsort(env, n, sizeof *env, cmp);

        printf("Content-Type: text/plain\r\n\r\n");
        for (i = 0; i < n; i++) {
            put_escaped(env[i]);
            putchar('\n');
        }
        printf("#body_length=%lld\n#body_md5=%s\n#body_eof=%d\n", got, hex,
               eof);
        free(env);
    }
    return 0;
}
