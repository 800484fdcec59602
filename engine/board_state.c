/*
 * board_state.c: the canonical binary state of a board (snapshots, the
 * welcome message) and its hash. Normative layout: docs/board-model.md.
 *
 *   state  = magic "WBST" version:u8(=1) board:id vv nrec:uvar record{nrec}
 *   record = id:id tflag:u8 [tomb:stamp]            tflag 0 or 1
 *            nst:uvar stamp{nst}                    0..17, strictly ascending,
 *                                                   each > tomb
 *            nprops:uvar (key:uvar sidx:uvar value){nprops}
 *                                                   keys strictly ascending,
 *                                                   sidx < nst
 *   (vv: vv.h; stamp, id, values: codec.h / codec_props.c)
 *
 * Records are sorted by id bytewise (strictly, so ids are unique); every
 * stamp is referenced by some property; a record has a tombstone or at
 * least one property. With these rules the encoding of a state is unique,
 * so XXH3 of it identifies the state, and decode accepts exactly the byte
 * strings that encode re-creates (the fuzz harness checks this).
 *
 * Decoding is bounded like the op decoder: counts are checked against the
 * bytes left before anything is sized from them.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "board_internal.h"
#include "codec_internal.h"
#include "wb_error.h"

#define BOARD_STATE_MAGIC "WBST"
#define BOARD_STATE_VERSION 1u
/* Smallest record: 1-byte id (2 bytes), tflag, nst, nprops. */
#define BOARD_STATE_MIN_RECORD 5u

_Static_assert(sizeof BOARD_STATE_MAGIC - 1 == 4, "magic is 4 bytes");

/* ---- encode ----------------------------------------------------------- */

static void board_put_record(codec_writer *w, const board_elem *e)
{
    /* Sort the stamp table (at most 17 entries) and renumber. */
    uint8_t order[WB_PROP_COUNT + 1], rank[WB_PROP_COUNT + 1];
    for (uint8_t i = 0; i < e->nst; i++) {
        uint8_t j = i;
        while (j > 0 && wb_stamp_cmp(&e->st[order[j - 1]], &e->st[i]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    for (uint8_t i = 0; i < e->nst; i++)
        rank[order[i]] = i;

    codec_put_str(w, e->id, e->idlen);
    int has_tomb = !wb_stamp_is_zero(&e->tomb);
    codec_put_u8(w, (uint8_t)has_tomb);
    if (has_tomb)
        codec_put_stamp(w, &e->tomb);
    codec_put_uvar(w, e->nst);
    for (uint8_t i = 0; i < e->nst; i++)
        codec_put_stamp(w, &e->st[order[i]]);
    wb_props p;
    board_elem_props(e, &p);
    unsigned n = 0;
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++)
        n += (e->live >> k) & 1u;
    codec_put_uvar(w, n);
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(e->live & WB_PROP_BIT(k)))
            continue;
        codec_put_uvar(w, k);
        codec_put_uvar(w, rank[e->sidx[k]]);
        codec_put_prop_value(w, k, &p);
    }
}

/* Records are visited in id order, which is random in memory: without
 * prefetching, a large board's encode waits on a cache miss for each
 * record and again for its stamp table and strings. The record PF_FAR
 * ahead is fetched, and the out-of-line parts of the one PF_NEAR ahead
 * (its header has arrived by then). Written in the loop, not in a helper:
 * GCC takes a function made only of prefetches for a pure one and drops
 * the call. */
#define PF_FAR 12u
#define PF_NEAR 6u

static int board_put_state(codec_writer *w, const board *b)
{
    board_elem **recs;
    int rc = board_sorted_records(b, &recs);
    if (rc)
        return rc;
    codec_put_bytes(w, BOARD_STATE_MAGIC, 4);
    codec_put_u8(w, BOARD_STATE_VERSION);
    codec_put_str(w, b->id, strlen(b->id));
    const vv *v = &b->version;
    codec_put_uvar(w, v->n);
    for (uint32_t i = 0; i < v->n; i++) {
        codec_put_uvar(w, v->e[i].node);
        codec_put_uvar(w, v->e[i].seq);
    }
    codec_put_uvar(w, b->count);
    for (size_t i = 0; i < b->count; i++) {
        if (i + PF_FAR < b->count) {
            const char *f = (const char *)recs[i + PF_FAR];
            __builtin_prefetch(f);
            __builtin_prefetch(f + 64);
            __builtin_prefetch(f + 128);
        }
        if (i + PF_NEAR < b->count) {
            const board_elem *e = recs[i + PF_NEAR];
            __builtin_prefetch(e->st);
            if (e->z)
                __builtin_prefetch(e->z);
            if (e->text)
                __builtin_prefetch(e->text);
            if (e->points)
                __builtin_prefetch(e->points);
        }
        board_put_record(w, recs[i]);
    }
    free(recs);
    return w->err;
}

int board_state_encode(const board *b, uint8_t **out, size_t *len)
{
    /* Reserve about the board's heap size up front (usually more than the
     * encoding needs; untouched pages cost nothing) so the output is not
     * copied by repeated doubling. */
    codec_writer w = {.grow = 1};
    w.cap = b->bytes + 4096;
    w.p = malloc(w.cap);
    if (!w.p)
        w.cap = 0;
    int rc = board_put_state(&w, b);
    if (rc) {
        free(w.p);
        return rc;
    }
    *out = w.p;
    *len = w.len;
    return 0;
}

int board_state_hash(const board *b, uint64_t *out)
{
    uint8_t *buf;
    size_t len;
    int rc = board_state_encode(b, &buf, &len);
    if (rc)
        return rc;
    *out = XXH3_64bits(buf, len);
    free(buf);
    return 0;
}

/* ---- decode ----------------------------------------------------------- */

static int board_get_stamps(codec_reader *r, board *b, board_elem *e,
                            uint64_t nst)
{
    wb_stamp prev = e->tomb; /* each stamp must be > tomb and > previous */
    for (uint64_t i = 0; i < nst; i++) {
        wb_stamp s;
        int rc = codec_get_stamp(r, &s);
        if (rc)
            return rc;
        if ((i > 0 || !wb_stamp_is_zero(&prev)) && wb_stamp_cmp(&s, &prev) <= 0)
            return WB_EMALFORMED;
        if (board_elem_add_stamp(b, e, &s) < 0)
            return WB_ENOMEM;
        prev = s;
    }
    return 0;
}

static int board_get_props(codec_reader *r, board *b, board_elem *e,
                           codec_arena *arena)
{
    uint64_t n, prev = 0;
    uint32_t used = 0;
    int rc = codec_get_uvar(r, &n);
    if (rc)
        return rc;
    if (n > WB_PROP_MAX)
        return WB_ETOOBIG;
    if (n * 3 > codec_left(r))
        return WB_ETRUNCATED;
    wb_props p;
    memset(&p, 0, sizeof p);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key, si;
        if ((rc = codec_get_uvar(r, &key)))
            return rc;
        if (key < WB_PROP_MIN || key > WB_PROP_MAX)
            return WB_EUNKNOWN;
        if (key <= prev)
            return WB_EMALFORMED;
        prev = key;
        if ((rc = codec_get_uvar(r, &si)))
            return rc;
        if (si >= e->nst)
            return WB_EMALFORMED;
        used |= 1u << si;
        if ((rc = codec_get_prop_value(r, (unsigned)key, &p, arena)))
            return rc;
        if ((rc = board_elem_set(b, e, (unsigned)key, &p, (uint8_t)si)))
            return rc;
    }
    if (e->nst && used != (1u << e->nst) - 1)
        return WB_EMALFORMED; /* an unreferenced stamp */
    if (!e->live && wb_stamp_is_zero(&e->tomb))
        return WB_EMALFORMED; /* an empty record */
    return 0;
}

static int board_get_record(codec_reader *r, board *b, wb_str *prev_id)
{
    wb_str id;
    uint8_t tflag;
    uint64_t nst;
    int rc = codec_get_str(r, WB_MAX_ID_LEN, &id);
    if (rc)
        return rc;
    if ((rc = codec_check_id(id.ptr, id.len, 0)))
        return rc;
    if (prev_id->ptr) {
        uint32_t m = id.len < prev_id->len ? id.len : prev_id->len;
        int c = memcmp(prev_id->ptr, id.ptr, m);
        if (c > 0 || (c == 0 && prev_id->len >= id.len))
            return WB_EMALFORMED; /* unsorted or duplicate id */
    }
    *prev_id = id;
    board_elem *e;
    if ((rc = board_insert_record(b, id.ptr, id.len, &e)))
        return rc;
    if ((rc = codec_get_u8(r, &tflag)))
        return rc;
    if (tflag > 1)
        return WB_EMALFORMED;
    if (tflag && (rc = codec_get_stamp(r, &e->tomb)))
        return rc;
    if ((rc = codec_get_uvar(r, &nst)))
        return rc;
    if (nst > WB_PROP_MAX)
        return WB_EMALFORMED; /* more stamps than properties */
    if ((rc = board_get_stamps(r, b, e, nst)))
        return rc;
    codec_arena arena = {0};
    rc = board_get_props(r, b, e, &arena);
    codec_arena_free(&arena);
    return rc;
}

static int board_get_state(codec_reader *r, const board_limits *limits,
                           board **out)
{
    const uint8_t *magic;
    uint8_t version;
    wb_str id;
    uint64_t n;
    int rc = codec_get_bytes(r, 4, &magic);
    if (rc)
        return rc;
    if (memcmp(magic, BOARD_STATE_MAGIC, 4) != 0)
        return WB_EBADMAGIC;
    if ((rc = codec_get_u8(r, &version)))
        return rc;
    if (version != BOARD_STATE_VERSION)
        return WB_EBADVERSION;
    if ((rc = codec_get_str(r, WB_MAX_ID_LEN, &id)))
        return rc;
    if ((rc = codec_check_id(id.ptr, id.len, 0)))
        return rc;
    board *b;
    if ((rc = board_create(id.ptr, id.len, limits, &b)))
        return rc;
    size_t used;
    rc = vv_decode(&b->version, r->p + r->pos, codec_left(r), &used);
    if (!rc) {
        r->pos += used;
        rc = codec_get_uvar(r, &n);
    }
    if (!rc && n > codec_left(r) / BOARD_STATE_MIN_RECORD)
        rc = WB_ETRUNCATED;
    wb_str prev = {NULL, 0};
    for (uint64_t i = 0; !rc && i < n; i++)
        rc = board_get_record(r, b, &prev);
    if (!rc && codec_left(r))
        rc = WB_EMALFORMED; /* trailing bytes */
    if (rc) {
        board_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int board_state_decode(const uint8_t *buf, size_t len,
                       const board_limits *limits, board **out)
{
    if (!buf && len)
        return WB_EINVAL;
    codec_reader r = {.p = buf, .len = len};
    return board_get_state(&r, limits, out);
}
