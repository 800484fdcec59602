/*
 * whiteboardd.c: main of the node.
 *
 *   whiteboardd [--flag value ...]      (whiteboardd --help lists them)
 *
 * Order: settings (cfg_load: flag > environment > env file > default), logs,
 * the effective configuration logged with secrets redacted, node_init (data
 * dir, JWT secret, metrics), signals blocked before any thread starts, then
 * the server loop on this thread while a recovery thread opens the engine
 * (recovery; /readyz is 503 until it is done) and creates the WS hub. On
 * SIGTERM/SIGINT the loop drains and returns, the recovery thread is
 * joined, the engine closes (drain, final fdatasync, snapshots) and the
 * process exits 0.
 *
 * Exit status: 0 clean stop (or --help/--version), 1 runtime failure
 * (engine, listen), 2 bad settings.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mirror.h"
#include "node.h"
#include "repl.h"
#include "server.h"
#include "wb_error.h"
#include "ws_hub.h"

#ifndef WB_VERSION
#define WB_VERSION "0.0.0"
#endif

static int wbd_has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return 1;
    return 0;
}

/* `--data DIR` (the spelling) is an alias of --data-dir. The
 * rewritten strings are static or point into argv. */
static void wbd_aliases(int argc, char **argv)
{
    static char buf[4200];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0) {
            argv[i] = (char *)"--data-dir";
        } else if (strcmp(argv[i], "--mongo") == 0) {
            argv[i] = (char *)"--mongo-url";
        } else if (strcmp(argv[i], "--redis") == 0) {
            argv[i] = (char *)"--redis-url";
        } else if (strncmp(argv[i], "--data=", 7) == 0 && !buf[0]) {
            snprintf(buf, sizeof buf, "--data-dir=%s", argv[i] + 7);
            argv[i] = buf;
        }
    }
}

static int wbd_load(cfg *c, int argc, char **argv)
{
    char err[512] = "";
    wbd_aliases(argc, argv);
    int rc = cfg_load(c, argc, argv, err, sizeof err);
    if (rc == CFG_HELP) {
        cfg_print_help(stdout, argv[0]);
        printf("  --data <dir>\n      alias of --data-dir\n"
               "  --redis <url>\n      alias of --redis-url\n"
               "  --version\n      print the version and exit\n");
        return 1;
    }
    if (rc) {
        fprintf(stderr, "whiteboardd: %s\n", err[0] ? err : wb_strerror(rc));
        return 2;
    }
    return 0;
}

/* Replication (REDIS_URL): started before the node says ready; an
 * unusable URL stops the node (the log says why). */
static int wbd_repl_start(node *n)
{
    repl *r = NULL;
    if (repl_start(n, &r))
        return 1;
    atomic_store(&n->repl, r);
    return 0;
}

/* The recovery thread: the engine recovers while the server already
 * answers /healthz (200) and /readyz (503). */
typedef struct wbd_recovery {
    node *n;
    int status; /* 0 ready, 1 failed */
} wbd_recovery;

static void *wbd_recover(void *arg)
{
    wbd_recovery *rec = arg;
    node *n = rec->n;
    if (node_open_engine(n)) {
        rec->status = 1;
    } else if (ws_hub_create(n)) {
        WBLOG(WBLOG_ERROR, "cannot create the WebSocket hub");
        rec->status = 1;
    } else if (wbd_repl_start(n)) {
        rec->status = 1;
    } else {
        node_set_ready(n);
        mirror_start(n); /* failures are logged; the node serves anyway */
        return NULL;
    }
    WBLOG(WBLOG_ERROR, "startup failed: stopping");
    server_stop(n);
    return NULL;
}

static int wbd_serve(node *n)
{
    wbd_recovery rec = {n, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, wbd_recover, &rec) != 0) {
        WBLOG(WBLOG_ERROR, "cannot start the recovery thread");
        return 1;
    }
    int status = server_run(n) ? 1 : 0;
    if (status)
        WBLOG(WBLOG_ERROR, "server failed: waiting for recovery to stop");
    pthread_join(t, NULL);
    if (rec.status)
        status = 1;
    repl *rp = atomic_exchange(&n->repl, NULL);
    repl_stop(rp);
    mirror_stop(n);
    WBLOG(WBLOG_INFO, "closing the engine (drain, final fsync, snapshots)");
    if (node_close_engine(n))
        status = 1;
    repl_free(rp); /* after the engine thread's last repl_kick */
    ws_hub_destroy(n);
    return status;
}

int main(int argc, char **argv)
{
    if (wbd_has_flag(argc, argv, "--version")) {
        printf("whiteboardd %s\n", WB_VERSION);
        return 0;
    }
    cfg c;
    int rc = wbd_load(&c, argc, argv);
    if (rc) {
        cfg_free(&c);
        return rc == 1 ? 0 : 2;
    }
    wblog_init(2, (enum wblog_level)c.log_level,
               (enum wblog_format)c.log_format);
    wblog_set_span_rate((unsigned)c.span_rate);
    char *json = cfg_to_json(&c);
    WBLOGF(WBLOG_INFO, "starting", WBF_STR("version", WB_VERSION),
           WBF_STR("config", json ? json : "{}"));
    free(json);
    server_signals_block();
    node n;
    int status = 1;
    if (node_init(&n, &c) == 0)
        status = wbd_serve(&n);
    node_free(&n);
    WBLOGF(WBLOG_INFO, "stopped", WBF_INT("status", status));
    cfg_free(&c);
    return status;
}
