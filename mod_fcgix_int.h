/*
 * mod_fcgix_int.h - what the files of the request engine share: the state
 * of one request and the functions each file gives the others.
 *
 *   mod_fcgix_io.c        the request object, the poll loop that streams
 *                         STDIN and reads the response, the entry points
 *   mod_fcgix_connect.c   connecting to the app (back-off, waiting for a
 *                         managed app's socket, the PM's class counters),
 *                         and the bounded wait on a socket they all use
 *   mod_fcgix_params.c    BEGIN_REQUEST and PARAMS (the CGI environment)
 *   mod_fcgix_response.c  what the app sends back: records, headers, body
 *                         slices, stderr lines, the authorizer's answer
 *   mod_fcgix_keep.c      connections kept open between requests
 *                         (FCGI_KEEP_CONN) and the thread that releases
 *                         them
 *   mod_fcgix_upgrade.c   -upgrade: the Upgrade headers, the 101 and the
 *                         tunnel that relays bytes both ways after it
 *
 * Kept apart from mod_fcgix.h, which pm/ includes too: the request object
 * is the engine's alone.
 */
#ifndef MOD_FCGIX_INT_H
#define MOD_FCGIX_INT_H

#include "mod_fcgix.h"
#include "pm/pm.h"
#include "proto/fcgix_proto.h"

#include "apr_buckets.h"

/* One request at a time per connection; a new connection's first request
 * is id 1, and each reuse of a kept one takes the next id. */

/* How the response ended up, besides streaming normally. */
enum {
    FCGIX_FIN_NONE = 0,
    FCGIX_FIN_DONE, /* nothing more of the app is needed */
    FCGIX_FIN_HEAD,
    FCGIX_FIN_REDIRECT,
    FCGIX_FIN_NOT_MODIFIED,
    FCGIX_FIN_ACCEL /* X-Accel-Redirect (mod_fcgix_deliver.c) */
};

/* One request to one app, in either role. */
typedef struct {
    request_rec *r;
    const fcgix_app_t *app;
    int fd;
    unsigned req_id; /* FastCGI request id on this connection */
    int keep;        /* FCGI_KEEP_CONN asked */
    int reused;      /* fd came from the kept connections */
    int no_pool;     /* the retry: a fresh connection only */
    int has_body;
    const unsigned char *params; /* what fcgix_params_build queued */
    size_t params_len;
    fcgix_dec_t dec;
    fcgix_hdr_t hdr;
    unsigned char *hbuf; /* header block so far */
    size_t hlen, hcap;
    int headers_done; /* header block accepted by httpd */
    int sent;         /* something went down the output filters */
    int fin;          /* FCGIX_FIN_*: stop reading the app */
    int nph;          /* -nph: stdout is the raw HTTP response */
    int ended;        /* END_REQUEST seen */
    /* toward the app */
    unsigned char *obuf;
    const unsigned char *optr;
    size_t olen;
    const unsigned char *next_ptr; /* body bytes read before connecting */
    size_t next_len;
    int stdin_eof;  /* the empty STDIN record is queued or sent */
    int stdin_dead; /* the app stopped reading: drop the rest */
    /* request body source */
    fcgix_body_t *body;
    int spooled; /* chunked: the app gets CONTENT_LENGTH spool_len */
    apr_off_t spool_len;
    /* response */
    apr_bucket_brigade *obb;
    char *rbuf; /* read buffer not yet handed to buckets */
    int readable;
    int unflushed;
    int flush; /* each record to the client at once (-flush, SSE) */
    int hold;  /* X-Accel-Buffering: yes: no flush when the app pauses */
    /* delivery (mod_fcgix_deliver.c) */
    int discard;           /* the app's body is not the response */
    apr_size_t discarded;  /* bytes of it read and dropped */
    int app_typed;         /* the app sent a Content-Type */
    int sf_fd;             /* X-Sendfile: the file, open; -1: none */
    int *sf_fdp;           /* the same, for its pool cleanup */
    const char *sf_path;   /* its resolved path */
    const char *accel_uri; /* X-Accel-Redirect: where to */
    /* stderr */
    char *eline; /* the stderr line being collected */
    char *eesc;  /* its escaped form */
    size_t elen;
    int eskip;
    apr_size_t elogged, esuppressed;
    /* time spent waiting on the app, and (body streaming) on the client:
     * -request-timeout bounds their sum */
    apr_interval_time_t waited;
    apr_interval_time_t client_waited;
    int got_bytes;     /* something came from the app */
    int rang_overload; /* told the PM a request waited past -startDelay */
    /* AUTHORIZER role: the response is collected here, not sent */
    fcgix_auth_result_t *auth;
    const apr_table_t *extra_env;
    int spec_auth_env; /* -compat: the specification's authorizer env */
    /* the class the PM publishes (managed and external apps), once the
     * counters were taken on it at the connect */
    fcgix_pm_class_t *cls;
    fcgix_pm_class_t *probe; /* for looks at the class while waiting */
    fcgix_pm_class_t *look;  /* the class as first looked up, or NULL */
    apr_time_t connected;
    /* where the connection goes: app->addr, or the backend chosen */
    fcgix_addr_t addr;
    int be;             /* that backend's index in this child's list (see
                           fcgix_backends_get); -1: app->addr */
    int be_slot;        /* its place in the class's set in the scoreboard,
                           for its state and counters; -1: none */
    apr_uint32_t tried; /* bit i: backend i was tried for this request */
    apr_uint32_t turn;  /* its turn among equal backends */
    int be_counted;     /* in flight on that backend (q->cls's set) */
    int overloaded;     /* the app answered FCGI_OVERLOADED */
    int other_retry;    /* sent again to another backend already */
    int upgrade;        /* FCGIX_UPG_*: where an Upgrade request stands */
    /* metrics and log notes (mod_fcgix_observe.c) */
    apr_interval_time_t m_waited; /* inside fcgix_connect, every attempt */
    int m_connects;               /* fcgix_connect calls */
    fcgix_pm_class_t *m_waiting;  /* counted waiting there, on this class */
} fcgix_req_t;

/* The most of an X-Sendfile app's own body read (and dropped) while
 * waiting for the end of its request; past it the connection is closed. */
#define FCGIX_DISCARD_MAX 65536

/* mod_fcgix_deliver.c: what the app's headers ask of the delivery, once
 * httpd accepted them: streaming (q->flush), X-Sendfile (q->sf_fd, the
 * body discarded), X-Accel-Redirect (q->fin). OK, or the status to fail
 * with (logged). */
int fcgix_deliver_headers(fcgix_req_t *q);
/* Serves the X-Sendfile file as httpd serves a static one (validators,
 * conditions, ranges); after the app's request ended. */
int fcgix_deliver_file(fcgix_req_t *q);
/* The X-Accel-Redirect internal redirect. */
void fcgix_deliver_accel(fcgix_req_t *q);
/* Takes the delivery headers out of a response that is not delivered
 * (httpd answers 304 for the app): they never reach the client. */
void fcgix_deliver_strip(request_rec *r);

/* mod_fcgix_connect.c: waits for events on fd (none: -1) for timeout_ms at
 * most (a negative timeout returns at once). poll()'s revents, 0 on
 * timeout or -1. */
int fcgix_wait_fd(int fd, short events, int timeout_ms);

/* Connects q->fd to the app without blocking past
 * -appConnTimeout (or the server Timeout), asking the PM for a managed app
 * that is not there yet, and counts the request on its class. OK, or the
 * status to fail with (logged). */
int fcgix_connect(fcgix_req_t *q);
/* How long a request may wait to connect (-appConnTimeout, else
 * Timeout). */
apr_interval_time_t fcgix_connect_limit(const fcgix_req_t *q);
/* mod_fcgix_backends.c: the external app's backend addresses (and their
 * weights) as this child knows them now: the configuration's, with host
 * names resolved again. Their number (at most FCGIX_BACKENDS_MAX; 0 for
 * an app without backends). */
int fcgix_backends_get(const fcgix_app_t *app, fcgix_addr_t *addr,
                       apr_uint32_t *weight);

/* Chooses where the request's next connection goes (q->addr, q->be): an
 * external app's least busy backend not tried yet, else the app's address.
 * 0, or -1 when every backend was tried. */
int fcgix_connect_choose(fcgix_req_t *q);
/* The backend the request went to failed it before answering (kind:
 * FCGIX_BE_*): counted, and (FCGIX0130) disabled for -disable-time. */
void fcgix_connect_backend_failed(fcgix_req_t *q, int kind);
/* Counts the request in flight on its class now: a request taking a kept
 * connection, before the hold is given back, so that no moment finds the
 * connection counted nowhere. */
void fcgix_connect_count(fcgix_req_t *q);

/* The request no longer holds its connection: its class's counters are
 * given back now instead of when the request's pool goes. */
void fcgix_connect_release(fcgix_req_t *q);
/* Whether the request's class lost its last process and backs off (logs
 * FCGIX0115 when it does). */
int fcgix_connect_backing_off(fcgix_req_t *q);
/* The request ended with status st: tells the class whether the app served
 * it whole or failed it. */
void fcgix_connect_outcome(fcgix_req_t *q, int st);

/* The class to count the request's outcome on: the one it was counted on
 * at the connect, else the one it looked up, else the one published now
 * (NULL: none). */
fcgix_pm_class_t *fcgix_connect_class(fcgix_req_t *q);

/* mod_fcgix_observe.c: the request-path half of the metrics (FastCgiMetrics)
 * and the access-log notes. */
/* A connect attempt begins: counted waiting for a process on its class,
 * if it has one yet. */
void fcgix_observe_wait_begin(fcgix_req_t *q);
/* While it waits for a managed app's socket, the class c was looked up: a
 * request not counted waiting yet (a dynamic app's first request, before
 * the process manager made its class) is counted on it from now on. */
void fcgix_observe_wait_found(fcgix_req_t *q, const fcgix_pm_class_t *c);
/* It ended (it began at t0): no longer waiting, its time added. */
void fcgix_observe_wait_end(fcgix_req_t *q, apr_time_t t0);
/* The request ends with status st (OK: the app answered; the client may
 * have gone away): end is when the app's part ended (0: never connected).
 * Counts its outcome and times, and sets the notes fcgix-app,
 * fcgix-backend, fcgix-wait-us, fcgix-app-us (fcgix-auth-* for an
 * authorizer). Returns st. */
int fcgix_observe_end(fcgix_req_t *q, int st, apr_time_t end);

/* mod_fcgix_keep.c (and fcgix_keep_child_init, in mod_fcgix.h): */
/* Whether the configuration lets requests to app keep connections, and
 * whether this child asks it to (q->keep): not once the app has closed
 * most of the connections it was asked to keep. */
int fcgix_keep_wanted(const fcgix_app_t *app);
int fcgix_keep_ask(request_rec *r, const fcgix_app_t *app);
/* A kept connection was found closed by the app when a request used it. */
void fcgix_keep_stale(fcgix_req_t *q);
/* With the request's records built: takes an idle kept connection to the
 * app if this child has one that is still good (q->fd, q->reused). */
void fcgix_keep_take(fcgix_req_t *q);
/* A fresh connection was counted on its class: asks the holders of idle
 * connections to close them if they fill the class. */
void fcgix_keep_connected(fcgix_req_t *q);
/* The request is done with its connection: it ended cleanly (KEEP:
 * END_REQUEST, nothing after it), or not (CLOSE), or the app closed the
 * kept connection before answering (STALE: a retry follows). Releases the
 * class's counters of q, and keeps the connection idle if the class's
 * budget allows: 1, q->fd is then -1. Else 0: the caller closes it. */
enum { FCGIX_SETTLE_CLOSE = 0, FCGIX_SETTLE_KEEP, FCGIX_SETTLE_STALE };
int fcgix_keep_settle(fcgix_req_t *q, int how);
/* The client went away before END_REQUEST: tells the app
 * (FCGI_ABORT_REQUEST) when it was asked to keep the connection. */
void fcgix_keep_abort(fcgix_req_t *q);

/* mod_fcgix_io.c: the backend failed the request before answering
 * anything (overloaded: with FCGI_OVERLOADED, which says it did not run it):
 * whether the request may go to another backend. The engine's loop then
 * gets FCGIX_OTHER_BACKEND. */
#define FCGIX_OTHER_BACKEND (-4)
int fcgix_other_backend_ok(const fcgix_req_t *q, int overloaded);

/* mod_fcgix_params.c: queues BEGIN_REQUEST, the PARAMS stream and, for a
 * request without a body, the empty STDIN record (q->optr, q->olen). */
void fcgix_params_build(fcgix_req_t *q, int has_body);

/* mod_fcgix_response.c: decodes n bytes read from the app. OK, or the
 * status to fail with (logged). */
int fcgix_response_feed(fcgix_req_t *q, char *buf, size_t n);
/* Logs the stderr line left unfinished and what the limits suppressed. */
void fcgix_response_stderr_end(fcgix_req_t *q);
/* Logs tag_msg (a "FCGIX0nnn: ..." text) with the app; 502. */
int fcgix_response_bad(fcgix_req_t *q, const char *tag_msg);
/* Logs a FastCGI protocol violation (FCGIX0105); 502. */
int fcgix_response_protocol_error(fcgix_req_t *q, fcgix_proto_err_t e);

/* mod_fcgix_upgrade.c: Upgrade tunnelling (-upgrade). A request may be
 * upgraded when its app has -upgrade and it is HTTP/1.1 (not over HTTP/2),
 * no HEAD, has no body, and asks for it (Upgrade, and Connection: upgrade):
 * it is then ASKED, and the empty STDIN record that would end its body is
 * withheld (the app's stdin may become the client's bytes). A 101 from the
 * app makes it a TUNNEL; any other answer DECLINED, and the withheld record
 * goes to the app after all. */
enum {
    FCGIX_UPG_NONE = 0,
    FCGIX_UPG_ASKED,
    FCGIX_UPG_TUNNEL,
    FCGIX_UPG_DECLINED
};
/* With the CGI environment built, before the parameters are encoded: sets
 * q->upgrade (an ASKED request asks for no kept connection: q->keep 0),
 * and removes HTTP_UPGRADE and the Connection header's upgrade token from
 * the environment of a request that may not be upgraded. */
void fcgix_upgrade_env(fcgix_req_t *q);
/* Whether the Status value (v, vl) is a 101 this request may get. */
int fcgix_upgrade_status_ok(const fcgix_req_t *q, const unsigned char *v,
                            size_t vl);
/* httpd accepted the app's header block of an ASKED request: a 101 is sent
 * to the client at once and the request becomes a TUNNEL (OK, or the status
 * to fail with, logged); any other status releases the withheld STDIN end
 * record (DECLINED: the response goes on as usual). */
int fcgix_upgrade_answer(fcgix_req_t *q);
/* Relays bytes both ways until either side closes or -idle-timeout passes
 * without a byte: client -> STDIN records, STDOUT -> client, flushed. st:
 * how the read that brought the 101 ended (what it brought after the 101
 * goes to the client first). OK, or the status of a protocol violation
 * (logged). */
int fcgix_upgrade_run(fcgix_req_t *q, int st);

#endif /* MOD_FCGIX_INT_H */
