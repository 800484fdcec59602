/*
 * test_net_ws_frame.c: the WebSocket frame codec (net/ws_frame.c).
 *
 * Every example of docs/protocol.md part 2 is built here as a struct,
 * encoded and compared with the hex printed in the doc (the doc is read
 * from the source tree, so doc and encoder cannot drift); then decoded,
 * compared field by field, re-encoded byte for byte, cut at every length
 * (WB_ETRUNCATED), given a trailing byte, a bad version and a bad type.
 * Bounds and typed errors are checked one by one.
 *
 * `test_net_ws_frame --write-examples` prints the example lines for the doc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "codec.h"
#include "vv.h"
#include "wb_error.h"
#include "wbtest.h"
#include "ws_frame.h"

/* docs/protocol.md beside this file's tests/ directory (cmake passes
 * absolute source paths, so __FILE__ locates the source tree). */
static const char *doc_path(void)
{
    static char path[1024];
    const char *f = __FILE__;
    const char *cut = strstr(f, "tests/test_net_ws_frame.c");
    size_t n = cut ? (size_t)(cut - f) : 0;
    snprintf(path, sizeof path, "%.*sdocs/protocol.md", (int)n, f);
    return path;
}

/* ---- example material --------------------------------------------------- */

static wb_str S(const char *s) { return (wb_str){s, (uint32_t)strlen(s)}; }

static wb_op ex_ops[2];
static wb_batch ex_client_batch, ex_server_batch;
static uint8_t ex_vv43[16], ex_vv44[16];
static size_t ex_vv43_len, ex_vv44_len;
static uint8_t *ex_state, *ex_server_enc;
static size_t ex_state_len, ex_server_enc_len;
static wb_str ex_sel[2];
static ws_delta_item ex_delta[1];
static ws_ack_item ex_ack_ok[1], ex_ack_err[1];

static void vv_bytes(uint64_t node, uint64_t seq, uint8_t *dst, size_t *len)
{
    vv v;
    vv_init(&v);
    if (vv_set(&v, node, seq) || vv_encode(&v, dst, 16, len))
        abort();
    vv_free(&v);
}

static void material(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    /* client: delete e1, op id 1, user empty (the server fills it) */
    ex_ops[0] = (wb_op){.kind = WB_OP_DELETE, .client_op_id = 1,
                        .elem = S("e1")};
    ex_client_batch = (wb_batch){.board = S("b1"), .nops = 1, .ops = &ex_ops[0]};
    /* server: the same op, stamped, user filled */
    ex_ops[1] = ex_ops[0];
    ex_ops[1].has_stamp = 1;
    ex_ops[1].user = S("alice");
    ex_ops[1].stamp = (wb_stamp){1764350004000ull << 16, 7, 44};
    ex_server_batch = (wb_batch){.board = S("b1"), .nops = 1, .ops = &ex_ops[1]};
    if (codec_encode_batch(&ex_server_batch, &ex_server_enc, &ex_server_enc_len))
        abort();
    vv_bytes(7, 43, ex_vv43, &ex_vv43_len);
    vv_bytes(7, 44, ex_vv44, &ex_vv44_len);
    board *b = NULL;
    if (board_create("b1", 2, NULL, &b) ||
        board_state_encode(b, &ex_state, &ex_state_len))
        abort();
    board_free(b);
    ex_sel[0] = S("e1");
    ex_sel[1] = S("e2");
    ex_delta[0] = (ws_delta_item){12, {ex_server_enc, ex_server_enc_len}};
    ex_ack_ok[0] = (ws_ack_item){1, {1764350004000ull << 16, 7, 44}};
    ex_ack_err[0] = (ws_ack_item){1, {0, 0, 0}};
}

typedef struct example {
    const char *name;
    void (*build)(ws_frame *f);
} example;

static void ex_hello(ws_frame *f)
{
    f->type = WS_HELLO;
    f->u.hello.proto = 1;
    f->u.hello.token = S("eyJ.e30.sig");
    f->u.hello.board = S("b1");
}
static void ex_hello_resume(ws_frame *f)
{
    ex_hello(f);
    f->u.hello.resume = (ws_bytes){ex_vv43, ex_vv43_len};
}
static void ex_ops_client(ws_frame *f)
{
    f->type = WS_OPS;
    f->u.ops.batch = &ex_client_batch;
}
static void ex_presence(ws_frame *f)
{
    f->type = WS_PRESENCE;
    f->u.presence.x = 1050;
    f->u.presence.y = -250;
    f->u.presence.flags = WS_PRESENCE_DRAWING;
    f->u.presence.nsel = 2;
    f->u.presence.sel = ex_sel;
}
static void ex_ping(ws_frame *f)
{
    f->type = WS_PING;
    f->u.ping.nonce = 5;
}
static void ex_welcome_full(ws_frame *f)
{
    f->type = WS_WELCOME;
    f->u.welcome.role = 2;
    f->u.welcome.user = S("alice");
    f->u.welcome.version = (ws_bytes){ex_vv43, ex_vv43_len};
    f->u.welcome.state = (ws_bytes){ex_state, ex_state_len};
}
static void ex_welcome_resync(ws_frame *f)
{
    ex_welcome_full(f);
    f->u.welcome.flags = WS_WELCOME_RESYNC;
}
static void ex_welcome_delta(ws_frame *f)
{
    f->type = WS_WELCOME;
    f->u.welcome.flags = WS_WELCOME_DELTA;
    f->u.welcome.role = 3;
    f->u.welcome.user = S("alice");
    f->u.welcome.version = (ws_bytes){ex_vv44, ex_vv44_len};
    f->u.welcome.ndelta = 1;
    f->u.welcome.delta = ex_delta;
}
static void ex_ops_server(ws_frame *f)
{
    f->type = WS_SOPS;
    f->u.ops.seq = 12;
    f->u.ops.batch = &ex_server_batch;
}
static void ex_ack(ws_frame *f)
{
    f->type = WS_ACK;
    f->u.ack.first_seq = 12;
    f->u.ack.n = 1;
    f->u.ack.items = ex_ack_ok;
}
static void ex_ack_refused(ws_frame *f)
{
    f->type = WS_ACK;
    f->u.ack.status = WS_CODE_FORBIDDEN;
    f->u.ack.n = 1;
    f->u.ack.items = ex_ack_err;
}
static void ex_presence_server(ws_frame *f)
{
    ex_presence(f);
    f->type = WS_SPRESENCE;
    f->u.presence.user = S("alice");
    f->u.presence.name = S("Alice");
    f->u.presence.colour = 0xe03131ffu;
}
static void ex_error(ws_frame *f)
{
    f->type = WS_ERROR;
    f->u.error.code = WS_CODE_FORBIDDEN;
    f->u.error.fatal = 0;
    f->u.error.msg = S("viewer may not write");
}
static void ex_resync(ws_frame *f)
{
    f->type = WS_RESYNC;
    f->u.error.code = WS_CODE_STALE;
    f->u.error.msg = S("reload");
}
static void ex_pong(ws_frame *f)
{
    f->type = WS_PONG;
    f->u.ping.nonce = 5;
}

static const example examples[] = {
    {"hello", ex_hello},
    {"hello_resume", ex_hello_resume},
    {"ops", ex_ops_client},
    {"presence", ex_presence},
    {"ping", ex_ping},
    {"welcome_full", ex_welcome_full},
    {"welcome_delta", ex_welcome_delta},
    {"welcome_resync", ex_welcome_resync},
    {"server_ops", ex_ops_server},
    {"ack", ex_ack},
    {"ack_refused", ex_ack_refused},
    {"server_presence", ex_presence_server},
    {"error", ex_error},
    {"resync", ex_resync},
    {"pong", ex_pong},
};
#define NEXAMPLES (sizeof examples / sizeof examples[0])

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = 0;
}

static int from_hex(const char *h, uint8_t *out, size_t cap, size_t *n)
{
    size_t k = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned v;
        if (k >= cap || sscanf(h, "%2x", &v) != 1)
            return -1;
        out[k++] = (uint8_t)v;
        h += 2;
    }
    *n = k;
    return 0;
}

/* The hex of "    <name>: <hex>" in the doc, spaces removed, or NULL. */
static char *doc_hex(const char *name)
{
    FILE *fp = fopen(doc_path(), "r");
    if (!fp)
        return NULL;
    char line[8192], want[96];
    char *res = NULL;
    snprintf(want, sizeof want, "%s: ", name);
    while (!res && fgets(line, sizeof line, fp)) {
        char *p = line;
        while (*p == ' ')
            p++;
        if (strncmp(p, want, strlen(want)) != 0)
            continue;
        p += strlen(want);
        res = malloc(strlen(p) + 1);
        size_t k = 0;
        for (; *p && *p != '\n'; p++)
            if (*p != ' ')
                res[k++] = *p;
        res[k] = 0;
    }
    fclose(fp);
    return res;
}

/* ---- checks ------------------------------------------------------------- */

static int bytes_eq(ws_bytes a, ws_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}
static int str_eq(wb_str a, wb_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int presence_eq(const ws_presence *a, const ws_presence *b, int srv)
{
    if (a->x != b->x || a->y != b->y || a->flags != b->flags ||
        a->nsel != b->nsel)
        return 0;
    for (uint32_t i = 0; i < a->nsel; i++)
        if (!str_eq(a->sel[i], b->sel[i]))
            return 0;
    return !srv || (str_eq(a->user, b->user) && str_eq(a->name, b->name) &&
                    a->colour == b->colour);
}

/* Field-wise equality of a built frame and its decoding. */
static int frame_eq(const ws_frame *a, const ws_frame *d)
{
    if (a->type != d->type)
        return 0;
    switch (a->type) {
    case WS_HELLO:
        return a->u.hello.proto == d->u.hello.proto &&
               str_eq(a->u.hello.token, d->u.hello.token) &&
               str_eq(a->u.hello.board, d->u.hello.board) &&
               bytes_eq(a->u.hello.resume, d->u.hello.resume);
    case WS_OPS:
    case WS_SOPS:
        return a->u.ops.seq == d->u.ops.seq &&
               codec_batch_equal(a->u.ops.batch, d->u.ops.batch);
    case WS_PRESENCE: return presence_eq(&a->u.presence, &d->u.presence, 0);
    case WS_SPRESENCE: return presence_eq(&a->u.presence, &d->u.presence, 1);
    case WS_PING:
    case WS_PONG: return a->u.ping.nonce == d->u.ping.nonce;
    case WS_WELCOME:
        if (a->u.welcome.flags != d->u.welcome.flags ||
            a->u.welcome.role != d->u.welcome.role ||
            !str_eq(a->u.welcome.user, d->u.welcome.user) ||
            !bytes_eq(a->u.welcome.version, d->u.welcome.version) ||
            !bytes_eq(a->u.welcome.state, d->u.welcome.state) ||
            a->u.welcome.ndelta != d->u.welcome.ndelta)
            return 0;
        for (uint32_t i = 0; i < a->u.welcome.ndelta; i++)
            if (a->u.welcome.delta[i].seq != d->u.welcome.delta[i].seq ||
                !bytes_eq(a->u.welcome.delta[i].batch,
                          d->u.welcome.delta[i].batch))
                return 0;
        return 1;
    case WS_ACK:
        if (a->u.ack.status != d->u.ack.status ||
            a->u.ack.first_seq != d->u.ack.first_seq ||
            a->u.ack.dups != d->u.ack.dups || a->u.ack.n != d->u.ack.n)
            return 0;
        for (uint32_t i = 0; i < a->u.ack.n; i++)
            if (a->u.ack.items[i].client_op_id !=
                    d->u.ack.items[i].client_op_id ||
                wb_stamp_cmp(&a->u.ack.items[i].stamp,
                             &d->u.ack.items[i].stamp) != 0)
                return 0;
        return 1;
    case WS_ERROR:
    case WS_RESYNC:
        return a->u.error.code == d->u.error.code &&
               a->u.error.fatal == d->u.error.fatal &&
               str_eq(a->u.error.msg, d->u.error.msg);
    default: return 0;
    }
}

static void test_examples_match_doc(void)
{
    material();
    for (size_t i = 0; i < NEXAMPLES; i++) {
        ws_frame f;
        memset(&f, 0, sizeof f);
        examples[i].build(&f);
        uint8_t *enc = NULL;
        size_t len = 0;
        CHECK_RC(ws_frame_encode(&f, &enc, &len), 0);
        char *hex = malloc(2 * len + 1);
        to_hex(enc, len, hex);
        char *doc = doc_hex(examples[i].name);
        int same = doc && strcmp(doc, hex) == 0;
        if (!same)
            fprintf(stderr, "  %s: encoder %s, doc %s\n", examples[i].name,
                    hex, doc ? doc : "(missing)");
        free(doc);
        free(hex);
        free(enc);
        CHECK_MSG(same, "example %s differs from %s", examples[i].name,
                  doc_path());
    }
}

/* Decode, compare, re-encode, and every cut of one example. */
static void check_example(const example *ex)
{
    ws_frame f, d;
    memset(&f, 0, sizeof f);
    ex->build(&f);
    uint8_t *enc = NULL;
    size_t len = 0;
    CHECK_RC(ws_frame_encode(&f, &enc, &len), 0);
    CHECK_RC(ws_frame_decode(enc, len, 0, &d), 0);
    CHECK_MSG(frame_eq(&f, &d), "%s: decoded fields differ", ex->name);
    uint8_t *re = NULL;
    size_t relen = 0;
    CHECK_RC(ws_frame_encode(&d, &re, &relen), 0);
    CHECK_MSG(relen == len && memcmp(re, enc, len) == 0,
              "%s: re-encoding differs", ex->name);
    free(re);
    ws_frame_clear(&d);
    CHECK_RC(ws_frame_decode(enc, len, len - 1, &d), WB_ETOOBIG);
    for (size_t cut = 0; cut < len; cut++) {
        int rc = ws_frame_decode(enc, cut, 0, &d);
        CHECK_MSG(rc == WB_ETRUNCATED, "%s cut at %zu/%zu: %s", ex->name,
                  cut, len, wb_errname(rc));
    }
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, enc, len);
    longer[len] = 0;
    int rc = ws_frame_decode(longer, len + 1, 0, &d);
    CHECK_MSG(rc == WB_EMALFORMED, "%s + 1 byte: %s", ex->name, wb_errname(rc));
    longer[1] = 2;
    CHECK_RC(ws_frame_decode(longer, len, 0, &d), WB_EBADVERSION);
    free(longer);
    free(enc);
}

static void test_round_trips_and_cuts(void)
{
    material();
    for (size_t i = 0; i < NEXAMPLES; i++) {
        int before = wb_test_current_failed;
        check_example(&examples[i]);
        if (wb_test_current_failed && !before)
            return;
    }
}

static int dec_hex(const char *hex, size_t max)
{
    uint8_t buf[256];
    size_t n;
    if (from_hex(hex, buf, sizeof buf, &n))
        abort();
    ws_frame f;
    int rc = ws_frame_decode(buf, n, max, &f);
    if (!rc)
        ws_frame_clear(&f);
    return rc;
}

static void test_typed_errors(void)
{
    CHECK_RC(dec_hex("", 0), WB_ETRUNCATED);
    CHECK_RC(dec_hex("7f 01 00", 0), WB_EUNKNOWN);     /* type */
    CHECK_RC(dec_hex("04 00 05", 0), WB_EBADVERSION);  /* version 0 */
    CHECK_RC(dec_hex("04 01 85 00", 0), WB_EMALFORMED); /* non-minimal */
    CHECK_RC(dec_hex("04 01 05", 2), WB_ETOOBIG);      /* over max_frame */
    /* hello: empty token, bad board id, empty-vv resume token */
    CHECK_RC(dec_hex("01 01 01 00 02 6231 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("01 01 01 01 74 02 622e 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("01 01 01 01 74 02 6231 01 00", 0), WB_EMALFORMED);
    /* hello: token length over 8192 is refused before reading it */
    CHECK_RC(dec_hex("01 01 01 81 40 74", 0), WB_ETOOBIG);
    /* presence: flags bit 1, 65 ids, count larger than the bytes */
    CHECK_RC(dec_hex("03 01 00 00 02 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("03 01 00 00 00 41", 0), WB_ETOOBIG);
    CHECK_RC(dec_hex("03 01 00 00 00 40 02 6531", 0), WB_ETRUNCATED);
    /* presence: x outside int32 */
    CHECK_RC(dec_hex("03 01 80 80 80 80 10 00 00 00", 0), WB_EMALFORMED);
    /* ack: count over the bytes, status over the table, stamp node 0,
     * error status with a first_seq */
    CHECK_RC(dec_hex("83 01 00 00 00 80 08 01", 0), WB_ETRUNCATED);
    CHECK_RC(dec_hex("83 01 0d 00 00 01 01", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("83 01 00 00 00 01 01 05 00 01", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("83 01 04 05 00 01 01", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("83 01 00 00 00 00", 0), WB_EMALFORMED); /* n = 0 */
    /* error: code 0, fatal 2, message not UTF-8, message over 256 */
    CHECK_RC(dec_hex("85 01 00 00 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("85 01 04 02 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("85 01 04 00 02 c0 80", 0), WB_EUTF8);
    CHECK_RC(dec_hex("85 01 04 00 81 02", 0), WB_ETOOBIG);
    /* welcome: both DELTA and RESYNC, role 0, delta count over the bytes */
    CHECK_RC(dec_hex("81 01 03 02 00 01 00 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("81 01 00 00 00 01 00 00", 0), WB_EMALFORMED);
    CHECK_RC(dec_hex("81 01 01 02 00 01 00 80 01", 0), WB_ETRUNCATED);
    /* ops: an empty batch, a bad batch version */
    CHECK_RC(dec_hex("02 01", 0), WB_ETRUNCATED);
    CHECK_RC(dec_hex("02 01 02 02 6231 01 02 01 00 02 6531", 0),
             WB_EBADVERSION);
}

static void test_stamp_rules(void)
{
    material();
    ws_frame f;
    uint8_t *enc = NULL;
    size_t len;
    /* the encoder refuses a stamped client batch and an unstamped server one */
    memset(&f, 0, sizeof f);
    f.type = WS_OPS;
    f.u.ops.batch = &ex_server_batch;
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EMALFORMED);
    f.type = WS_SOPS;
    f.u.ops.batch = &ex_client_batch;
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EMALFORMED);
    /* and so does the decoder: a client ops frame carrying stamped bytes */
    uint8_t buf[256];
    buf[0] = WS_OPS;
    buf[1] = WS_FRAME_VERSION;
    memcpy(buf + 2, ex_server_enc, ex_server_enc_len);
    CHECK_RC(ws_frame_decode(buf, ex_server_enc_len + 2, 0, &f), WB_EMALFORMED);
    buf[0] = WS_SOPS;
    buf[2] = 12; /* seq */
    memcpy(buf + 3, ex_server_enc, ex_server_enc_len);
    CHECK_RC(ws_frame_decode(buf, ex_server_enc_len + 3, 0, &f), 0);
    CHECK_EQ_U64(f.u.ops.seq, 12);
    CHECK(f.u.ops.batch && f.u.ops.batch->ops[0].has_stamp);
    ws_frame_clear(&f);
}

static void test_encoder_bounds(void)
{
    material();
    ws_frame f;
    uint8_t *enc = NULL;
    size_t len;
    static char big[WS_MAX_TOKEN + 1];
    memset(big, 'a', sizeof big);
    memset(&f, 0, sizeof f);
    ex_hello(&f);
    f.u.hello.token = (wb_str){big, WS_MAX_TOKEN + 1};
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_ETOOBIG);
    f.u.hello.token = (wb_str){big, WS_MAX_TOKEN};
    CHECK_RC(ws_frame_encode(&f, &enc, &len), 0);
    ws_frame d;
    CHECK_RC(ws_frame_decode(enc, len, 0, &d), 0);
    CHECK_EQ_INT(d.u.hello.token.len, WS_MAX_TOKEN);
    free(enc);
    f.u.hello.board = S("no spaces");
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EMALFORMED);
    memset(&f, 0, sizeof f);
    ex_presence(&f);
    f.u.presence.nsel = WS_MAX_SELECTION + 1;
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_ETOOBIG);
    memset(&f, 0, sizeof f);
    ex_error(&f);
    f.u.error.msg = (wb_str){"\xff", 1};
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EUTF8);
    f.u.error.code = WS_OK;
    f.u.error.msg = S("x");
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EMALFORMED);
    memset(&f, 0, sizeof f);
    ex_ack(&f);
    f.u.ack.dups = 2; /* more duplicates than ops */
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EMALFORMED);
    f.type = 0x55;
    CHECK_RC(ws_frame_encode(&f, &enc, &len), WB_EUNKNOWN);
}

static void test_codes(void)
{
    CHECK_EQ_INT(ws_code_from_error(0), WS_OK);
    CHECK_EQ_INT(ws_code_from_error(WB_EMALFORMED), WS_CODE_MALFORMED);
    CHECK_EQ_INT(ws_code_from_error(WB_ETRUNCATED), WS_CODE_MALFORMED);
    CHECK_EQ_INT(ws_code_from_error(WB_ETOOBIG), WS_CODE_TOO_BIG);
    CHECK_EQ_INT(ws_code_from_error(WB_ELIMIT), WS_CODE_LIMIT);
    CHECK_EQ_INT(ws_code_from_error(WB_ENOTFOUND), WS_CODE_NOT_FOUND);
    CHECK(strcmp(ws_code_name(WS_CODE_NOT_FOUND), "not_found") == 0);
    CHECK_EQ_INT(ws_code_from_error(WB_EEXPIRED), WS_CODE_UNAUTHORIZED);
    CHECK_EQ_INT(ws_code_from_error(WB_EAGAIN), WS_CODE_UNAVAILABLE);
    CHECK_EQ_INT(ws_code_from_error(-5 /* -EIO */), WS_CODE_INTERNAL);
    CHECK(strcmp(ws_code_name(WS_CODE_STALE), "stale") == 0);
    CHECK(strcmp(ws_code_name(99), "unknown") == 0);
    CHECK(strcmp(ws_frame_type_name(WS_WELCOME), "welcome") == 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--write-examples") == 0) {
        material();
        for (size_t i = 0; i < NEXAMPLES; i++) {
            ws_frame f;
            memset(&f, 0, sizeof f);
            examples[i].build(&f);
            uint8_t *enc = NULL;
            size_t len = 0;
            if (ws_frame_encode(&f, &enc, &len))
                return 1;
            printf("%s: ", examples[i].name);
            for (size_t k = 0; k < len; k++)
                printf("%02x%s", enc[k], k + 1 < len ? " " : "\n");
            free(enc);
        }
        return 0;
    }
    WB_RUN(test_examples_match_doc);
    WB_RUN(test_round_trips_and_cuts);
    WB_RUN(test_typed_errors);
    WB_RUN(test_stamp_rules);
    WB_RUN(test_encoder_bounds);
    WB_RUN(test_codes);
    return wb_test_summary();
}
