/*
 * hello.c - the smallest real FastCGI responder (libfcgi), also the
 * benchmark app: answers every request with "Hello, World\n" as text/plain.
 * Accepts on fd 0 (the listen socket a process manager / the harness passes).
 */
#include <fcgiapp.h>

int main(void)
{
    FCGX_Stream *in, *out, *err;
    FCGX_ParamArray envp;

    while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
        FCGX_PutS("Content-Type: text/plain\r\n\r\nHello, World\n", out);
    }
    return 0;
}
