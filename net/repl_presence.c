/*
 * repl_presence.c: presence (cursors, selections) between nodes over Redis
 * pub/sub, channel wb:presence. Best effort by design (DESIGN.md section
 * 3): a message lost while Redis or a node is away is simply not shown.
 *
 * Out: the WS hub calls repl_presence_out on the lws service thread with
 * each presence frame a local session sends; it is copied into a bounded
 * queue (full: dropped, counted nowhere: presence is rate limited upstream)
 * and a byte on a pipe wakes the presence thread, which PUBLISHes
 * "<origin id>:<board id>\n<frame>" on its publishing connection.
 * In: the same thread holds a SUBSCRIBE connection; messages of other
 * origins that parse as a server presence frame (repl_presence_parse:
 * nothing else from Redis may reach clients) go to ws_hub_presence_remote
 * (the board's local sessions).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"
#include "log.h"
#include "repl_entry.h"
#include "repl_internal.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_hub.h"

#define PRES_CHANNEL "wb:presence"
#define PRES_QUEUE 256

typedef struct pres_msg {
    size_t len;
    char data[];
} pres_msg;

static pres_msg *pq[PRES_QUEUE]; /* [pq_mu] */
static size_t pq_head, pq_len;
static pthread_mutex_t pq_mu = PTHREAD_MUTEX_INITIALIZER;
static int pq_pipe[2] = {-1, -1};

void repl_presence_out(void *ctx, const char *board_id, const uint8_t *frame,
                       size_t len)
{
    repl *r = ctx;
    char head[96];
    int hl = snprintf(head, sizeof head, "%llu:%s\n",
                      (unsigned long long)r->self, board_id);
    if (hl < 0 || hl >= (int)sizeof head || len > REPL_PRESENCE_MAX)
        return;
    pres_msg *m = malloc(sizeof *m + (size_t)hl + len);
    if (!m)
        return;
    m->len = (size_t)hl + len;
    memcpy(m->data, head, (size_t)hl);
    memcpy(m->data + hl, frame, len);
    pthread_mutex_lock(&pq_mu);
    if (pq_len == PRES_QUEUE) {
        free(m);
        m = NULL;
    } else {
        pq[(pq_head + pq_len++) % PRES_QUEUE] = m;
    }
    pthread_mutex_unlock(&pq_mu);
    if (m && pq_pipe[1] >= 0) {
        char one = 1;
        ssize_t w = write(pq_pipe[1], &one, 1); /* full pipe: already woken */
        (void)w;
    }
}

static pres_msg *pq_take(void)
{
    pres_msg *m = NULL;
    pthread_mutex_lock(&pq_mu);
    if (pq_len) {
        m = pq[pq_head];
        pq_head = (pq_head + 1) % PRES_QUEUE;
        pq_len--;
    }
    pthread_mutex_unlock(&pq_mu);
    return m;
}

/* Publishes what is queued, pipelined. 0 or -1 (connection unusable). */
static int pres_flush(redisContext *pc)
{
    int n = 0, rc = 0;
    pres_msg *m;
    while ((m = pq_take()) != NULL) {
        if (!rc && redisAppendCommand(pc, "PUBLISH %s %b", PRES_CHANNEL,
                                      m->data, m->len) == REDIS_OK)
            n++;
        else
            rc = -1;
        free(m);
    }
    for (int i = 0; i < n && !rc; i++) {
        void *rep = NULL;
        if (redisGetReply(pc, &rep) != REDIS_OK)
            rc = -1;
        freeReplyObject(rep);
    }
    return rc;
}

int repl_presence_parse(const char *msg, size_t len, uint64_t self,
                        char *board_id, const uint8_t **frame, size_t *flen)
{
    size_t i = 0;
    uint64_t origin = 0;
    while (i < len && i < 20 && msg[i] >= '0' && msg[i] <= '9')
        origin = origin * 10 + (uint64_t)(msg[i++] - '0');
    if (i == 0 || i == 20 || i >= len || msg[i] != ':')
        return WB_EMALFORMED;
    if (origin == self)
        return WB_EINVAL;
    const char *id = msg + i + 1;
    const char *nl = memchr(id, '\n', len - i - 1);
    if (!nl)
        return WB_EMALFORMED;
    size_t bl = (size_t)(nl - id);
    if (!http_board_id_ok(id, bl))
        return WB_EMALFORMED;
    size_t off = (size_t)(nl + 1 - msg);
    if (len - off > REPL_PRESENCE_MAX)
        return WB_ETOOBIG;
    ws_frame f;
    int rc = ws_frame_decode((const uint8_t *)msg + off, len - off,
                             REPL_PRESENCE_MAX, &f);
    if (rc)
        return rc;
    int type = f.type;
    ws_frame_clear(&f);
    if (type != WS_SPRESENCE)
        return WB_EMALFORMED;
    memcpy(board_id, id, bl);
    board_id[bl] = '\0';
    *frame = (const uint8_t *)msg + off;
    *flen = len - off;
    return 0;
}

static void pres_deliver(repl *r, const redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(rep->element[0]->str, "message") != 0 ||
        rep->element[2]->type != REDIS_REPLY_STRING)
        return;
    char board_id[WB_MAX_ID_LEN + 1];
    const uint8_t *frame;
    size_t flen;
    if (repl_presence_parse(rep->element[2]->str, rep->element[2]->len,
                            r->self, board_id, &frame, &flen) == 0)
        ws_hub_presence_remote(r->n, board_id, frame, flen);
}

/* Reads what the subscription has. 0 or -1. */
static int pres_read(repl *r, redisContext *sc)
{
    if (redisBufferRead(sc) != REDIS_OK)
        return -1;
    for (;;) {
        void *rep = NULL;
        if (redisGetReplyFromReader(sc, &rep) != REDIS_OK)
            return -1;
        if (!rep)
            return 0;
        pres_deliver(r, rep);
        freeReplyObject(rep);
    }
}

static void pres_drop_queue(void)
{
    pres_msg *m;
    while ((m = pq_take()) != NULL)
        free(m);
}

void *repl_presence_main(void *arg)
{
    repl *r = arg;
    redisContext *pc = NULL, *sc = NULL;
    unsigned backoff = 100;
    while (!atomic_load(&r->stop)) {
        if (!pc || !sc) {
            if (pc)
                redisFree(pc);
            if (sc)
                redisFree(sc);
            pc = repl_connect(r, 1000);
            sc = pc ? repl_connect(r, 1000) : NULL;
            redisReply *ok = sc ? redisCommand(sc, "SUBSCRIBE %s",
                                               PRES_CHANNEL)
                                : NULL;
            if (!ok || ok->type == REDIS_REPLY_ERROR) {
                freeReplyObject(ok);
                if (pc)
                    redisFree(pc);
                if (sc)
                    redisFree(sc);
                pc = sc = NULL;
                pres_drop_queue();
                repl_sleep(r, backoff);
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                continue;
            }
            freeReplyObject(ok);
            backoff = 100;
        }
        struct pollfd fds[2] = {{sc->fd, POLLIN, 0}, {pq_pipe[0], POLLIN, 0}};
        int pr = poll(fds, 2, 200);
        if (pr < 0 && errno != EINTR)
            break;
        if (fds[1].revents & POLLIN) {
            char buf[256];
            while (read(pq_pipe[0], buf, sizeof buf) > 0) {
            }
        }
        int bad = pres_flush(pc);
        if (!bad && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            bad = pres_read(r, sc);
        if (bad) {
            redisFree(pc);
            redisFree(sc);
            pc = sc = NULL;
        }
    }
    if (pc)
        redisFree(pc);
    if (sc)
        redisFree(sc);
    pres_drop_queue();
    return NULL;
}

int repl_presence_init(void)
{
    if (pq_pipe[0] >= 0)
        return 0;
    if (pipe2(pq_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return -errno;
    return 0;
}
