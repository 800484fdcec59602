/*
 * repl_meta.c: board metadata (title, owner, times, deleted flag) between
 * nodes. Metadata is state, not log: it lives in the Redis hash wb:meta
 * (board id -> compact JSON with sorted keys) and merges last-writer-wins
 * by its updated time "u" (then by the JSON bytes, so every node and Redis
 * agree on one winner).
 *
 *   publish (publisher thread, every second): boards whose local metadata
 *     changed since the last publish are offered to Redis with a script
 *     that keeps the greater of the stored and offered values and bumps
 *     wb:meta:ver when it changes anything.
 *   pull (reader thread, every 5 s and on reconnection): when wb:meta:ver
 *     moved, HGETALL wb:meta and store every entry that beats the local
 *     one (snap_board_put).
 *
 * The publish side remembers, per board, a hash of the JSON it last
 * offered (pub_map: sorted like snap_board_list's order; publisher thread
 * only). After a restart it offers everything once (the script makes that
 * harmless). A board deleted on another node is flagged deleted here (404
 * on the API) and the WebSocket sessions in its room here are closed
 * (not_found, 4004), as a local delete does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "http_internal.h"
#include "log.h"
#include "repl_internal.h"
#include "wb_error.h"
#include "ws_hub.h"

static const char meta_script[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if cur then "
    "  local u = tonumber(cjson.decode(cur)['u']) "
    "  local nu = tonumber(ARGV[2]) "
    "  if u > nu or (u == nu and cur >= ARGV[3]) then return 0 end "
    "end "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) "
    "redis.call('INCR', KEYS[2]) "
    "return 1";

typedef struct pub_ent {
    char id[SNAP_BOARD_ID_MAX + 1];
    uint64_t hash;
} pub_ent;

static pub_ent *pub_map; /* publisher thread only */
static size_t pub_n;

void repl_meta_free(void)
{
    free(pub_map);
    pub_map = NULL;
    pub_n = 0;
}

static char *meta_json(const snap_board_meta *m)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:i}", "u",
                          (json_int_t)m->updated_us, "c",
                          (json_int_t)m->created_us, "t", m->title, "o",
                          m->owner, "d", m->deleted ? 1 : 0);
    if (!o)
        return NULL;
    if (m->settings_len)
        json_object_set_new(o, "s",
                            json_stringn(m->settings, m->settings_len));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

static int meta_parse(const char *bid, const char *text,
                      snap_board_meta *m)
{
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    json_int_t u = 0, c = 0;
    const char *t = NULL, *ow = NULL;
    int d = 0;
    json_t *s = NULL;
    int rc = o && json_unpack(o, "{s:I,s:I,s:s,s:s,s:i,s?o}", "u", &u, "c",
                              &c, "t", &t, "o", &ow, "d", &d, "s", &s) == 0
                 ? 0
                 : WB_EMALFORMED;
    if (!rc && !http_board_id_ok(bid, strlen(bid)))
        rc = WB_EINVAL; /* the id goes into keys, paths, repair requests */
    if (!rc && (strlen(bid) > SNAP_BOARD_ID_MAX ||
                strlen(t) > SNAP_TITLE_MAX || strlen(ow) > SNAP_USER_MAX ||
                (s && (!json_is_string(s) ||
                       json_string_length(s) > SNAP_SETTINGS_MAX))))
        rc = WB_ETOOBIG;
    if (!rc) {
        memset(m, 0, sizeof *m);
        snprintf(m->board, sizeof m->board, "%s", bid);
        snprintf(m->title, sizeof m->title, "%s", t);
        snprintf(m->owner, sizeof m->owner, "%s", ow);
        m->updated_us = u;
        m->created_us = c;
        m->deleted = d != 0;
        if (s) {
            m->settings_len = (uint32_t)json_string_length(s);
            memcpy(m->settings, json_string_value(s), m->settings_len);
        }
    }
    json_decref(o);
    return rc;
}

/* ---- publish ------------------------------------------------------------ */

typedef struct pub_scan {
    repl *r;
    redisContext *c;
    pub_ent *next;
    size_t n, cap, old_i;
    int err;
} pub_scan;

static int pub_offer(pub_scan *x, const snap_board_meta *m, const char *j)
{
    char u[24];
    snprintf(u, sizeof u, "%lld", (long long)m->updated_us);
    redisReply *rep = redisCommand(x->c, "EVAL %s 2 %s %s %s %s %s",
                                   meta_script, REPL_KEY_META,
                                   REPL_KEY_META_VER, m->board, u, j);
    return repl_reply_ok(x->c, rep);
}

static int pub_cb(void *arg, const snap_board_meta *m)
{
    pub_scan *x = arg;
    char *j = meta_json(m);
    if (!j)
        return 0;
    uint64_t h = XXH3_64bits(j, strlen(j));
    while (x->old_i < pub_n && strcmp(pub_map[x->old_i].id, m->board) < 0)
        x->old_i++;
    int known = x->old_i < pub_n &&
                strcmp(pub_map[x->old_i].id, m->board) == 0 &&
                pub_map[x->old_i].hash == h;
    int ok = known || pub_offer(x, m, j) == 0;
    free(j);
    if (!ok) {
        x->err = 1;
        return 1; /* stop: the connection is suspect */
    }
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        pub_ent *nn = realloc(x->next, cap * sizeof *nn);
        if (!nn)
            return 1;
        x->next = nn;
        x->cap = cap;
    }
    snprintf(x->next[x->n].id, sizeof x->next[x->n].id, "%s", m->board);
    x->next[x->n++].hash = h;
    return 0;
}

int repl_meta_publish(repl *r, redisContext *c)
{
    pub_scan x = {r, c, NULL, 0, 0, 0, 0};
    int rc = snap_board_list(r->store, NULL, 0, pub_cb, &x);
    if (x.err || rc < 0) {
        free(x.next);
        return x.err ? -1 : 0;
    }
    free(pub_map);
    pub_map = x.next;
    pub_n = x.n;
    return 0;
}

/* ---- pull --------------------------------------------------------------- */

static void pull_one(repl *r, const char *bid, const char *text)
{
    static int64_t window_ms; /* reader thread only: 16 lines a minute */
    static int budget;
    snap_board_meta rm, lm;
    int prc = meta_parse(bid, text, &rm);
    if (prc) {
        int64_t now = repl_now_ms();
        if (now - window_ms >= 60000) {
            window_ms = now;
            budget = 16;
        }
        if (budget > 0 && budget--)
            WBLOGF(WBLOG_WARN, "replication: board metadata from Redis "
                               "refused (bad id or JSON)",
                   WBF_STR("key", bid), WBF_ERR(prc));
        return;
    }
    int have_local = snap_board_get(r->store, bid, &lm) == 0;
    if (have_local) {
        if (lm.updated_us > rm.updated_us)
            return;
        if (lm.updated_us == rm.updated_us) {
            char *lj = meta_json(&lm);
            int keep = !lj || strcmp(lj, text) >= 0;
            free(lj);
            if (keep)
                return;
        }
    }
    int was_live = !have_local || !lm.deleted;
    int rc = snap_board_put(r->store, &rm);
    if (rc)
        WBLOGF(WBLOG_WARN, "replication: board metadata not stored",
               WBF_BOARD(bid), WBF_ERR(rc));
    else if (rm.deleted && was_live && atomic_load(&r->n->started))
        ws_hub_board_gone_remote(r->n, bid); /* its sessions here close */
}

int repl_meta_pull(repl *r, redisContext *c, long long *ver)
{
    redisReply *v = redisCommand(c, "GET %s", REPL_KEY_META_VER);
    if (!v)
        return -1;
    long long now = v->type == REDIS_REPLY_STRING ? atoll(v->str) : 0;
    freeReplyObject(v);
    if (now == *ver)
        return 0;
    redisReply *rep = redisCommand(c, "HGETALL %s", REPL_KEY_META);
    if (!rep)
        return -1;
    if (rep->type == REDIS_REPLY_ARRAY)
        for (size_t k = 0; k + 1 < rep->elements; k += 2)
            if (rep->element[k]->type == REDIS_REPLY_STRING &&
                rep->element[k + 1]->type == REDIS_REPLY_STRING)
                pull_one(r, rep->element[k]->str, rep->element[k + 1]->str);
    freeReplyObject(rep);
    *ver = now;
    return 0;
}
