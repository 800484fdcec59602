/*
 * config.h: the node's settings, one table (public API, prefix cfg_).
 *
 * Every setting is one row of the table in config.c: flag name, environment
 * variable, type, default (as text, parsed by the same code as user input,
 * so a bad default fails the tests), bounds, secret or not, help. The
 * --help text and the startup JSON line are generated from that table; a
 * new setting is one row plus one field in struct cfg.
 *
 * Sources, later ones winning:
 *   1. default               the table's value; a bare `whiteboardd` works
 *   2. env file              --env-file FILE, else ./.env when present:
 *                            KEY=VALUE lines, `export ` prefix allowed,
 *                            '#' comments (whole line, or after whitespace
 *                            in an unquoted value), values optionally in
 *                            "double" (\n \t \" \\ escapes) or 'single'
 *                            (literal) quotes. Keys that are not settings
 *                            are ignored (a shared .env holds other
 *                            services' keys), except WB_* keys, which must
 *                            be ours (catches typos).
 *   3. environment           the setting's variable; an empty variable
 *                            counts as unset (compose passes undefined ones
 *                            as empty)
 *   4. flags                 --name value or --name=value; a bool flag alone
 *                            (--trust-proxy) means true
 *
 * Value syntax by type:
 *   string    any text (some settings check their shape: listen, fsync,
 *             URLs, origins, JWT secrets of >= CFG_JWT_SECRET_MIN bytes)
 *   int       decimal integer
 *   bool      true/false, 1/0, yes/no, on/off (any case)
 *   duration  integer with unit ms, s, m or h ("500ms", "30s"); a bare
 *             integer is seconds. Stored in milliseconds.
 *   size      integer with optional unit K/KiB, M/MiB, G/GiB, T/TiB (all
 *             powers of 1024; "B" or none: bytes). Stored in bytes.
 *   enum      one of the listed words
 *
 * Errors name the source and the setting, e.g.
 *   environment WB_MAX_FRAME: "10x" is not a size (e.g. 1MiB)
 *   flag --segment-size: 4096 is below the minimum 1048576
 *   /srv/wb/.env:3: expected KEY=VALUE
 * and the code says what kind: WB_EINVAL (not a number/size/duration/word,
 * bad shape, missing flag value), -ERANGE (out of bounds), WB_EUNKNOWN
 * (unknown flag or WB_* key), WB_EMALFORMED (env file syntax), -ENOENT (an
 * --env-file that does not exist), WB_ENOMEM.
 *
 * Threads: a cfg is filled at startup by one thread, then read-only.
 */
#ifndef WB_CONFIG_H
#define WB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_MAX_SETTINGS 64
#define CFG_JWT_SECRET_MIN 32 /* bytes: RFC 7518 3.2, key >= hash size */

enum cfg_type {
    CFG_STRING,
    CFG_INT,
    CFG_BOOL,
    CFG_DURATION,
    CFG_SIZE,
    CFG_ENUM
};

enum cfg_source { CFG_SRC_DEFAULT, CFG_SRC_ENV_FILE, CFG_SRC_ENV, CFG_SRC_FLAG };

enum cfg_guest { CFG_GUEST_AUTO, CFG_GUEST_ON, CFG_GUEST_OFF };
enum cfg_log_level { CFG_LOG_DEBUG, CFG_LOG_INFO, CFG_LOG_WARN, CFG_LOG_ERROR };
enum cfg_log_format { CFG_LOG_JSON, CFG_LOG_TEXT };
enum cfg_fsync { CFG_FSYNC_ALWAYS, CFG_FSYNC_INTERVAL, CFG_FSYNC_NONE };

/* The effective configuration. Strings are owned (cfg_free), never NULL
 * after cfg_defaults; "" means unset. int/duration/size are int64_t, bool
 * and enum int (enum: the index of the word in the table's list). */
typedef struct cfg {
    char *data_dir;             /* WB_DATA */
    char *listen;               /* WB_LISTEN host:port */
    int64_t node_id;            /* WB_NODE_ID; 0: stored one or random */
    char *jwt_secret;           /* JWT_SECRET (secret) */
    char *jwt_secret_previous;  /* JWT_SECRET_PREVIOUS (secret) */
    int guest;                  /* WB_GUEST, enum cfg_guest */
    char *redis_url;            /* REDIS_URL; "": single node */
    int64_t redis_shards;       /* WB_REDIS_SHARDS: shard streams */
    int64_t redis_retention;    /* WB_REDIS_RETENTION: entries per stream */
    char *advertise;            /* WB_ADVERTISE host:port; "": listen */
    char *mongo_url;            /* MONGO_URL; "": no mirror */
    int mirror_all;             /* WB_MIRROR_ALL: mirror replicated ops too */
    int64_t mirror_doc_max;     /* WB_MIRROR_DOC_MAX, bytes */
    char *tls_cert, *tls_key;   /* WB_TLS_CERT, WB_TLS_KEY; "": plain */
    char *fsync;                /* WB_FSYNC: cfg_fsync_parse */
    int64_t segment_size;       /* WB_SEGMENT_SIZE, bytes */
    int64_t snapshot_ops;       /* WB_SNAPSHOT_OPS; 0: not by count */
    int64_t snapshot_interval_ms; /* WB_SNAPSHOT_INTERVAL; 0: not by time */
    int64_t memory_budget;      /* WB_MEMORY_BUDGET, bytes */
    int log_level;              /* WB_LOG_LEVEL, enum cfg_log_level */
    int log_format;             /* WB_LOG_FORMAT, enum cfg_log_format */
    int64_t rate_conn, rate_conn_burst; /* ops/s per connection; 0: off */
    int64_t rate_user, rate_user_burst; /* ops/s per user id */
    int64_t rate_ip, rate_ip_burst;     /* ops/s per client IP */
    int trust_proxy;            /* WB_TRUST_PROXY: IP from X-Forwarded-For */
    int64_t max_frame;          /* WB_MAX_FRAME, bytes of a WS frame */
    int64_t ws_sendq_max;       /* WB_WS_SENDQ_MAX, bytes per WS client */
    int64_t request_timeout_ms; /* WB_REQUEST_TIMEOUT: REST answer wait */
    int64_t span_rate;          /* WB_SPAN_RATE: span records per second */
    int64_t max_conns_per_ip;   /* WB_MAX_CONNS_PER_IP; 0: no cap */
    int64_t presence_rate;      /* WB_PRESENCE_RATE, frames/s per WS client */
    int64_t max_elements;       /* WB_MAX_ELEMENTS per board */
    int64_t max_board_bytes;    /* WB_MAX_BOARD_BYTES */
    char *allowed_origins;      /* WB_ALLOWED_ORIGINS, comma list */

    enum cfg_source source[CFG_MAX_SETTINGS]; /* per table row */
} cfg;

/* One row of the table (read-only, static). */
typedef struct cfg_setting {
    const char *name;  /* flag without "--" */
    const char *env;   /* environment / env file key */
    enum cfg_type type;
    size_t offset;     /* of the field in struct cfg */
    const char *def;   /* default, as text */
    int64_t min, max;  /* int, duration (ms), size (bytes) */
    const char *const *words; /* enum: NULL-terminated */
    unsigned flags;    /* CFG_F_* */
    /* Optional shape check for strings: 0 or WB_EINVAL with why. */
    int (*check)(const char *value, char *why, size_t whylen);
    const char *help;
} cfg_setting;

#define CFG_F_SECRET 1u /* never printed: "***" */
#define CFG_F_URL 2u    /* printed with the URL's password replaced */

/* The table and its length. */
const cfg_setting *cfg_settings(size_t *count);

/* The row named by flag name ("data-dir") or variable ("WB_DATA"), or NULL. */
const cfg_setting *cfg_find(const char *name);

/* Sets every setting to its default. Returns 0 or WB_ENOMEM (c is then
 * still safe to cfg_free). */
int cfg_defaults(cfg *c);

/* Frees the strings; c may be reused with cfg_defaults. */
void cfg_free(cfg *c);

/* Sets one setting from text, recording src. where names the source for
 * the error text ("flag --x", "environment X", "FILE:LINE"). Returns 0 or
 * a code listed at the top, with a message in err. */
int cfg_set(cfg *c, const cfg_setting *s, const char *value,
            enum cfg_source src, const char *where, char *err,
            size_t errlen);

/* The whole load: cfg_defaults, the env file, the environment, the flags
 * (argv[0] is the program name), then cfg_validate. Returns 0, CFG_HELP
 * when --help/-h was given (print cfg_print_help and exit 0), or an error
 * with its message in err. On error c holds partial settings: cfg_free it. */
#define CFG_HELP 1
int cfg_load(cfg *c, int argc, char *const *argv, char *err, size_t errlen);

/* The layers one by one (cfg_load calls them; tests use them directly).
 * cfg_load_env_file: must_exist 0 makes a missing file a no-op. */
int cfg_load_env_file(cfg *c, const char *path, int must_exist, char *err,
                      size_t errlen);
int cfg_load_environ(cfg *c, char *err, size_t errlen);
int cfg_load_args(cfg *c, int argc, char *const *argv, int *help,
                  char *err, size_t errlen);

/* Checks that settings agree with each other (TLS cert and key together; a
 * previous JWT secret needs a current one). 0 or WB_EINVAL. */
int cfg_validate(const cfg *c, char *err, size_t errlen);

/* The source that set the named setting (CFG_SRC_DEFAULT if unknown). */
enum cfg_source cfg_source_of(const cfg *c, const char *name);
const char *cfg_source_name(enum cfg_source src);

/* The effective configuration as one JSON object, keys = flag names, for
 * the startup log line. Secrets print as "***" (or "" when unset), URL
 * passwords as "***". Returns a malloc'd string (caller frees) or NULL. */
char *cfg_to_json(const cfg *c);

/* Writes the --help text generated from the table. */
void cfg_print_help(FILE *out, const char *prog);

/* Parses a WB_FSYNC value: "always", "none" or "interval:MS" (MS in
 * 1..60000). Returns 0 or WB_EINVAL. */
int cfg_fsync_parse(const char *s, enum cfg_fsync *mode, uint32_t *interval_ms);

#endif /* WB_CONFIG_H */
