/*
 * repl.c: the replicator's life (start, stop), the Redis URL, connections
 * (AUTH, SELECT), the "Redis went away / came back" log lines and the
 * redis_up gauge, the replication metrics and the peer table.
 *
 * Ownership: repl_start allocates the repl; repl_stop joins both threads
 * and frees it. The metric series belong to the node's registry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "log.h"
#include "repl_internal.h"
#include "wb_error.h"
#include "ws_hub.h"

int64_t repl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned repl_shard_of(const repl *r, const char *bid, size_t len)
{
    return (unsigned)(XXH3_64bits(bid, len) % (uint64_t)r->shards);
}

void repl_stream_key(int shard, char *out, size_t cap)
{
    snprintf(out, cap, "wb:ops:%d", shard);
}

/* redis://[user[:password]@]host[:port][/db]; percent escapes are not
 * decoded (passwords with '@' or '/' need another way in). */
static int repl_parse_url(repl *r, const char *url)
{
    if (strncmp(url, "redis://", 8) != 0) {
        WBLOGF(WBLOG_ERROR, "replication: only redis:// URLs are supported "
                            "(no TLS in this hiredis)",
               WBF_STR("scheme", strncmp(url, "rediss://", 9) ? "?"
                                                               : "rediss"));
        return WB_EINVAL;
    }
    const char *p = url + 8;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = (size_t)((colon ? colon : at) - p);
        if (ul >= sizeof r->user)
            return WB_EINVAL;
        memcpy(r->user, p, ul);
        r->user[ul] = '\0';
        if (colon) {
            size_t pl = (size_t)(at - colon - 1);
            if (pl >= sizeof r->pass)
                return WB_EINVAL;
            memcpy(r->pass, colon + 1, pl);
            r->pass[pl] = '\0';
        }
        p = at + 1;
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    size_t hl = (size_t)((colon ? colon : end) - p);
    if (hl == 0 || hl >= sizeof r->host)
        return WB_EINVAL;
    memcpy(r->host, p, hl);
    r->host[hl] = '\0';
    r->port = colon ? atoi(colon + 1) : 6379;
    r->db = slash && slash[1] ? atoi(slash + 1) : 0;
    if (r->port <= 0 || r->port > 65535 || r->db < 0)
        return WB_EINVAL;
    return 0;
}

/* The Redis instance's epoch: a random id stored in wb:epoch by the first
 * node that finds none. A node that saw another epoch before is talking
 * to a Redis that lost its data (or to another Redis). */
int repl_epoch(redisContext *c, char out[REPL_EPOCH_LEN + 1])
{
    unsigned char raw[8];
    char mine[REPL_EPOCH_LEN + 1];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -1;
    for (int i = 0; i < 8; i++)
        snprintf(mine + 2 * i, 3, "%02x", raw[i]);
    if (repl_reply_ok(c, redisCommand(c, "SET %s %s NX", REPL_KEY_EPOCH,
                                      mine)))
        return -1;
    redisReply *rep = redisCommand(c, "GET %s", REPL_KEY_EPOCH);
    int ok = rep && rep->type == REDIS_REPLY_STRING &&
             rep->len == REPL_EPOCH_LEN;
    if (ok)
        memcpy(out, rep->str, REPL_EPOCH_LEN + 1);
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* 1 when key holds an epoch other than epoch (0: same or none stored). */
int repl_epoch_changed(repl *r, const char *key, const char *epoch)
{
    char old[REPL_EPOCH_LEN + 1];
    size_t len = 0;
    if (snap_kv_get(r->store, key, old, REPL_EPOCH_LEN, &len) != 0 ||
        len != REPL_EPOCH_LEN)
        return 0;
    old[len] = '\0';
    return strcmp(old, epoch) != 0;
}

int repl_reply_ok(redisContext *c, redisReply *rep)
{
    if (!rep)
        return -1;
    int bad = rep->type == REDIS_REPLY_ERROR;
    if (bad)
        WBLOGF(WBLOG_WARN, "replication: Redis error",
               WBF_STR("reply", rep->str));
    freeReplyObject(rep);
    (void)c;
    return bad ? -1 : 0;
}

redisContext *repl_connect(repl *r, unsigned timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, (struct timeval){5, 0});
    redisReply *rep = NULL;
    if (r->pass[0] && r->user[0])
        rep = redisCommand(c, "AUTH %s %s", r->user, r->pass);
    else if (r->pass[0])
        rep = redisCommand(c, "AUTH %s", r->pass);
    if ((r->pass[0] && repl_reply_ok(c, rep)) ||
        (r->db && repl_reply_ok(c, redisCommand(c, "SELECT %d", r->db)))) {
        redisFree(c);
        return NULL;
    }
    return c;
}

void repl_set_up(repl *r, int which, int up)
{
    pthread_mutex_lock(&r->mu);
    int was = r->up[REPL_T_PUB] && r->up[REPL_T_SUB];
    r->up[which] = up;
    int now = r->up[REPL_T_PUB] && r->up[REPL_T_SUB];
    int say_down = !up && !r->logged_down;
    int say_up = now && !was && r->logged_down;
    if (say_down)
        r->logged_down = 1;
    if (say_up)
        r->logged_down = 0;
    pthread_mutex_unlock(&r->mu);
    metrics_set(r->m_up, now ? 1 : 0);
    if (say_down)
        WBLOGF(WBLOG_WARN,
               "replication: Redis unavailable; serving and writing locally, "
               "retrying with backoff",
               WBF_STR("host", r->host), WBF_INT("port", r->port));
    if (say_up)
        WBLOGF(WBLOG_INFO,
               "replication: Redis is back; publishing what was written "
               "meanwhile and catching up",
               WBF_STR("host", r->host), WBF_INT("port", r->port));
}

int repl_wait(repl *r, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000l;
    if (ts.tv_nsec >= 1000000000l) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000l;
    }
    pthread_mutex_lock(&r->mu);
    while (!atomic_load(&r->stop) && !r->kicked)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT)
            break;
    r->kicked = 0;
    pthread_mutex_unlock(&r->mu);
    return atomic_load(&r->stop);
}

void repl_kick(repl *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->kicked = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

repl_peer *repl_peer_get(repl *r, uint64_t id)
{
    for (int i = 0; i < r->npeers; i++)
        if (r->peers[i].id == id)
            return &r->peers[i];
    if (r->npeers == REPL_MAX_PEERS)
        return NULL;
    repl_peer *p = &r->peers[r->npeers++];
    memset(p, 0, sizeof *p);
    p->id = id;
    char label[24];
    snprintf(label, sizeof label, "%llu", (unsigned long long)id);
    const char *v[1] = {label};
    p->lag_s = metrics_series_get(r->f_lag_s, v);
    p->lag_ops = metrics_series_get(r->f_lag_ops, v);
    return p;
}

static int repl_metrics(repl *r)
{
    metrics_registry *reg = r->n->m.reg;
    metrics_family *f;
    static const char *const peer[1] = {"peer"};
    int rc = metrics_register(reg, METRICS_GAUGE, "redis_up",
                              "1 when both replication connections to Redis "
                              "are up.",
                              NULL, 0, 1, NULL, 0, &f);
    if (!rc)
        r->m_up = metrics_series_get(f, NULL);
    if (!rc && !(rc = metrics_register(
                     reg, METRICS_COUNTER, "replication_published_total",
                     "Own ops appended to the Redis streams.", NULL, 0, 1,
                     NULL, 0, &f)))
        r->m_published = metrics_series_get(f, NULL);
    if (!rc && !(rc = metrics_register(
                     reg, METRICS_COUNTER, "replication_applied_total",
                     "Ops of other nodes read from Redis and handed to the "
                     "engine (it drops those already seen).",
                     NULL, 0, 1, NULL, 0, &f)))
        r->m_applied = metrics_series_get(f, NULL);
    if (!rc && !(rc = metrics_register(
                     reg, METRICS_COUNTER, "replication_gap_total",
                     "Gaps found (stream entries lost past this node's "
                     "cursor), each repaired from peers.",
                     NULL, 0, 1, NULL, 0, &f)))
        r->m_gaps = metrics_series_get(f, NULL);
    if (!rc)
        rc = metrics_register(reg, METRICS_GAUGE, "replication_lag_seconds",
                              "Age of the newest entry applied from the "
                              "peer (0 when caught up).",
                              peer, 1, REPL_MAX_PEERS, NULL, 0, &r->f_lag_s);
    if (!rc)
        rc = metrics_register(reg, METRICS_GAUGE, "replication_lag_ops",
                              "Ops the peer published that this node has "
                              "not read yet.",
                              peer, 1, REPL_MAX_PEERS, NULL, 0,
                              &r->f_lag_ops);
    return rc;
}

/* The address peers use: --advertise, else the listen address, with a
 * wildcard host (0.0.0.0, [::], empty) replaced by this host's name
 * (containers and pods resolve it to their address). */
static void repl_advertise(repl *r, const cfg *c)
{
    if (c->advertise[0]) {
        snprintf(r->advertise, sizeof r->advertise, "%s", c->advertise);
        return;
    }
    const char *colon = strrchr(c->listen, ':');
    const char *port = colon ? colon + 1 : "8080";
    size_t hl = colon ? (size_t)(colon - c->listen) : strlen(c->listen);
    int wild = hl == 0 || (hl == 7 && !strncmp(c->listen, "0.0.0.0", 7)) ||
               (hl == 4 && !strncmp(c->listen, "[::]", 4));
    char host[256] = "";
    if (!wild || gethostname(host, sizeof host - 1) != 0 || !host[0]) {
        snprintf(r->advertise, sizeof r->advertise, "%s", c->listen);
        return;
    }
    snprintf(r->advertise, sizeof r->advertise, "%s:%s", host, port);
}

void repl_free(repl *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

int repl_start(node *n, repl **out)
{
    *out = NULL;
    const cfg *c = n->cfg;
    if (!c->redis_url[0])
        return 0;
    repl *r = calloc(1, sizeof *r);
    if (!r)
        return WB_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->n = n;
    r->eng = n->eng;
    r->store = engine_snap_store(n->eng);
    engine_stats st;
    engine_get_stats(n->eng, &st);
    r->self = st.node_id;
    r->shards = (int)c->redis_shards;
    r->retention = c->redis_retention;
    repl_advertise(r, c);
    snprintf(r->oplog_dir, sizeof r->oplog_dir, "%s/oplog", c->data_dir);
    int rc = repl_parse_url(r, c->redis_url);
    if (rc) {
        WBLOG(WBLOG_ERROR, "replication: REDIS_URL is not usable");
        repl_free(r);
        return rc;
    }
    if ((rc = repl_metrics(r)) != 0) {
        repl_free(r);
        return rc;
    }
    metrics_set(r->m_up, 0);
    if (pthread_create(&r->pub_thr, NULL, repl_pub_main, r) == 0)
        r->pub_started = 1;
    if (r->pub_started &&
        pthread_create(&r->sub_thr, NULL, repl_sub_main, r) == 0)
        r->sub_started = 1;
    if (!r->sub_started) {
        repl_stop(r);
        repl_free(r);
        return WB_ENOMEM;
    }
    /* presence is best effort: without its thread the node still replicates */
    if (repl_presence_init() == 0 &&
        pthread_create(&r->pres_thr, NULL, repl_presence_main, r) == 0) {
        r->pres_started = 1;
        ws_hub_set_presence_out(n, repl_presence_out, r);
    } else {
        WBLOG(WBLOG_WARN, "replication: presence will not cross nodes "
                          "(no thread)");
    }
    WBLOGF(WBLOG_INFO, "replication started", WBF_STR("host", r->host),
           WBF_INT("port", r->port), WBF_INT("db", r->db),
           WBF_INT("shards", r->shards), WBF_INT("retention", r->retention),
           WBF_UINT("nodeId", r->self), WBF_STR("advertise", r->advertise));
    *out = r;
    return 0;
}

void repl_stop(repl *r)
{
    if (!r)
        return;
    if (r->pres_started)
        ws_hub_set_presence_out(r->n, NULL, NULL);
    atomic_store(&r->stop, 1);
    repl_kick(r);
    if (r->pres_started)
        pthread_join(r->pres_thr, NULL);
    if (r->pub_started)
        pthread_join(r->pub_thr, NULL);
    if (r->sub_started)
        pthread_join(r->sub_thr, NULL);
    r->pub_started = r->sub_started = r->pres_started = 0;
    repl_meta_free();
}

int repl_sleep(repl *r, unsigned ms)
{
    while (ms && !atomic_load(&r->stop)) {
        unsigned step = ms < 50 ? ms : 50;
        struct timespec ts = {0, (long)step * 1000000l};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return atomic_load(&r->stop);
}
