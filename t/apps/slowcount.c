/*
 * slowcount.c - a slow FastCGI responder that counts its requests (libfcgi),
 * the app of bench/pm-backends.sh (several backends per app).
 *
 *   slowcount LOGFILE [MS]
 *
 * For every request it appends one line "<unix time, microseconds> <pid>\n"
 * to LOGFILE (O_APPEND: the processes of a pool share one file, and each
 * line is one write), then sleeps MS milliseconds (default 5), then answers
 * "slow <pid>\n" as text/plain. The line is written when the request is
 * accepted, so a request the app took counts even if the answer is cut.
 * Accepts on fd 0 (the listen socket spawn-fcgi passes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

static void log_request(int fd, long pid)
{
    struct timespec now;
    char line[64];
    int n;

    clock_gettime(CLOCK_REALTIME, &now);
    n = snprintf(line, sizeof(line), "%lld.%06ld %ld\n", (long long)now.tv_sec,
                 now.tv_nsec / 1000, pid);
    if (n > 0 && write(fd, line, (size_t)n) != n) {
        fprintf(stderr, "slowcount: write to the log: %s\n", strerror(errno));
    }
}

static void pause_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
}

int main(int argc, char **argv)
{
    FCGX_Stream *in, *out, *err;
    FCGX_ParamArray envp;
    long ms = 5, pid = (long)getpid();
    int fd;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: slowcount LOGFILE [MS]\n");
        return 2;
    }
    if (argc == 3) {
        ms = strtol(argv[2], NULL, 10);
        if (ms < 0 || ms > 60000) {
            fprintf(stderr, "slowcount: MS out of range (0..60000)\n");
            return 2;
        }
    }
    fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "slowcount: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
        log_request(fd, pid);
        pause_ms(ms);
        FCGX_FPrintF(out, "Content-Type: text/plain\r\n\r\nslow %ld\n", pid);
    }
    return 0;
}
