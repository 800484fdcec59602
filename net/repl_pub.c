/*
 * repl_pub.c: the publisher thread: local oplog -> Redis shard streams.
 *
 * It tails the oplog from the durable "publish" cursor (snap cursor: the
 * last oplog seq handled), up to the engine's durable seq, and keeps only
 * records whose ops this node originated (stamp.node == own id; replicated
 * records are other nodes' to publish). One round takes up to
 * PUB_MAX_RECORDS records and sends ONE XADD per shard touched, pipelined,
 * each with MAXLEN ~ retention. Only when every XADD succeeded does the
 * cursor move; it is persisted at most every PUB_PERSIST_MS (a crash
 * before that republishes a few entries: readers drop them by oseq).
 * The engine floor "repl" keeps the oplog segments not yet published.
 *
 * Redis down: the round fails, the connection is dropped and retried with
 * backoff; the cursor did not move, so what was written meanwhile is
 * published on return. Every second the thread also heartbeats
 * (wb:nodes) and publishes changed board metadata (repl_meta.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "repl_internal.h"
#include "wb_error.h"
#include "wb_records.h"

#define PUB_MAX_RECORDS 512u
#define PUB_MAX_BYTES (8u << 20)
#define PUB_PERSIST_MS 200
#define PUB_BEAT_MS 1000
#define PUB_META_MS 300

typedef struct pub_shard {
    uint8_t *buf;
    size_t len, cap;
    uint64_t max_oseq;
    uint32_t nops;
} pub_shard;

typedef struct pub {
    repl *r;
    redisContext *c;
    oplog_reader *rd;
    uint64_t cursor;      /* last seq handled (published or skipped) */
    uint64_t persisted;   /* cursor value in LMDB */
    int64_t persisted_ms;
    int64_t beat_ms, meta_ms;
    int64_t meta_every_ms; /* PUB_META_MS, or 20x the last scan's time */
    pub_shard *sh;
    uint64_t *prev;       /* per shard: max oseq of our last entry */
} pub;

static int shard_add(pub_shard *s, const uint8_t *p, uint32_t len)
{
    if (s->len + 4 + len > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + 4 + len)
            cap *= 2;
        uint8_t *nb = realloc(s->buf, cap);
        if (!nb)
            return WB_ENOMEM;
        s->buf = nb;
        s->cap = cap;
    }
    uint8_t *d = s->buf + s->len;
    d[0] = (uint8_t)len;
    d[1] = (uint8_t)(len >> 8);
    d[2] = (uint8_t)(len >> 16);
    d[3] = (uint8_t)(len >> 24);
    memcpy(d + 4, p, len);
    s->len += 4 + len;
    return 0;
}

/* Adds the own ops of one record to its shard (re-encoded if it mixes
 * origins, which only a repair of our own ops could produce). */
static int pub_record(pub *P, const oplog_record *rec)
{
    repl *r = P->r;
    if (rec->type != WB_REC_OPS)
        return 0;
    wb_batch *b;
    int rc = codec_decode_batch(rec->payload, rec->len, &b);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "replication: undecodable oplog record skipped",
               WBF_UINT("seq", rec->seq), WBF_ERR(rc));
        return 0;
    }
    uint32_t own = 0;
    uint64_t maxo = 0;
    for (uint32_t i = 0; i < b->nops; i++)
        if (b->ops[i].stamp.node == r->self) {
            b->ops[own++] = b->ops[i];
            if (b->ops[i].stamp.oseq > maxo)
                maxo = b->ops[i].stamp.oseq;
        }
    if (own) {
        pub_shard *s = &P->sh[repl_shard_of(r, b->board.ptr, b->board.len)];
        if (own == b->nops) {
            rc = shard_add(s, rec->payload, rec->len);
        } else {
            uint8_t *enc;
            size_t len;
            b->nops = own;
            rc = codec_encode_batch(b, &enc, &len);
            if (!rc) {
                rc = shard_add(s, enc, (uint32_t)len);
                free(enc);
            }
        }
        if (maxo > s->max_oseq)
            s->max_oseq = maxo;
        s->nops += own;
    }
    codec_batch_free(b);
    return rc;
}

/* Sends one XADD per non-empty shard, pipelined. 0, or -1 (connection
 * unusable). */
static int pub_send(pub *P, uint32_t *nops)
{
    repl *r = P->r;
    char key[32], maxlen[24], o[24], t[24], q[24], p[24];
    int sent = 0;
    snprintf(maxlen, sizeof maxlen, "%lld", (long long)r->retention);
    snprintf(o, sizeof o, "%llu", (unsigned long long)r->self);
    snprintf(t, sizeof t, "%lld", (long long)repl_now_ms());
    for (int i = 0; i < r->shards; i++) {
        pub_shard *s = &P->sh[i];
        if (!s->len)
            continue;
        repl_stream_key(i, key, sizeof key);
        snprintf(q, sizeof q, "%llu", (unsigned long long)s->max_oseq);
        snprintf(p, sizeof p, "%llu", (unsigned long long)P->prev[i]);
        const char *argv[] = {"XADD", key, "MAXLEN", "~", maxlen, "*", "o", o,
                              "t", t, "q", q, "p", p, "r", (char *)s->buf};
        size_t argl[16];
        for (int k = 0; k < 15; k++)
            argl[k] = strlen(argv[k]);
        argl[15] = s->len;
        if (redisAppendCommandArgv(P->c, 16, argv, argl) != REDIS_OK)
            return -1;
        sent++;
    }
    int bad = 0;
    for (int k = 0; k < sent; k++) {
        void *rep = NULL;
        if (redisGetReply(P->c, &rep) != REDIS_OK)
            return -1;
        if (repl_reply_ok(P->c, rep))
            bad = 1;
    }
    if (bad)
        return -1;
    *nops = 0;
    for (int i = 0; i < r->shards; i++) {
        if (P->sh[i].len) {
            P->prev[i] = P->sh[i].max_oseq;
            *nops += P->sh[i].nops;
            if (P->sh[i].max_oseq > atomic_load(&r->pub_oseq))
                atomic_store(&r->pub_oseq, P->sh[i].max_oseq);
        }
    }
    return 0;
}

static void pub_reset_shards(pub *P)
{
    for (int i = 0; i < P->r->shards; i++) {
        P->sh[i].len = 0;
        P->sh[i].max_oseq = 0;
        P->sh[i].nops = 0;
    }
}

static void pub_close_reader(pub *P)
{
    if (P->rd)
        oplog_reader_close(P->rd);
    P->rd = NULL;
}

/* One round. 1 published (or skipped) something, 0 nothing to do, -1
 * Redis failed. */
static int pub_round(pub *P)
{
    repl *r = P->r;
    engine_stats st;
    engine_get_stats(r->eng, &st);
    if (st.durable_seq <= P->cursor)
        return 0;
    if (!P->rd && oplog_reader_open(r->oplog_dir, P->cursor + 1, &P->rd)) {
        P->rd = NULL;
        return 0;
    }
    pub_reset_shards(P);
    uint64_t last = P->cursor;
    size_t bytes = 0;
    for (uint32_t n = 0; n < PUB_MAX_RECORDS && bytes < PUB_MAX_BYTES;) {
        if (last >= st.durable_seq)
            break;
        oplog_record rec;
        int rc = oplog_reader_next(P->rd, &rec);
        if (rc <= 0) {
            if (rc < 0) {
                uint64_t off = 0;
                const char *where = oplog_reader_where(P->rd, &off);
                WBLOGF(WBLOG_ERROR, "replication: oplog read failed",
                       WBF_STR("segment", where ? where : "?"),
                       WBF_UINT("offset", off), WBF_ERR(rc));
            }
            pub_close_reader(P); /* reopened from the cursor next round */
            break;
        }
        if (rec.seq <= last)
            continue;
        if (pub_record(P, &rec))
            break;
        last = rec.seq;
        bytes += rec.len;
        n++;
    }
    if (last == P->cursor)
        return 0;
    uint32_t nops = 0;
    if (pub_send(P, &nops)) {
        pub_close_reader(P);
        return -1;
    }
    P->cursor = last;
    if (nops)
        metrics_add(r->m_published, nops);
    return 1;
}

static void pub_persist(pub *P, int force)
{
    int64_t now = repl_now_ms();
    if (P->cursor == P->persisted ||
        (!force && now - P->persisted_ms < PUB_PERSIST_MS))
        return;
    if (snap_cursor_set(P->r->store, "publish", P->cursor) == 0) {
        P->persisted = P->cursor;
        P->persisted_ms = now;
        engine_set_floor(P->r->eng, "repl", P->cursor + 1);
    }
}

static int pub_beat(pub *P)
{
    repl *r = P->r;
    int64_t now = repl_now_ms();
    if (now - P->meta_ms >= P->meta_every_ms) {
        /* the scan reads every board's metadata: with many boards it
         * runs less often, so that it stays under ~5% of a core */
        if (repl_meta_publish(r, P->c))
            return -1;
        int64_t took = repl_now_ms() - now;
        P->meta_ms = now;
        P->meta_every_ms = took * 20 > PUB_META_MS ? took * 20 : PUB_META_MS;
    }
    if (now - P->beat_ms < PUB_BEAT_MS)
        return 0;
    P->beat_ms = now;
    char id[24], val[512];
    snprintf(id, sizeof id, "%llu", (unsigned long long)r->self);
    snprintf(val, sizeof val, "{\"addr\":\"%s\",\"ts\":%lld,\"oseq\":%llu}",
             r->advertise, (long long)now,
             (unsigned long long)atomic_load(&r->pub_oseq));
    return repl_reply_ok(P->c, redisCommand(P->c, "HSET %s %s %s",
                                            REPL_KEY_NODES, id, val));
}

/* Redis lost its data (new epoch): entries nobody had read are gone, so
 * every own op still in the oplog is published again (readers drop what
 * they have by origin/oseq). 0, or -1 (Redis failed). */
static int pub_epoch(pub *P)
{
    repl *r = P->r;
    char ep[REPL_EPOCH_LEN + 1];
    if (repl_epoch(P->c, ep))
        return -1;
    if (repl_epoch_changed(r, "repl/epoch/pub", ep)) {
        WBLOGF(WBLOG_WARN,
               "replication: Redis lost its data (new epoch); publishing "
               "again every own op still in the oplog",
               WBF_STR("epoch", ep), WBF_UINT("fromCursor", P->cursor));
        pub_close_reader(P);
        P->cursor = 0;
        memset(P->prev, 0, (size_t)r->shards * sizeof *P->prev);
        pub_persist(P, 1);
        if (P->persisted != 0)
            return -1; /* cursor not stored: do not record the epoch */
    }
    return snap_kv_put(r->store, "repl/epoch/pub", ep, REPL_EPOCH_LEN) ? -1
                                                                       : 0;
}

static void pub_loop(pub *P)
{
    repl *r = P->r;
    unsigned backoff = 100;
    while (!atomic_load(&r->stop)) {
        if (!P->c) {
            P->c = repl_connect(r, 1000);
            if (!P->c) {
                repl_set_up(r, REPL_T_PUB, 0);
                pub_persist(P, 0);
                repl_sleep(r, backoff);
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                continue;
            }
            if (pub_epoch(P)) { /* answers but does not work: LOADING... */
                redisFree(P->c);
                P->c = NULL;
                repl_set_up(r, REPL_T_PUB, 0);
                repl_sleep(r, backoff);
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                continue;
            }
            backoff = 100;
            P->beat_ms = P->meta_ms = 0;
            repl_meta_free(); /* offer all metadata again: Redis may have
                                 come back without its data */
            repl_set_up(r, REPL_T_PUB, 1);
        }
        int rc = pub_beat(P);
        if (!rc)
            rc = pub_round(P);
        if (rc < 0) {
            redisFree(P->c);
            P->c = NULL;
            repl_set_up(r, REPL_T_PUB, 0);
            continue;
        }
        pub_persist(P, 0);
        if (rc == 0)
            repl_wait(r, 100);
    }
}

void *repl_pub_main(void *arg)
{
    repl *r = arg;
    pub P;
    memset(&P, 0, sizeof P);
    P.r = r;
    P.sh = calloc((size_t)r->shards, sizeof *P.sh);
    P.prev = calloc((size_t)r->shards, sizeof *P.prev);
    if (!P.sh || !P.prev) {
        WBLOG(WBLOG_ERROR, "replication: publisher out of memory");
        free(P.sh);
        free(P.prev);
        return NULL;
    }
    if (snap_cursor_get(r->store, "publish", &P.cursor) != 0)
        P.cursor = 0;
    P.persisted = P.cursor;
    P.meta_every_ms = PUB_META_MS;
    engine_set_floor(r->eng, "repl", P.cursor + 1);
    pub_loop(&P);
    pub_persist(&P, 1);
    pub_close_reader(&P);
    if (P.c)
        redisFree(P.c);
    for (int i = 0; i < r->shards; i++)
        free(P.sh[i].buf);
    free(P.sh);
    free(P.prev);
    return NULL;
}
