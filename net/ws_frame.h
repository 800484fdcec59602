/*
 * ws_frame.h: the binary frames of the WebSocket sync protocol (public API,
 * prefix ws_frame_). Normative spec with hex examples: docs/protocol.md,
 * part 2 ("Frames"); this header repeats the grammar.
 *
 * Every WebSocket binary message is exactly one frame:
 *
 *   frame   = type:u8 version:u8(=1) body          (no trailing bytes)
 *
 *   client -> server
 *   0x01 hello     proto:uvar token:str(1..8192) board:id
 *                  resume:len:uvar vv-bytes(len)   (len 0: no resume token)
 *   0x02 ops       batch                            (rest of the frame; ops
 *                                                    unstamped)
 *   0x03 presence  x:svar y:svar flags:u8 nsel:uvar id{nsel}
 *                  (flags bit 0: drawing; nsel <= 64)
 *   0x04 ping      nonce:uvar
 *
 *   server -> client
 *   0x81 welcome   flags:u8 role:u8 user:str(0..128) version:len:uvar vv
 *                  flags bit 0 DELTA: then n:uvar (seq:uvar len:uvar
 *                    batch(len)){n}      the missed batches, apply order
 *                  else: state:len:uvar bytes  (board state encoding)
 *                  flags bit 1 RESYNC: the resume token could not be used
 *                    (older than retention): a full state follows
 *   0x82 ops       seq:uvar batch                   (rest; ops stamped)
 *   0x83 ack       status:uvar(ws_code) first_seq:uvar dups:uvar n:uvar
 *                  (client_op_id:uvar [hlc:uvar node:uvar oseq:uvar]){n}
 *                  (the stamp iff status is WS_OK)
 *   0x84 presence  user:str(0..128) name:str(0..128) colour:u32be
 *                  then the client presence body (flags may also have
 *                  WS_PRESENCE_LEFT: a leave, sent to proto 2 clients)
 *   0x85 error     code:uvar(ws_code, != 0) fatal:u8(0/1) msg:str(0..256)
 *   0x86 resync    code:uvar(ws_code) msg:str(0..256)   reconnect without
 *                  a resume token and reload the full state
 *   0x87 pong      nonce:uvar
 *
 * uvar/svar/str/id/batch/vv are the encodings of docs/protocol.md part 1
 * and engine/vv.h (minimal LEB128). Strings marked UTF-8 (user, name, msg)
 * are strict UTF-8. Canonical: encode(decode(b)) == b for every b the
 * decoder accepts.
 *
 * Decoder errors: WB_ETRUNCATED (ends inside a field, or a length/count
 * claims more than the bytes left: checked before anything is allocated),
 * WB_EBADVERSION (version byte), WB_EUNKNOWN (type byte), WB_ETOOBIG (over
 * a bound above or over max_frame), WB_EUTF8, WB_EMALFORMED (anything else:
 * non-minimal varint, reserved flag bits, bad id, trailing bytes, stamped
 * client ops, unstamped server ops, status/stamp mismatch), WB_ENOMEM, and
 * the codec's errors for an embedded batch or vv.
 *
 * Ownership: a decoded frame's byte views (token, board, resume, state,
 * delta batches, user, name, msg, selection ids) point INTO the input
 * buffer: valid while it is. The decoded batch (ops) and the arrays (delta,
 * acks, sel) are owned by the frame: ws_frame_clear frees them. The
 * encoder copies views; for ops frames it writes batch_enc as given (the
 * server passes the engine's canonical encoding), or encodes `batch` when
 * batch_enc is NULL.
 *
 * Threads: reentrant; a frame is not shared.
 */
#ifndef WB_WS_FRAME_H
#define WB_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "op.h"

#define WS_FRAME_VERSION 1u
#define WS_PROTO_VERSION 1u    /* hello proto: the protocol this server speaks */
#define WS_PROTO_LEAVE 2u      /* hello proto 2: version 1 plus presence
                                  leave frames (WS_PRESENCE_LEFT) */
#define WS_SUBPROTOCOL "wb.v1" /* the WebSocket subprotocol name */
#define WS_MAX_TOKEN 8192u     /* = JWT_MAX_TOKEN */
#define WS_MAX_SELECTION 64u   /* ids in a presence selection */
#define WS_MAX_NAME 128u       /* user id and display name bytes */
#define WS_MAX_MSG 256u        /* error message bytes */
#define WS_MAX_DELTA 65536u    /* batches in a welcome delta */

enum ws_frame_type {
    WS_HELLO = 0x01,
    WS_OPS = 0x02,
    WS_PRESENCE = 0x03,
    WS_PING = 0x04,
    WS_WELCOME = 0x81,
    WS_SOPS = 0x82, /* server ops */
    WS_ACK = 0x83,
    WS_SPRESENCE = 0x84,
    WS_ERROR = 0x85,
    WS_RESYNC = 0x86,
    WS_PONG = 0x87,
};

#define WS_WELCOME_DELTA 0x01u
#define WS_WELCOME_RESYNC 0x02u
#define WS_PRESENCE_DRAWING 0x01u
#define WS_PRESENCE_LEFT 0x02u /* server presence only: the user left the
                                 room (x, y 0, no selection) */

/* Typed protocol codes, as carried in ack/error/resync frames. Stable wire
 * values: never renumber. ws_code_from_error maps a wb_error code. */
enum ws_code {
    WS_OK = 0,
    WS_CODE_MALFORMED = 1,    /* frame or batch does not decode */
    WS_CODE_TOO_BIG = 2,      /* frame, batch or field over its bound */
    WS_CODE_UNAUTHORIZED = 3, /* no, bad or expired token */
    WS_CODE_FORBIDDEN = 4,    /* role too low for the board */
    WS_CODE_RATE_LIMITED = 5, /* op or presence rate exceeded */
    WS_CODE_LIMIT = 6,        /* a board limit would be exceeded */
    WS_CODE_UNAVAILABLE = 7,  /* node busy or shutting down: retry */
    WS_CODE_PROTOCOL = 8,     /* frame not allowed now (ops before hello...) */
    WS_CODE_VERSION = 9,      /* unsupported frame or protocol version */
    WS_CODE_INTERNAL = 10,    /* unexpected server error */
    WS_CODE_STALE = 11,       /* resume impossible (resync) */
    WS_CODE_NOT_FOUND = 12,   /* no such board (or deleted) */
    WS_CODE_MAX = 12,
};

/* WebSocket close codes (private range 4000-4999), sent with a fatal error
 * frame first when the connection is usable. */
enum ws_close {
    WS_CLOSE_UNAUTHORIZED = 4001,
    WS_CLOSE_FORBIDDEN = 4003,
    WS_CLOSE_NOT_FOUND = 4004,   /* unknown or deleted board */
    WS_CLOSE_PROTOCOL = 4002,    /* malformed frame, unexpected frame */
    WS_CLOSE_TOO_BIG = 4009,     /* frame over max-frame */
    WS_CLOSE_RATE_LIMITED = 4029,
    WS_CLOSE_SLOW_CONSUMER = 4010, /* send queue over its byte bound */
    WS_CLOSE_ORIGIN = 4012,      /* Origin not allowed */
    WS_CLOSE_INTERNAL = 4500,
};

/* A view: len bytes at ptr (into the decoded input). */
typedef struct ws_bytes {
    const uint8_t *ptr;
    size_t len;
} ws_bytes;

typedef struct ws_presence {
    int32_t x, y;     /* cursor, centi-px */
    uint8_t flags;    /* WS_PRESENCE_DRAWING, server: WS_PRESENCE_LEFT */
    uint32_t nsel;    /* <= WS_MAX_SELECTION */
    wb_str *sel;      /* selected element ids (owned array of views) */
    /* server presence only: */
    wb_str user, name;
    uint32_t colour;  /* 0xRRGGBBAA */
} ws_presence;

typedef struct ws_delta_item {
    uint64_t seq;    /* oplog seq of the batch on the serving node */
    ws_bytes batch;  /* stamped batch encoding */
} ws_delta_item;

typedef struct ws_ack_item {
    uint64_t client_op_id;
    wb_stamp stamp; /* zero unless status is WS_OK */
} ws_ack_item;

typedef struct ws_frame {
    uint8_t type; /* enum ws_frame_type */
    union {
        struct {
            uint64_t proto;
            wb_str token;
            wb_str board;
            ws_bytes resume; /* vv encoding; len 0: none */
        } hello;
        struct {
            uint64_t seq;       /* server ops only */
            ws_bytes batch_enc; /* the batch bytes */
            wb_batch *batch;    /* decoded (owned) */
        } ops;
        ws_presence presence;
        struct {
            uint64_t nonce;
        } ping; /* ping and pong */
        struct {
            uint8_t flags;   /* WS_WELCOME_* */
            uint8_t role;    /* enum jwt_role: 1 viewer .. 3 owner */
            wb_str user;
            ws_bytes version; /* vv encoding */
            ws_bytes state;   /* without DELTA */
            uint32_t ndelta;
            ws_delta_item *delta; /* owned array; with DELTA */
        } welcome;
        struct {
            uint32_t status; /* enum ws_code */
            uint64_t first_seq;
            uint32_t dups;
            uint32_t n;
            ws_ack_item *items; /* owned array */
        } ack;
        struct {
            uint32_t code;
            uint8_t fatal;
            wb_str msg;
        } error; /* error and resync (fatal unused) */
    } u;
} ws_frame;

/* Decodes buf[0..len) into *f (cleared first). max_frame (0: no limit
 * beyond the field bounds) caps len: WB_ETOOBIG above it. Returns 0 or an
 * error listed at the top; on error *f holds nothing to free. */
int ws_frame_decode(const uint8_t *buf, size_t len, size_t max_frame,
                    ws_frame *f);

/* Frees what the frame owns and zeroes it. */
void ws_frame_clear(ws_frame *f);

/* Encodes *f into a malloc'd buffer (*out, caller frees; *len). Validates
 * with the decoder's bounds and returns the same codes (so it never emits
 * bytes the decoder rejects; embedded batch/vv/state bytes are copied as
 * given). */
int ws_frame_encode(const ws_frame *f, uint8_t **out, size_t *len);

/* Maps a wb_error / -errno code to the wire code (0 -> WS_OK). */
uint32_t ws_code_from_error(int rc);

/* "malformed", "too_big", ... ("unknown" outside the table). */
const char *ws_code_name(uint32_t code);

/* "hello", "ops", ... ("unknown" for other types). */
const char *ws_frame_type_name(uint8_t type);

#endif /* WB_WS_FRAME_H */
