/*
 * node.c: the node context: settings -> engine options, the JWT secret
 * (configured, or generated once into DATA/jwt.secret), the metrics
 * registry with the runbook's series, and the engine callbacks that route
 * engine events to the REST waiters and the WebSocket hub.
 *
 * Engine callbacks run ON THE ENGINE THREAD and never block: on_ack hands
 * the ack to node_rest_complete (token bit 63 set) or ws_hub_on_ack; on_ops
 * counts events_total per board and hands the batch to ws_hub_on_ops; on_log
 * turns engine events into JSON log lines (and snapshot.write into a
 * snapshot.write span record and the snapshot_duration_seconds histogram).
 *
 * Callers: net/whiteboardd.c (life), server.c and http_*.c (fields).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "node.h"
#include "ipcount.h"
#include "node_internal.h"
#include "repl.h"
#include "trace.h"
#include "wb_error.h"
#include "ws_hub.h"

#define NODE_SECRET_FILE "jwt.secret"
#define NODE_SECRET_BYTES 32

int node_guest_enabled(const node *n)
{
    if (n->cfg->guest == CFG_GUEST_ON)
        return 1;
    if (n->cfg->guest == CFG_GUEST_OFF)
        return 0;
    return n->cfg->jwt_secret[0] == '\0'; /* auto: on for the dev setup */
}

/* mkdir -p for the data directory (one or more missing levels). */
static int node_mkdirs(const char *dir)
{
    char buf[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return WB_EINVAL;
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -errno;
        buf[i] = c;
    }
    return 0;
}

/* Reads an existing secret file: one line of >= CFG_JWT_SECRET_MIN bytes. */
static int node_secret_read(node *n, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char buf[512];
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
        got--;
    buf[got] = '\0';
    if (got < CFG_JWT_SECRET_MIN || strlen(buf) != got)
        return WB_ECORRUPT;
    n->secret_buf = strdup(buf);
    return n->secret_buf ? 0 : WB_ENOMEM;
}

/* Creates the secret file: 32 random bytes as 64 hex digits, mode 0600. */
static int node_secret_create(node *n, const char *path)
{
    unsigned char raw[NODE_SECRET_BYTES];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        return -EIO;
    char hex[2 * NODE_SECRET_BYTES + 2];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t len = 2 * NODE_SECRET_BYTES;
    hex[len] = '\n';
    int rc = 0;
    if (write(fd, hex, len + 1) != (ssize_t)(len + 1) || fsync(fd) != 0)
        rc = -EIO;
    close(fd);
    if (rc) {
        unlink(path);
        return rc;
    }
    hex[len] = '\0';
    n->secret_buf = strdup(hex);
    return n->secret_buf ? 0 : WB_ENOMEM;
}

static int node_keys_init(node *n)
{
    const cfg *c = n->cfg;
    if (c->jwt_secret[0]) {
        n->keys.secret = c->jwt_secret;
        n->keys.secret_len = strlen(c->jwt_secret);
        n->keys.previous = c->jwt_secret_previous;
        n->keys.previous_len = strlen(c->jwt_secret_previous);
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->data_dir, NODE_SECRET_FILE);
    int rc = node_secret_read(n, path);
    if (rc == -ENOENT)
        rc = node_secret_create(n, path);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "cannot load or create the JWT secret",
               WBF_STR("path", path), WBF_ERR(rc));
        return rc;
    }
    n->secret_generated = 1;
    n->keys.secret = n->secret_buf;
    n->keys.secret_len = strlen(n->secret_buf);
    WBLOGF(WBLOG_WARN,
           "no JWT_SECRET configured: using a generated secret; this is a "
           "development setup, set JWT_SECRET for production",
           WBF_STR("path", path),
           WBF_BOOL("guestSignIn", node_guest_enabled(n)));
    return 0;
}

static rl_table *node_rl_table(int64_t rate, int64_t burst)
{
    if (rate <= 0)
        return NULL;
    rl_limit lim = {(uint32_t)rate, (uint32_t)(burst > 0 ? burst : rate)};
    return rl_table_new(lim, 65536);
}

void node_wake(node *n)
{
    pthread_mutex_lock(&n->ctx_mu);
    if (n->ctx)
        lws_cancel_service(n->ctx);
    pthread_mutex_unlock(&n->ctx_mu);
}

void node_set_ctx(node *n, struct lws_context *ctx)
{
    pthread_mutex_lock(&n->ctx_mu);
    n->ctx = ctx;
    pthread_mutex_unlock(&n->ctx_mu);
}

int node_init(node *n, const struct cfg *c)
{
    memset(n, 0, sizeof *n);
    pthread_mutex_init(&n->ctx_mu, NULL);
    n->cfg = c;
    atomic_init(&n->ready, 0);
    atomic_init(&n->started, 0);
    atomic_init(&n->stopping, 0);
    int rc = node_mkdirs(c->data_dir);
    if (rc) {
        WBLOGF(WBLOG_ERROR, "cannot create the data directory",
               WBF_STR("path", c->data_dir), WBF_ERR(rc));
        return rc;
    }
    if ((rc = node_keys_init(n)) != 0)
        return rc;
    if ((rc = node_metrics_init(n)) != 0)
        return rc;
    n->rate_conn.rate = (uint32_t)c->rate_conn;
    n->rate_conn.burst = (uint32_t)c->rate_conn_burst;
    n->rl_user = node_rl_table(c->rate_user, c->rate_user_burst);
    n->rl_ip = node_rl_table(c->rate_ip, c->rate_ip_burst);
    if (c->max_conns_per_ip > 0 && !(n->ip_conns = ipc_new()))
        return WB_ENOMEM;
    if ((c->rate_user > 0 && !n->rl_user) || (c->rate_ip > 0 && !n->rl_ip))
        return WB_ENOMEM;
    return node_rest_init(n);
}

/* ---- engine callbacks (engine thread) ----------------------------------- */

static void node_on_ack(void *ctx, uint64_t token, const engine_ack *ack)
{
    node *n = ctx;
    if (token & NODE_TOKEN_REST)
        node_rest_complete(n, token, ack);
    else if (atomic_load(&n->started) && n->hub)
        ws_hub_on_ack(n, token, ack);
}

static void node_on_ops(void *ctx, const char *board_id,
                        const wb_batch *applied, const uint8_t *enc,
                        size_t len, uint64_t seq)
{
    node *n = ctx;
    const char *labels[1] = {board_id};
    metrics_add(metrics_series_get(n->m.events_total, labels), applied->nops);
    if (atomic_load(&n->started) && n->hub)
        ws_hub_on_ops(n, board_id, applied, enc, len, seq);
    repl *r = atomic_load(&n->repl);
    if (r)
        repl_kick(r); /* new durable ops: the publisher tails the oplog */
}

static void node_on_turn(void *ctx)
{
    node *n = ctx;
    if (atomic_load(&n->started) && n->hub)
        ws_hub_on_turn(n);
}

/* The value of key=... in the engine's "key=value ..." detail (copied into
 * out, at most outsz - 1 bytes), or "" when absent. */
static const char *detail_value(const char *detail, const char *key,
                                char *out, size_t outsz)
{
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *p = detail; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p != detail && p[-1] != ' ') || p[klen] != '=')
            continue;
        p += klen + 1;
        size_t len = strcspn(p, " ");
        if (len >= outsz)
            len = outsz - 1;
        memcpy(out, p, len);
        out[len] = '\0';
        break;
    }
    return out;
}

/* The engine's snapshot.write event (engine_snapshot.c: boardId, pos,
 * bytes, elements, duration_us) as a snapshot.write span record, and an
 * observation of snapshot_duration_seconds. The snapshot runs on the
 * engine's own thread, outside any request: a new trace. */
static void node_snapshot_span(node *n, const char *detail)
{
    char board_id[WB_MAX_ID_LEN + 1], num[32], trace_id[TRACE_ID_HEX],
        span_id[SPAN_ID_HEX];
    double us = strtod(detail_value(detail, "duration_us", num, sizeof num),
                       NULL);
    metrics_observe(n->m.snapshot_duration, us / 1e6);
    if (!wblog_enabled(WBLOG_INFO))
        return;
    trace_new_id(trace_id, 16);
    trace_new_id(span_id, 8);
    detail_value(detail, "boardId", board_id, sizeof board_id);
    WBLOG_SPAN(WBF_STR("span", "snapshot.write"),
           WBF_STR("traceId", trace_id), WBF_STR("spanId", span_id),
           WBF_BOARD(board_id),
           WBF_UINT("bytes", strtoull(detail_value(detail, "bytes", num,
                                                   sizeof num),
                                      NULL, 10)),
           WBF_UINT("pos", strtoull(detail_value(detail, "pos", num,
                                                 sizeof num),
                                    NULL, 10)),
           WBF_DBL("durationMs", us / 1e3), WBF_STR("src", "engine"));
}

static void node_on_log(void *ctx, int level, const char *event,
                        const char *detail)
{
    node *n = ctx;
    if (strcmp(event, "snapshot.write") == 0) {
        node_snapshot_span(n, detail);
        return;
    }
    enum wblog_level lv = level <= ENGINE_LOG_DEBUG  ? WBLOG_DEBUG
                          : level == ENGINE_LOG_INFO ? WBLOG_INFO
                          : level == ENGINE_LOG_WARN ? WBLOG_WARN
                                                     : WBLOG_ERROR;
    WBLOGF(lv, event, WBF_STR("detail", detail), WBF_STR("src", "engine"));
}

static void node_engine_options(const node *n, engine_options *o)
{
    const cfg *c = n->cfg;
    engine_options_init(o);
    o->dir = c->data_dir;
    o->node_id = (uint64_t)c->node_id;
    enum cfg_fsync mode = CFG_FSYNC_ALWAYS;
    uint32_t interval = 0;
    (void)cfg_fsync_parse(c->fsync, &mode, &interval);
    o->oplog.sync = mode == CFG_FSYNC_ALWAYS     ? OPLOG_SYNC_ALWAYS
                    : mode == CFG_FSYNC_INTERVAL ? OPLOG_SYNC_INTERVAL
                                                 : OPLOG_SYNC_NONE;
    o->oplog.sync_interval_ms = interval;
    o->oplog.segment_size = (uint64_t)c->segment_size;
    /* 0 in the settings means "not by count / not by time". */
    o->snap_every_ops = c->snapshot_ops > 0 ? (uint32_t)c->snapshot_ops
                                            : UINT32_MAX;
    o->snap_every_ms = c->snapshot_interval_ms > 0
                           ? (uint32_t)c->snapshot_interval_ms
                           : UINT32_MAX;
    if (c->memory_budget > 0)
        o->mem_budget = (uint64_t)c->memory_budget;
    if (c->max_elements > 0)
        o->limits.max_elements = (uint32_t)c->max_elements;
    if (c->max_board_bytes > 0)
        o->limits.max_bytes = (uint64_t)c->max_board_bytes;
    o->oplog.io = node_fault_io();
}

int node_open_engine(node *n)
{
    engine_options o;
    node_engine_options(n, &o);
    engine_callbacks cb = {.ctx = n,
                           .on_ack = node_on_ack,
                           .on_ops = node_on_ops,
                           .on_turn = node_on_turn,
                           .on_log = node_on_log};
    int rc = engine_open(&o, &cb, &n->eng);
    if (rc) {
        n->eng = NULL;
        WBLOGF(WBLOG_ERROR, "engine open failed",
               WBF_STR("dir", n->cfg->data_dir), WBF_ERR(rc));
        return rc;
    }
    engine_stats st;
    engine_get_stats(n->eng, &st);
    n->snap_seen = st.snapshots;
    WBLOGF(WBLOG_INFO, "engine ready", WBF_STR("dir", n->cfg->data_dir),
           WBF_UINT("nodeId", st.node_id),
           WBF_UINT("recoveredRecords", st.recovery_records),
           WBF_DBL("recoverySeconds", (double)st.recovery_ns / 1e9));
    return 0;
}

void node_set_ready(node *n)
{
    atomic_store(&n->started, 1);
    if (!atomic_load(&n->stopping))
        atomic_store(&n->ready, 1);
    node_wake(n);
}

int node_close_engine(node *n)
{
    atomic_store(&n->ready, 0);
    atomic_store(&n->stopping, 1);
    if (!n->eng)
        return 0;
    int rc = engine_close(n->eng);
    n->eng = NULL;
    if (rc)
        WBLOGF(WBLOG_ERROR, "engine close failed", WBF_ERR(rc));
    return rc;
}

void node_free(node *n)
{
    node_rest_free(n);
    rl_table_free(n->rl_user);
    rl_table_free(n->rl_ip);
    ipc_free(n->ip_conns);
    n->ip_conns = NULL;
    metrics_registry_free(n->m.reg);
    free(n->secret_buf);
    pthread_mutex_destroy(&n->ctx_mu);
    memset(n, 0, sizeof *n);
}
