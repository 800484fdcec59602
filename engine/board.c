/*
 * board.c: the board object: creation, the element hash map, accessors,
 * sorted iteration and tombstone purge. Records and their values are
 * board_elem.c; the merge itself (apply, check) is board_apply.c;
 * renderings are board_json.c and board_state.c. The
 * layout and its invariants are in board_internal.h; the merge rule in
 * board.h and docs/board-model.md.
 *
 * The map is open addressing with linear probing over element pointers,
 * keyed by XXH3-64 of the id with a random per-board seed (ids are chosen
 * by clients: a fixed hash would let one craft colliding ids and turn every
 * probe into a scan), grown at 70% load; removal (purge only) uses
 * backward-shift deletion so no tombstone slots are needed in the map.
 * Called by the engine thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "board_internal.h"
#include "codec_internal.h"
#include "wb_error.h"

void board_limits_default(board_limits *l)
{
    l->max_elements = 100000;
    l->max_bytes = 256ull << 20;
    l->max_points = WB_MAX_POINTS;
    l->max_text = WB_MAX_TEXT_BYTES;
}

int board_create(const char *id, size_t id_len, const board_limits *limits,
                 board **out)
{
    if (!id || codec_check_id(id, id_len, 0) != 0)
        return WB_EINVAL;
    board *b = calloc(1, sizeof *b);
    if (!b)
        return WB_ENOMEM;
    memcpy(b->id, id, id_len);
    if (getrandom(&b->seed, sizeof b->seed, GRND_NONBLOCK) != sizeof b->seed)
        b->seed = XXH3_64bits_withSeed(&b, sizeof b, (uint64_t)time(NULL));
    if (limits)
        b->limits = *limits;
    else
        board_limits_default(&b->limits);
    vv_init(&b->version);
    *out = b;
    return 0;
}

void board_free(board *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i])
            board_elem_free(b, b->slots[i]);
    free(b->slots);
    vv_free(&b->version);
    free(b);
}

const char *board_id(const board *b)
{
    return b->id;
}

void board_get_limits(const board *b, board_limits *out)
{
    *out = b->limits;
}

void board_set_limits(board *b, const board_limits *l)
{
    b->limits = *l;
}

const vv *board_version(const board *b)
{
    return &b->version;
}

uint64_t board_ops_applied(const board *b)
{
    return b->ops_applied;
}

size_t board_element_count(const board *b)
{
    return b->visible;
}

size_t board_record_count(const board *b)
{
    return b->count;
}

size_t board_memory_usage(const board *b)
{
    return sizeof *b + b->bytes + b->cap * sizeof *b->slots +
           (size_t)b->version.cap * sizeof(vv_entry);
}

/* ---- hash map --------------------------------------------------------- */

static uint64_t board_hash(const board *b, const char *id, size_t len)
{
    return XXH3_64bits_withSeed(id, len, b->seed);
}

board_elem *board_find(const board *b, const char *id, size_t len)
{
    if (!b->cap)
        return NULL;
    uint64_t h = board_hash(b, id, len);
    size_t mask = b->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        board_elem *e = b->slots[i];
        if (!e)
            return NULL;
        if (e->hash == h && e->idlen == len && memcmp(e->id, id, len) == 0)
            return e;
    }
}

static void board_slot_put(board_elem **slots, size_t cap, board_elem *e)
{
    size_t mask = cap - 1;
    size_t i = e->hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = e;
}

static int board_grow(board *b)
{
    size_t cap = b->cap ? b->cap * 2 : 64;
    board_elem **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return WB_ENOMEM;
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i])
            board_slot_put(slots, cap, b->slots[i]);
    free(b->slots);
    b->slots = slots;
    b->cap = cap;
    return 0;
}

int board_insert_record(board *b, const char *id, size_t len,
                        board_elem **out)
{
    if ((b->count + 1) * 10 > b->cap * 7) {
        int rc = board_grow(b);
        if (rc)
            return rc;
    }
    board_elem *e = board_elem_new(b, id, len);
    if (!e)
        return WB_ENOMEM;
    e->hash = board_hash(b, id, len);
    board_slot_put(b->slots, b->cap, e);
    b->count++;
    *out = e;
    return 0;
}

/* Removes the record in slot i (backward-shift deletion) and frees it. */
static void board_remove_slot(board *b, size_t i)
{
    size_t mask = b->cap - 1;
    board_elem_free(b, b->slots[i]);
    b->slots[i] = NULL;
    b->count--;
    for (size_t j = (i + 1) & mask; b->slots[j]; j = (j + 1) & mask) {
        size_t home = b->slots[j]->hash & mask;
        /* Move j back into the hole unless its home lies in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        b->slots[i] = b->slots[j];
        b->slots[j] = NULL;
        i = j;
    }
}

void board_remove_record(board *b, board_elem *e)
{
    size_t mask = b->cap - 1;
    for (size_t i = e->hash & mask; b->slots[i]; i = (i + 1) & mask) {
        if (b->slots[i] == e) {
            if (e->live & WB_PROP_BIT(WB_PROP_TYPE))
                b->visible--;
            board_remove_slot(b, i);
            return;
        }
    }
}

int board_get_element(const board *b, const char *id, size_t id_len,
                      wb_props *out)
{
    const board_elem *e = board_find(b, id, id_len);
    if (!e || !(e->live & WB_PROP_BIT(WB_PROP_TYPE)))
        return WB_ENOTFOUND;
    board_elem_props(e, out);
    return 0;
}

int board_get_stamp(const board *b, const char *id, size_t id_len,
                    unsigned prop, wb_stamp *out)
{
    const board_elem *e = board_find(b, id, id_len);
    if (!e || prop < WB_PROP_MIN || prop > WB_PROP_MAX ||
        !(e->live & WB_PROP_BIT(prop)))
        return WB_ENOTFOUND;
    *out = e->st[e->sidx[prop]];
    return 0;
}

int board_get_tombstone(const board *b, const char *id, size_t id_len,
                        wb_stamp *out)
{
    const board_elem *e = board_find(b, id, id_len);
    if (!e)
        return WB_ENOTFOUND;
    *out = e->tomb;
    return 0;
}

/* Sort key: the first 8 id bytes big endian (ids never contain NUL, so
 * zero padding orders a prefix first), then the rest. Comparing the cached
 * key first keeps the sort out of the records for almost every compare. */
typedef struct board_sort_ent {
    uint64_t key;
    board_elem *e;
} board_sort_ent;

static int board_sort_cmp(const void *pa, const void *pb)
{
    const board_sort_ent *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    size_t la = a->e->idlen, lb = b->e->idlen;
    if (la > 8 && lb > 8) {
        size_t n = (la < lb ? la : lb) - 8;
        int c = memcmp(a->e->id + 8, b->e->id + 8, n);
        if (c)
            return c;
    }
    return (la > lb) - (la < lb);
}

/* LSD radix sort of ent[0..n) by key, 8 bits a pass, through tmp (n
 * entries); passes whose byte is the same in every key are skipped. Then
 * each run of equal keys (ids sharing their first 8 bytes) is sorted by
 * the full comparison. glibc's qsort took 15 ms for 100k records, this
 * about 2. */
static void board_sort_ents(board_sort_ent *ent, board_sort_ent *tmp, size_t n)
{
    board_sort_ent *src = ent, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(src[i].key >> shift) & 0xff]++;
        if (count[(src[0].key >> shift) & 0xff] == n)
            continue; /* one bucket: this byte orders nothing */
        size_t pos = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].key >> shift) & 0xff]++] = src[i];
        board_sort_ent *t = src;
        src = dst;
        dst = t;
    }
    if (src != ent)
        memcpy(ent, src, n * sizeof *ent);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ent[j].key == ent[i].key)
            j++;
        if (j - i > 1)
            qsort(ent + i, j - i, sizeof *ent, board_sort_cmp);
        i = j;
    }
}

int board_sorted_records(const board *b, board_elem ***out)
{
    *out = NULL;
    if (!b->count)
        return 0;
    board_elem **v = malloc(b->count * sizeof *v);
    /* the entries, then as many again for the radix sort's passes */
    board_sort_ent *ent = malloc(2 * b->count * sizeof *ent);
    if (!v || !ent) {
        free(v);
        free(ent);
        return WB_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->cap; i++) {
        board_elem *e = b->slots[i];
        /* the slots are scanned in order, the records they point to are
         * all over the heap: fetch a few ahead (board_state.c) */
        if (i + 16 < b->cap)
            __builtin_prefetch(b->slots[i + 16]);
        if (!e)
            continue;
        uint64_t key = 0;
        for (size_t k = 0; k < 8; k++)
            key = key << 8 | (k < e->idlen ? (uint8_t)e->id[k] : 0);
        ent[n].key = key;
        ent[n++].e = e;
    }
    if (n < 64)
        qsort(ent, n, sizeof *ent, board_sort_cmp);
    else
        board_sort_ents(ent, ent + n, n);
    for (size_t i = 0; i < n; i++)
        v[i] = ent[i].e;
    free(ent);
    *out = v;
    return 0;
}

/* ---- purge ------------------------------------------------------------ */

size_t board_purge_tombstones(board *b, uint64_t older_than_hlc)
{
    size_t purged = 0, marked = 0;
    for (size_t i = 0; i < b->cap; i++) {
        board_elem *e = b->slots[i];
        if (!e || wb_stamp_is_zero(&e->tomb) || e->tomb.hlc >= older_than_hlc)
            continue;
        purged++;
        if (e->live) {
            e->tomb = (wb_stamp){0, 0, 0};
        } else {
            e->purge = 1;
            marked++;
        }
    }
    /* Backward shift only moves records into the hole at or after i, so
     * one pass with a `while` at each slot sees every marked record. */
    for (size_t i = 0; marked && i < b->cap; i++) {
        while (b->slots[i] && b->slots[i]->purge) {
            board_remove_slot(b, i);
            marked--;
        }
    }
    return purged;
}
