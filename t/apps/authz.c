/*
 * authz.c - a FastCGI authorizer (libfcgi) for mod_fcgix's
 * FastCgiAuthenticator, FastCgiAuthorizer and FastCgiAccessChecker.
 *
 * One binary plays the three Apache phases; FCGI_APACHE_ROLE says which:
 *
 *   AUTHENTICATOR   checks REMOTE_USER / REMOTE_PASSWD against the user
 *                   table (AUTHZ_USERS file of "user:password:group" lines,
 *                   else the built-in alice:secret:admins and
 *                   bob:builder:staff). Known user, right password: 200
 *                   with "Variable-AUTH_GROUP: <group>" and
 *                   "X-Plain-Header: yes". Otherwise 401 with
 *                   "X-Auth-Failed: <reason>" and a text body.
 *   AUTHORIZER      grants the users listed in AUTHZ_ALLOW (comma
 *                   separated, default "alice"): 200 with
 *                   "Variable-AUTHZ_LEVEL: full" and "X-Authz-Plain: yes".
 *                   Anyone else: "Status: 403", "X-Denied-Because:
 *                   user <name> is not on the list" and a text body.
 *   ACCESS_CHECKER  grants a request that carries "X-Let-Me-In: yes"
 *                   (HTTP_X_LET_ME_IN): no Status line at all (which means
 *                   200), "Variable-ACCESS_TICKET: ok" and
 *                   "X-Access-Plain: yes". Otherwise 403 with
 *                   "X-Denied-Because: no magic word" and a text body.
 *
 * A request in any other FastCGI role (FCGI_ROLE is not AUTHORIZER) gets
 * 500: this program is not a responder.
 *
 * Every request appends one line to the file named by AUTHZ_LOG (the
 * process environment, e.g. FastCgiServer -initial-env; else the request's,
 * e.g. SetEnv): "app=NAME role=ROLE fcgi_role=R user=U uri=URI
 * method=M passwd=yes|no pid=N", written with one write(2) in O_APPEND mode
 * so several processes can share the file. NAME is AUTHZ_NAME or
 * "authz-c". The password itself is never logged.
 *
 * Accepts on fd 0 (the listen socket a process manager passes).
 */
#include <fcgiapp.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_USERS 64

struct user {
    char name[64];
    char password[64];
    char group[64];
};

static struct user users[MAX_USERS];
static int nusers;
static const char *proc_log; /* AUTHZ_LOG of the process environment */
static const char *app_name = "authz-c";
static const char *allow = "alice";

static void add_user(const char *name, const char *password, const char *group)
{
    if (nusers >= MAX_USERS)
        return;
    snprintf(users[nusers].name, sizeof users[nusers].name, "%s", name);
    snprintf(users[nusers].password, sizeof users[nusers].password, "%s",
             password);
    snprintf(users[nusers].group, sizeof users[nusers].group, "%s", group);
    nusers++;
}

/* "user:password:group" per line; '#' starts a comment line. */
static int load_users(const char *path)
{
    char line[256];
    FILE *f = fopen(path, "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        char *pw, *grp;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#')
            continue;
        pw = strchr(line, ':');
        if (!pw)
            continue;
        *pw++ = 0;
        grp = strchr(pw, ':');
        if (grp)
            *grp++ = 0;
        add_user(line, pw, grp && *grp ? grp : "users");
    }
    fclose(f);
    return 0;
}

static const struct user *find_user(const char *name)
{
    int i;

    for (i = 0; name && i < nusers; i++) {
        if (strcmp(users[i].name, name) == 0)
            return &users[i];
    }
    return NULL;
}

/* Is name one of the comma-separated entries of list? */
static int on_list(const char *list, const char *name)
{
    size_t n;

    if (!name || !*name)
        return 0;
    n = strlen(name);
    while (*list) {
        size_t len = strcspn(list, ",");
        if (len == n && strncmp(list, name, n) == 0)
            return 1;
        list += len;
        if (*list == ',')
            list++;
    }
    return 0;
}

static const char *param(FCGX_Request *rq, const char *name)
{
    const char *v = FCGX_GetParam(name, rq->envp);
    return v ? v : "";
}

/* Values go into a space-separated line: no spaces or control bytes. */
static void clean(char *dst, size_t size, const char *src)
{
    size_t i;

    for (i = 0; i + 1 < size && src[i]; i++)
        dst[i] = (unsigned char)src[i] <= ' ' || src[i] == 0x7f ? '_' : src[i];
    dst[i] = 0;
}

static void log_call(FCGX_Request *rq, const char *role)
{
    const char *path =
        proc_log ? proc_log : FCGX_GetParam("AUTHZ_LOG", rq->envp);
    char user[128], uri[1024], method[32], fr[32], r[32], line[1536];
    int fd, n;

    if (!path || !*path)
        return;
    clean(user, sizeof user, param(rq, "REMOTE_USER"));
    clean(uri, sizeof uri, param(rq, "REQUEST_URI"));
    clean(method, sizeof method, param(rq, "REQUEST_METHOD"));
    clean(fr, sizeof fr, param(rq, "FCGI_ROLE"));
    clean(r, sizeof r, role);
    n = snprintf(line, sizeof line,
                 "app=%s role=%s fcgi_role=%s user=%s uri=%s method=%s "
                 "passwd=%s pid=%ld\n",
                 app_name, r[0] ? r : "-", fr[0] ? fr : "-",
                 user[0] ? user : "-", uri, method,
                 FCGX_GetParam("REMOTE_PASSWD", rq->envp) ? "yes" : "no",
                 (long)getpid());
    if (n <= 0)
        return;
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        FCGX_FPrintF(rq->err, "authz: cannot open %s\n", path);
        return;
    }
    if (write(fd, line, (size_t)n) != n)
        FCGX_FPrintF(rq->err, "authz: short write to %s\n", path);
    close(fd);
}

static void deny(FCGX_Request *rq, int status, const char *hdr, const char *why,
                 const char *body)
{
    FCGX_FPrintF(rq->out,
                 "Status: %d\r\nContent-Type: text/plain\r\n%s: %s\r\n\r\n%s",
                 status, hdr, why, body);
}

static void authenticate(FCGX_Request *rq)
{
    const char *name = FCGX_GetParam("REMOTE_USER", rq->envp);
    const char *pw = FCGX_GetParam("REMOTE_PASSWD", rq->envp);
    const struct user *u = find_user(name);

    if (!name || !pw) {
        deny(rq, 401, "X-Auth-Failed", "no credentials",
             "authz: no user name or password\n");
    } else if (!u) {
        deny(rq, 401, "X-Auth-Failed", "unknown user",
             "authz: unknown user or wrong password\n");
    } else if (strcmp(u->password, pw) != 0) {
        deny(rq, 401, "X-Auth-Failed", "wrong password",
             "authz: unknown user or wrong password\n");
    } else {
        FCGX_FPrintF(rq->out,
                     "Status: 200 OK\r\nVariable-AUTH_GROUP: %s\r\n"
                     "X-Plain-Header: yes\r\n\r\n",
                     u->group);
    }
}

static void authorize(FCGX_Request *rq)
{
    const char *name = param(rq, "REMOTE_USER");
    char why[160], body[256];

    if (on_list(allow, name)) {
        FCGX_PutS("Status: 200\r\nVariable-AUTHZ_LEVEL: full\r\n"
                  "X-Authz-Plain: yes\r\n\r\n",
                  rq->out);
        return;
    }
    snprintf(why, sizeof why, "user %.100s is not on the list",
             *name ? name : "(none)");
    snprintf(body, sizeof body, "authz: %.100s may not see %.100s\n",
             *name ? name : "(none)", param(rq, "REQUEST_URI"));
    deny(rq, 403, "X-Denied-Because", why, body);
}

static void check_access(FCGX_Request *rq)
{
    if (strcmp(param(rq, "HTTP_X_LET_ME_IN"), "yes") == 0) {
        /* no Status line: 200 */
        FCGX_PutS("Variable-ACCESS_TICKET: ok\r\nX-Access-Plain: yes\r\n\r\n",
                  rq->out);
        return;
    }
    deny(rq, 403, "X-Denied-Because", "no magic word",
         "authz: say the magic word\n");
}

int main(void)
{
    FCGX_Request rq;
    const char *v;

    if ((v = getenv("AUTHZ_LOG")) && *v)
        proc_log = v;
    if ((v = getenv("AUTHZ_NAME")) && *v)
        app_name = v;
    if ((v = getenv("AUTHZ_ALLOW")))
        allow = v;
    if (!(v = getenv("AUTHZ_USERS")) || !*v || load_users(v) != 0) {
        add_user("alice", "secret", "admins");
        add_user("bob", "builder", "staff");
    }

    if (FCGX_Init() != 0 || FCGX_InitRequest(&rq, 0, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&rq) >= 0) {
        const char *role = FCGX_GetParam("FCGI_APACHE_ROLE", rq.envp);

        log_call(&rq, role ? role : "");
        if (strcmp(param(&rq, "FCGI_ROLE"), "AUTHORIZER") != 0) {
            deny(&rq, 500, "X-Authz-Error", "not an authorizer request",
                 "authz: this application runs in the Authorizer role only\n");
        } else if (role && strcmp(role, "AUTHENTICATOR") == 0) {
            authenticate(&rq);
        } else if (role && strcmp(role, "ACCESS_CHECKER") == 0) {
            check_access(&rq);
        } else {
            /* AUTHORIZER, or a server that does not say (plain FastCGI) */
            authorize(&rq);
        }
        FCGX_Finish_r(&rq);
    }
    return 0;
}
