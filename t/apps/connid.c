/*
 * connid.c - a real FastCGI responder (libfcgi, FCGX_Accept_r) that tells
 * which FastCGI connection each request arrived on, for the persistent
 * connection tests (t/45-keep-conn.t). Accepts on fd 0 (the listen socket a
 * process manager / the harness passes). libfcgi honours FCGI_KEEP_CONN: a
 * kept connection serves the next request, and the process reads nothing
 * else (no accept) while it holds one.
 *
 * Body, one "name=value" line each:
 *   pid=P    this process
 *   ino=I    st_ino of the connection's socket (fstat of its fd): with
 *            pid, the identity of the connection
 *   n=N      the N-th request on this connection
 *   id=R     the request's FastCGI request id
 *   keep=K   1 when BEGIN_REQUEST asked for FCGI_KEEP_CONN
 * Query string (optional): sleep_ms=N sleeps N ms before answering.
 */
#include <fcgiapp.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long query_num(FCGX_Request *req, const char *key)
{
    const char *q = FCGX_GetParam("QUERY_STRING", req->envp);
    size_t kl = strlen(key);
    while (q && *q) {
        if (strncmp(q, key, kl) == 0 && q[kl] == '=')
            return strtol(q + kl + 1, NULL, 10);
        q = strchr(q, '&');
        if (q)
            q++;
    }
    return 0;
}

int main(void)
{
    FCGX_Request req;
    ino_t last_ino = 0;
    long n = 0;

    FCGX_Init();
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        struct stat st;
        ino_t ino = fstat(req.ipcFd, &st) == 0 ? st.st_ino : 0;
        long ms = query_num(&req, "sleep_ms");
        n = ino == last_ino ? n + 1 : 1;
        last_ino = ino;
        if (ms > 0) {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        FCGX_FPrintF(req.out,
                     "Content-Type: text/plain\r\n\r\n"
                     "pid=%ld\nino=%lu\nn=%ld\nid=%d\nkeep=%d\n",
                     (long)getpid(), (unsigned long)ino, n, req.requestId,
                     req.keepConnection);
        FCGX_Finish_r(&req);
    }
    return 0;
}
