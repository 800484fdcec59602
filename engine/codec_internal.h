/*
 * codec_internal.h: building blocks shared by the codec's files and by the
 * other encoders of this module family (vv.c, board_state.c, board_json.c);
 * not for use outside engine/.
 *
 *   codec_io.c     byte writer/reader, LEB128 and zigzag varints, the arena
 *   codec_props.c  property values: validate, encode, decode, compare
 *   codec_enc.c    batch encoder
 *   codec_dec.c    batch decoder
 *   codec_json.c   JSON text buffer, property and batch rendering
 *
 * Varints are minimal: the decoder rejects a final byte 0x00 after a
 * continuation (the same value has a shorter form), so every value has one
 * encoding and decode/encode round trips are byte-exact.
 */
#ifndef WB_CODEC_INTERNAL_H
#define WB_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "op.h"
#include "wb_error.h"

/* ---- writer ----------------------------------------------------------- */

/* Writes into p[0..cap). p == NULL: counts only (len is the size). grow:
 * realloc p (malloc'd, owned by the writer's user) when full. err is
 * sticky: WB_ETOOBIG (fixed buffer full) or WB_ENOMEM. */
typedef struct codec_writer {
    uint8_t *p;
    size_t len;
    size_t cap;
    int grow;
    int err;
} codec_writer;

void codec_put_bytes(codec_writer *w, const void *src, size_t n);
void codec_put_u32be(codec_writer *w, uint32_t v);
void codec_put_uvar_slow(codec_writer *w, uint64_t v);

/* The hot puts are inline: straight into the buffer when 10 bytes are
 * free, else through the general path (counting, growing, full). */
static inline void codec_put_uvar(codec_writer *w, uint64_t v)
{
    if (w->p && w->cap - w->len >= 10 && !w->err) {
        uint8_t *d = w->p + w->len;
        while (v >= 0x80) {
            *d++ = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        *d++ = (uint8_t)v;
        w->len = (size_t)(d - w->p);
        return;
    }
    codec_put_uvar_slow(w, v);
}

static inline void codec_put_svar(codec_writer *w, int64_t v)
{
    codec_put_uvar(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline void codec_put_u8(codec_writer *w, uint8_t v)
{
    if (w->p && w->cap > w->len && !w->err) {
        w->p[w->len++] = v;
        return;
    }
    codec_put_bytes(w, &v, 1);
}
void codec_put_str(codec_writer *w, const char *s, size_t n); /* len + bytes */
void codec_put_stamp(codec_writer *w, const wb_stamp *s);
size_t codec_uvar_size(uint64_t v);

/* ---- reader ----------------------------------------------------------- */

/* Reads from p[pos..len). Each get returns 0 or an error
 * (WB_ETRUNCATED, WB_EMALFORMED) and advances pos only on success. */
typedef struct codec_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
} codec_reader;

static inline size_t codec_left(const codec_reader *r)
{
    return r->len - r->pos;
}
int codec_get_u32be(codec_reader *r, uint32_t *v);
int codec_get_uvar_slow(codec_reader *r, uint64_t *v);

static inline int codec_get_u8(codec_reader *r, uint8_t *v)
{
    if (r->pos >= r->len)
        return WB_ETRUNCATED;
    *v = r->p[r->pos++];
    return 0;
}

/* Inline fast path for one-byte varints (most keys, counts, lengths). */
static inline int codec_get_uvar(codec_reader *r, uint64_t *v)
{
    if (r->pos < r->len && r->p[r->pos] < 0x80) {
        *v = r->p[r->pos++];
        return 0;
    }
    return codec_get_uvar_slow(r, v);
}

static inline int codec_get_svar(codec_reader *r, int64_t *v)
{
    uint64_t u;
    int rc = codec_get_uvar(r, &u);
    if (rc)
        return rc;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return 0;
}
int codec_get_bytes(codec_reader *r, size_t n, const uint8_t **out);
/* A length-prefixed string of at most max bytes: WB_ETOOBIG over max,
 * WB_ETRUNCATED past the end. The bytes are borrowed from the input. */
int codec_get_str(codec_reader *r, uint32_t max, wb_str *out);
/* A stamp; node and oseq must be non-zero (WB_EMALFORMED). */
int codec_get_stamp(codec_reader *r, wb_stamp *out);

/* ---- arena: bump allocator for a decoded batch ----------------------- */

typedef struct codec_chunk codec_chunk;
typedef struct codec_arena {
    codec_chunk *head;
} codec_arena;

/* 8-byte aligned, NULL on ENOMEM. Freed all at once by codec_arena_free. */
void *codec_arena_alloc(codec_arena *a, size_t n);
void codec_arena_free(codec_arena *a);

/* ---- validation helpers ---------------------------------------------- */

/* 0 if s is an id: 1..WB_MAX_ID_LEN (0.. if allow_empty) bytes of
 * [A-Za-z0-9_-]; WB_ETOOBIG if too long; else WB_EMALFORMED. */
int codec_check_id(const char *s, size_t n, int allow_empty);

/* ---- property values (codec_props.c) --------------------------------- */

/* Validates the present values of p (ranges, ids, UTF-8). upsert: mask
 * must be non-empty and within WB_PROP_ALL_MASK. Returns 0 or the decoder's
 * error for the same value. */
int codec_validate_props(const wb_props *p);

/* Writes the value of property key of p (no key, no count). */
void codec_put_prop_value(codec_writer *w, unsigned key, const wb_props *p);

/* Reads the value of property key into p (sets the mask bit). Strings are
 * borrowed from the reader's input; points arrays come from arena. Unknown
 * key: WB_EUNKNOWN. */
int codec_get_prop_value(codec_reader *r, unsigned key, wb_props *p,
                         codec_arena *arena);

/* Compares the values of property key in a and b (both present):
 * <0, 0, >0. A total order on values, used to break stamp ties. */
int codec_prop_cmp(unsigned key, const wb_props *a, const wb_props *b);

/* ---- JSON text (codec_json.c) ---------------------------------------- */

typedef struct codec_sbuf {
    char *p; /* malloc'd, NUL-terminated when err == 0 */
    size_t len;
    size_t cap;
    int err; /* sticky WB_ENOMEM */
} codec_sbuf;

void codec_sbuf_put(codec_sbuf *s, const char *text, size_t n);
void codec_sbuf_puts(codec_sbuf *s, const char *text);
void codec_sbuf_u64(codec_sbuf *s, uint64_t v);
void codec_sbuf_i64(codec_sbuf *s, int64_t v);
/* v / 10^digits rendered exactly, without trailing zeros: 1050,2 -> 10.5 */
void codec_sbuf_fixed(codec_sbuf *s, int64_t v, unsigned digits);
/* A JSON string literal, escaped per RFC 8259 (input must be UTF-8). */
void codec_sbuf_jstr(codec_sbuf *s, const char *text, size_t n);

/* Renders the present properties of p as JSON members, each preceded by a
 * comma: ,"type":"rect","x":10.5,... in key order. */
void codec_json_props(codec_sbuf *s, const wb_props *p);

#endif /* WB_CODEC_INTERNAL_H */
