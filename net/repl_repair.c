/*
 * repl_repair.c: repairing a replication gap from peers.
 *
 * Peers announce themselves in the Redis hash wb:nodes (heartbeat every
 * second: address, time, highest published oseq); one is live when its
 * heartbeat is younger than REPL_PEER_STALE_MS. To repair shard s, for
 * every board of s this node knows (local metadata, merged from wb:meta
 * just before) and every live peer, the reader fetches
 *   GET http://<peer addr>/internal/v1/boards/<id>/state
 * (signed with the cluster secret: repl_auth.c; answered by
 * http_internal_peer.c) and merges the state through the op path: the
 * state becomes stamped ops (board_for_each_op), sorted by oseq so that
 * each origin's ops arrive in order, submitted with engine_submit_remote
 * (dedupe by the board's version vector) and flushed (engine_flush). A
 * board a peer does not know (404) is nothing to merge. Every live peer is
 * asked because any of them may hold ops the others lost.
 *
 * The HTTP client is plain HTTP/1.1 with Connection: close over a TCP
 * socket with 10 s timeouts (peers talk on the internal network; a node
 * serving TLS is not reachable this way: docs/replication.md).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "board.h"
#include "codec.h"
#include "log.h"
#include "repl_internal.h"
#include "wb_error.h"

#define REPAIR_MAX_BODY (256u << 20)
#define REPAIR_BATCH 256u

/* ---- peers -------------------------------------------------------------- */

/* host:port, [v6]:port or name:port: the address goes into a Host header
 * and getaddrinfo, so nothing else (a CR/LF from a corrupt heartbeat
 * would add headers to a signed request). */
static int addr_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n >= 128)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = a[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
              ch == '_' || ch == ':' || ch == '[' || ch == ']'))
            return 0;
    }
    return 1;
}

/* Refreshes the peer table from wb:nodes; fills live[] (up to REPL_MAX_PEERS
 * addresses of live peers other than this node). Returns their count or
 * -1 (Redis failed). */
static int peers_live(repl *r, redisContext *c, char live[][128])
{
    redisReply *rep = redisCommand(c, "HGETALL %s", REPL_KEY_NODES);
    if (!rep)
        return -1;
    int n = 0;
    int64_t now = repl_now_ms();
    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; rep->type == REDIS_REPLY_ARRAY &&
                       k + 1 < rep->elements; k += 2) {
        if (rep->element[k]->type != REDIS_REPLY_STRING ||
            rep->element[k + 1]->type != REDIS_REPLY_STRING)
            continue; /* not what a node writes there */
        uint64_t id = strtoull(rep->element[k]->str, NULL, 10);
        json_error_t err;
        json_t *o = json_loads(rep->element[k + 1]->str, 0, &err);
        const char *addr = NULL;
        json_int_t ts = 0, oseq = 0;
        if (o && json_unpack(o, "{s:s,s:I,s:I}", "addr", &addr, "ts", &ts,
                             "oseq", &oseq) == 0 && id && id != r->self &&
            addr_ok(addr)) {
            repl_peer *p = repl_peer_get(r, id);
            if (p) {
                snprintf(p->addr, sizeof p->addr, "%s", addr);
                p->seen_ms = ts;
                p->pub_oseq = (uint64_t)oseq;
                metrics_set(p->lag_ops, p->pub_oseq > p->got_oseq
                                            ? (double)(p->pub_oseq -
                                                       p->got_oseq)
                                            : 0);
            }
            if (now - ts < REPL_PEER_STALE_MS && n < REPL_MAX_PEERS)
                snprintf(live[n++], 128, "%s", addr);
        }
        json_decref(o);
    }
    pthread_mutex_unlock(&r->mu);
    freeReplyObject(rep);
    return n;
}

/* Peers in the table (live or not) after peers_live. */
static int peers_known(repl *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->npeers;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- HTTP GET ------------------------------------------------------------ */

static int http_connect(const char *addr)
{
    char host[128], port[16];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
        return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    if (host[0] == '[') { /* [v6] */
        memmove(host, host + 1, strlen(host));
        char *rb = strchr(host, ']');
        if (rb)
            *rb = '\0';
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* GET path from addr: *status and the body (malloc'd, NUL-terminated). */
/* One signed GET, signed with the current secret or (previous != 0) with
 * JWT_SECRET_PREVIOUS. */
static int http_get_signed(repl *r, const char *addr, const char *path,
                           int previous, int *status, char **body,
                           size_t *blen)
{
    char auth[160];
    const node *n = r->n;
    int src = previous
                  ? repl_auth_sign(n->keys.previous, n->keys.previous_len,
                                   "GET", path, (int64_t)time(NULL), auth,
                                   sizeof auth)
                  : repl_auth_sign(n->keys.secret, n->keys.secret_len, "GET",
                                   path, (int64_t)time(NULL), auth,
                                   sizeof auth);
    if (src)
        return src; /* never send an unset signature buffer */
    char req[1024];
    int rl = snprintf(req, sizeof req,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: "
                      "WB-Node %s\r\nConnection: close\r\n\r\n",
                      path, addr, auth);
    if (rl < 0 || rl >= (int)sizeof req)
        return WB_ETOOBIG;
    int fd = http_connect(addr);
    if (fd < 0)
        return -ECONNREFUSED;
    int rc = 0;
    if (write(fd, req, (size_t)rl) != rl)
        rc = -EIO;
    size_t len = 0, cap = 65536;
    char *buf = rc ? NULL : malloc(cap);
    while (buf) {
        if (len + 1 == cap) {
            if (cap >= REPAIR_MAX_BODY) {
                rc = WB_ETOOBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = WB_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = -errno;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (!buf)
        return rc ? rc : WB_ENOMEM;
    buf[len] = '\0';
    char *hdr_end = strstr(buf, "\r\n\r\n");
    if (rc || !hdr_end || sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
        free(buf);
        return rc ? rc : WB_EMALFORMED;
    }
    size_t off = (size_t)(hdr_end + 4 - buf);
    memmove(buf, buf + off, len - off + 1);
    *body = buf;
    *blen = len - off;
    return 0;
}

/* A GET to a peer. A peer that refuses the signature (401) while this node
 * has a JWT_SECRET_PREVIOUS is asked again with a signature by that one:
 * during a rolling secret rotation the peer may not have the new secret
 * yet. (Peers verify with both, http_internal_peer.c.) */
static int http_get(repl *r, const char *addr, const char *path, int *status,
                    char **body, size_t *blen)
{
    int rc = http_get_signed(r, addr, path, 0, status, body, blen);
    if (rc || *status != 401 || !r->n->keys.previous_len)
        return rc;
    free(*body);
    *body = NULL;
    return http_get_signed(r, addr, path, 1, status, body, blen);
}

/* ---- merge ---------------------------------------------------------------- */

typedef struct op_vec {
    wb_op *ops;
    size_t n, cap;
} op_vec;

static int collect_cb(void *arg, const wb_op *op)
{
    op_vec *v = arg;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        wb_op *nn = realloc(v->ops, cap * sizeof *nn);
        if (!nn)
            return WB_ENOMEM;
        v->ops = nn;
        v->cap = cap;
    }
    v->ops[v->n++] = *op;
    return 0;
}

static int by_oseq(const void *a, const void *b)
{
    const wb_op *x = a, *y = b;
    if (x->stamp.oseq != y->stamp.oseq)
        return x->stamp.oseq < y->stamp.oseq ? -1 : 1;
    return x->stamp.node < y->stamp.node ? -1 : x->stamp.node > y->stamp.node;
}

static int submit_ops(repl *r, const char *bid, wb_op *ops, size_t n,
                      int force)
{
    wb_batch b = {{bid, (uint32_t)strlen(bid)}, (uint32_t)n, ops, NULL};
    uint8_t *enc;
    size_t len;
    int rc = codec_encode_batch(&b, &enc, &len);
    if (rc)
        return rc;
    wb_batch *d;
    rc = codec_decode_batch(enc, len, &d);
    free(enc);
    if (rc)
        return rc;
    for (int tries = 0; tries < 20000; tries++) {
        rc = force ? engine_submit_remote_force(r->eng, d)
                   : engine_submit_remote(r->eng, d);
        if (rc != WB_EAGAIN)
            break;
        struct timespec ts = {0, 500000};
        nanosleep(&ts, NULL);
    }
    if (rc)
        codec_batch_free(d);
    return rc;
}

/* Merges a base64 state into the local board. Returns ops merged or an
 * error. */
static int merge_state(repl *r, const char *bid, const char *b64, int force)
{
    size_t blen = strlen(b64);
    if (blen % 4)
        return WB_EMALFORMED;
    uint8_t *raw = malloc(blen / 4 * 3 + 1);
    if (!raw)
        return WB_ENOMEM;
    int len = blen ? EVP_DecodeBlock(raw, (const unsigned char *)b64,
                                     (int)blen)
                   : 0;
    if (len < 0) {
        free(raw);
        return WB_EMALFORMED;
    }
    for (size_t k = blen; k > 0 && b64[k - 1] == '='; k--)
        len--;
    board *tmp = NULL;
    int rc = board_state_decode(raw, (size_t)len, NULL, &tmp);
    free(raw);
    if (rc)
        return rc;
    op_vec v = {NULL, 0, 0};
    rc = board_for_each_op(tmp, collect_cb, &v);
    if (!rc && v.n)
        qsort(v.ops, v.n, sizeof *v.ops, by_oseq);
    for (size_t i = 0; !rc && i < v.n; i += REPAIR_BATCH)
        rc = submit_ops(r, bid, v.ops + i,
                        v.n - i < REPAIR_BATCH ? v.n - i : REPAIR_BATCH, force);
    free(v.ops);
    board_free(tmp);
    return rc ? rc : (int)v.n;
}

static int repair_board(repl *r, const char *bid, char live[][128],
                        int nlive, int force)
{
    char path[160];
    snprintf(path, sizeof path, "/internal/v1/boards/%s/state", bid);
    int answered = 0;
    for (int p = 0; p < nlive; p++) {
        int status = 0;
        char *body = NULL;
        size_t blen = 0;
        int rc = http_get(r, live[p], path, &status, &body, &blen);
        if (rc || (status != 200 && status != 404)) {
            WBLOGF(WBLOG_WARN, "replication: peer state fetch failed",
                   WBF_BOARD(bid), WBF_STR("peer", live[p]),
                   WBF_INT("status", status), WBF_ERR(rc));
            free(body);
            continue;
        }
        if (status == 200) {
            json_error_t err;
            json_t *o = json_loadb(body, blen, 0, &err);
            const char *st = NULL;
            if (!o || json_unpack(o, "{s:s}", "state", &st) != 0)
                rc = WB_EMALFORMED;
            else
                rc = merge_state(r, bid, st, force);
            json_decref(o);
            if (rc < 0) {
                WBLOGF(WBLOG_WARN, "replication: peer state not merged",
                       WBF_BOARD(bid), WBF_STR("peer", live[p]),
                       WBF_ERR(rc));
                free(body);
                continue;
            }
            WBLOGF(WBLOG_INFO, "replication: board merged with a peer's state",
                   WBF_BOARD(bid), WBF_STR("peer", live[p]),
                   WBF_INT("ops", rc));
        }
        free(body);
        answered++;
    }
    return answered ? 0 : WB_ENOTFOUND;
}

typedef struct shard_boards {
    repl *r;
    int shard;
    char (*ids)[SNAP_BOARD_ID_MAX + 1];
    size_t n, cap;
} shard_boards;

static int list_cb(void *arg, const snap_board_meta *m)
{
    shard_boards *x = arg;
    if (m->deleted ||
        (x->shard >= 0 &&
         (int)repl_shard_of(x->r, m->board, strlen(m->board)) != x->shard))
        return 0;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        void *nn = realloc(x->ids, cap * sizeof *x->ids);
        if (!nn)
            return WB_ENOMEM;
        x->ids = nn;
        x->cap = cap;
    }
    snprintf(x->ids[x->n++], SNAP_BOARD_ID_MAX + 1, "%s", m->board);
    return 0;
}

int repl_repair_shard(repl *r, redisContext *c, int shard, int force)
{
    static char live[REPL_MAX_PEERS][128]; /* reader thread only */
    int nlive = peers_live(r, c, live);
    if (nlive < 0)
        return WB_EIO;
    if (nlive == 0 && peers_known(r) == 0) {
        WBLOGF(WBLOG_INFO, "replication gap: no other node has ever "
                           "announced itself; nothing to repair from or "
                           "to miss",
               WBF_INT("shard", shard));
        return 0;
    }
    if (nlive == 0) {
        WBLOGF(WBLOG_ERROR,
               "replication gap NOT repaired: no live peer to repair from; "
               "the shard's boards may miss ops until one is up (retrying)",
               WBF_INT("shard", shard));
        return WB_ENOTFOUND;
    }
    engine_stats st0;
    engine_get_stats(r->eng, &st0);
    uint64_t lost0 = st0.remote_lost;
    shard_boards x = {r, shard, NULL, 0, 0};
    int rc = snap_board_list(r->store, NULL, 0, list_cb, &x);
    if (rc < 0) {
        free(x.ids);
        return rc;
    }
    rc = 0;
    for (size_t i = 0; i < x.n && !atomic_load(&r->stop); i++) {
        int brc = repair_board(r, x.ids[i], live, nlive, force);
        if (brc)
            rc = brc;
    }
    free(x.ids);
    if (!rc)
        rc = engine_flush(r->eng, 30000);
    engine_stats st;
    engine_get_stats(r->eng, &st);
    if (!rc && st.remote_lost != lost0)
        rc = WB_EFULL; /* some merged ops were not logged: again, forced */
    return rc;
}

/* The reader refreshes peers (for lag_ops) through here too. */
int repl_peers_refresh(repl *r, redisContext *c)
{
    static char live[REPL_MAX_PEERS][128]; /* reader thread only */
    return peers_live(r, c, live) < 0 ? -1 : 0;
}
