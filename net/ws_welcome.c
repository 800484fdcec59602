/*
 * ws_welcome.c: builds a session's welcome frame ON THE ENGINE THREAD
 * (engine_call), so that the state or delta, the board's version vector and
 * the hub's ops-event number are read at one point of the apply order
 * (docs/protocol.md 2.3, rule 2; ws_hub.c invariant 3):
 *   - no resume token: engine_board_state -> full state, flags 0;
 *   - a token the resume ring covers: engine_board_since -> the missed
 *     batches (copied; at most WS_MAX_DELTA, else treated as stale) and
 *     the board's version vector, flags DELTA;
 *   - WB_ESTALE: the full state, flags RESYNC.
 * The caller (ws_session.c, service thread) blocks in engine_call for this
 * one call, bounded by WS_CALL_TIMEOUT_MS.
 */
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "vv.h"
#include "wb_error.h"
#include "ws_frame.h"
#include "ws_internal.h"

typedef struct welcome_job {
    ws_hub *h;
    const char *board;
    const vv *resume;     /* NULL: none */
    ws_frame f;           /* welcome being built */
    uint8_t vbuf[VV_MAX_ENCODED];
    uint8_t **copies;     /* delta batches (owned) */
    uint32_t n, cap;
    uint8_t *out;         /* encoded welcome (owned) */
    size_t out_len;
    uint64_t join_after;
} welcome_job;

static void job_drop_delta(welcome_job *j)
{
    for (uint32_t i = 0; i < j->n; i++)
        free(j->copies[i]);
    free(j->copies);
    free(j->f.u.welcome.delta);
    j->copies = NULL;
    j->f.u.welcome.delta = NULL;
    j->n = j->cap = 0;
}

static int since_cb(void *arg, const uint8_t *enc, size_t len, uint64_t seq)
{
    welcome_job *j = arg;
    if (j->n == WS_MAX_DELTA)
        return WB_ESTALE; /* too far behind for a delta: full state */
    if (j->n == j->cap) {
        uint32_t cap = j->cap ? 2 * j->cap : 16;
        uint8_t **c = realloc(j->copies, cap * sizeof *c);
        if (c)
            j->copies = c;
        ws_delta_item *d = realloc(j->f.u.welcome.delta, cap * sizeof *d);
        if (d)
            j->f.u.welcome.delta = d;
        if (!c || !d)
            return WB_ENOMEM;
        j->cap = cap;
    }
    uint8_t *copy = malloc(len);
    if (!copy)
        return WB_ENOMEM;
    memcpy(copy, enc, len);
    j->copies[j->n] = copy;
    j->f.u.welcome.delta[j->n] = (ws_delta_item){seq, {copy, len}};
    j->n++;
    return 0;
}

static int set_version(welcome_job *j, const vv *v)
{
    size_t len;
    int rc = vv_encode(v, j->vbuf, sizeof j->vbuf, &len);
    j->f.u.welcome.version = (ws_bytes){j->vbuf, len};
    return rc;
}

static int state_cb(void *arg, const uint8_t *state, size_t len,
                    const vv *version)
{
    welcome_job *j = arg;
    int rc = set_version(j, version);
    if (rc)
        return rc;
    j->f.u.welcome.state = (ws_bytes){state, len};
    return ws_frame_encode(&j->f, &j->out, &j->out_len);
}

static int welcome_fn(engine *e, void *arg)
{
    welcome_job *j = arg;
    j->join_after = ws_hub_ops_pushed(j->h);
    if (j->resume) {
        int rc = engine_board_since(e, j->board, j->resume, since_cb, j);
        if (rc == 0) {
            const board *b = NULL;
            rc = engine_board_get(e, j->board, &b);
            if (!rc)
                rc = set_version(j, board_version(b));
            j->f.u.welcome.flags = WS_WELCOME_DELTA;
            j->f.u.welcome.ndelta = j->n;
            if (!rc)
                rc = ws_frame_encode(&j->f, &j->out, &j->out_len);
            return rc;
        }
        job_drop_delta(j);
        if (rc != WB_ESTALE)
            return rc;
        j->f.u.welcome.flags = WS_WELCOME_RESYNC;
    }
    return engine_board_state(e, j->board, state_cb, j);
}

int ws_welcome_build(ws_hub *h, const char *board_id, const vv *resume,
                     uint8_t role, const char *user, uint8_t **out,
                     size_t *len, uint64_t *join_after)
{
    welcome_job *j = calloc(1, sizeof *j);
    if (!j)
        return WB_ENOMEM;
    j->h = h;
    j->board = board_id;
    j->resume = resume;
    j->f.type = WS_WELCOME;
    j->f.u.welcome.role = role;
    j->f.u.welcome.user = (wb_str){user, (uint32_t)strlen(user)};
    int rc = engine_call(h->o.eng, welcome_fn, j, WS_CALL_TIMEOUT_MS);
    job_drop_delta(j);
    if (!rc) {
        *out = j->out;
        *len = j->out_len;
        *join_after = j->join_after;
    } else {
        free(j->out);
    }
    free(j);
    return rc;
}
