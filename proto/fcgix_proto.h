/*
 * proto/fcgix_proto.h - the FastCGI wire protocol, as pure functions.
 *
 * Contract for everything in proto/:
 *   - libc only: no APR, no httpd, no I/O, no logging, no allocation;
 *   - all wire data is (pointer, length); nothing here expects or writes
 *     NUL-terminated wire data;
 *   - every function is total: any input bytes give a defined result, never
 *     a read or write outside the buffers the caller passed.
 *
 * Byte-level reference: the FastCGI 1.0 specification (records are an
 * 8-byte header + contentLength bytes + paddingLength bytes; integers are
 * big-endian; name-value lengths use 1 byte when < 128, else 4 bytes with
 * the top bit set, so the largest length is 2^31-1).
 */
#ifndef FCGIX_PROTO_H
#define FCGIX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define FCGIX_PROTO_VERSION 1
#define FCGIX_REC_HEADER_LEN 8
#define FCGIX_REC_MAX_CONTENT 65535u
#define FCGIX_NV_MAX_LEN 0x7fffffffu

/* Record types */
enum {
    FCGIX_T_BEGIN_REQUEST = 1,
    FCGIX_T_ABORT_REQUEST = 2,
    FCGIX_T_END_REQUEST = 3,
    FCGIX_T_PARAMS = 4,
    FCGIX_T_STDIN = 5,
    FCGIX_T_STDOUT = 6,
    FCGIX_T_STDERR = 7,
    FCGIX_T_DATA = 8,
    FCGIX_T_GET_VALUES = 9,
    FCGIX_T_GET_VALUES_RESULT = 10,
    FCGIX_T_UNKNOWN_TYPE = 11
};

/* Roles (BEGIN_REQUEST) */
enum {
    FCGIX_ROLE_RESPONDER = 1,
    FCGIX_ROLE_AUTHORIZER = 2,
    FCGIX_ROLE_FILTER = 3
};
#define FCGIX_FLAG_KEEP_CONN 1

/* END_REQUEST protocolStatus values */
enum {
    FCGIX_PS_REQUEST_COMPLETE = 0,
    FCGIX_PS_CANT_MPX_CONN = 1,
    FCGIX_PS_OVERLOADED = 2,
    FCGIX_PS_UNKNOWN_ROLE = 3
};

/* ---------------------------------------------------------------- records */

/* Writes the 8-byte header of one record. content_len <= 65535,
 * padding_len <= 255 (the caller guarantees both; larger values are
 * truncated to their low bits, never overflow out[]). */
void fcgix_rec_header(unsigned char out[FCGIX_REC_HEADER_LEN], unsigned type,
                      unsigned request_id, size_t content_len,
                      unsigned padding_len);

/* Writes a whole BEGIN_REQUEST record (header + 8-byte body): 16 bytes. */
#define FCGIX_BEGIN_REQUEST_LEN 16
void fcgix_rec_begin_request(unsigned char out[FCGIX_BEGIN_REQUEST_LEN],
                             unsigned request_id, unsigned role,
                             unsigned flags);

/* Bytes needed to send `len` bytes of stream data as records of `type`
 * (headers + data, no padding). len == 0 gives one empty record (the
 * end-of-stream marker): 8 bytes. Does not include that marker otherwise.
 * Saturates at SIZE_MAX when the size does not fit in size_t. */
size_t fcgix_rec_wrap_size(size_t len);

/* Copies data[0..len) into out as records of `type` (each at most 65535
 * content bytes, no padding). Returns bytes written, or 0 if cap is smaller
 * than fcgix_rec_wrap_size(len). len == 0 writes one empty record. */
size_t fcgix_rec_wrap(unsigned char *out, size_t cap, unsigned type,
                      unsigned request_id, const unsigned char *data,
                      size_t len);

/* ------------------------------------------------------ name-value pairs */

/* Encoded size of one pair, or 0 if a length exceeds FCGIX_NV_MAX_LEN (or
 * the total does not fit in size_t, possible only with a 32-bit size_t). */
size_t fcgix_nv_size(size_t name_len, size_t value_len);

/* Encodes one pair into out. Returns bytes written, or 0 if it does not
 * fit in cap or a length exceeds FCGIX_NV_MAX_LEN. */
size_t fcgix_nv_encode(unsigned char *out, size_t cap, const void *name,
                       size_t name_len, const void *value, size_t value_len);

typedef enum {
    FCGIX_NV_OK = 0,   /* one pair decoded */
    FCGIX_NV_SHORT = 1 /* input ends inside a pair (truncated) */
} fcgix_nv_status_t;

/* Decodes the pair at in[0..len). On FCGIX_NV_OK, *consumed is its encoded
 * size and name/value point into in. len == 0 gives FCGIX_NV_SHORT. */
fcgix_nv_status_t fcgix_nv_decode(const unsigned char *in, size_t len,
                                  size_t *consumed, const unsigned char **name,
                                  size_t *name_len, const unsigned char **value,
                                  size_t *value_len);

/* --------------------------------------------- response record decoder */

/* Events the decoder reports for the application -> server direction. */
typedef enum {
    FCGIX_EV_NONE = 0,    /* all input consumed, no event completed */
    FCGIX_EV_STDOUT,      /* data/len: a slice of STDOUT content */
    FCGIX_EV_STDERR,      /* data/len: a slice of STDERR content */
    FCGIX_EV_END_REQUEST, /* app_status, protocol_status set */
    FCGIX_EV_ERROR        /* protocol violation; see error; sticky */
} fcgix_ev_type_t;

typedef enum {
    FCGIX_E_NONE = 0,
    FCGIX_E_VERSION,     /* version byte is not 1 */
    FCGIX_E_REQUEST_ID,  /* record for another request id (incl. 0) */
    FCGIX_E_TYPE,        /* unknown type, or one an app must not send */
    FCGIX_E_END_REQUEST, /* END_REQUEST content length is not 8 */
    FCGIX_E_AFTER_END    /* any byte after the END_REQUEST record */
} fcgix_proto_err_t;

typedef struct {
    fcgix_ev_type_t type;
    const unsigned char *data; /* STDOUT/STDERR: points into the input */
    size_t len;
    uint32_t app_status;      /* END_REQUEST */
    unsigned protocol_status; /* END_REQUEST */
    fcgix_proto_err_t error;  /* ERROR */
} fcgix_event_t;

/* Opaque to callers; the fields are here only so it can live on the stack.
 * Size is fixed and small (no buffers besides the 8-byte header and the
 * 8-byte END_REQUEST body). */
typedef struct {
    unsigned request_id;
    int state;
    unsigned char hdr[FCGIX_REC_HEADER_LEN];
    size_t hdr_have;
    unsigned type;
    size_t content_left;
    size_t padding_left;
    unsigned char body[8];
    size_t body_have;
    fcgix_proto_err_t error;
} fcgix_dec_t;

/* request_id is matched as the 16 bits fcgix_rec_header() writes for it;
 * a record with id 0 never matches. */
void fcgix_dec_init(fcgix_dec_t *d, unsigned request_id);

/* Push parser. Consumes bytes from in[0..len) up to and including the end of
 * at most one event, fills *ev and returns the number of bytes consumed.
 * Call again with the rest until it returns with ev->type == FCGIX_EV_NONE
 * (all of the input consumed, nothing completed) - or an ERROR.
 * Empty STDOUT/STDERR records (end-of-stream markers) and padding produce no
 * event. A STDOUT/STDERR record's content may be reported as several slices
 * when it arrives split; slices are never empty.
 * END_REQUEST is reported once its whole record, padding included, has been
 * consumed; any further byte is FCGIX_E_AFTER_END. The call that reports an
 * ERROR counts the byte that revealed it. After ERROR, the decoder stays in
 * error: every call returns 0 with the same ERROR event.
 * The events for a byte stream do not depend on how the stream is split
 * across calls (slices may be cut differently; their concatenation is the
 * same). */
size_t fcgix_dec_feed(fcgix_dec_t *d, const unsigned char *in, size_t len,
                      fcgix_event_t *ev);

/* 1 once END_REQUEST has been decoded (the stream is then at a record
 * boundary), until an error. */
int fcgix_dec_ended(const fcgix_dec_t *d);

/* Short English name of an error, for logs. */
const char *fcgix_proto_strerror(fcgix_proto_err_t e);

/* ---------------------------------------------- response header framer */

/* The framer watches the first bytes of STDOUT and finds the end of the
 * CGI header block (an empty line). It checks each line as it goes:
 *   - a line ends with LF or CRLF; a CR not followed by LF is an error;
 *   - no NUL or other control byte (0x00-0x1f except HTAB, 0x7f) anywhere;
 *   - a line starting with SP or HTAB (obs-fold) is an error;
 *   - a non-empty line must be `name:value` with name a non-empty RFC 9110
 *     token;
 *   - limits: total block bytes (incl. line endings and the empty line),
 *     number of header lines, bytes per line (excl. its line ending);
 *     reported at the first byte beyond a limit, before its syntax is
 *     looked at.
 * The caller keeps (copies) the bytes; the framer stores only counters. */
typedef enum {
    FCGIX_HDR_MORE = 0, /* all input consumed, block not complete yet */
    FCGIX_HDR_DONE,     /* block complete: *consumed bytes belong to it */
    FCGIX_HDR_TOO_BIG,  /* a limit was exceeded */
    FCGIX_HDR_BAD       /* a malformed line */
} fcgix_hdr_status_t;

typedef struct {
    size_t max_bytes, max_lines, max_line;
    size_t bytes, lines, line_len;
    int state;
    int line_has_colon;
    int in_name;
} fcgix_hdr_t;

void fcgix_hdr_init(fcgix_hdr_t *h, size_t max_bytes, size_t max_lines,
                    size_t max_line);

/* Feeds the next bytes. *consumed: on MORE, len; on DONE, the bytes of in
 * that complete the block (the rest is body); on TOO_BIG/BAD, the offset of
 * the offending byte. Once DONE/TOO_BIG/BAD, further calls return the same
 * status with *consumed = 0. */
fcgix_hdr_status_t fcgix_hdr_feed(fcgix_hdr_t *h, const unsigned char *in,
                                  size_t len, size_t *consumed);

/* Iterates over the lines of a complete, framer-accepted header block
 * block[0..len). From *pos, finds the next non-empty line; sets *name,
 * *name_len, *value, *value_len (value with leading and trailing SP/HTAB
 * removed) and advances *pos. Returns 1 for a line, 0 at the end: at the
 * empty line that ends the block (bytes after it are never looked at) or
 * at the end of block. */
int fcgix_hdr_next(const unsigned char *block, size_t len, size_t *pos,
                   const unsigned char **name, size_t *name_len,
                   const unsigned char **value, size_t *value_len);

/* Parses a CGI `Status:` value ("NNN" or "NNN reason"): returns the code if
 * it is three digits from 200 to 599 followed by end or SP/HTAB, else -1. */
int fcgix_hdr_status_code(const unsigned char *value, size_t len);

/* Case-insensitive comparison of a header name slice with a C string. */
int fcgix_hdr_name_is(const unsigned char *name, size_t len, const char *s);

/* ----------------------------------------------------------- log escape */

/* Copies in[0..len) to out for a log line: bytes 0x20-0x7e except '\\'
 * unchanged, '\\' as "\\\\", other bytes as "\\xhh" (lower-case hex).
 * Stops before out would exceed cap-1 bytes (never inside an escape),
 * writes a NUL, and returns the number of input bytes consumed (so the
 * caller can tell the line was cut). cap >= 1. */
size_t fcgix_log_escape(char *out, size_t cap, const unsigned char *in,
                        size_t len);

#endif /* FCGIX_PROTO_H */
