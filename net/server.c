/*
 * server.c: the lws context, the protocols table, the service loop, the
 * 1 s housekeeping timer, and the signal thread (see server.h).
 *
 * Shutdown order (invariant: no response is written after the context is
 * destroyed, no engine ack is lost before engine_close):
 *   1. signal thread: stopping = 1, ready = 0, lws_cancel_service
 *   2. service loop sees stopping: keeps serving while HTTP requests wait
 *      for acks (at most SERVER_DRAIN_MS), answering new API calls 503
 *   3. every WS session is closed with 1001 (going away) over ~300 ms,
 *      then lws_context_destroy closes what is left
 *   4. main: node_close_engine (drain, final fdatasync, snapshots), exit 0
 *
 * Event loop: a libev loop of our own on epoll, given to lws as a foreign
 * loop (lws's libev plugin), turned once per server_turn; without the
 * plugin, or with WB_LWS_POLL=1 in the environment, lws's own poll(2)
 * loop. poll scans every descriptor on every turn: with 8,000 idle
 * WebSocket sessions it took more than half of the service thread under
 * load; epoll costs nothing per idle connection. (lws 4.1's internal libev
 * loop runs until broken, hence our own loop, turned with EVRUN_ONCE.)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>

#include "http_internal.h"
#include "log.h"
#include "server.h"
#include "wb_error.h"
#include "ws_conn.h"
#include "ws_hub.h"

static pthread_t server_sig_thread;
static int server_sig_started;
/* Service thread only: WebSocket sessions are being closed with 1001. */
static int server_closing_ws;
/* Service thread only: our libev loop, or NULL (lws's poll loop). */
static struct ev_loop *server_loop;

/* One turn of the event loop. Returns lws_service's result (< 0: stop).
 * The engine is plugged during the turn's callbacks: the batches they
 * submit wake the engine thread once, when the turn is over
 * (engine_plug), and reach it as one group. Then the frames the turn
 * queued (replies, acks, broadcasts) are written (ws_hub_flush). */
static int server_turn(node *n, struct lws_context *ctx)
{
    int rc = 0;
    engine_plug(n->eng);
    if (server_loop)
        ev_run(server_loop, EVRUN_ONCE);
    else
        rc = lws_service(ctx, 0);
    engine_unplug(n->eng);
    ws_hub_flush(n);
    return rc;
}

void server_signals_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void server_stop(node *n)
{
    atomic_store(&n->ready, 0);
    atomic_store(&n->stopping, 1);
    node_wake(n);
}

static void *server_watchdog(void *arg)
{
    (void)arg;
    struct timespec ts = {SERVER_STOP_MAX_MS / 1000, 0};
    nanosleep(&ts, NULL);
    static const char msg[] =
        "{\"level\":\"error\",\"msg\":\"shutdown took too long, exiting\"}\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void *server_signal_main(void *arg)
{
    node *n = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0, count = 0;
    uint64_t first_ns = 0;
    while (sigwait(&set, &sig) == 0) {
        /* A signal sent to the process group (timeout(1), some
         * supervisors) can arrive twice at once: a repeat within
         * SERVER_SIGNAL_REPEAT_MS is the same request, not a second one. */
        if (count && rl_now_ns() - first_ns <
                         (uint64_t)SERVER_SIGNAL_REPEAT_MS * 1000000u)
            continue;
        if (count++ == 0)
            first_ns = rl_now_ns();
        else {
            static const char msg[] = "{\"level\":\"warn\",\"msg\":"
                                      "\"second signal: exiting now\"}\n";
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            _exit(1);
        }
        WBLOGF(WBLOG_INFO, "signal received: shutting down",
               WBF_INT("signal", sig));
        pthread_t wd;
        if (pthread_create(&wd, NULL, server_watchdog, NULL) == 0)
            pthread_detach(wd);
        server_stop(n);
    }
    return NULL;
}

/* ---- protocols ------------------------------------------------------------ */

static int server_ws_path_ok(struct lws *wsi)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return 0;
    return strcmp(uri, "/ws") == 0;
}

static int server_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                              void *user, void *in, size_t len)
{
    node *n = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (atomic_load(&n->stopping) || !atomic_load(&n->ready))
            return 1;
        return server_ws_path_ok(wsi) ? 0 : 1;
    case LWS_CALLBACK_ESTABLISHED:
        return ws_conn_open(n, wsi, user);
    case LWS_CALLBACK_RECEIVE:
        return ws_conn_receive(n, wsi, user, in, len,
                               lws_is_first_fragment(wsi),
                               lws_is_final_fragment(wsi),
                               lws_frame_is_binary(wsi));
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (server_closing_ws) {
            static const char why[] = "server shutting down";
            lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY,
                             (unsigned char *)why, sizeof why - 1);
            return -1;
        }
        return ws_conn_writable(n, wsi, user);
    case LWS_CALLBACK_CLOSED:
        ws_conn_close(n, wsi, user);
        return 0;
    default:
        return 0;
    }
}

static struct lws_protocols server_protocols[] = {
    {"http", http_callback, sizeof(http_req), 0, 0, NULL, 0},
    {"wb.v1", server_ws_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- housekeeping timer ------------------------------------------------- */

typedef struct server_timer {
    lws_sorted_usec_list_t sul; /* first: container_of by cast */
    node *n;
    struct lws_context *ctx;
} server_timer;

static void server_tick(lws_sorted_usec_list_t *sul)
{
    server_timer *t = (server_timer *)sul;
    uint64_t now = rl_now_ns();
    if (t->n->rl_user)
        rl_table_sweep(t->n->rl_user, now);
    if (t->n->rl_ip)
        rl_table_sweep(t->n->rl_ip, now);
    http_expire_waiters(t->n, now);
    wblog_flush_suppressed();
    lws_sul_schedule(t->ctx, 0, &t->sul, server_tick, LWS_US_PER_SEC);
}

/* ---- lws logging into our JSON log --------------------------------------- */

static void server_lws_log(int level, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    size_t l = strlen(buf);
    while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
        buf[--l] = '\0';
    WBLOGF(level & LLL_ERR ? WBLOG_ERROR : WBLOG_WARN, "libwebsockets",
           WBF_STR("detail", buf));
}

/* ---- listen address ----------------------------------------------------- */

/* "host:port" or "[v6]:port" -> host (no brackets) and port. */
static int server_parse_listen(const char *s, char *host, size_t hostlen,
                               int *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return WB_EINVAL;
        snprintf(host, hostlen, "%.*s", (int)(close - s - 1), s + 1);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return WB_EINVAL;
        snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return WB_EINVAL;
    *port = (int)p;
    return 0;
}

static struct lws_context *server_create(node *n, char *host, size_t hostlen,
                                         int *port)
{
    const cfg *c = n->cfg;
    if (server_parse_listen(c->listen, host, hostlen, port)) {
        WBLOGF(WBLOG_ERROR, "bad listen address", WBF_STR("listen", c->listen));
        return NULL;
    }
    server_protocols[1].per_session_data_size = ws_conn_size();
    server_protocols[1].rx_buffer_size = WS_RX_BUFFER;
    server_protocols[1].tx_packet_size = WS_TX_CHUNK;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = *port;
    info.iface = host[0] && strcmp(host, "0.0.0.0") && strcmp(host, "::")
                     ? host
                     : NULL;
    info.protocols = server_protocols;
    info.user = n;
    info.gid = -1;
    info.uid = -1;
    info.max_http_header_data = 16384;
    info.timeout_secs = 30;
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
    if (!strchr(host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (c->tls_cert[0]) {
        /* HTTP/1.1 only: WebSocket upgrades and our response writer are
         * HTTP/1.1 (over h2 large answers were cut mid-stream). */
        info.alpn = "http/1.1";
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = c->tls_cert;
        info.ssl_private_key_filepath = c->tls_key;
    }
    if (!getenv("WB_LWS_POLL"))
        server_loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
    if (server_loop) {
        void *loops[1] = {server_loop};
        struct lws_context_creation_info ev = info;
        ev.options |= LWS_SERVER_OPTION_LIBEV;
        ev.foreign_loops = loops;
        struct lws_context *ctx = lws_create_context(&ev);
        if (ctx)
            return ctx;
        ev_loop_destroy(server_loop);
        server_loop = NULL;
        WBLOG(WBLOG_WARN, "libev event loop unavailable: using poll");
    }
    return lws_create_context(&info);
}

/* Every connection is a file descriptor: the soft limit (often 1024) is
 * raised to the hard one, at most SERVER_MAX_FDS, before lws sizes its
 * tables from it. */
#define SERVER_MAX_FDS 1048576u
static void server_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY || want > SERVER_MAX_FDS)
        want = SERVER_MAX_FDS;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        WBLOGF(WBLOG_WARN, "cannot raise the open files limit",
               WBF_UINT("want", (uint64_t)want), WBF_ERR(-errno));
}

int server_run(node *n)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, server_lws_log);
    server_raise_fd_limit();
    char host[256];
    int port = 0;
    struct lws_context *ctx = server_create(n, host, sizeof host, &port);
    if (!ctx) {
        WBLOGF(WBLOG_ERROR, "cannot listen", WBF_STR("listen", n->cfg->listen));
        return -EADDRINUSE;
    }
    node_set_ctx(n, ctx);
    if (http_worker_start(n)) {
        node_set_ctx(n, NULL);
        lws_context_destroy(ctx);
        return WB_ENOMEM;
    }
    if (!server_sig_started &&
        pthread_create(&server_sig_thread, NULL, server_signal_main, n) == 0) {
        pthread_detach(server_sig_thread);
        server_sig_started = 1;
    }
    server_timer tick;
    memset(&tick, 0, sizeof tick);
    tick.n = n;
    tick.ctx = ctx;
    lws_sul_schedule(ctx, 0, &tick.sul, server_tick, LWS_US_PER_SEC);

    const char *scheme = n->cfg->tls_cert[0] ? "https" : "http";
    int v6 = strchr(host, ':') != NULL;
    printf("whiteboardd listening on %s://%s%s%s:%d/ (data %s)\n", scheme,
           v6 ? "[" : "", host[0] ? host : "0.0.0.0", v6 ? "]" : "", port,
           n->cfg->data_dir);
    fflush(stdout);
    WBLOGF(WBLOG_INFO, "listening", WBF_STR("listen", n->cfg->listen));

    while (!atomic_load(&n->stopping))
        if (server_turn(n, ctx) < 0)
            break;
    /* Drain: requests waiting for engine acks get their answers. */
    uint64_t deadline = rl_now_ns() + (uint64_t)SERVER_DRAIN_MS * 1000000u;
    while (http_waiting_count() > 0 && rl_now_ns() < deadline)
        if (server_turn(n, ctx) < 0)
            break;
    /* Going away: every WS session gets a 1001 close frame (the client
     * resumes elsewhere or later with its version token). */
    server_closing_ws = 1;
    lws_callback_on_writable_all_protocol(ctx, &server_protocols[1]);
    deadline = rl_now_ns() + 300u * 1000000u;
    while (rl_now_ns() < deadline)
        if (server_turn(n, ctx) < 0)
            break;
    lws_sul_cancel(&tick.sul);
    WBLOGF(WBLOG_INFO, "closing connections",
           WBF_UINT("unansweredRequests", http_waiting_count()));
    http_worker_stop();
    node_set_ctx(n, NULL); /* no wake-up reaches a destroyed context */
    lws_context_destroy(ctx);
    if (server_loop) {
        ev_loop_destroy(server_loop);
        server_loop = NULL;
    }
    ws_hub_quiesce(n); /* before node_close_engine: it calls the engine */
    return 0;
}
