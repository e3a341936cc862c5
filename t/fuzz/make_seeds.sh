#!/bin/bash
# t/fuzz/make_seeds.sh - writes the seed corpora for the libFuzzer targets.
#
#   bash t/fuzz/make_seeds.sh        (from the repository root)
#
# Seeds are small, meaningful inputs: the FastCGI specification's example
# records (appendix B), each protocol error kind, and CGI header blocks that
# the framer accepts, rejects or cuts at a limit. Re-running rewrites them.
set -eu
cd "$(dirname "$0")"

dec=corpus/fuzz_decoder
par=corpus/fuzz_params
hdr=corpus/fuzz_header
mkdir -p "$dec" "$par" "$hdr"

rep() { # rep CHAR COUNT: COUNT copies of CHAR
    local i
    for ((i = 0; i < $2; i++)); do printf '%s' "$1"; done
}

# ---------------------------------------------------------------- decoder
# Record header: version 1, type, request id 1, content length, padding.
END_OK='\x01\x03\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'

# Appendix B example 1: STDOUT, empty STDOUT, END_REQUEST.
printf '\x01\x06\x00\x01\x00\x22\x00\x00Content-type: text/html\r\n\r\n<html>\n\x01\x06\x00\x01\x00\x00\x00\x00'"$END_OK" \
    >"$dec/example1"
# Appendix B example 3, 8-byte aligned: STDOUT/STDERR interleaved, padding,
# END_REQUEST with appStatus 938.
{
    printf '\x01\x06\x00\x01\x00\x1e\x02\x00Content-type: text/html\r\n\r\n<ht\x00\x00'
    printf '\x01\x07\x00\x01\x00\x1d\x03\x00config error: missing SI_UID\n\x00\x00\x00'
    printf '\x01\x06\x00\x01\x00\x0f\x01\x00ml>\n<head> ... \x00'
    printf '\x01\x06\x00\x01\x00\x00\x00\x00\x01\x07\x00\x01\x00\x00\x00\x00'
    printf '\x01\x03\x00\x01\x00\x08\x00\x00\x00\x00\x03\xaa\x00\x00\x00\x00'
} >"$dec/example3"
# END_REQUEST with 5 bytes of padding.
printf '\x01\x03\x00\x01\x00\x08\x05\x00\xff\xff\xff\xfe\x01\x00\x00\x00\xaa\xbb\xcc\xdd\xee' \
    >"$dec/end_padding"
# A 300-byte STDOUT record, then END.
{
    printf '\x01\x06\x00\x01\x01\x2c\x04\x00'
    rep x 300
    printf '\x00\x00\x00\x00'"$END_OK"
} >"$dec/stdout_300"
# Errors: byte after END, bad version, id 0, id 2, a BEGIN_REQUEST (type),
# END_REQUEST with 7 content bytes, a truncated record.
printf "$END_OK"'\x01' >"$dec/after_end"
printf '\x02\x06\x00\x01\x00\x01\x00\x00x' >"$dec/bad_version"
printf '\x01\x06\x00\x00\x00\x01\x00\x00x' >"$dec/bad_id_zero"
printf '\x01\x07\x00\x02\x00\x01\x00\x00x' >"$dec/bad_id_other"
printf '\x01\x01\x00\x01\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00' \
    >"$dec/bad_type_begin"
printf '\x01\x03\x00\x01\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00' \
    >"$dec/bad_end_len"
printf '\x01\x06\x00\x01\x00\x10\x00\x00Status: 2' >"$dec/truncated"
printf 'HTTP/1.1 200 OK\r\n\r\n' >"$dec/not_fastcgi"

# ----------------------------------------------------------------- params
# Below 0x80 a length byte means the same to the round trip as on the wire.
printf '\x0b\x02SERVER_PORT80\x0b\x0eSERVER_ADDR199.170.183.42' \
    >"$par/spec_pairs"
{
    printf '\x0c\x80\x00\x00\xc8QUERY_STRING'
    rep q 200
} >"$par/value_4byte"
{
    printf '\x80\x00\x00\x82\x01'
    rep N 130
    printf 'v'
} >"$par/name_4byte"
printf '\xff\xff\xff\xff\x00abc' >"$par/huge_len"
printf '\x01\xff\xff\xff\xffxyz' >"$par/huge_value_len"
printf '\x80\x00\x00\x05\x00HELLO' >"$par/non_minimal"
printf '\x00\x00\x00\x00' >"$par/empty_pairs"
printf '\x0e\x03REQUEST_METHODGET\x0b\x01SCRIPT_NAME/\x0c\x00QUERY_STRING\x0f\x08SERVER_PROTOCOLHTTP/1.1' \
    >"$par/cgi_env"
{
    printf '\x7f\x80'
    rep a 127
    rep b 120
} >"$par/boundary_127_128"

# ----------------------------------------------------------------- header
# First 3 bytes: max_bytes / 4, max_lines, max_line (0xff: no limit).
NOLIM='\xff\xff\xff'
printf "$NOLIM"'Status: 200 OK\nContent-Type: text/html\n\n<html>' \
    >"$hdr/ok_lf"
printf "$NOLIM"'Content-Type: text/plain\r\nX-Powered-By: x\r\n\r\nhello' \
    >"$hdr/ok_crlf"
printf "$NOLIM"'Location: http://example.com:8080/a?b=c\r\nX-E:\n\r\nbody' \
    >"$hdr/ok_mixed"
printf "$NOLIM"'Status: 404 Not Found\r\nX-V: \t a b \t\r\n\r\n' \
    >"$hdr/ok_trim"
printf "$NOLIM"'\r\n' >"$hdr/ok_empty"
printf "$NOLIM"'A: b\rc\n\n' >"$hdr/bad_bare_cr"
printf "$NOLIM"'A: b\x00c\n\n' >"$hdr/bad_nul"
printf "$NOLIM"'A: b\x7f\n\n' >"$hdr/bad_del"
printf "$NOLIM"'A: b\n c\n\n' >"$hdr/bad_obs_fold"
printf "$NOLIM"'Foo\r\n\r\n' >"$hdr/bad_no_colon"
printf "$NOLIM"'Foo : bar\n\n' >"$hdr/bad_space_colon"
printf "$NOLIM"'HTTP/1.1 200 OK\r\n\r\n' >"$hdr/bad_status_line"
printf '\x02\xff\xff''A: bcd\n\n' >"$hdr/limit_bytes_at"
printf '\x02\xff\xff''A: bcde\n\n' >"$hdr/limit_bytes_over"
printf '\xff\x01\xff''A: 1\nB: 2\n\n' >"$hdr/limit_lines_over"
printf '\xff\xff\x07''Abc: de\r\n\r\n' >"$hdr/limit_line_at"
printf '\xff\xff\x06''Abc: de\r\n\r\n' >"$hdr/limit_line_over"
