/*
 * repl_sub.c: the reader thread: Redis shard streams -> local engine.
 *
 * Per shard it keeps a cursor (the last stream id handled) and, per
 * origin, the highest oseq seen in that shard ("seen"). Both are stored in
 * LMDB (snap kv "repl/s/<shard>": "<ms>-<seq> origin:oseq ...") and
 * committed only after engine_flush: whatever a committed cursor covers is
 * durable in the local oplog, so a crash re-reads at most what was not
 * yet durable (readers and the engine drop duplicates by origin/oseq).
 *
 * Loop: XREAD COUNT BLOCK 500 over the shards not waiting for a repair;
 * each entry of another origin is checked for a gap, then its batches are
 * decoded and handed to engine_submit_remote. Every 5 s, and on every
 * (re)connection, it merges board metadata and checks each stream for
 * trimmed entries past the cursor.
 *
 * Gaps. An entry carries p, the max oseq of its origin's previous entry in
 * the same shard. p > seen[origin] means entries of that origin were lost
 * (trimmed past our cursor, or Redis lost its data); a stream whose first
 * entry is newer than a cursor and that has trimmed entries is a gap too.
 * A gap is logged, counted (replication_gap_total) and the shard stops
 * reading until every board of the shard has been merged with the full
 * state of every live peer (repl_repair.c); reading then resumes at the
 * same cursor. Repairing before reading on matters: the engine drops
 * remote ops at or below the board's version vector, so ops older than
 * what was read after the gap could no longer be merged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "repl_entry.h"
#include "repl_internal.h"
#include "wb_error.h"

#define SUB_MAX_SEEN 128
#define SUB_COMMIT_MS 500 /* one LMDB commit per dirty shard: bounded rate */
#define SUB_CHECK_MS 5000
#define SUB_META_MS 300

typedef struct sub_id {
    uint64_t ms, seq;
} sub_id;

typedef struct sub_shard {
    sub_id cur;
    uint64_t seen_node[SUB_MAX_SEEN], seen_oseq[SUB_MAX_SEEN];
    int nseen;
    int dirty;     /* cursor moved since the last commit */
    int gap;       /* waiting for a repair */
    int forcing;   /* re-reading after lost ops: up to force_until */
    int repair_force; /* the last repair lost ops: the next one forces */
    sub_id force_until;
} sub_shard;

typedef struct sub {
    repl *r;
    redisContext *c;
    sub_shard *sh;
    int64_t commit_ms, check_ms, meta_ms;
    char epoch_pending[REPL_EPOCH_LEN + 1]; /* stored once repaired */
    long long meta_ver;
    uint64_t lost_mark; /* engine_stats.remote_lost already handled */
} sub;

static int id_parse(const char *s, sub_id *out)
{
    char *end;
    out->ms = strtoull(s, &end, 10);
    if (*end != '-')
        return -1;
    out->seq = strtoull(end + 1, &end, 10);
    return *end ? -1 : 0;
}

static int id_cmp(sub_id a, sub_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    return a.seq < b.seq ? -1 : a.seq > b.seq;
}

static uint64_t *seen_slot(sub_shard *s, uint64_t origin, int add)
{
    for (int i = 0; i < s->nseen; i++)
        if (s->seen_node[i] == origin)
            return &s->seen_oseq[i];
    if (!add || s->nseen == SUB_MAX_SEEN)
        return NULL;
    s->seen_node[s->nseen] = origin;
    s->seen_oseq[s->nseen] = 0;
    return &s->seen_oseq[s->nseen++];
}

/* ---- durable cursors ---------------------------------------------------- */

static void sub_load(sub *S, int i)
{
    char key[32], buf[SNAP_BLOB_MAX + 1];
    size_t len = 0;
    snprintf(key, sizeof key, "repl/s/%d", i);
    sub_shard *s = &S->sh[i];
    if (snap_kv_get(S->r->store, key, buf, SNAP_BLOB_MAX, &len) != 0)
        return;
    buf[len] = '\0';
    char *save = NULL;
    char *tok = strtok_r(buf, " ", &save);
    if (!tok || id_parse(tok, &s->cur))
        s->cur = (sub_id){0, 0};
    while ((tok = strtok_r(NULL, " ", &save)) != NULL) {
        unsigned long long org, oseq;
        sub_id f;
        if (tok[0] == 'f' && id_parse(tok + 1, &f) == 0) {
            if (!s->forcing || id_cmp(f, s->force_until) > 0)
                s->force_until = f;
            s->forcing = 1; /* a forced re-read a restart interrupted */
        } else if (sscanf(tok, "%llu:%llu", &org, &oseq) == 2) {
            uint64_t *slot = seen_slot(s, org, 1);
            if (slot)
                *slot = oseq;
        }
    }
}

static int sub_store(sub *S, int i)
{
    sub_shard *s = &S->sh[i];
    char key[32], buf[SNAP_BLOB_MAX];
    snprintf(key, sizeof key, "repl/s/%d", i);
    int n = snprintf(buf, sizeof buf, "%llu-%llu",
                     (unsigned long long)s->cur.ms,
                     (unsigned long long)s->cur.seq);
    if (s->forcing)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " f%llu-%llu",
                      (unsigned long long)s->force_until.ms,
                      (unsigned long long)s->force_until.seq);
    for (int k = 0; k < s->nseen && n < (int)sizeof buf - 48; k++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %llu:%llu",
                      (unsigned long long)s->seen_node[k],
                      (unsigned long long)s->seen_oseq[k]);
    return snap_kv_put(S->r->store, key, buf, (size_t)n);
}

/* Ops handed to the engine that its oplog failed to log (WB_EFULL: the
 * flush barrier still passes, engine_flush.c) must not be covered by a
 * stored cursor. When remote_lost grew, every shard goes back to its
 * stored cursor and re-reads up to where it was with
 * engine_submit_remote_force: the lost ops are below the boards' vectors
 * once later ops of their origins were logged. Returns 1 if so. */
static int sub_lost(sub *S)
{
    engine_stats st;
    engine_get_stats(S->r->eng, &st);
    if (st.remote_lost == S->lost_mark)
        return 0;
    WBLOGF(WBLOG_ERROR,
           "replication: ops read from Redis were not logged here (oplog "
           "append failed); re-reading them from the stored cursors",
           WBF_UINT("lostOps", st.remote_lost - S->lost_mark));
    S->lost_mark = st.remote_lost;
    for (int i = 0; i < S->r->shards; i++) {
        sub_shard *s = &S->sh[i];
        if (!s->forcing || id_cmp(s->cur, s->force_until) > 0)
            s->force_until = s->cur;
        s->forcing = 1;
        s->cur = (sub_id){0, 0};
        s->nseen = 0;
        s->dirty = 0;
        if (S->epoch_pending[0]) {
            s->dirty = 1; /* new streams: from their start */
        } else {
            sub_load(S, i); /* keeps the larger force mark */
            /* the same cursor, now with the mark: a restart before the
             * re-read is done still forces it */
            if (sub_store(S, i))
                WBLOGF(WBLOG_ERROR, "replication: forced re-read mark not "
                                    "stored (a restart would drop the lost "
                                    "ops as seen)",
                       WBF_INT("shard", i));
        }
    }
    return 1;
}

/* After engine_flush: everything submitted so far is durable. */
static void sub_commit(sub *S, int force)
{
    int64_t now = repl_now_ms();
    if (!force && now - S->commit_ms < SUB_COMMIT_MS)
        return;
    int any = 0;
    for (int i = 0; i < S->r->shards; i++)
        any |= S->sh[i].dirty;
    if (!any)
        return;
    int rc = engine_flush(S->r->eng, 10000);
    if (sub_lost(S))
        return; /* nothing stored: re-reading from the stored cursors */
    if (rc) {
        WBLOGF(WBLOG_WARN, "replication: cursor not committed (flush)",
               WBF_ERR(rc));
        return;
    }
    for (int i = 0; i < S->r->shards; i++)
        if (S->sh[i].dirty && sub_store(S, i) == 0)
            S->sh[i].dirty = 0;
    S->commit_ms = now;
}

/* ---- entries ------------------------------------------------------------ */

static const redisReply *field(const redisReply *fields, const char *name)
{
    for (size_t k = 0; k + 1 < fields->elements; k += 2)
        if (fields->element[k]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[k]->str, name) == 0)
            return fields->element[k + 1];
    return NULL;
}

static uint64_t field_u64(const redisReply *fields, const char *name)
{
    const redisReply *v = field(fields, name);
    return v && v->type == REDIS_REPLY_STRING ? strtoull(v->str, NULL, 10)
                                              : 0;
}

typedef struct submit_ctx {
    repl *r;
    int force;
    uint64_t origin; /* the entry's "o" */
    uint64_t maxq;   /* highest oseq of origin's ops submitted from it */
} submit_ctx;

static int submit_one(submit_ctx *c, const uint8_t *p, uint32_t len)
{
    repl *r = c->r;
    wb_batch *b;
    int rc = codec_decode_batch(p, len, &b);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "replication: undecodable batch dropped",
               WBF_ERR(rc));
        return 0;
    }
    uint32_t nops = b->nops;
    uint64_t maxq = 0;
    for (uint32_t i = 0; i < nops; i++)
        if (b->ops[i].has_stamp && b->ops[i].stamp.node == c->origin &&
            b->ops[i].stamp.oseq > maxq)
            maxq = b->ops[i].stamp.oseq;
    rc = WB_ECLOSED; /* stopping before the first try: not submitted */
    for (int tries = 0; tries < 20000 && !atomic_load(&r->stop); tries++) {
        rc = c->force ? engine_submit_remote_force(r->eng, b)
                      : engine_submit_remote(r->eng, b);
        if (rc != WB_EAGAIN)
            break;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    if (rc) {
        codec_batch_free(b);
        return rc;
    }
    if (maxq > c->maxq)
        c->maxq = maxq;
    metrics_add(r->m_applied, nops);
    return 0;
}

static int submit_cb(void *arg, const uint8_t *rec, uint32_t len)
{
    int rc = submit_one(arg, rec, len);
    return rc ? -1 : 0; /* -1: the engine refused (not a framing code) */
}

/* The records of one entry; c->maxq receives the highest oseq of the
 * entry's origin among the ops submitted. 0, or -1: the engine refused a
 * record (entry not consumed; what it took before is dropped as a
 * duplicate next time). A record cut short is logged and the entry
 * consumed: the bytes will not change on a second read. */
static int submit_records(submit_ctx *c, const redisReply *blob)
{
    int rc = repl_entry_records((const uint8_t *)blob->str, blob->len,
                                submit_cb, c, NULL);
    if (rc == -1)
        return -1;
    if (rc)
        WBLOGF(WBLOG_ERROR, "replication: truncated stream entry",
               WBF_ERR(rc));
    return 0;
}

static void peer_update(repl *r, uint64_t origin, uint64_t q, int64_t t)
{
    pthread_mutex_lock(&r->mu);
    repl_peer *pe = repl_peer_get(r, origin);
    if (pe) {
        if (q > pe->got_oseq)
            pe->got_oseq = q;
        double lag = (double)(repl_now_ms() - t) / 1000.0;
        metrics_set(pe->lag_s, lag > 0 ? lag : 0);
        metrics_set(pe->lag_ops, pe->pub_oseq > pe->got_oseq
                                     ? (double)(pe->pub_oseq - pe->got_oseq)
                                     : 0);
    }
    pthread_mutex_unlock(&r->mu);
}

static void gap_found(sub *S, int i, const char *why, uint64_t origin)
{
    S->sh[i].gap = 1;
    metrics_inc(S->r->m_gaps);
    WBLOGF(WBLOG_WARN,
           "replication gap: stream entries were lost past this node's "
           "cursor; repairing the shard's boards from peers",
           WBF_INT("shard", i), WBF_STR("reason", why),
           WBF_UINT("origin", origin));
}

/* One entry of shard i. 0 handled, 1 gap (stop reading this shard),
 * -1 engine refused (retry later). */
static int sub_entry(sub *S, int i, const redisReply *e)
{
    repl *r = S->r;
    sub_shard *s = &S->sh[i];
    sub_id id;
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        id_parse(e->element[0]->str, &id))
        return 0;
    const redisReply *f = e->element[1];
    uint64_t origin = f->type == REDIS_REPLY_ARRAY ? field_u64(f, "o") : 0;
    if (origin && origin != r->self) {
        uint64_t q = field_u64(f, "q"), prev = field_u64(f, "p");
        uint64_t *seen = seen_slot(s, origin, 0);
        if (seen && *seen && prev > *seen) {
            gap_found(S, i, "entries of an origin are missing", origin);
            return 1;
        }
        const redisReply *blob = field(f, "r");
        submit_ctx c = {r, s->forcing && id_cmp(id, s->force_until) <= 0,
                        origin, 0};
        if (blob && blob->type == REDIS_REPLY_STRING && submit_records(&c, blob))
            return -1;
        /* "seen" advances by what the entry's ops say, not by its q: a q
         * above them (a foreign writer, a bug) would hide later gaps of
         * this origin, and an entry whose ops were all undecodable adds
         * nothing (the next entry's p then shows the loss). */
        if (q != c.maxq)
            WBLOGF(WBLOG_WARN,
                   "replication: stream entry's q does not match its ops; "
                   "using the ops'",
                   WBF_INT("shard", i), WBF_UINT("origin", origin),
                   WBF_UINT("q", q), WBF_UINT("ops_max_oseq", c.maxq));
        if (c.maxq) {
            if (!seen)
                seen = seen_slot(s, origin, 1);
            if (seen && c.maxq > *seen)
                *seen = c.maxq;
            peer_update(r, origin, c.maxq, (int64_t)field_u64(f, "t"));
        }
    }
    s->cur = id;
    s->dirty = 1;
    if (s->forcing && id_cmp(id, s->force_until) >= 0)
        s->forcing = 0; /* back where the loss was found */
    return 0;
}

/* XREAD over the shards not in repair. 0, or -1 (connection unusable). */
static int sub_read(sub *S)
{
    repl *r = S->r;
    int n = r->shards;
    const char **argv = calloc((size_t)(2 * n + 6), sizeof *argv);
    size_t *argl = calloc((size_t)(2 * n + 6), sizeof *argl);
    char(*keys)[32] = calloc((size_t)n, sizeof *keys);
    char(*ids)[48] = calloc((size_t)n, sizeof *ids);
    int rc = 0, k = 0, argc = 0;
    if (!argv || !argl || !keys || !ids) {
        rc = -1;
        goto out;
    }
    argv[argc++] = "XREAD";
    argv[argc++] = "COUNT";
    argv[argc++] = "100";
    argv[argc++] = "BLOCK";
    argv[argc++] = "500";
    argv[argc++] = "STREAMS";
    for (int i = 0; i < n; i++)
        if (!S->sh[i].gap) {
            repl_stream_key(i, keys[k], sizeof keys[k]);
            snprintf(ids[k], sizeof ids[k], "%llu-%llu",
                     (unsigned long long)S->sh[i].cur.ms,
                     (unsigned long long)S->sh[i].cur.seq);
            k++;
        }
    if (!k) {
        repl_sleep(r, 500);
        goto out;
    }
    for (int j = 0; j < k; j++)
        argv[argc++] = keys[j];
    for (int j = 0; j < k; j++)
        argv[argc++] = ids[j];
    for (int j = 0; j < argc; j++)
        argl[j] = strlen(argv[j]);
    redisReply *rep = redisCommandArgv(S->c, argc, argv, argl);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        if (rep)
            WBLOGF(WBLOG_WARN, "replication: XREAD failed",
                   WBF_STR("reply", rep->str));
        freeReplyObject(rep);
        rc = -1;
        goto out;
    }
    if (rep->type == REDIS_REPLY_NIL) { /* caught up everywhere */
        pthread_mutex_lock(&r->mu);
        for (int p = 0; p < r->npeers; p++)
            metrics_set(r->peers[p].lag_s, 0);
        pthread_mutex_unlock(&r->mu);
    }
    for (size_t sidx = 0; rep->type == REDIS_REPLY_ARRAY &&
                          sidx < rep->elements; sidx++) {
        const redisReply *st = rep->element[sidx];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2)
            continue;
        int shard = -1;
        if (st->element[0]->type != REDIS_REPLY_STRING ||
            sscanf(st->element[0]->str, "wb:ops:%d", &shard) != 1 ||
            shard < 0 || shard >= n)
            continue;
        const redisReply *ents = st->element[1];
        if (ents->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t e = 0; e < ents->elements; e++)
            if (sub_entry(S, shard, ents->element[e]))
                break;
    }
    freeReplyObject(rep);
out:
    free(argv);
    free(argl);
    free(keys);
    free(ids);
    return rc;
}

/* ---- periodic checks ---------------------------------------------------- */

/* XINFO STREAM: trimmed entries past the cursor? */
static int sub_check_trim(sub *S, int i)
{
    char key[32];
    repl_stream_key(i, key, sizeof key);
    redisReply *rep = redisCommand(S->c, "XINFO STREAM %s", key);
    if (!rep)
        return -1;
    if (rep->type != REDIS_REPLY_ARRAY) { /* no such stream */
        freeReplyObject(rep);
        return 0;
    }
    long long added = -1, length = -1;
    sub_id first = {0, 0};
    int have_first = 0;
    for (size_t k = 0; k + 1 < rep->elements; k += 2) {
        const redisReply *name = rep->element[k], *v = rep->element[k + 1];
        if (name->type != REDIS_REPLY_STRING)
            continue;
        if (!strcmp(name->str, "length") && v->type == REDIS_REPLY_INTEGER)
            length = v->integer;
        else if (!strcmp(name->str, "entries-added") &&
                 v->type == REDIS_REPLY_INTEGER)
            added = v->integer;
        else if (!strcmp(name->str, "first-entry") &&
                 v->type == REDIS_REPLY_ARRAY && v->elements == 2 &&
                 v->element[0]->type == REDIS_REPLY_STRING)
            have_first = id_parse(v->element[0]->str, &first) == 0;
    }
    freeReplyObject(rep);
    sub_shard *s = &S->sh[i];
    if (added > length && length >= 0 && have_first &&
        id_cmp(first, s->cur) > 0 && !s->gap)
        gap_found(S, i, "stream trimmed past the cursor", 0);
    return 0;
}

/* A new Redis epoch (Redis lost its data): every shard is a gap, read
 * again from the start of the new streams. The epoch is stored once the
 * repairs are done (sub_loop), so a crash meanwhile repeats them. */
static int sub_epoch(sub *S)
{
    repl *r = S->r;
    char ep[REPL_EPOCH_LEN + 1];
    if (repl_epoch(S->c, ep))
        return -1;
    if (!repl_epoch_changed(r, "repl/epoch/sub", ep)) {
        if (snap_kv_put(r->store, "repl/epoch/sub", ep, REPL_EPOCH_LEN))
            return -1;
        return 0;
    }
    if (strcmp(S->epoch_pending, ep) == 0)
        return 0; /* already handling it */
    memcpy(S->epoch_pending, ep, sizeof ep);
    for (int i = 0; i < r->shards; i++) {
        sub_shard *s = &S->sh[i];
        s->cur = (sub_id){0, 0};
        s->nseen = 0;
        s->dirty = 1;
        if (!s->gap)
            gap_found(S, i, "Redis lost its data (new epoch)", 0);
    }
    return 0;
}

static int sub_checks(sub *S, int force)
{
    repl *r = S->r;
    int64_t now = repl_now_ms();
    if (force || now - S->meta_ms >= SUB_META_MS) {
        S->meta_ms = now;
        if (repl_meta_pull(r, S->c, &S->meta_ver) ||
            repl_peers_refresh(r, S->c))
            return -1;
    }
    if (!force && now - S->check_ms < SUB_CHECK_MS)
        return 0;
    S->check_ms = now;
    for (int i = 0; i < r->shards; i++)
        if (sub_check_trim(S, i))
            return -1;
    return 0;
}

/* Repairs the shards in gap; a repaired shard forgets its per-origin
 * checks (the next entries start a new chain). */
static void sub_repairs(sub *S)
{
    for (int i = 0; i < S->r->shards; i++) {
        sub_shard *s = &S->sh[i];
        if (!s->gap)
            continue;
        sub_commit(S, 1); /* what was read before the gap, first */
        int rc = repl_repair_shard(S->r, S->c, i, s->repair_force);
        s->repair_force = rc == WB_EFULL;
        if (rc == WB_EFULL) {
            engine_stats st;
            engine_get_stats(S->r->eng, &st);
            S->lost_mark = st.remote_lost; /* the repair's, not the stream's */
            WBLOGF(WBLOG_ERROR, "replication gap repair: merged ops were "
                                "not logged (oplog append failed); "
                                "repairing again",
                   WBF_INT("shard", i));
        }
        if (rc == WB_ENOTFOUND || rc == WB_EIO)
            break; /* no live peer (said once), or Redis: next round */
        if (rc == 0) {
            s->gap = 0;
            s->nseen = 0;
            s->dirty = 1;
            WBLOGF(WBLOG_INFO, "replication gap repaired",
                   WBF_INT("shard", i));
        }
    }
}

static void sub_loop(sub *S)
{
    repl *r = S->r;
    unsigned backoff = 100;
    int64_t last_repair = 0;
    while (!atomic_load(&r->stop)) {
        if (!S->c) {
            S->c = repl_connect(r, 1000);
            if (!S->c) {
                repl_set_up(r, REPL_T_SUB, 0);
                repl_sleep(r, backoff);
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                continue;
            }
            if (sub_epoch(S) || sub_checks(S, 1)) {
                repl_sleep(r, backoff);
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                goto drop;
            }
            backoff = 100;
            repl_set_up(r, REPL_T_SUB, 1); /* up once it answered */
        }
        if (sub_checks(S, 0))
            goto drop;
        int any_gap = 0;
        for (int i = 0; i < r->shards; i++)
            any_gap |= S->sh[i].gap;
        if (any_gap && repl_now_ms() - last_repair >= 2000) {
            last_repair = repl_now_ms();
            sub_repairs(S);
        }
        if (S->epoch_pending[0] && !any_gap) {
            sub_commit(S, 1);
            if (snap_kv_put(r->store, "repl/epoch/sub", S->epoch_pending,
                            REPL_EPOCH_LEN) == 0)
                S->epoch_pending[0] = '\0';
        }
        if (sub_read(S))
            goto drop;
        sub_commit(S, 0);
        continue;
    drop:
        redisFree(S->c);
        S->c = NULL;
        repl_set_up(r, REPL_T_SUB, 0);
        sub_commit(S, 1);
    }
}

void *repl_sub_main(void *arg)
{
    repl *r = arg;
    sub S;
    memset(&S, 0, sizeof S);
    S.r = r;
    S.meta_ver = -1;
    S.sh = calloc((size_t)r->shards, sizeof *S.sh);
    if (!S.sh) {
        WBLOG(WBLOG_ERROR, "replication: reader out of memory");
        return NULL;
    }
    for (int i = 0; i < r->shards; i++)
        sub_load(&S, i);
    engine_stats st;
    engine_get_stats(r->eng, &st);
    S.lost_mark = st.remote_lost;
    sub_loop(&S);
    sub_commit(&S, 1);
    if (S.c)
        redisFree(S.c);
    free(S.sh);
    return NULL;
}
