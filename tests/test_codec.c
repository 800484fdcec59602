/*
 * test_codec.c: the op codec: test vectors, round trips, malformed input.
 *
 * Also the generator of the test vectors and of the fuzz seed corpus:
 *   test_codec --write-vectors tests/vectors/ops.vectors
 *   test_codec --write-corpus fuzz/corpus/op_decode
 * Without arguments it runs the tests, which check the committed vectors
 * file against the structs below in both directions (encode(struct) == hex,
 * decode(hex) == struct, JSON == third column, bad_* lines fail with the
 * named error).
 */
#include <errno.h>
#include <limits.h>

#include "codec.h"
#include "hlc.h"
#include "utf8.h"
#include "wbtest.h"

#define S(lit) ((wb_str){(lit), (uint32_t)(sizeof(lit) - 1)})

/* ---- the vectors ------------------------------------------------------ */

static const int32_t stroke_xy[] = {0, 0, 150, 75, 310, 160, -20, 400};
static const uint16_t stroke_pr[] = {500, 620, 1000, 0};
static const int32_t polyline_xy[] = {0, 0, 12345, -6789, 20000, 0};
static const int32_t arrow_xy[] = {0, 0, 30000, 15000};

static wb_stamp stamp(uint64_t ms, uint64_t logical, uint64_t node,
                      uint64_t oseq)
{
    return (wb_stamp){HLC_MAKE(ms, logical), node, oseq};
}

static wb_op op_rect(int stamped)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 1, .user = S("alice"),
                .elem = S("rect-1")};
    if (stamped) {
        op.has_stamp = 1;
        op.stamp = stamp(1764350000000ull, 3, 7, 42);
    }
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
              WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
              WB_PROP_BIT(WB_PROP_HEIGHT) | WB_PROP_BIT(WB_PROP_ROTATION) |
              WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
              WB_PROP_BIT(WB_PROP_FILL_COLOR) |
              WB_PROP_BIT(WB_PROP_STROKE_WIDTH) | WB_PROP_BIT(WB_PROP_OPACITY) |
              WB_PROP_BIT(WB_PROP_Z) | WB_PROP_BIT(WB_PROP_LOCKED);
    p->type = WB_ELEM_RECT;
    p->x = 1050;
    p->y = -250;
    p->width = 20000;
    p->height = 10000;
    p->rotation = 4500;
    p->stroke_color = 0x1e1e1eff;
    p->fill_color = WB_COLOR_NONE;
    p->stroke_width = 200;
    p->opacity = 100;
    p->z = S("a0");
    p->locked = 0;
    return op;
}

static wb_op op_move(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 2, .user = S("alice"),
                .elem = S("rect-1"), .has_stamp = 1,
                .stamp = stamp(1764350000123ull, 0, 7, 43)};
    op.props.mask = WB_PROP_BIT(WB_PROP_X) | WB_PROP_BIT(WB_PROP_Y);
    op.props.x = 1100;
    op.props.y = -200;
    return op;
}

static wb_op op_stroke(int pressure)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 300, .user = S("bob"),
                .elem = S("stroke_9"), .has_stamp = 1,
                .stamp = stamp(1764350001000ull, 0, 2, 1)};
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
              WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
              WB_PROP_BIT(WB_PROP_STROKE_WIDTH) | WB_PROP_BIT(WB_PROP_POINTS);
    p->type = WB_ELEM_STROKE;
    p->x = 50000;
    p->y = 60000;
    p->stroke_color = 0xe03131ff;
    p->stroke_width = 350;
    p->points.n = 4;
    p->points.xy = stroke_xy;
    p->points.pressure = pressure ? stroke_pr : NULL;
    return op;
}

static wb_op op_text(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 4, .user = S("carol"),
                .elem = S("t1")};
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
              WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_TEXT) |
              WB_PROP_BIT(WB_PROP_FONT_SIZE);
    p->type = WB_ELEM_TEXT;
    p->x = 0;
    p->y = 0;
    p->text = S("Hello, w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x8e\xa8\n\"q\"\\\t");
    p->font_size = 2400;
    return op;
}

static wb_op op_sticky(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 5,
                .user = S("d\xc3\xa9sir\xc3\xa9"), .elem = S("note-A"),
                .has_stamp = 1, .stamp = stamp(1764350002000ull, 65535, 3, 9)};
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_WIDTH) |
              WB_PROP_BIT(WB_PROP_HEIGHT) | WB_PROP_BIT(WB_PROP_FILL_COLOR) |
              WB_PROP_BIT(WB_PROP_TEXT) | WB_PROP_BIT(WB_PROP_FONT_SIZE) |
              WB_PROP_BIT(WB_PROP_GROUP);
    p->type = WB_ELEM_STICKY;
    p->width = 20000;
    p->height = 20000;
    p->fill_color = 0xfff59dff;
    p->text = S("todo: ship it");
    p->font_size = 1600;
    p->group = S("grp_1");
    return op;
}

static wb_op op_arrow(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 6, .user = S("bob"),
                .elem = S("arrow-1"), .has_stamp = 1,
                .stamp = stamp(1764350003000ull, 1, 2, 2)};
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_POINTS) |
              WB_PROP_BIT(WB_PROP_LOCKED) | WB_PROP_BIT(WB_PROP_GROUP);
    p->type = WB_ELEM_ARROW;
    p->points.n = 2;
    p->points.xy = arrow_xy;
    p->locked = 1;
    p->group = S("");
    return op;
}

static wb_op op_delete(int stamped)
{
    wb_op op = {.kind = WB_OP_DELETE, .client_op_id = 77, .user = S("alice"),
                .elem = S("rect-1")};
    if (stamped) {
        op.has_stamp = 1;
        op.stamp = stamp(1764350004000ull, 0, 7, 44);
    }
    return op;
}

static wb_op op_extremes(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = UINT64_MAX,
                .user = S(""),
                .elem = S("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"),
                .has_stamp = 1,
                .stamp = {UINT64_MAX, UINT64_MAX, UINT64_MAX}};
    wb_props *p = &op.props;
    p->mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
              WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
              WB_PROP_BIT(WB_PROP_HEIGHT) | WB_PROP_BIT(WB_PROP_ROTATION) |
              WB_PROP_BIT(WB_PROP_STROKE_COLOR) |
              WB_PROP_BIT(WB_PROP_STROKE_WIDTH) | WB_PROP_BIT(WB_PROP_OPACITY) |
              WB_PROP_BIT(WB_PROP_FONT_SIZE) | WB_PROP_BIT(WB_PROP_Z);
    p->type = WB_ELEM_ELLIPSE;
    p->x = INT32_MIN;
    p->y = INT32_MAX;
    p->width = INT32_MAX;
    p->height = 0;
    p->rotation = WB_MAX_ROTATION;
    p->stroke_color = 0xffffffff;
    p->stroke_width = WB_MAX_STROKE_WIDTH;
    p->opacity = 0;
    p->font_size = WB_MAX_FONT_SIZE;
    p->z = S("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzV");
    return op;
}

static wb_op op_line(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 8, .user = S("eve"),
                .elem = S("line-2"), .has_stamp = 1,
                .stamp = stamp(1764350005000ull, 0, 5, 100)};
    op.props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_POINTS);
    op.props.type = WB_ELEM_LINE;
    op.props.points.n = 3;
    op.props.points.xy = polyline_xy;
    return op;
}

static wb_op op_empty_stroke(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 9, .user = S("eve"),
                .elem = S("s0")};
    op.props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_POINTS) |
                    WB_PROP_BIT(WB_PROP_OPACITY);
    op.props.type = WB_ELEM_STROKE;
    op.props.opacity = 50;
    return op;
}

/* Fills ops (room for 4) for vector i; returns nops, 0 past the end. */
static uint32_t vector_ops(size_t i, const char **name, wb_op *ops)
{
    switch (i) {
    case 0: *name = "upsert_rect_unstamped"; ops[0] = op_rect(0); return 1;
    case 1: *name = "upsert_rect_stamped"; ops[0] = op_rect(1); return 1;
    case 2: *name = "move_xy"; ops[0] = op_move(); return 1;
    case 3: *name = "stroke_pressure"; ops[0] = op_stroke(1); return 1;
    case 4: *name = "stroke_no_pressure"; ops[0] = op_stroke(0); return 1;
    case 5: *name = "text_utf8_escapes"; ops[0] = op_text(); return 1;
    case 6: *name = "sticky_note"; ops[0] = op_sticky(); return 1;
    case 7: *name = "arrow_locked"; ops[0] = op_arrow(); return 1;
    case 8: *name = "delete_stamped"; ops[0] = op_delete(1); return 1;
    case 9: *name = "delete_unstamped"; ops[0] = op_delete(0); return 1;
    case 10: *name = "extremes"; ops[0] = op_extremes(); return 1;
    case 11: *name = "empty_stroke"; ops[0] = op_empty_stroke(); return 1;
    case 12:
        *name = "batch_mixed";
        ops[0] = op_line();
        ops[1] = op_move();
        ops[2] = op_delete(1);
        ops[3] = op_arrow();
        return 4;
    default: return 0;
    }
}

static wb_batch vector_batch(size_t i, const char **name, wb_op *ops)
{
    wb_batch b = {.board = S("board-1"), .ops = ops};
    b.nops = vector_ops(i, name, ops);
    return b;
}

/* Hand-made invalid inputs: name, hex, the error the decoder must give. */
static const struct bad_vector {
    const char *name;
    const char *hex;
    int err;
} bad_vectors[] = {
    {"bad_empty", "", WB_ETRUNCATED},
    {"bad_version", "02 02 6231 01 01 07 00 02 6531 01 01 02", WB_EBADVERSION},
    {"bad_truncated_string", "01 05 6231", WB_ETRUNCATED},
    {"bad_trailing_byte", "01 02 6231 01 01 07 00 02 6531 01 01 02 00",
     WB_EMALFORMED},
    {"bad_zero_ops", "01 02 6231 00", WB_EMALFORMED},
    {"bad_too_many_ops", "01 02 6231 8108", WB_ETOOBIG},
    {"bad_board_id_char", "01 02 622f 01 01 07 00 02 6531 01 01 02",
     WB_EMALFORMED},
    {"bad_id_too_long",
     "01 41 "
     "61616161616161616161616161616161616161616161616161616161616161616161"
     "61616161616161616161616161616161616161616161616161616161616161",
     WB_ETOOBIG},
    {"bad_unknown_kind", "01 02 6231 01 03 07 00 02 6531", WB_EUNKNOWN},
    {"bad_reserved_head_bits", "01 02 6231 01 21 07 00 02 6531 01 01 02",
     WB_EMALFORMED},
    {"bad_zero_props", "01 02 6231 01 01 07 00 02 6531 00", WB_EMALFORMED},
    {"bad_too_many_props", "01 02 6231 01 01 07 00 02 6531 11 0102",
     WB_ETOOBIG},
    {"bad_unknown_key", "01 02 6231 01 01 07 00 02 6531 01 11 00", WB_EUNKNOWN},
    {"bad_unknown_type", "01 02 6231 01 01 07 00 02 6531 01 01 08",
     WB_EUNKNOWN},
    {"bad_unsorted_keys", "01 02 6231 01 01 07 00 02 6531 02 0302 0202",
     WB_EMALFORMED},
    {"bad_duplicate_key", "01 02 6231 01 01 07 00 02 6531 02 0202 0202",
     WB_EMALFORMED},
    {"bad_nonminimal_varint", "01 02 6231 01 01 8700 00 02 6531 01 01 02",
     WB_EMALFORMED},
    {"bad_varint_overflow",
     "01 02 6231 01 01 ffffffffffffffffff02 00 02 6531 01 01 02",
     WB_EMALFORMED},
    {"bad_stamp_node_zero", "01 02 6231 01 11 07 00 02 6531 05 00 01 01 01 02",
     WB_EMALFORMED},
    {"bad_x_out_of_int32", "01 02 6231 01 01 07 00 02 6531 01 02 8080808010",
     WB_EMALFORMED},
    {"bad_rotation_range", "01 02 6231 01 01 07 00 02 6531 01 06 a09902",
     WB_EMALFORMED},
    {"bad_locked_value", "01 02 6231 01 01 07 00 02 6531 01 0f 02",
     WB_EMALFORMED},
    {"bad_text_overlong_utf8", "01 02 6231 01 01 07 00 02 6531 01 0b 02 c0af",
     WB_EUTF8},
    {"bad_text_surrogate", "01 02 6231 01 01 07 00 02 6531 01 0b 03 eda080",
     WB_EUTF8},
    {"bad_text_above_max", "01 02 6231 01 01 07 00 02 6531 01 0b 04 f4908080",
     WB_EUTF8},
    {"bad_text_cut_sequence", "01 02 6231 01 01 07 00 02 6531 01 0b 02 e282",
     WB_EUTF8},
    {"bad_user_stray_continuation", "01 02 6231 01 01 07 01 80 02 6531 01 01 02",
     WB_EUTF8},
    {"bad_text_too_long", "01 02 6231 01 01 07 00 02 6531 01 0b 818001",
     WB_ETOOBIG},
    {"bad_points_too_many", "01 02 6231 01 01 07 00 02 6531 01 0d 818001 00",
     WB_ETOOBIG},
    {"bad_points_short", "01 02 6231 01 01 07 00 02 6531 01 0d 05 00 0202",
     WB_ETRUNCATED},
    {"bad_points_flags", "01 02 6231 01 01 07 00 02 6531 01 0d 01 02 0202",
     WB_EMALFORMED},
    {"bad_pressure_range", "01 02 6231 01 01 07 00 02 6531 01 0d 01 01 0202 e907",
     WB_EMALFORMED},
    {"bad_z_char", "01 02 6231 01 01 07 00 02 6531 01 0e 02 612d", WB_EMALFORMED},
    {"bad_font_size_zero", "01 02 6231 01 01 07 00 02 6531 01 0c 00",
     WB_EMALFORMED},
};
#define NBAD (sizeof bad_vectors / sizeof bad_vectors[0])

/* ---- helpers ---------------------------------------------------------- */

static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap)
                out[n] = (uint8_t)(hi << 4 | v);
            n++;
            hi = -1;
        }
    }
    return n;
}

static void hex_encode(const uint8_t *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static const char *vectors_path(void)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    if (slash)
        slash[1] = '\0';
    else
        path[0] = '\0';
    strncat(path, "vectors/ops.vectors", sizeof path - strlen(path) - 1);
    return path;
}

static int write_vectors(const char *file)
{
    FILE *f = fopen(file, "w");
    if (!f) {
        perror(file);
        return 1;
    }
    fprintf(f,
            "# ops.vectors: test vectors of the op encoding (docs/protocol.md, "
            "\"Ops\").\n"
            "# GENERATED by the C encoder, do not edit by hand:\n"
            "#   build/tests/test_codec --write-vectors tests/vectors/ops.vectors\n"
            "# and CHECKED by test_codec (run without arguments) and by the "
            "web client's tests.\n"
            "#\n"
            "# One vector per line, three fields separated by one TAB:\n"
            "#   name <TAB> bytes as lowercase hex <TAB> expected\n"
            "# expected is the canonical JSON of the decoded batch "
            "(codec_batch_to_json)\n"
            "# for valid vectors; for names starting with \"bad_\" it is the "
            "error the\n"
            "# decoder must return (a WB_E* name from engine/wb_error.h). "
            "Lines starting\n"
            "# with # and empty lines are comments.\n");
    for (size_t i = 0;; i++) {
        wb_op ops[4];
        const char *name;
        wb_batch b = vector_batch(i, &name, ops);
        if (!b.nops)
            break;
        uint8_t *buf;
        size_t len;
        char *json;
        if (codec_encode_batch(&b, &buf, &len) != 0 ||
            codec_batch_to_json(&b, &json, NULL) != 0) {
            fprintf(stderr, "vector %s does not encode\n", name);
            fclose(f);
            return 1;
        }
        char *hex = malloc(2 * len + 1);
        hex_encode(buf, len, hex);
        fprintf(f, "%s\t%s\t%s\n", name, hex, json);
        free(hex);
        free(buf);
        free(json);
    }
    for (size_t i = 0; i < NBAD; i++) {
        uint8_t buf[256];
        char hex[520];
        size_t n = hex_decode(bad_vectors[i].hex, buf, sizeof buf);
        hex_encode(buf, n, hex);
        fprintf(f, "%s\t%s\t%s\n", bad_vectors[i].name, hex,
                wb_errname(bad_vectors[i].err));
    }
    return fclose(f) == 0 ? 0 : 1;
}

static int write_file(const char *dir, const char *name, const uint8_t *b,
                      size_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(b, 1, n, f) != n)) {
        perror(path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

static int write_corpus(const char *dir)
{
    int rc = 0;
    for (size_t i = 0;; i++) {
        wb_op ops[4];
        const char *name;
        wb_batch b = vector_batch(i, &name, ops);
        if (!b.nops)
            break;
        uint8_t *buf;
        size_t len;
        if (codec_encode_batch(&b, &buf, &len) != 0)
            return 1;
        rc |= write_file(dir, name, buf, len);
        free(buf);
    }
    for (size_t i = 0; i < NBAD; i++) {
        uint8_t buf[256];
        size_t n = hex_decode(bad_vectors[i].hex, buf, sizeof buf);
        rc |= write_file(dir, bad_vectors[i].name, buf, n);
    }
    return rc;
}

/* ---- tests: vectors --------------------------------------------------- */

static int find_vector(const char *name, wb_batch *b, wb_op *ops)
{
    for (size_t i = 0;; i++) {
        const char *n;
        *b = vector_batch(i, &n, ops);
        if (!b->nops)
            return 0;
        if (strcmp(n, name) == 0)
            return 1;
    }
}

static const struct bad_vector *find_bad(const char *name)
{
    for (size_t i = 0; i < NBAD; i++)
        if (strcmp(bad_vectors[i].name, name) == 0)
            return &bad_vectors[i];
    return NULL;
}

/* Checks one line of the file; returns 1 if it was a vector. */
static void check_vector_line(char *line, size_t *good, size_t *bad)
{
    char *name = line, *hex = strchr(line, '\t');
    CHECK_MSG(hex, "line without TAB: %s", line);
    *hex++ = '\0';
    char *expect = strchr(hex, '\t');
    CHECK_MSG(expect, "vector %s has no third field", name);
    *expect++ = '\0';
    size_t hl = strlen(hex);
    uint8_t *buf = malloc(hl / 2 + 1);
    size_t n = hex_decode(hex, buf, hl / 2 + 1);
    wb_batch *got = NULL;
    int rc = codec_decode_batch(buf, n, &got);
    free(buf);
    if (strncmp(name, "bad_", 4) == 0) {
        const struct bad_vector *bv = find_bad(name);
        CHECK_MSG(bv, "bad vector %s is not in the test source", name);
        CHECK_MSG(strcmp(wb_errname(rc), expect) == 0,
                  "%s: decoder says %s, file says %s", name, wb_errname(rc),
                  expect);
        CHECK_MSG(bv->err == rc, "%s: file and source disagree", name);
        (*bad)++;
        return;
    }
    wb_op ops[4];
    wb_batch want;
    CHECK_MSG(find_vector(name, &want, ops), "vector %s not in source", name);
    CHECK_MSG(rc == 0, "%s: decode failed: %s", name, wb_errname(rc));
    int eq = codec_batch_equal(got, &want);
    char *json = NULL;
    int jrc = codec_batch_to_json(got, &json, NULL);
    uint8_t *enc = NULL;
    size_t elen = 0;
    int erc = codec_encode_batch(&want, &enc, &elen);
    char *ehex = enc ? malloc(2 * elen + 1) : NULL;
    if (ehex)
        hex_encode(enc, elen, ehex);
    int hex_ok = ehex && strcmp(ehex, hex) == 0;
    int json_ok = jrc == 0 && strcmp(json, expect) == 0;
    if (!json_ok)
        fprintf(stderr, "  %s json:\n    got  %s\n    want %s\n", name,
                json ? json : "(none)", expect);
    free(json);
    free(enc);
    free(ehex);
    codec_batch_free(got);
    CHECK_MSG(eq, "%s: decoded batch differs from the source struct", name);
    CHECK_MSG(erc == 0 && hex_ok, "%s: encode(struct) differs from file", name);
    CHECK_MSG(json_ok, "%s: JSON differs", name);
    (*good)++;
}

static void test_vectors_file(void)
{
    FILE *f = fopen(vectors_path(), "r");
    CHECK_MSG(f, "cannot open %s", vectors_path());
    char *line = NULL;
    size_t cap = 0, good = 0, bad = 0;
    ssize_t n;
    int failed_before = wb_test_current_failed;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        check_vector_line(line, &good, &bad);
        if (wb_test_current_failed != failed_before)
            break;
    }
    free(line);
    fclose(f);
    if (wb_test_current_failed)
        return;
    size_t want_good = 0;
    for (;; want_good++) {
        wb_op ops[4];
        const char *name;
        if (!vector_batch(want_good, &name, ops).nops)
            break;
    }
    CHECK_EQ_INT(good, want_good); /* every source vector is in the file */
    CHECK_EQ_INT(bad, NBAD);
}

static void test_roundtrip_and_size(void)
{
    for (size_t i = 0;; i++) {
        wb_op ops[4];
        const char *name;
        wb_batch b = vector_batch(i, &name, ops);
        if (!b.nops)
            break;
        size_t size, len, len2;
        uint8_t *buf, *buf2;
        CHECK_OK(codec_batch_size(&b, &size));
        CHECK_OK(codec_encode_batch(&b, &buf, &len));
        CHECK_EQ_INT(size, len);
        wb_batch *d;
        CHECK_OK(codec_decode_batch(buf, len, &d));
        CHECK_MSG(codec_batch_equal(d, &b), "%s: round trip differs", name);
        CHECK_OK(codec_encode_batch(d, &buf2, &len2));
        CHECK_EQ_INT(len2, len);
        CHECK_MEM(buf2, buf, len);
        /* encode_into: exact fit works, one byte less is refused. */
        uint8_t *dst = malloc(len);
        CHECK_OK(codec_encode_batch_into(&b, dst, len, &len2));
        CHECK_MEM(dst, buf, len);
        CHECK_RC(codec_encode_batch_into(&b, dst, len - 1, &len2), WB_ETOOBIG);
        free(dst);
        free(buf2);
        free(buf);
        codec_batch_free(d);
    }
}

/* Every proper prefix of every valid vector must fail with ETRUNCATED, and
 * every vector with a byte appended must fail (trailing bytes). */
static void test_every_truncation(void)
{
    size_t checked = 0;
    for (size_t i = 0;; i++) {
        wb_op ops[4];
        const char *name;
        wb_batch b = vector_batch(i, &name, ops);
        if (!b.nops)
            break;
        uint8_t *buf;
        size_t len;
        CHECK_OK(codec_encode_batch(&b, &buf, &len));
        for (size_t cut = 0; cut < len; cut++) {
            wb_batch *d = NULL;
            int rc = codec_decode_batch(buf, cut, &d);
            if (rc != WB_ETRUNCATED) {
                free(buf);
                codec_batch_free(d);
                CHECK_MSG(0, "%s cut at %zu/%zu: got %s", name, cut, len,
                          wb_errname(rc));
            }
            checked++;
        }
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, buf, len);
        longer[len] = 0;
        wb_batch *d = NULL;
        int rc = codec_decode_batch(longer, len + 1, &d);
        free(longer);
        free(buf);
        CHECK_RC(rc, WB_EMALFORMED);
    }
    CHECK(checked > 500);
}

/* ---- tests: malformed and bounds ------------------------------------- */

static void test_bad_vectors_in_source(void)
{
    for (size_t i = 0; i < NBAD; i++) {
        uint8_t buf[256];
        size_t n = hex_decode(bad_vectors[i].hex, buf, sizeof buf);
        wb_batch *d = NULL;
        int rc = codec_decode_batch(buf, n, &d);
        CHECK_MSG(rc == bad_vectors[i].err, "%s: got %s, want %s",
                  bad_vectors[i].name, wb_errname(rc),
                  wb_errname(bad_vectors[i].err));
    }
}

/* Oversize counts built at their real size, to show the bound is the
 * documented one (not one byte off). */
static void test_bounds_exact(void)
{
    /* WB_MAX_TEXT_BYTES of text is fine, one more is ETOOBIG. */
    char *text = malloc(WB_MAX_TEXT_BYTES + 1);
    memset(text, 'x', WB_MAX_TEXT_BYTES + 1);
    wb_op op = op_text();
    op.props.text = (wb_str){text, WB_MAX_TEXT_BYTES};
    wb_batch b = {.board = S("b"), .nops = 1, .ops = &op};
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_encode_batch(&b, &buf, &len));
    wb_batch *d;
    CHECK_OK(codec_decode_batch(buf, len, &d));
    codec_batch_free(d);
    free(buf);
    op.props.text.len = WB_MAX_TEXT_BYTES + 1;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_ETOOBIG);
    free(text);

    /* Points: WB_MAX_POINTS ok, one more refused by the encoder. */
    int32_t *xy = calloc(2 * (WB_MAX_POINTS + 1), sizeof *xy);
    for (uint32_t i = 0; i < 2 * (WB_MAX_POINTS + 1); i++)
        xy[i] = (int32_t)(i * 37 % 1000) - 500;
    op = op_stroke(0);
    op.props.points = (wb_points){WB_MAX_POINTS, xy, NULL};
    CHECK_OK(codec_encode_batch(&b, &buf, &len));
    CHECK_OK(codec_decode_batch(buf, len, &d));
    CHECK(codec_batch_equal(d, &b));
    codec_batch_free(d);
    free(buf);
    op.props.points.n = WB_MAX_POINTS + 1;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_ETOOBIG);
    free(xy);

    /* Ops per batch. */
    wb_op *many = calloc(WB_MAX_OPS_PER_BATCH + 1, sizeof *many);
    for (uint32_t i = 0; i <= WB_MAX_OPS_PER_BATCH; i++)
        many[i] = op_delete(1);
    b.ops = many;
    b.nops = WB_MAX_OPS_PER_BATCH;
    CHECK_OK(codec_encode_batch(&b, &buf, &len));
    CHECK_OK(codec_decode_batch(buf, len, &d));
    CHECK_EQ_INT(d->nops, WB_MAX_OPS_PER_BATCH);
    codec_batch_free(d);
    free(buf);
    b.nops = WB_MAX_OPS_PER_BATCH + 1;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_ETOOBIG);
    free(many);
}

static void test_encoder_validates(void)
{
    wb_op op = op_rect(1);
    wb_batch b = {.board = S("board-1"), .nops = 1, .ops = &op};
    uint8_t *buf;
    size_t len;
    op.props.type = 9;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EUNKNOWN);
    op = op_rect(1);
    op.props.mask |= 1u << 20;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EUNKNOWN);
    op = op_rect(1);
    op.props.opacity = 101;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    op = op_rect(1);
    op.props.mask = 0;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    op = op_rect(1);
    op.stamp.oseq = 0;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    op = op_rect(1);
    op.elem = S("has space");
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    op = op_text();
    op.props.text = S("\xed\xbf\xbf");
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EUTF8);
    op = op_rect(1);
    op.user = S("\xff");
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EUTF8);
    op = op_rect(1);
    op.props.z = S("");
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    op = op_rect(1);
    b.board = S("");
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    b.board = S("board-1");
    b.nops = 0;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EMALFORMED);
    op = op_delete(1);
    op.props.mask = WB_PROP_BIT(WB_PROP_X);
    b.nops = 1;
    CHECK_RC(codec_encode_batch(&b, &buf, &len), WB_EINVAL);
}

static void test_utf8_table(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"", 1},
        {"plain ascii", 1},
        {"\xc2\x80", 1},             /* U+0080 */
        {"\xdf\xbf", 1},             /* U+07FF */
        {"\xe0\xa0\x80", 1},         /* U+0800 */
        {"\xef\xbf\xbf", 1},         /* U+FFFF */
        {"\xed\x9f\xbf", 1},         /* U+D7FF */
        {"\xee\x80\x80", 1},         /* U+E000 */
        {"\xf0\x90\x80\x80", 1},     /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 1},     /* U+10FFFF */
        {"\xc0\x80", 0},             /* overlong NUL */
        {"\xc1\xbf", 0},             /* overlong */
        {"\xe0\x9f\xbf", 0},         /* overlong 3-byte */
        {"\xf0\x8f\xbf\xbf", 0},     /* overlong 4-byte */
        {"\xed\xa0\x80", 0},         /* U+D800 */
        {"\xed\xbf\xbf", 0},         /* U+DFFF */
        {"\xf4\x90\x80\x80", 0},     /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"\x80", 0},                 /* stray continuation */
        {"a\xe2\x82", 0},            /* cut short */
        {"\xe2\x28\xa1", 0},         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = utf8_validate((const uint8_t *)cases[i].s, strlen(cases[i].s));
        CHECK_MSG((rc == 0) == cases[i].ok, "case %zu: got %s", i,
                  wb_errname(rc));
        if (!cases[i].ok)
            CHECK_RC(rc, WB_EUTF8);
    }
    /* U+0000 is valid UTF-8 and allowed (lengths, not NULs, end strings). */
    CHECK_OK(utf8_validate((const uint8_t *)"a\0b", 3));
}

static void test_json_numbers_and_escapes(void)
{
    wb_op op = {.kind = WB_OP_UPSERT, .client_op_id = 1, .elem = S("e")};
    op.props.mask = WB_PROP_BIT(WB_PROP_TYPE) | WB_PROP_BIT(WB_PROP_X) |
                    WB_PROP_BIT(WB_PROP_Y) | WB_PROP_BIT(WB_PROP_WIDTH) |
                    WB_PROP_BIT(WB_PROP_TEXT);
    op.props.type = WB_ELEM_TEXT;
    op.props.x = -5;
    op.props.y = INT32_MIN;
    op.props.width = 1200;
    op.props.text = (wb_str){"a\"b\\c\x01\x1f\n\xe2\x9c\x93\0z", 13};
    wb_batch b = {.board = S("b"), .nops = 1, .ops = &op};
    char *json;
    CHECK_OK(codec_batch_to_json(&b, &json, NULL));
    const char *want =
        "{\"board\":\"b\",\"ops\":[{\"kind\":\"upsert\",\"opId\":\"1\","
        "\"user\":\"\",\"id\":\"e\",\"props\":{\"type\":\"text\",\"x\":-0.05,"
        "\"y\":-21474836.48,\"width\":12,\"text\":\"a\\\"b\\\\c\\u0001\\u001f"
        "\\n\xe2\x9c\x93\\u0000z\"}}]}";
    int same = strcmp(json, want) == 0;
    if (!same)
        fprintf(stderr, "  got  %s\n  want %s\n", json, want);
    free(json);
    CHECK(same);
    /* Empty strings of caller-built ops may have NULL pointers (UBSan
     * caught pointer arithmetic on NULL here once). */
    op.user = (wb_str){NULL, 0};
    op.props.mask = WB_PROP_BIT(WB_PROP_GROUP);
    op.props.group = (wb_str){NULL, 0};
    CHECK_OK(codec_batch_to_json(&b, &json, NULL));
    same = strstr(json, "\"user\":\"\"") && strstr(json, "\"groupId\":\"\"");
    free(json);
    CHECK(same);
    uint8_t *buf;
    size_t len;
    CHECK_OK(codec_encode_batch(&b, &buf, &len));
    free(buf);
}

/* Random mutations of valid vectors never crash and never yield a batch
 * that does not re-encode to the same bytes (the fuzz property, in ctest). */
static void test_mutations_canonical(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t accepted = 0, total = 0;
    for (size_t i = 0;; i++) {
        wb_op ops[4];
        const char *name;
        wb_batch b = vector_batch(i, &name, ops);
        if (!b.nops)
            break;
        uint8_t *buf;
        size_t len;
        CHECK_OK(codec_encode_batch(&b, &buf, &len));
        for (int round = 0; round < 2000; round++) {
            uint8_t *m = malloc(len);
            memcpy(m, buf, len);
            for (int k = 0; k < 1 + round % 3; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                m[(seed >> 33) % len] ^= (uint8_t)(1u << ((seed >> 20) & 7));
            }
            wb_batch *d;
            total++;
            if (codec_decode_batch(m, len, &d) == 0) {
                uint8_t *re;
                size_t rl;
                accepted++;
                int rc = codec_encode_batch(d, &re, &rl);
                int same = rc == 0 && rl == len && memcmp(re, m, len) == 0;
                if (rc == 0)
                    free(re);
                codec_batch_free(d);
                if (!same) {
                    free(m);
                    free(buf);
                    CHECK_MSG(0, "%s: accepted mutation does not re-encode",
                              name);
                }
            }
            free(m);
        }
        free(buf);
    }
    fprintf(stderr, "  %zu of %zu mutations decoded (all canonical)\n",
            accepted, total);
    CHECK(accepted > 0 && accepted < total);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-vectors") == 0)
        return write_vectors(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return write_corpus(argv[2]);
    WB_RUN(test_vectors_file);
    WB_RUN(test_roundtrip_and_size);
    WB_RUN(test_every_truncation);
    WB_RUN(test_bad_vectors_in_source);
    WB_RUN(test_bounds_exact);
    WB_RUN(test_encoder_validates);
    WB_RUN(test_utf8_table);
    WB_RUN(test_json_numbers_and_escapes);
    WB_RUN(test_mutations_canonical);
    return wb_test_summary();
}
