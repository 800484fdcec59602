/*
 * config.c: the settings table and typed value parsing (see config.h).
 *
 * Who calls it: whiteboardd's main through cfg_load (config_load.c), once,
 * before any thread starts; wbctl may reuse the table later. Defaults are
 * text parsed by cfg_set like any user value, so the tests, which load the
 * defaults, fail on a default that is out of its own bounds.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "log.h"
#include "wb_error.h"

/* The server passes cfg.log_level/log_format straight to wblog_init. */
_Static_assert((int)CFG_LOG_DEBUG == (int)WBLOG_DEBUG &&
                   (int)CFG_LOG_INFO == (int)WBLOG_INFO &&
                   (int)CFG_LOG_WARN == (int)WBLOG_WARN &&
                   (int)CFG_LOG_ERROR == (int)WBLOG_ERROR &&
                   (int)CFG_LOG_JSON == (int)WBLOG_JSON &&
                   (int)CFG_LOG_TEXT == (int)WBLOG_TEXT,
               "cfg and wblog enums must agree");

#define KIB 1024LL
#define MIB (1024LL * KIB)
#define GIB (1024LL * MIB)

static const char *const guest_words[] = {"auto", "on", "off", NULL};
static const char *const level_words[] = {"debug", "info", "warn", "error",
                                          NULL};
static const char *const format_words[] = {"json", "text", NULL};

#define F(field) offsetof(cfg, field)
#define RATE_HELP(who) "Ops per second per " who " (token bucket); 0: unlimited."

static const cfg_setting settings[] = {
    {"data-dir", "WB_DATA", CFG_STRING, F(data_dir), "./data", 0, 0, NULL, 0,
     cfg_check_nonempty, "Directory of the oplog segments and snapshot store."},
    {"listen", "WB_LISTEN", CFG_STRING, F(listen), "127.0.0.1:8080", 0, 0,
     NULL, 0, cfg_check_listen,
     "host:port the HTTP/WebSocket server binds ([v6]:port for IPv6)."},
    {"node-id", "WB_NODE_ID", CFG_INT, F(node_id), "0", 0, INT64_MAX, NULL, 0,
     NULL, "Node id stamped in ops and segments; 0: the stored one, or a "
           "random one on first start."},
    {"jwt-secret", "JWT_SECRET", CFG_STRING, F(jwt_secret), "", 0, 0, NULL,
     CFG_F_SECRET, cfg_check_jwt_secret,
     "HS256 secret shared by every node (>= 32 bytes). Empty: a random "
     "secret generated once into DATA/jwt.secret (0600; development "
     "setup, single node)."},
    {"jwt-secret-previous", "JWT_SECRET_PREVIOUS", CFG_STRING,
     F(jwt_secret_previous), "", 0, 0, NULL, CFG_F_SECRET,
     cfg_check_jwt_secret,
     "Secret before the last rotation: still accepted, never used to sign."},
    {"guest", "WB_GUEST", CFG_ENUM, F(guest), "auto", 0, 0, guest_words, 0,
     NULL, "Guest sign-in: auto (on when no JWT_SECRET is set), on, off."},
    {"redis-url", "REDIS_URL", CFG_STRING, F(redis_url), "", 0, 0, NULL,
     CFG_F_URL, cfg_check_redis_url,
     "redis:// or rediss:// URL for replication between nodes; empty: none."},
    {"redis-shards", "WB_REDIS_SHARDS", CFG_INT, F(redis_shards), "8", 1,
     1024, NULL, 0, NULL,
     "Shard streams ops are spread over (by board); the same on every node."},
    {"redis-retention", "WB_REDIS_RETENTION", CFG_INT, F(redis_retention),
     "100000", 10, 1000000000, NULL, 0, NULL,
     "Entries kept per shard stream (approximate MAXLEN trimming); a node "
     "away longer repairs from a peer."},
    {"advertise", "WB_ADVERTISE", CFG_STRING, F(advertise), "", 0, 0, NULL, 0,
     NULL,
     "host:port peers use to reach this node's internal API; empty: the "
     "listen address."},
    {"mongo-url", "MONGO_URL", CFG_STRING, F(mongo_url), "", 0, 0, NULL,
     CFG_F_URL, cfg_check_mongo_url,
     "mongodb:// or mongodb+srv:// URL of the analytics mirror; empty: none."},
    {"mirror-all", "WB_MIRROR_ALL", CFG_BOOL, F(mirror_all), "false", 0, 0,
     NULL, 0, NULL,
     "Mongo mirror: export every op in the oplog (replicated ones too); "
     "false: only the ops this node originated (each op once per cluster)."},
    {"mirror-doc-max", "WB_MIRROR_DOC_MAX", CFG_SIZE, F(mirror_doc_max),
     "15MiB", 64 * KIB, 15 * MIB, NULL, 0, NULL,
     "Mongo mirror: largest snapshot document; a bigger snapshot goes into "
     "chunk documents (docs/mongo.md)."},
    {"tls-cert", "WB_TLS_CERT", CFG_STRING, F(tls_cert), "", 0, 0, NULL, 0,
     NULL, "PEM certificate chain; with --tls-key the server speaks TLS."},
    {"tls-key", "WB_TLS_KEY", CFG_STRING, F(tls_key), "", 0, 0, NULL, 0, NULL,
     "PEM private key for --tls-cert."},
    {"fsync", "WB_FSYNC", CFG_STRING, F(fsync), "always", 0, 0, NULL, 0,
     cfg_check_fsync,
     "When an ack is durable: always (fdatasync before ack), interval:MS "
     "(loses up to MS ms on power loss), none (the OS decides)."},
    {"segment-size", "WB_SEGMENT_SIZE", CFG_SIZE, F(segment_size), "64MiB",
     1 * MIB, 1 * GIB, NULL, 0, NULL, "Size of one oplog segment file."},
    {"snapshot-ops", "WB_SNAPSHOT_OPS", CFG_INT, F(snapshot_ops), "1000", 0,
     1000000000, NULL, 0, NULL,
     "Snapshot a board after this many ops; 0: not by count."},
    {"snapshot-interval", "WB_SNAPSHOT_INTERVAL", CFG_DURATION,
     F(snapshot_interval_ms), "60s", 0, 24 * 3600 * 1000LL, NULL, 0, NULL,
     "Snapshot a changed board at least this often; 0: not by time."},
    {"memory-budget", "WB_MEMORY_BUDGET", CFG_SIZE, F(memory_budget),
     "512MiB", 16 * MIB, 1024 * GIB, NULL, 0, NULL,
     "Memory for boards held in RAM; idle boards are evicted beyond it."},
    {"log-level", "WB_LOG_LEVEL", CFG_ENUM, F(log_level), "info", 0, 0,
     level_words, 0, NULL, "Lowest level written: debug, info, warn, error."},
    {"log-format", "WB_LOG_FORMAT", CFG_ENUM, F(log_format), "json", 0, 0,
     format_words, 0, NULL, "json (one object per line) or text (humans)."},
    {"rate-conn", "WB_RATE_CONN", CFG_INT, F(rate_conn), "200", 0, 1000000,
     NULL, 0, NULL, RATE_HELP("WebSocket connection")},
    {"rate-conn-burst", "WB_RATE_CONN_BURST", CFG_INT, F(rate_conn_burst),
     "400", 1, 10000000, NULL, 0, NULL, "Burst of --rate-conn."},
    {"rate-user", "WB_RATE_USER", CFG_INT, F(rate_user), "500", 0, 1000000,
     NULL, 0, NULL, RATE_HELP("user id, over all connections")},
    {"rate-user-burst", "WB_RATE_USER_BURST", CFG_INT, F(rate_user_burst),
     "1000", 1, 10000000, NULL, 0, NULL, "Burst of --rate-user."},
    {"rate-ip", "WB_RATE_IP", CFG_INT, F(rate_ip), "1000", 0, 1000000, NULL,
     0, NULL, RATE_HELP("client IP address")},
    {"rate-ip-burst", "WB_RATE_IP_BURST", CFG_INT, F(rate_ip_burst), "2000",
     1, 10000000, NULL, 0, NULL, "Burst of --rate-ip."},
    {"max-conns-per-ip", "WB_MAX_CONNS_PER_IP", CFG_INT, F(max_conns_per_ip),
     "0", 0, 10000000, NULL, 0, NULL,
     "Open WebSocket connections from one client IP at most (a further one "
     "is closed with 4029); 0: no cap. Many users can share one address "
     "behind NAT: size it for the largest office you serve."},
    {"trust-proxy", "WB_TRUST_PROXY", CFG_BOOL, F(trust_proxy), "false", 0,
     0, NULL, 0, NULL,
     "Take the client IP from X-Forwarded-For's last entry, the one the "
     "proxy appends (only behind a proxy you run)."},
    {"max-frame", "WB_MAX_FRAME", CFG_SIZE, F(max_frame), "1MiB", 1 * KIB,
     64 * MIB, NULL, 0, NULL, "Largest WebSocket message accepted."},
    {"ws-sendq-max", "WB_WS_SENDQ_MAX", CFG_SIZE, F(ws_sendq_max), "8MiB",
     64 * KIB, 1 * GIB, NULL, 0, NULL,
     "Bytes queued for one WebSocket client (its welcome not counted) "
     "before it is closed as a slow consumer (4010); presence is dropped "
     "above half of it."},
    {"request-timeout", "WB_REQUEST_TIMEOUT", CFG_DURATION,
     F(request_timeout_ms), "30s", 1000, 3600 * 1000LL, NULL, 0, NULL,
     "A REST request still waiting for the engine (its ops not durable yet) "
     "or a worker after this long is answered 504; its ops may still "
     "become durable: resend with the same clientOpId."},
    {"span-rate", "WB_SPAN_RATE", CFG_INT, F(span_rate), "1000", 0, 1000000,
     NULL, 0, NULL,
     "Trace span records (op.apply, board.join, snapshot.write) written per "
     "second at most, at level info; the excess is counted and reported. "
     "0: none."},
    {"presence-rate", "WB_PRESENCE_RATE", CFG_INT, F(presence_rate), "20", 1,
     1000, NULL, 0, NULL,
     "Presence frames per second per WebSocket connection (burst the same); "
     "the excess is dropped."},
    {"max-elements", "WB_MAX_ELEMENTS", CFG_INT, F(max_elements), "100000", 1,
     10000000, NULL, 0, NULL, "Most visible elements on one board."},
    {"max-board-bytes", "WB_MAX_BOARD_BYTES", CFG_SIZE, F(max_board_bytes),
     "64MiB", 64 * KIB, 4 * GIB, NULL, 0, NULL,
     "Largest encoded state of one board."},
    {"allowed-origins", "WB_ALLOWED_ORIGINS", CFG_STRING, F(allowed_origins),
     "", 0, 0, NULL, 0, cfg_check_origins,
     "Comma list of Origins allowed on WebSocket upgrades (https://host"
     "[:port], or *); empty: same host as the request only."},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])
_Static_assert(NSETTINGS <= CFG_MAX_SETTINGS, "raise CFG_MAX_SETTINGS");

const cfg_setting *cfg_settings(size_t *count)
{
    *count = NSETTINGS;
    return settings;
}

const cfg_setting *cfg_find(const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0 ||
            strcmp(settings[i].env, name) == 0)
            return &settings[i];
    return NULL;
}

size_t cfg_index(const cfg_setting *s)
{
    return (size_t)(s - settings);
}

void cfg_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Decimal int64 with optional sign, whole string; 0 or -1. */
static int parse_i64(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -1;
    *out = v;
    return *end ? (int)(end - s) + 1 : 0; /* >0: offset+1 of a suffix */
}

/* Number then unit from units[] (multipliers in mult[]); "" unit = bare. */
static int parse_with_unit(const char *s, const char *const *units,
                           const int64_t *mult, int64_t bare, int64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v;
    int r = parse_i64(s, &v);
    if (r < 0)
        return -1;
    const char *unit = r ? s + r - 1 : "";
    int64_t m = -1;
    if (!*unit)
        m = bare;
    for (size_t i = 0; units[i] && m < 0; i++)
        if (strcasecmp(unit, units[i]) == 0)
            m = mult[i];
    if (m < 0 || (v > 0 && v > INT64_MAX / m))
        return -1;
    *out = v * m;
    return 0;
}

static int parse_size(const char *s, int64_t *out)
{
    static const char *const u[] = {"b",   "k", "kib", "m", "mib", "g",
                                    "gib", "t", "tib", NULL};
    static const int64_t m[] = {1,   KIB, KIB, MIB, MIB, GIB,
                                GIB, 1024 * GIB, 1024 * GIB};
    return parse_with_unit(s, u, m, 1, out);
}

static int parse_duration(const char *s, int64_t *out)
{
    static const char *const u[] = {"ms", "s", "m", "h", NULL};
    static const int64_t m[] = {1, 1000, 60000, 3600000};
    return parse_with_unit(s, u, m, 1000, out);
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

static int parse_enum(const cfg_setting *s, const char *v, int *out)
{
    for (int i = 0; s->words[i]; i++)
        if (strcmp(v, s->words[i]) == 0)
            return *out = i, 0;
    return -1;
}

static const char *type_example(enum cfg_type t)
{
    switch (t) {
    case CFG_INT: return "an integer";
    case CFG_BOOL: return "a bool (true/false)";
    case CFG_DURATION: return "a duration (e.g. 500ms, 30s, 5m)";
    case CFG_SIZE: return "a size (e.g. 1MiB)";
    default: return "valid";
    }
}

static int set_number(cfg *c, const cfg_setting *s, const char *value,
                      const char *where, char *err, size_t errlen)
{
    int64_t v = 0;
    int r = s->type == CFG_INT    ? (parse_i64(value, &v) ? -1 : 0)
            : s->type == CFG_SIZE ? parse_size(value, &v)
                                  : parse_duration(value, &v);
    if (r != 0) {
        cfg_errf(err, errlen, "%s: \"%s\" is not %s", where, value,
                 type_example(s->type));
        return WB_EINVAL;
    }
    if (v < s->min || v > s->max) {
        cfg_errf(err, errlen, "%s: %s is %s the %s %lld", where, value,
                 v < s->min ? "below" : "above",
                 v < s->min ? "minimum" : "maximum",
                 (long long)(v < s->min ? s->min : s->max));
        return -ERANGE;
    }
    *(int64_t *)((char *)c + s->offset) = v;
    return 0;
}

static int set_string(cfg *c, const cfg_setting *s, const char *value,
                      const char *where, char *err, size_t errlen)
{
    char why[160] = "";
    if (s->check && s->check(value, why, sizeof why) != 0) {
        if (s->flags & CFG_F_SECRET)
            cfg_errf(err, errlen, "%s: %s", where, why); /* no echo */
        else
            cfg_errf(err, errlen, "%s: \"%s\": %s", where, value, why);
        return WB_EINVAL;
    }
    char *copy = strdup(value);
    if (!copy)
        return WB_ENOMEM;
    char **field = (char **)((char *)c + s->offset);
    free(*field);
    *field = copy;
    return 0;
}

int cfg_set(cfg *c, const cfg_setting *s, const char *value,
            enum cfg_source src, const char *where, char *err,
            size_t errlen)
{
    int rc = 0, iv;
    int *ip = (int *)((char *)c + s->offset);
    switch (s->type) {
    case CFG_STRING:
        rc = set_string(c, s, value, where, err, errlen);
        break;
    case CFG_INT:
    case CFG_DURATION:
    case CFG_SIZE:
        rc = set_number(c, s, value, where, err, errlen);
        break;
    case CFG_BOOL:
        if (parse_bool(value, &iv) != 0) {
            cfg_errf(err, errlen, "%s: \"%s\" is not %s", where, value,
                     type_example(s->type));
            return WB_EINVAL;
        }
        *ip = iv;
        break;
    case CFG_ENUM:
        if (parse_enum(s, value, &iv) != 0) {
            char words[128] = "";
            for (int i = 0; s->words[i]; i++)
                snprintf(words + strlen(words), sizeof words - strlen(words),
                         "%s%s", i ? ", " : "", s->words[i]);
            cfg_errf(err, errlen, "%s: \"%s\" is not one of %s", where,
                     value, words);
            return WB_EINVAL;
        }
        *ip = iv;
        break;
    }
    if (rc == 0)
        c->source[cfg_index(s)] = src;
    return rc;
}

int cfg_defaults(cfg *c)
{
    memset(c, 0, sizeof *c); /* strings NULL: cfg_free is safe on error */
    char err[256];
    for (size_t i = 0; i < NSETTINGS; i++) {
        int rc = cfg_set(c, &settings[i], settings[i].def, CFG_SRC_DEFAULT,
                         "default", err, sizeof err);
        if (rc)
            return rc;
    }
    return 0;
}

void cfg_free(cfg *c)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type == CFG_STRING) {
            char **field = (char **)((char *)c + settings[i].offset);
            free(*field);
            *field = NULL;
        }
}

enum cfg_source cfg_source_of(const cfg *c, const char *name)
{
    const cfg_setting *s = cfg_find(name);
    return s ? c->source[cfg_index(s)] : CFG_SRC_DEFAULT;
}

const char *cfg_source_name(enum cfg_source src)
{
    static const char *const names[] = {"default", "env file", "environment",
                                        "flag"};
    return (unsigned)src <= CFG_SRC_FLAG ? names[src] : "?";
}
