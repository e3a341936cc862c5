/*
 * t/unit/test_pm.c - the process manager's decisions (Check), against the
 * real pm/ objects (linked whole; no httpd needed: pm/ is plain C + APR).
 *
 *   probe      sampled /proc/net/unix and /proc/net/tcp text -> the
 *              connections counted at an application's end
 *   reconcile  definitions of two generations (encoded and decoded as the
 *              parent and the PM do) -> what happens to each class
 *   verdict    an ended process -> what is done about it, whether it
 *              served, the class's failures and restart delay
 *   defs       encode/decode round trip of every field; truncated or
 *              garbled messages refused
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "pm/pm_state.h"

#include "apr_strings.h"

#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* ============================================================== probe */

static int count_unix(const char *text, const char *path)
{
    FILE *f = fmemopen(apr_pstrdup(pool, text), strlen(text), "r");
    int n;

    ck_assert_ptr_nonnull(f);
    n = fcgix_pm_count_unix(f, path);
    fclose(f);
    return n;
}

static int count_tcp(const char *text, unsigned port)
{
    FILE *f = fmemopen(apr_pstrdup(pool, text), strlen(text), "r");
    int n;

    ck_assert_ptr_nonnull(f);
    n = fcgix_pm_count_tcp(f, port);
    fclose(f);
    return n;
}

#define UNIX_HEAD "Num       RefCount Protocol Flags    Type St Inode Path\n"
#define SOCK "/run/fcgix/.s-776aad518b7a8ea5.sock"

START_TEST(test_probe_unix)
{
    static const char text[] = UNIX_HEAD
        /* the listener (St 01): not a connection */
        "00000000d65f6c9f: 00000002 00000000 00010000 0001 01 4625220 " SOCK
        "\n"
        /* accepted (03) and queued (02): counted */
        "0000000025d1727a: 00000003 00000000 00000000 0001 03 4625221 " SOCK
        "\n"
        "0000000025d1727b: 00000002 00000000 00000000 0001 02 4625222 " SOCK
        "\n"
        /* another socket, a longer name, no name: not ours */
        "0000000025d1727c: 00000003 00000000 00000000 0001 03 4625223 "
        "/run/fcgix/.s-other.sock\n"
        "0000000025d1727d: 00000003 00000000 00000000 0001 03 4625224 " SOCK
        "x\n"
        "0000000025d1727e: 00000003 00000000 00000000 0001 03 4625225\n"
        /* disconnecting (04): no longer at the app */
        "0000000025d1727f: 00000002 00000000 00000000 0001 04 4625226 " SOCK
        "\n";

    ck_assert_int_eq(count_unix(text, SOCK), 2);
    ck_assert_int_eq(count_unix(text, "/run/fcgix/.s-other.sock"), 1);
    ck_assert_int_eq(count_unix(text, "/run/fcgix/none.sock"), 0);
    ck_assert_int_eq(count_unix(UNIX_HEAD, SOCK), 0);
    /* a relative address is never looked up */
    ck_assert_int_eq(count_unix(text, "run/fcgix/.s-x.sock"), -1);
}
END_TEST

/* A line longer than the parser's buffer is skipped whole: its tail,
 * read as a line of its own, must not count even when it looks like a
 * connection to our socket. */
#define LONG_PREFIX "0000000025d1727a: 00000003 00000000 00000000 0001 03 1 /"
#define DECOY                                                                  \
    "0000000025d1727b: 00000003 00000000 00000000 0001 03 2 " SOCK "\n"
START_TEST(test_probe_unix_long_line)
{
    /* the prefix and padding fill the parser's buffer (with its NUL): the
     * decoy is what the next read of the same line returns */
    int pad = FCGIX_SB_ADDR + 256 - 1 - (int)strlen(LONG_PREFIX);
    const char *text = apr_pstrcat(
        pool, UNIX_HEAD, LONG_PREFIX, apr_psprintf(pool, "%0*d", pad, 0), DECOY,
        "0000000025d1727c: 00000003 00000000 00000000 0001 03 3 " SOCK "\n",
        NULL);

    ck_assert_int_eq(count_unix(text, SOCK), 1);
}
END_TEST

START_TEST(test_probe_tcp)
{
    static const char text[] =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
        "retrnsmt   uid  timeout inode\n"
        /* listening (0A): not a connection */
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
        "00000000     0        0 48 1 00000000c412c750 100 0 0 10 0\n"
        /* ESTABLISHED, CLOSE_WAIT, SYN_RECV at the app's port: counted */
        "   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 "
        "00000000    33        0 49 1 00000000c412c751 20 4 30 10 -1\n"
        "   2: 0100007F:1F90 0100007F:C351 08 00000000:00000000 00:00000000 "
        "00000000    33        0 50 1 00000000c412c752 20 4 30 10 -1\n"
        "   3: 0100007F:1F90 0100007F:C352 03 00000000:00000000 00:00000000 "
        "00000000    33        0 51 1 00000000c412c753 20 4 30 10 -1\n"
        /* TIME_WAIT: the app's end is closed */
        "   4: 0100007F:1F90 0100007F:C353 06 00000000:00000000 00:00000000 "
        "00000000     0        0 0 3 00000000c412c754\n"
        /* httpd's end of a connection: its local port is another */
        "   5: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 "
        "00000000    33        0 52 1 00000000c412c755 20 4 30 10 -1\n";

    ck_assert_int_eq(count_tcp(text, 0x1F90), 3);
    ck_assert_int_eq(count_tcp(text, 0xC350), 1);
    ck_assert_int_eq(count_tcp(text, 9000), 0);
    ck_assert_int_eq(count_tcp("", 0x1F90), 0);
}
END_TEST

/* ========================================================= definitions */

static apr_array_header_t *env_of(const char *a, const char *b)
{
    apr_array_header_t *e = apr_array_make(pool, 2, sizeof(const char *));

    if (a) {
        APR_ARRAY_PUSH(e, const char *) = a;
    }
    if (b) {
        APR_ARRAY_PUSH(e, const char *) = b;
    }
    return e;
}

/* A static application on a Unix socket (sock != NULL) or a TCP port. */
static fcgix_app_t *app_static(const char *path, const char *sock, int port)
{
    fcgix_app_t *a = apr_pcalloc(pool, sizeof(*a));

    a->path = apr_pstrdup(pool, path);
    a->kind = FCGIX_APP_STATIC;
    if (sock) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&a->addr;
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, sock);
        a->addr_text = apr_pstrcat(pool, "unix:", sock, NULL);
    } else {
        a->addr.ss_family = AF_INET;
        a->addr_text = apr_psprintf(pool, "127.0.0.1:%d", port);
    }
    a->o.port = port;
    a->o.processes = 2;
    a->o.init_start_delay = 1;
    a->o.restart_delay = 5;
    a->o.min_server_life = 7;
    a->o.listen_queue_depth = 100;
    a->o.priority = -3;
    a->o.initial_env = env_of("A=1", "PATH=/bin");
    return a;
}

static fcgix_app_t *app_external(const char *path, const char *host_port)
{
    fcgix_app_t *a = apr_pcalloc(pool, sizeof(*a));

    a->path = apr_pstrdup(pool, path);
    a->kind = FCGIX_APP_EXTERNAL;
    a->addr.ss_family = AF_INET;
    a->addr_text = host_port;
    a->o.initial_env = env_of(NULL, NULL);
    return a;
}

/* An external app with three targets: an address, a name with two
 * addresses, a Unix socket. */
static fcgix_app_t *app_pool(int bad_family)
{
    fcgix_app_t *a = app_external("/srv/pool", "10.0.0.2:9000");
    fcgix_target_t *t;
    struct sockaddr_in *in;
    struct sockaddr_in6 *in6;
    struct sockaddr_un *un;

    a->targets = apr_array_make(pool, 3, sizeof(fcgix_target_t));
    t = apr_array_push(a->targets);
    memset(t, 0, sizeof(*t));
    t->host = "10.0.0.2", t->port = 9000, t->weight = 3;
    t = apr_array_push(a->targets);
    memset(t, 0, sizeof(*t));
    t->host = "be.example", t->port = 9001, t->weight = 1, t->is_name = 1;
    t = apr_array_push(a->targets);
    memset(t, 0, sizeof(*t));
    t->weight = 2; /* a Unix socket: no host */
    a->nbackends = 4;
    a->backends = apr_pcalloc(pool, 4 * sizeof(fcgix_backend_t));
    in = (struct sockaddr_in *)&a->backends[0].addr;
    in->sin_family = AF_INET;
    in->sin_port = htons(9000);
    a->backends[0].addr_len = sizeof(*in);
    in = (struct sockaddr_in *)&a->backends[1].addr;
    in->sin_family = AF_INET;
    in->sin_port = htons(9001);
    a->backends[1].addr_len = bad_family ? sizeof(*in6) : sizeof(*in);
    a->backends[1].target = 1;
    in6 = (struct sockaddr_in6 *)&a->backends[2].addr;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(9001);
    a->backends[2].addr_len = sizeof(*in6);
    a->backends[2].target = 1;
    un = (struct sockaddr_un *)&a->backends[3].addr;
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, "/run/b.sock");
    a->backends[3].addr_len = sizeof(*un);
    a->backends[3].target = 2;
    a->o.probe = 5;
    a->o.probe_timeout = 3;
    a->o.resolve = 30;
    return a;
}

static fcgix_opts_t dyn_template(void)
{
    fcgix_opts_t d;

    memset(&d, 0, sizeof(d));
    d.init_start_delay = 11;
    d.restart_delay = 12;
    d.listen_queue_depth = 13;
    d.priority = -14;
    d.restart = 1;
    d.auto_update = 1;
    d.kill_interval = 15;
    d.update_interval = 16;
    d.start_delay = 17;
    d.gain_milli = 250;
    d.single_threshold = 18;
    d.multi_threshold = 19;
    d.max_class_procs = 20;
    d.max_procs = 21;
    d.min_procs = 22;
    d.process_slack = 23;
    d.initial_env = env_of("DYN=yes", NULL);
    return d;
}

typedef struct {
    fcgix_defs_src_t src;
    fcgix_opts_t dyn;
    apr_array_header_t *apps;
} conf_t;

static void conf_init(conf_t *c, apr_uint32_t generation)
{
    memset(c, 0, sizeof(*c));
    c->dyn = dyn_template();
    c->apps = apr_array_make(pool, 4, sizeof(fcgix_app_t *));
    c->src.generation = generation;
    c->src.ipc_dir = "/run/fcgix";
    c->src.wrapper = "/usr/lib/apache2/suexec";
    c->src.wrapper_is_suexec = 1;
    c->src.uid = 33;
    c->src.gid = 34;
    c->src.user_name = "www-data";
    c->src.group_name = "www-group";
    c->src.dynamic = &c->dyn;
    c->src.apps = c->apps;
}

static fcgix_defs_t *round_trip(const conf_t *c, const char **buf,
                                apr_size_t *len)
{
    apr_size_t n;
    const char *b = fcgix_defs_encode(pool, &c->src, &n);

    if (buf) {
        *buf = b;
        *len = n;
    }
    return fcgix_defs_decode(pool, b, n);
}

static const fcgix_def_app_t *def_app(const fcgix_defs_t *d, const char *path)
{
    int i;

    for (i = 0; i < d->apps->nelts; i++) {
        const fcgix_def_app_t *a = &APR_ARRAY_IDX(d->apps, i, fcgix_def_app_t);
        if (strcmp(a->path, path) == 0) {
            return a;
        }
    }
    return NULL;
}

static void check_env(const apr_array_header_t *got, const char *a,
                      const char *b)
{
    ck_assert_int_eq(got->nelts, (a != NULL) + (b != NULL));
    if (a) {
        ck_assert_str_eq(APR_ARRAY_IDX(got, 0, const char *), a);
    }
    if (b) {
        ck_assert_str_eq(APR_ARRAY_IDX(got, 1, const char *), b);
    }
}

/* The pool's targets, addresses and probe options, every field. */
static void check_pool(const fcgix_def_app_t *a, const fcgix_app_t *src)
{
    int i;

    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->targets->nelts, 3);
    for (i = 0; i < 3; i++) {
        const fcgix_def_target_t *t =
            &APR_ARRAY_IDX(a->targets, i, fcgix_def_target_t);
        const fcgix_target_t *s =
            &APR_ARRAY_IDX(src->targets, i, fcgix_target_t);
        ck_assert_str_eq(t->host, s->host ? s->host : "");
        ck_assert_uint_eq(t->port, s->port);
        ck_assert_uint_eq(t->weight, (apr_uint32_t)s->weight);
        ck_assert_uint_eq(t->is_name, (apr_uint32_t)s->is_name);
    }
    ck_assert_int_eq(a->backends->nelts, 4);
    for (i = 0; i < 4; i++) {
        const fcgix_def_backend_t *b =
            &APR_ARRAY_IDX(a->backends, i, fcgix_def_backend_t);
        ck_assert_uint_eq(b->target, (apr_uint32_t)src->backends[i].target);
        ck_assert_uint_eq(b->addr.len, src->backends[i].addr_len);
        ck_assert_int_eq(
            memcmp(b->addr.sa, &src->backends[i].addr, b->addr.len), 0);
    }
    ck_assert_uint_eq(a->probe, 5);
    ck_assert_uint_eq(a->probe_timeout, 3);
    ck_assert_uint_eq(a->resolve, 30);
}

START_TEST(test_defs_round_trip)
{
    conf_t c;
    fcgix_app_t *s;
    const fcgix_def_app_t *a;
    fcgix_defs_t *d;

    conf_init(&c, 42);
    s = app_static("/srv/a.fcgi", "/run/fcgix/a.sock", 0);
    s->o.run_user = "alice";
    s->o.run_group = "staff";
    APR_ARRAY_PUSH(c.apps, fcgix_app_t *) = s;
    APR_ARRAY_PUSH(c.apps, fcgix_app_t *) =
        app_static("/srv/b.fcgi", NULL, 9001);
    APR_ARRAY_PUSH(c.apps, fcgix_app_t *) =
        app_external("/srv/ext", "10.0.0.1:9000");
    APR_ARRAY_PUSH(c.apps, fcgix_app_t *) = app_pool(0);
    d = round_trip(&c, NULL, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->generation, 42);
    ck_assert_str_eq(d->ipc_dir, "/run/fcgix");
    ck_assert_str_eq(d->wrapper, "/usr/lib/apache2/suexec");
    ck_assert_uint_eq(d->wrapper_is_suexec, 1);
    ck_assert_uint_eq(d->uid, 33);
    ck_assert_uint_eq(d->gid, 34);
    ck_assert_str_eq(d->user_name, "www-data");
    ck_assert_str_eq(d->group_name, "www-group");
    /* the dynamic template, every field */
    ck_assert_uint_eq(d->dyn.init_start_delay, 11);
    ck_assert_uint_eq(d->dyn.restart_delay, 12);
    ck_assert_uint_eq(d->dyn.listen_queue_depth, 13);
    ck_assert_int_eq(d->dyn.priority, -14);
    ck_assert_uint_eq(d->dyn.restart, 1);
    ck_assert_uint_eq(d->dyn.auto_update, 1);
    ck_assert_uint_eq(d->dyn.kill_interval, 15);
    ck_assert_uint_eq(d->dyn.update_interval, 16);
    ck_assert_uint_eq(d->dyn.start_delay, 17);
    ck_assert(d->dyn.policy.gain > 0.2499 && d->dyn.policy.gain < 0.2501);
    ck_assert_int_eq(d->dyn.policy.single_threshold, 18);
    ck_assert_int_eq(d->dyn.policy.multi_threshold, 19);
    ck_assert_int_eq(d->dyn.policy.max_class, 20);
    ck_assert_int_eq(d->dyn.policy.max_total, 21);
    ck_assert_int_eq(d->dyn.policy.min_total, 22);
    ck_assert_int_eq(d->dyn.policy.slack, 23);
    ck_assert_int_eq(d->dyn.policy.update_interval, 16);
    check_env(d->dyn.env, "DYN=yes", NULL);
    /* the applications, every field */
    ck_assert_int_eq(d->apps->nelts, 4);
    a = def_app(d, "/srv/a.fcgi");
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->kind, FCGIX_APP_STATIC);
    ck_assert_str_eq(a->sockpath, "/run/fcgix/a.sock");
    ck_assert_uint_eq(a->port, 0);
    ck_assert_uint_eq(a->processes, 2);
    ck_assert_uint_eq(a->init_start_delay, 1);
    ck_assert_uint_eq(a->restart_delay, 5);
    ck_assert_uint_eq(a->min_server_life, 7);
    ck_assert_uint_eq(a->listen_queue_depth, 100);
    ck_assert_int_eq(a->priority, -3);
    ck_assert_str_eq(a->run_user, "alice");
    ck_assert_str_eq(a->run_group, "staff");
    check_env(a->env, "A=1", "PATH=/bin");
    ck_assert_str_eq(a->addr_text, "unix:/run/fcgix/a.sock");
    ck_assert_uint_gt(a->record_len, 0);
    a = def_app(d, "/srv/b.fcgi");
    ck_assert_str_eq(a->sockpath, "");
    ck_assert_uint_eq(a->port, 9001);
    ck_assert_str_eq(a->run_user, "");
    ck_assert_str_eq(a->addr_text, "127.0.0.1:9001");
    a = def_app(d, "/srv/ext");
    ck_assert_uint_eq(a->kind, FCGIX_APP_EXTERNAL);
    ck_assert_str_eq(a->addr_text, "10.0.0.1:9000");
    check_env(a->env, NULL, NULL);
    check_pool(def_app(d, "/srv/pool"), app_pool(0));
}
END_TEST

/* An address of another size than its family's is refused. */
START_TEST(test_defs_bad_backend)
{
    conf_t c;

    conf_init(&c, 7);
    APR_ARRAY_PUSH(c.apps, fcgix_app_t *) = app_pool(1);
    ck_assert_ptr_null(round_trip(&c, NULL, NULL));
}
END_TEST

START_TEST(test_defs_no_wrapper)
{
    conf_t c;
    fcgix_defs_t *d;

    conf_init(&c, 1);
    c.src.wrapper = NULL;
    c.src.group_name = NULL;
    d = round_trip(&c, NULL, NULL);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_null(d->wrapper);
    ck_assert_uint_eq(d->wrapper_is_suexec, 0);
    ck_assert_str_eq(d->group_name, "");
    ck_assert_int_eq(d->apps->nelts, 0);
}
END_TEST

/* The message of a configuration with one static application. */
static void one_app_message(const char **buf, apr_size_t *len)
{
    conf_t c;

    conf_init(&c, 3);
    APR_ARRAY_PUSH(c.apps, fcgix_app_t *) =
        app_static("/srv/a.fcgi", "/run/fcgix/a.sock", 0);
    ck_assert_ptr_nonnull(round_trip(&c, buf, len));
}

/* Every proper prefix of a message is refused, and so is the message with
 * a byte more. */
START_TEST(test_defs_truncated)
{
    const char *buf;
    apr_size_t len, n;
    char *longer;

    one_app_message(&buf, &len);
    for (n = 0; n < len; n++) {
        ck_assert_msg(fcgix_defs_decode(pool, buf, n) == NULL,
                      "a message cut to %lu of %lu bytes was taken",
                      (unsigned long)n, (unsigned long)len);
    }
    longer = apr_pcalloc(pool, len + 1);
    memcpy(longer, buf, len);
    ck_assert_ptr_null(fcgix_defs_decode(pool, longer, len + 1));
}
END_TEST

/* Offset of the first byte of s (a string put in the message) in buf. */
static apr_size_t offset_of(const char *buf, apr_size_t len, const char *s)
{
    apr_size_t i, n = strlen(s);

    for (i = 0; i + n <= len; i++) {
        if (memcmp(buf + i, s, n) == 0) {
            return i;
        }
    }
    ck_abort_msg("%s not in the message", s);
    return 0;
}

/* Whether the message with byte `at` set to v is refused. */
static int refused_with(const char *buf, apr_size_t len, apr_size_t at, char v)
{
    char *m = apr_pmemdup(pool, buf, len);

    m[at] = v;
    return fcgix_defs_decode(pool, m, len) == NULL;
}

START_TEST(test_defs_garbled)
{
    const char *buf;
    apr_size_t len, sock, path;

    one_app_message(&buf, &len);
    sock = offset_of(buf, len, "/run/fcgix/a.sock");
    path = offset_of(buf, len, "/srv/a.fcgi");
    /* magic; version: another build's encoding */
    ck_assert(refused_with(buf, len, 0, (char)(buf[0] ^ 1)));
    ck_assert(refused_with(buf, len, 4, (char)(buf[4] ^ 1)));
    /* a string's length past the end; a NUL inside a string */
    ck_assert(refused_with(buf, len, sock - 1, 0x7f));
    ck_assert(refused_with(buf, len, sock + 3, '\0'));
    /* a relative application path; a kind beyond dynamic (the number
     * before the path's length) */
    ck_assert(refused_with(buf, len, path, 's'));
    ck_assert(refused_with(buf, len, path - 8, 3));
    /* a definition of a dynamic application: the parent sends none (they
     * are asked for on the doorbell) */
    ck_assert(refused_with(buf, len, path - 8, FCGIX_APP_DYNAMIC));
    /* and the untouched message still decodes */
    ck_assert_ptr_nonnull(fcgix_defs_decode(pool, buf, len));
}
END_TEST

/* The message with the string at `at` (old_len bytes, its length in the
 * 4 bytes before it) replaced by s. */
static const char *with_string(const char *buf, apr_size_t len, apr_size_t at,
                               apr_size_t old_len, const char *s,
                               apr_size_t *out_len)
{
    apr_size_t n = strlen(s);
    unsigned char *m = apr_palloc(pool, len - old_len + n);

    memcpy(m, buf, at - 4);
    m[at - 4] = (unsigned char)(n & 0xff);
    m[at - 3] = (unsigned char)((n >> 8) & 0xff);
    m[at - 2] = (unsigned char)((n >> 16) & 0xff);
    m[at - 1] = (unsigned char)((n >> 24) & 0xff);
    memcpy(m + at, s, n);
    memcpy(m + at + n, buf + at + old_len, len - at - old_len);
    *out_len = len - old_len + n;
    return (const char *)m;
}

/* A socket path that does not fit a Unix socket address is refused: the
 * PM would copy it cut into its class, and bind and remove that other
 * name. The longest that fits is taken. */
START_TEST(test_defs_socket_length)
{
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    const char *buf, *m;
    apr_size_t len, sock, n;
    char *fits = apr_pcalloc(pool, max + 2);

    one_app_message(&buf, &len);
    sock = offset_of(buf, len, "/run/fcgix/a.sock");
    memset(fits, 'a', max + 1);
    fits[0] = '/';
    m = with_string(buf, len, sock, strlen("/run/fcgix/a.sock"), fits, &n);
    ck_assert_ptr_null(fcgix_defs_decode(pool, m, n));
    fits[max] = '\0';
    m = with_string(buf, len, sock, strlen("/run/fcgix/a.sock"), fits, &n);
    ck_assert_ptr_nonnull(fcgix_defs_decode(pool, m, n));
}
END_TEST

/* ========================================================== reconcile */

/* The facts the PM has about the class of an app of an earlier
 * generation (decoded def, processes running). */
static fcgix_class_facts_t facts_of(const fcgix_def_app_t *old,
                                    unsigned running, int draining)
{
    fcgix_class_facts_t f;

    memset(&f, 0, sizeof(f));
    if (old) {
        f.exists = 1;
        f.kind = old->kind;
        f.has_sockpath = old->sockpath[0] != '\0';
        f.def = draining ? NULL : old;
        f.draining = draining;
        f.procs_running = running;
    }
    return f;
}

START_TEST(test_reconcile_generations)
{
    conf_t g1, g2;
    fcgix_defs_t *d1, *d2;
    fcgix_app_t *changed;
    fcgix_class_facts_t f;
    static const struct {
        const char *path;
        unsigned running;
        int draining;
        fcgix_apply_action_t want;
    } t[] = {
        /* unchanged: kept, processes and all */
        {"/srv/same.fcgi", 2, 0, FCGIX_APPLY_KEEP},
        {"/srv/same.fcgi", 0, 0, FCGIX_APPLY_KEEP},
        {"/srv/ext", 0, 0, FCGIX_APPLY_KEEP},
        /* changed on a Unix socket with processes: the old class drains */
        {"/srv/unix.fcgi", 2, 0, FCGIX_APPLY_DRAIN},
        /* ... with none: nothing to drain, replaced */
        {"/srv/unix.fcgi", 0, 0, FCGIX_APPLY_REPLACE},
        /* changed on a TCP port (cannot be bound twice): replaced now */
        {"/srv/tcp.fcgi", 2, 0, FCGIX_APPLY_REPLACE},
        /* changed external: replaced */
        {"/srv/ext2", 0, 0, FCGIX_APPLY_REPLACE},
        /* added: new */
        {"/srv/new.fcgi", 0, 0, FCGIX_APPLY_NEW},
        /* its old class is draining already: a new one */
        {"/srv/same.fcgi", 2, 1, FCGIX_APPLY_NEW},
    };
    size_t i;

    conf_init(&g1, 1);
    APR_ARRAY_PUSH(g1.apps, fcgix_app_t *) =
        app_static("/srv/same.fcgi", "/run/fcgix/same.sock", 0);
    APR_ARRAY_PUSH(g1.apps, fcgix_app_t *) =
        app_static("/srv/unix.fcgi", "/run/fcgix/unix.sock", 0);
    APR_ARRAY_PUSH(g1.apps, fcgix_app_t *) =
        app_static("/srv/tcp.fcgi", NULL, 9001);
    APR_ARRAY_PUSH(g1.apps, fcgix_app_t *) = app_external("/srv/ext", "h:1");
    APR_ARRAY_PUSH(g1.apps, fcgix_app_t *) = app_external("/srv/ext2", "h:2");
    APR_ARRAY_PUSH(g1.apps, fcgix_app_t *) =
        app_static("/srv/gone.fcgi", "/run/fcgix/gone.sock", 0);
    d1 = round_trip(&g1, NULL, NULL);
    /* generation 2: the same apps, three changed, one removed, one added,
     * and another dynamic template */
    conf_init(&g2, 2);
    g2.dyn.max_procs = 99;
    APR_ARRAY_PUSH(g2.apps, fcgix_app_t *) =
        app_static("/srv/same.fcgi", "/run/fcgix/same.sock", 0);
    changed = app_static("/srv/unix.fcgi", "/run/fcgix/unix.sock", 0);
    changed->o.processes = 3;
    APR_ARRAY_PUSH(g2.apps, fcgix_app_t *) = changed;
    changed = app_static("/srv/tcp.fcgi", NULL, 9001);
    changed->o.initial_env = env_of("B=2", NULL);
    APR_ARRAY_PUSH(g2.apps, fcgix_app_t *) = changed;
    APR_ARRAY_PUSH(g2.apps, fcgix_app_t *) = app_external("/srv/ext", "h:1");
    APR_ARRAY_PUSH(g2.apps, fcgix_app_t *) = app_external("/srv/ext2", "h:3");
    APR_ARRAY_PUSH(g2.apps, fcgix_app_t *) =
        app_static("/srv/new.fcgi", "/run/fcgix/new.sock", 0);
    d2 = round_trip(&g2, NULL, NULL);
    ck_assert_ptr_nonnull(d1);
    ck_assert_ptr_nonnull(d2);
    for (i = 0; i < N_ROWS(t); i++) {
        f = facts_of(def_app(d1, t[i].path), t[i].running, t[i].draining);
        ck_assert_msg(
            fcgix_pm_apply_action(&f, def_app(d2, t[i].path)) == t[i].want,
            "row %lu (%s): wrong action", (unsigned long)i, t[i].path);
    }
    /* removed from generation 2: not named by any of its apps */
    ck_assert_ptr_null(def_app(d2, "/srv/gone.fcgi"));
    /* processes wanted: a static app's -processes, none for external */
    ck_assert_uint_eq(fcgix_pm_procs_wanted(def_app(d2, "/srv/unix.fcgi")), 3);
    ck_assert_uint_eq(fcgix_pm_procs_wanted(def_app(d2, "/srv/same.fcgi")), 2);
    ck_assert_uint_eq(fcgix_pm_procs_wanted(def_app(d2, "/srv/ext")), 0);
    ck_assert_int_eq(d2->dyn.policy.max_total, 99);
}
END_TEST

START_TEST(test_reconcile_unlisted)
{
    static const struct {
        apr_uint32_t kind;
        unsigned running;
        fcgix_unlisted_action_t want;
    } t[] = {
        /* a static app no longer defined: its requests finish first */
        {FCGIX_APP_STATIC, 2, FCGIX_UNLISTED_DRAIN},
        {FCGIX_APP_STATIC, 1, FCGIX_UNLISTED_DRAIN},
        /* ... with nothing running: gone now */
        {FCGIX_APP_STATIC, 0, FCGIX_UNLISTED_RETIRE},
        /* an external one has no processes of ours */
        {FCGIX_APP_EXTERNAL, 0, FCGIX_UNLISTED_RETIRE},
        /* dynamic classes are never in the definitions: a new template
         * (FastCgiConfig changed) keeps them, running or not */
        {FCGIX_APP_DYNAMIC, 3, FCGIX_UNLISTED_KEEP},
        {FCGIX_APP_DYNAMIC, 0, FCGIX_UNLISTED_KEEP},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        ck_assert_msg(fcgix_pm_unlisted_action(t[i].kind, t[i].running) ==
                          t[i].want,
                      "row %lu", (unsigned long)i);
    }
}
END_TEST

/* ============================================================ verdict */

#define EXITED(n) ((n) << 8)
#define SIGNALLED(s) (s)

START_TEST(test_exit_action)
{
    static const struct {
        fcgix_exit_facts_t f;
        fcgix_exit_action_t want;
    } t[] = {
        /* here killed stop drain kind dynrst run infl cnt inflight queue */
        /* its class is gone (another run in the slot) */
        {{0, 0, 0, 0, FCGIX_APP_STATIC, 0, 0, 0, 0, 0, 0}, FCGIX_EXIT_FORGET},
        /* we stopped it, the PM stops, its class drains */
        {{1, 1, 0, 0, FCGIX_APP_STATIC, 0, 1, 0, 0, 0, 0}, FCGIX_EXIT_NONE},
        {{1, 0, 1, 0, FCGIX_APP_STATIC, 0, 1, 0, 0, 0, 0}, FCGIX_EXIT_NONE},
        {{1, 0, 0, 1, FCGIX_APP_STATIC, 0, 1, 0, 0, 0, 0}, FCGIX_EXIT_NONE},
        /* dynamic without -restart, the last one, nothing in flight:
         * the class goes, its next request starts it */
        {{1, 0, 0, 0, FCGIX_APP_DYNAMIC, 0, 0, 0, 1, 0, 0}, FCGIX_EXIT_RETIRE},
        /* ... a request in flight or queued: replaced as usual */
        {{1, 0, 0, 0, FCGIX_APP_DYNAMIC, 0, 0, 1, 1, 1, 0}, FCGIX_EXIT_JUDGE},
        {{1, 0, 0, 0, FCGIX_APP_DYNAMIC, 0, 0, 0, 1, 0, 1}, FCGIX_EXIT_JUDGE},
        /* ... siblings still run, or -restart: replaced */
        {{1, 0, 0, 0, FCGIX_APP_DYNAMIC, 0, 1, 0, 1, 0, 0}, FCGIX_EXIT_JUDGE},
        {{1, 0, 0, 0, FCGIX_APP_DYNAMIC, 1, 0, 0, 1, 0, 0}, FCGIX_EXIT_JUDGE},
        /* nothing counted yet while handlers are busy: wait for them */
        {{1, 0, 0, 0, FCGIX_APP_STATIC, 0, 1, 1, 0, 2, 0}, FCGIX_EXIT_WAIT},
        {{1, 0, 0, 0, FCGIX_APP_DYNAMIC, 1, 0, 1, 0, 1, 0}, FCGIX_EXIT_WAIT},
        /* nothing counted, nobody busy: it did not serve, judged now */
        {{1, 0, 0, 0, FCGIX_APP_STATIC, 0, 1, 0, 0, 0, 0}, FCGIX_EXIT_JUDGE},
        /* counted: judged now */
        {{1, 0, 0, 0, FCGIX_APP_STATIC, 0, 0, 1, 1, 5, 0}, FCGIX_EXIT_JUDGE},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        ck_assert_msg(fcgix_pm_exit_action(&t[i].f) == t[i].want,
                      "row %lu: got %d, want %d", (unsigned long)i,
                      (int)fcgix_pm_exit_action(&t[i].f), (int)t[i].want);
    }
}
END_TEST

START_TEST(test_verdict)
{
    static const struct {
        fcgix_verdict_in_t in;
        fcgix_verdict_t want;
    } t[] = {
        /* status lived counted shared kind minlife delay failures */
        /* served alone: replaced at once, failures reset */
        {{EXITED(0), 50, 1, 0, FCGIX_APP_STATIC, 0, 5, 3}, {1, 0, 0}},
        {{SIGNALLED(9), 50, 1, 0, FCGIX_APP_STATIC, 0, 5, 3}, {1, 0, 0}},
        /* did not serve: -restart-delay, doubled per further failure,
         * capped at 30 s */
        {{EXITED(1), 50, 0, 0, FCGIX_APP_STATIC, 0, 5, 0}, {0, 1, 5}},
        {{EXITED(1), 50, 0, 0, FCGIX_APP_STATIC, 0, 5, 1}, {0, 2, 10}},
        {{EXITED(1), 50, 0, 0, FCGIX_APP_STATIC, 0, 5, 2}, {0, 3, 20}},
        {{EXITED(1), 50, 0, 0, FCGIX_APP_STATIC, 0, 5, 3}, {0, 4, 30}},
        {{EXITED(0), 50, 0, 0, FCGIX_APP_DYNAMIC, 0, 12, 0}, {0, 1, 12}},
        /* no -restart-delay: a failure counts, no wait */
        {{EXITED(1), 50, 0, 0, FCGIX_APP_STATIC, 0, 0, 4}, {0, 5, 0}},
        /* shared: a count may have been a sibling's; a crash right after
         * an accept did not serve, a clean exit or a long life did */
        {{SIGNALLED(11), 50, 1, 1, FCGIX_APP_DYNAMIC, 0, 5, 0}, {0, 1, 5}},
        {{SIGNALLED(11), 1500, 1, 1, FCGIX_APP_DYNAMIC, 0, 5, 0}, {1, 0, 0}},
        {{EXITED(0), 50, 1, 1, FCGIX_APP_DYNAMIC, 0, 5, 2}, {1, 0, 0}},
        /* -min-server-life (static only): a long enough run was good */
        {{EXITED(1), 3000, 0, 0, FCGIX_APP_STATIC, 2, 5, 1}, {1, 0, 0}},
        {{EXITED(1), 1999, 0, 0, FCGIX_APP_STATIC, 2, 5, 1}, {0, 2, 10}},
        {{EXITED(1), 3000, 0, 0, FCGIX_APP_DYNAMIC, 2, 5, 1}, {0, 2, 10}},
    };
    size_t i;

    for (i = 0; i < N_ROWS(t); i++) {
        fcgix_verdict_t v = fcgix_pm_verdict(&t[i].in);
        ck_assert_msg(v.served == t[i].want.served &&
                          v.failures == t[i].want.failures &&
                          v.delay == t[i].want.delay,
                      "row %lu: got served %d failures %u delay %d",
                      (unsigned long)i, v.served, v.failures, v.delay);
    }
}
END_TEST

/* ============================================================== names */

START_TEST(test_socket_name)
{
    char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char big[1024];
    char *dir;

    ck_assert(fcgix_pm_socket_name(buf, sizeof(buf), "/run/fcgix",
                                   "/srv/a.fcgi", 33, 33));
    snprintf(big, sizeof(big), "/run/fcgix/dynamic/d-%016llx.sock",
             (unsigned long long)fcgix_sb_hash("/srv/a.fcgi", 33, 33));
    ck_assert_str_eq(buf, big);
    /* too long for a Unix socket: refused, however large the buffer */
    dir = apr_psprintf(pool, "/%0*d", 80, 0);
    ck_assert(!fcgix_pm_socket_name(big, sizeof(big), dir, "/a", 1, 1));
    ck_assert_uint_ge(strlen(big), sizeof(buf));
}
END_TEST

static Suite *pm_suite(void)
{
    Suite *s = suite_create("pm");
    TCase *tc = tcase_create("decisions");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_probe_unix);
    tcase_add_test(tc, test_probe_unix_long_line);
    tcase_add_test(tc, test_probe_tcp);
    tcase_add_test(tc, test_defs_round_trip);
    tcase_add_test(tc, test_defs_bad_backend);
    tcase_add_test(tc, test_defs_no_wrapper);
    tcase_add_test(tc, test_defs_truncated);
    tcase_add_test(tc, test_defs_garbled);
    tcase_add_test(tc, test_defs_socket_length);
    tcase_add_test(tc, test_reconcile_generations);
    tcase_add_test(tc, test_reconcile_unlisted);
    tcase_add_test(tc, test_exit_action);
    tcase_add_test(tc, test_verdict);
    tcase_add_test(tc, test_socket_name);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    sr = srunner_create(pm_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
