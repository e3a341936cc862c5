/*
 * whoami.c - a real FastCGI responder (libfcgi, FCGX_Accept_r) that tells
 * which backend answered, for the several-backends tests (t/47-backends.t,
 * t/48-backends-probe.t). Accepts on fd 0 (the listen socket the harness
 * passes); several processes may share it.
 *
 * Body (text/plain), one "name=value" line each:
 *   name=N     the BACKEND_NAME of the process environment ("?" if unset)
 *   addr=A     the address the connection was accepted on (getsockname of
 *              the accepted fd): "127.0.0.2:9000", "[::1]:9000" or
 *              "unix:/path"
 *   pid=P      this process
 *   method=M   REQUEST_METHOD
 *   body=N     bytes of request body read (all of CONTENT_LENGTH)
 * Query string (optional): sleep_ms=N sleeps N ms after logging the
 * request and before reading its body and answering.
 *
 * Every request writes one line to stderr (the harness' app log), flushed
 * before the sleep: "begin name=N pid=P q=QUERY_STRING".
 */
#include <fcgiapp.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* The local address of the accepted connection, as the module names it. */
static void local_addr(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN];

    snprintf(out, outlen, "?");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        snprintf(out, outlen, "%s:%u", ip, ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        snprintf(out, outlen, "unix:%s", un->sun_path);
    }
}

static long read_body(FCGX_Request *req)
{
    static char buf[65536];
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    long want = cl && *cl ? atol(cl) : 0, got = 0;

    while (got < want) {
        int n = FCGX_GetStr(buf, sizeof buf, req->in);
        if (n <= 0)
            break;
        got += n;
    }
    return got;
}

int main(void)
{
    FCGX_Request req;
    const char *name = getenv("BACKEND_NAME");

    if (!name)
        name = "?";
    FCGX_Init();
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        char addr[160];
        const char *q = FCGX_GetParam("QUERY_STRING", req.envp);
        const char *m = FCGX_GetParam("REQUEST_METHOD", req.envp);
        long ms = query_num(&req, "sleep_ms"), body;

        local_addr(req.ipcFd, addr, sizeof addr);
        fprintf(stderr, "begin name=%s pid=%ld q=%s\n", name, (long)getpid(),
                q ? q : "");
        fflush(stderr);
        if (ms > 0) {
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        body = read_body(&req);
        FCGX_FPrintF(req.out,
                     "Content-Type: text/plain\r\n\r\n"
                     "name=%s\naddr=%s\npid=%ld\nmethod=%s\nbody=%ld\n",
                     name, addr, (long)getpid(), m ? m : "", body);
        FCGX_Finish_r(&req);
    }
    return 0;
}
