/*
 * wbl_client.c: the worker threads of wb-load. Each worker owns one
 * libwebsockets client context and a slice of the connections; everything
 * about a connection (send queue, reassembly, counters) is touched only by
 * its worker's service thread.
 *
 * Event loop: each worker runs its own libev loop on epoll, given to lws
 * as a foreign loop (--evlib poll: lws's poll(2) loop). A ticker thread
 * per worker wakes it every --tick-us (lws_cancel_service; default 500 us)
 * and the tick drives the phases the main thread sets in run->phase:
 * CONNECT opens connections (at most WBL_INFLIGHT handshakes at a time per
 * worker, paced by --connect-rate) and sends the hello; FILL lets the join
 * workload's filler write the board (closed loop: up to 4 batches in
 * flight); JOIN opens the fresh join clients one at a time and closes each
 * once its welcome is decoded; RUN enqueues every op and presence slot
 * that is due (open loop, see wbl.h); DRAIN sends the slots still owed
 * from before the end and nothing after; CLOSE closes every connection
 * and ends the worker's loop. Progress counters are published to atomics
 * on every tick for the main thread.
 *
 * lws: one lws_write per writable callback, the frame written from the
 * buffer's LWS_PRE headroom, then freed (a client sends little: one op
 * per slot).
 */
#include <ev.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "wbl.h"

#define WBL_INFLIGHT 64u
#define WBL_FILL_BATCH 1000u
#define WBL_FILL_WINDOW 4u

static const struct lws_protocols wbl_protocols[];

/* ---- send queue ---------------------------------------------------------- */

/* Queues b (owned); with ask, asks for a writable callback (tick_run
 * does not: it flushes the client itself, q_flush). */
static int q_add(wbl_client *c, wbl_buf *b, int ask)
{
    if (!b)
        return -1;
    if (c->qlen >= WBL_QCAP) {
        free(b);
        return -1;
    }
    c->q[(c->qhead + c->qlen) % WBL_QCAP] = b;
    c->qlen++;
    if (ask && c->wsi)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static int q_push(wbl_client *c, wbl_buf *b) { return q_add(c, b, 1); }

/* Writes c's queued frames now (tick_run: the worker's service thread,
 * outside c's own callbacks) while lws keeps nothing back, instead of one
 * writable callback per frame (each an epoll_ctl to add POLLOUT, one to
 * remove it, and a loop turn); what is left goes through the callback.
 * As the node and wb-relay write (net/ws_conn.c). */
static void q_flush(wbl_client *c)
{
    while (c->qlen && c->wsi && !lws_partial_buffered(c->wsi)) {
        wbl_buf *b = c->q[c->qhead];
        c->qhead = (c->qhead + 1) % WBL_QCAP;
        c->qlen--;
        int n = lws_write(c->wsi, b->data + LWS_PRE, b->len, LWS_WRITE_BINARY);
        c->w->st.bytes_out += b->len;
        int bad = n < (int)b->len;
        free(b);
        if (bad) { /* lws closes it from its loop: CLIENT_CLOSED counts it */
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                            LWS_TO_KILL_ASYNC);
            return;
        }
    }
    if (c->qlen && c->wsi)
        lws_callback_on_writable(c->wsi);
}

static void q_clear(wbl_client *c)
{
    while (c->qlen) {
        free(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % WBL_QCAP;
        c->qlen--;
    }
}

/* ---- connection lifecycle ------------------------------------------------ */

static void client_connect(wbl_worker *w, wbl_client *c, uint64_t now)
{
    const wbl_run *r = w->run;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = w->ctx;
    ci.address = r->host;
    ci.port = r->port;
    ci.path = r->path;
    ci.host = r->host;
    ci.origin = NULL;
    ci.protocol = "wb.v1";
    ci.local_protocol_name = "wb.v1";
    ci.opaque_user_data = c;
    if (r->tls)
        ci.ssl_connection =
            LCCSCF_USE_SSL | (r->o.insecure ? LCCSCF_ALLOW_SELFSIGNED |
                                                  LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                                  LCCSCF_ALLOW_INSECURE
                                            : 0);
    c->state = WBL_C_CONNECTING;
    c->t_connect_us = now;
    c->closing = 0;
    w->inflight++;
    ci.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&ci) && c->state == WBL_C_CONNECTING) {
        /* (when lws already reported the error, the callback counted it) */
        c->wsi = NULL;
        c->state = WBL_C_FAILED;
        w->inflight--;
        w->st.errors[WBL_E_CONNECT]++;
    }
}

/* Called with the welcome (wbl_proto.c). */
void wbl_client_welcome(wbl_client *c, uint64_t now, const uint8_t *state,
                        size_t len, int delta)
{
    wbl_worker *w = c->w;
    if (c->state != WBL_C_HELLO) {
        w->st.errors[WBL_E_DECODE]++;
        return;
    }
    c->state = WBL_C_JOINED;
    atomic_fetch_add_explicit(&w->run->room_size[c->room], 1, memory_order_relaxed);
    if (w->inflight)
        w->inflight--;
    if (w->run->o.workload == WBL_JOIN && !c->filler) {
        wbl_hist_add(&w->st.join_recv, now - c->t_connect_us);
        board *b = NULL;
        size_t n = 0;
        if (!delta && state && board_state_decode(state, len, NULL, &b) == 0) {
            n = board_element_count(b);
            board_free(b);
        }
        uint64_t t2 = wbl_now_us();
        if (n != (size_t)w->run->o.elements)
            w->st.errors[WBL_E_JOIN]++;
        else
            wbl_hist_add(&w->st.join_loaded, t2 - c->t_connect_us);
        c->closing = 1; /* done: close it, the next one connects */
        lws_callback_on_writable(c->wsi);
    }
}

static void fill_send(wbl_client *c, uint64_t now)
{
    wbl_run *r = c->w->run;
    uint32_t total = (uint32_t)r->o.elements;
    while (c->fill_inflight < WBL_FILL_WINDOW && c->fill_sent < total &&
           c->qlen < WBL_QCAP && now >= c->fill_retry_us) {
        uint32_t n = total - c->fill_sent;
        if (n > WBL_FILL_BATCH)
            n = WBL_FILL_BATCH;
        if (!c->pres_next_us || c->pres_next_us < now)
            c->pres_next_us = now; /* cid base, advanced per op */
        wbl_buf *b = wbl_frame_fill(r, c, c->fill_sent, n, c->pres_next_us);
        c->pres_next_us += n;
        if (q_push(c, b)) {
            c->w->st.errors[WBL_E_DECODE]++;
            return;
        }
        c->fill_sent += n;
        c->fill_inflight++;
    }
}

/* Called with every ack the filler gets (wbl_proto.c). */
void wbl_client_fill_ack(wbl_client *c, uint32_t status, uint32_t n,
                         uint64_t now)
{
    if (c->fill_inflight)
        c->fill_inflight--;
    if (status == 0) {
        c->fill_acked += n;
        return;
    }
    /* refused (rate limited, busy): send those elements again later */
    c->w->st.ack_code[status < WBL_NCODES ? status : WBL_NCODES - 1] += n;
    c->fill_sent -= n < c->fill_sent ? n : c->fill_sent;
    if (c->fill_sent < c->fill_acked)
        c->fill_sent = c->fill_acked;
    c->fill_retry_us = now + 100000u;
}

static void wbl_tick(wbl_worker *w);

static int wbl_callback(struct lws *wsi, enum lws_callback_reasons reason,
                        void *user, void *in, size_t len)
{
    if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
        wbl_worker *tw = lws_context_user(lws_get_context(wsi));
        if (tw)
            wbl_tick(tw); /* woken by the worker's ticker thread */
        return 0;
    }
    wbl_client *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return 0;
    wbl_worker *w = c->w;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c->state == WBL_C_CONNECTING || c->state == WBL_C_HELLO) {
            if (w->inflight)
                w->inflight--;
            w->st.errors[WBL_E_CONNECT]++;
            if (in && len && w->st.errors[WBL_E_CONNECT] <= 3)
                fprintf(stderr, "wb-load: connect: %.*s\n", (int)len,
                        (const char *)in);
        }
        c->state = WBL_C_FAILED;
        c->wsi = NULL;
        q_clear(c);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->state = WBL_C_HELLO;
        q_push(c, wbl_frame_hello(w->run->tokens[c->idx],
                                  w->run->boards[c->room]));
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        uint64_t now = wbl_now_us();
        int first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);
        if (first && final && !c->inmsg) {
            wbl_frame_handle(c, in, len, now);
            return 0;
        }
        if (!c->inmsg) /* (robust whether lws flags every piece first) */
            c->rxlen = 0;
        c->inmsg = !final;
        if (c->rxlen + len > c->rxcap) {
            size_t cap = c->rxcap ? c->rxcap : 65536;
            while (cap < c->rxlen + len)
                cap *= 2;
            uint8_t *nb = realloc(c->rx, cap);
            if (!nb)
                return -1;
            c->rx = nb;
            c->rxcap = cap;
        }
        memcpy(c->rx + c->rxlen, in, len);
        c->rxlen += len;
        if (final) {
            wbl_frame_handle(c, c->rx, c->rxlen, now);
            c->rxlen = 0;
            if (c->rxcap > (1u << 20)) { /* join states: do not keep them */
                free(c->rx);
                c->rx = NULL;
                c->rxcap = 0;
            }
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->qlen) {
            wbl_buf *b = c->q[c->qhead];
            c->qhead = (c->qhead + 1) % WBL_QCAP;
            c->qlen--;
            int n = lws_write(wsi, b->data + LWS_PRE, b->len, LWS_WRITE_BINARY);
            w->st.bytes_out += b->len;
            size_t want = b->len;
            free(b);
            if (n < (int)want)
                return -1;
            if (c->qlen || c->closing)
                lws_callback_on_writable(wsi);
            return 0;
        }
        if (c->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (!c->closing && len >= 2) {
            const uint8_t *p = in;
            unsigned code = (unsigned)p[0] << 8 | p[1];
            if (w->st.errors[WBL_E_CLOSED] < 3)
                fprintf(stderr, "wb-load: client %u closed by the server: %u %.*s\n",
                        c->idx, code, (int)(len - 2), (const char *)p + 2);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c->closing && atomic_load(&w->run->phase) < WBL_PH_CLOSE) {
            w->st.errors[WBL_E_CLOSED]++;
            if (c->state == WBL_C_HELLO && w->inflight)
                w->inflight--;
        }
        if (c->state == WBL_C_JOINED)
            atomic_fetch_sub_explicit(&w->run->room_size[c->room], 1,
                                      memory_order_relaxed);
        c->state = WBL_C_CLOSED;
        c->wsi = NULL;
        q_clear(c);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols wbl_protocols[] = {
    {"wb.v1", wbl_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the timer ------------------------------------------------------------- */

static void tick_connect(wbl_worker *w, uint64_t now, int join_mode)
{
    const wbl_run *r = w->run;
    double rate = r->o.connect_rate / (double)r->o.threads;
    uint32_t limit = join_mode ? 1u : WBL_INFLIGHT;
    while (w->next_connect < w->nclients && w->inflight < limit) {
        wbl_client *c = w->clients[w->next_connect];
        if (!join_mode && r->o.workload == WBL_JOIN && !c->filler)
            return; /* join clients wait for the JOIN phase */
        if (join_mode) {
            /* the previous join client must be gone first */
            if (w->next_connect > 0) {
                wbl_client *p = w->clients[w->next_connect - 1];
                if (p->wsi && !p->filler)
                    return;
            }
            if (c->filler) {
                w->next_connect++;
                continue;
            }
        } else if (rate > 0) {
            uint64_t step = (uint64_t)(1e6 / rate);
            if (w->connect_credit_us > now)
                return;
            w->connect_credit_us = (w->connect_credit_us + step > now)
                                       ? w->connect_credit_us + step
                                       : now;
        }
        w->next_connect++;
        client_connect(w, c, now);
    }
}

/* Sends what is due. Runs in RUN and DRAIN (a late tick still owes the
 * slots before t_end: sent, or counted as missed). Sets w->slots_done once
 * no client has a slot left. */
/* Every op slot of c before the end of the run that was not sent is
 * missed: a client that is not joined (closed, failed) misses its slots as
 * they come, and when the worker stops scheduling (slots_done) whatever is
 * left is counted, so sent + missed is always the whole schedule. */
static void miss_rest(wbl_worker *w, wbl_client *c, uint64_t until)
{
    const wbl_run *r = w->run;
    if (!c->writer || !c->interval_us)
        return;
    while (c->next_us <= until && c->next_us < r->t_end_us &&
           (!c->max_ops || c->nsent < c->max_ops)) {
        c->next_us += c->interval_us;
        w->st.ops_missed++;
    }
}

static void tick_run(wbl_worker *w, uint64_t now)
{
    const wbl_run *r = w->run;
    if (now < r->t_start_us || w->slots_done)
        return;
    int left = 0;
    for (uint32_t i = 0; i < w->nclients; i++) {
        wbl_client *c = w->clients[i];
        if (c->state != WBL_C_JOINED) {
            miss_rest(w, c, now);
            if (c->writer && c->interval_us && c->next_us < r->t_end_us)
                left = 1;
            continue;
        }
        if (c->writer && c->interval_us) {
            while (c->next_us <= now && c->next_us < r->t_end_us &&
                   (!c->max_ops || c->nsent < c->max_ops)) {
                uint64_t slot = c->next_us;
                c->next_us += c->interval_us;
                if (now - slot > WBL_MAX_LAG_US || c->qlen >= WBL_QCAP) {
                    w->st.ops_missed++;
                    continue;
                }
                if (q_add(c, wbl_frame_op(r, c, slot, c->nsent), 0)) {
                    w->st.ops_missed++;
                    continue;
                }
                c->nsent++;
                w->st.ops_sent++;
                uint32_t rs = atomic_load_explicit(&r->room_size[c->room],
                                                   memory_order_relaxed);
                w->st.expected += rs > 0 ? rs - 1u : 0u;
            }
        }
        if (c->writer && c->interval_us && c->next_us < r->t_end_us &&
            (!c->max_ops || c->nsent < c->max_ops))
            left = 1;
        if (c->pres_interval_us) {
            while (c->pres_next_us <= now && c->pres_next_us < r->t_end_us) {
                uint64_t slot = c->pres_next_us;
                c->pres_next_us += c->pres_interval_us;
                if (now - slot > WBL_MAX_LAG_US || c->qlen >= WBL_QCAP ||
                    q_add(c, wbl_frame_presence(slot), 0))
                    continue;
                w->st.presence_sent++;
                uint32_t rs = atomic_load_explicit(&r->room_size[c->room],
                                                   memory_order_relaxed);
                w->st.presence_expected += rs > 0 ? rs - 1u : 0u;
            }
            if (c->pres_next_us < r->t_end_us)
                left = 1;
        }
        q_flush(c);
    }
    if (!left || now >= r->t_end_us + WBL_MAX_LAG_US) {
        for (uint32_t i = 0; i < w->nclients; i++)
            miss_rest(w, w->clients[i], UINT64_MAX);
        w->slots_done = 1;
    }
}

static void tick_close(wbl_worker *w)
{
    uint32_t open = 0;
    for (uint32_t i = 0; i < w->nclients; i++) {
        wbl_client *c = w->clients[i];
        if (!c->wsi)
            continue;
        open++;
        if (!c->closing) {
            c->closing = 1;
            lws_callback_on_writable(c->wsi);
        }
    }
    if (!open)
        w->done = 1;
}

static void publish(wbl_worker *w)
{
    uint64_t joined = 0, failed = 0, open = 0;
    for (uint32_t i = 0; i < w->nclients; i++) {
        const wbl_client *c = w->clients[i];
        joined += c->state == WBL_C_JOINED;
        failed += c->state == WBL_C_FAILED ||
                  (c->state == WBL_C_CLOSED && !c->closing);
        open += c->wsi != NULL;
    }
    atomic_store_explicit(&w->pub_joined, joined, memory_order_relaxed);
    atomic_store_explicit(&w->pub_failed, failed, memory_order_relaxed);
    atomic_store_explicit(&w->pub_open, open, memory_order_relaxed);
    atomic_store_explicit(&w->pub_sent, w->st.ops_sent, memory_order_relaxed);
    atomic_store_explicit(&w->pub_self, w->st.self_echo, memory_order_relaxed);
    atomic_store_explicit(&w->pub_pres_recv, w->st.presence_recv,
                          memory_order_relaxed);
    atomic_store_explicit(&w->pub_pres_expected, w->st.presence_expected,
                          memory_order_relaxed);
    atomic_store_explicit(&w->pub_slots_done, (uint64_t)w->slots_done,
                          memory_order_relaxed);
    atomic_store_explicit(&w->pub_answered,
                          w->st.acked + w->st.errors[WBL_E_ACK],
                          memory_order_relaxed);
    atomic_store_explicit(&w->pub_deliveries, w->st.deliveries,
                          memory_order_relaxed);
    atomic_store_explicit(&w->pub_expected, w->st.expected,
                          memory_order_relaxed);
    atomic_store_explicit(&w->pub_joins_done,
                          w->st.join_recv.count + w->st.errors[WBL_E_CONNECT] +
                              w->st.errors[WBL_E_CLOSED],
                          memory_order_release);
    uint64_t filled = 0;
    for (uint32_t i = 0; i < w->nclients; i++)
        if (w->clients[i]->filler)
            filled = w->clients[i]->fill_acked;
    atomic_store_explicit(&w->pub_filled, filled, memory_order_release);
}

static void wbl_tick(wbl_worker *w)
{
    uint64_t now = wbl_now_us();
    int ph = atomic_load_explicit(&w->run->phase, memory_order_acquire);
    switch (ph) {
    case WBL_PH_CONNECT:
        tick_connect(w, now, 0);
        break;
    case WBL_PH_FILL:
        for (uint32_t i = 0; i < w->nclients; i++)
            if (w->clients[i]->filler && w->clients[i]->state == WBL_C_JOINED)
                fill_send(w->clients[i], now);
        break;
    case WBL_PH_JOIN:
        tick_connect(w, now, 1);
        break;
    case WBL_PH_RUN:
    case WBL_PH_DRAIN:
        tick_run(w, now);
        break;
    case WBL_PH_CLOSE:
        tick_close(w);
        break;
    default:
        break;
    }
    publish(w);
    if (w->done) {
        atomic_store(&w->stopped, 1);
        if (w->evloop)
            ev_break(w->evloop, EVBREAK_ALL);
    }
}

/* The ticker: wakes the worker's service loop every --tick-us (lws's own
 * timers wait in whole milliseconds and spin below one). Each wake costs a
 * poll(2) over the worker's sockets: shorter ticks send closer to the slot
 * (the latency figures include the lateness) for more generator CPU. */
static void *ticker_main(void *arg)
{
    wbl_worker *w = arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    while (!atomic_load(&w->stopped)) {
        ts.tv_nsec += (long)w->run->o.tick_us * 1000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_nsec -= 1000000000L;
            ts.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        lws_cancel_service(w->ctx);
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    wbl_worker *w = arg;
    pthread_t tk;
    int have_tk = pthread_create(&tk, NULL, ticker_main, w) == 0;
    if (w->evloop && have_tk)
        ev_run(w->evloop, 0); /* until the tick breaks it (done) */
    else
        while (!w->done && have_tk)
            if (lws_service(w->ctx, 0) < 0)
                break;
    atomic_store(&w->stopped, 1);
    if (have_tk)
        pthread_join(tk, NULL);
    lws_context_destroy(w->ctx);
    w->ctx = NULL;
    if (w->evloop)
        ev_loop_destroy(w->evloop);
    w->evloop = NULL;
    for (uint32_t i = 0; i < w->nclients; i++) {
        q_clear(w->clients[i]);
        free(w->clients[i]->rx);
        w->clients[i]->rx = NULL;
    }
    return NULL;
}

int wbl_workers_start(wbl_run *r)
{
    lws_set_log_level(LLL_ERR, NULL);
    int nt = r->o.threads;
    for (int i = 0; i < nt; i++) {
        wbl_worker *w = &r->workers[i];
        w->id = i;
        w->run = r;
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = wbl_protocols;
        info.gid = -1;
        info.uid = -1;
        info.user = w;
        info.timeout_secs = 30;
        info.connect_timeout_secs = 20;
        info.fd_limit_per_thread = 0;
        if (r->tls)
            info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        if (r->o.evlib == 1) {
            /* one epoll loop per worker, ours (lws's own default libev
             * loop would be shared by the threads); poll without it */
            w->evloop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
            if (w->evloop) {
                void *loops[1] = {w->evloop};
                struct lws_context_creation_info ev = info;
                ev.options |= LWS_SERVER_OPTION_LIBEV;
                ev.foreign_loops = loops;
                w->ctx = lws_create_context(&ev);
                if (!w->ctx) {
                    ev_loop_destroy(w->evloop);
                    w->evloop = NULL;
                }
            }
        }
        if (!w->ctx)
            w->ctx = lws_create_context(&info);
        if (!w->ctx) {
            fprintf(stderr, "wb-load: cannot create a client context\n");
            return -1;
        }
    }
    for (int i = 0; i < nt; i++)
        if (pthread_create(&r->workers[i].th, NULL, worker_main,
                           &r->workers[i])) {
            fprintf(stderr, "wb-load: cannot start a worker thread\n");
            return -1;
        }
    return 0;
}

void wbl_workers_join(wbl_run *r)
{
    for (int i = 0; i < r->o.threads; i++) {
        pthread_join(r->workers[i].th, NULL); /* their timers see CLOSE */
    }
}
