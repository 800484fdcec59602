/*
 * http_internal_peer.c: the internal endpoint peers repair from.
 *
 *   GET /internal/v1/boards/{id}/state
 *       Authorization: WB-Node <seconds>.<hmac>   (repl.h: cluster secret)
 *   -> 200 {"board": id, "state": "<base64 canonical state>",
 *           "version": "<base64 version vector>"}
 *      404 unknown board (no metadata), 401 bad signature, 503 not ready.
 *
 * The state is board_state_encode's bytes (docs/board-model.md), with
 * property stamps and tombstones, so the caller merges it exactly
 * (repl_repair.c). Read on the HTTP worker thread (engine_call), never on
 * the service thread. Not meant for clients: expose /internal/ only on
 * the network the nodes share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "http_internal.h"
#include "log.h"
#include "repl.h"
#include "wb_error.h"

#define HIP_PREFIX "/internal/v1/boards/"

typedef struct hip_state {
    char *state_b64;
    char *vv_b64;
} hip_state;

static char *hip_b64(const uint8_t *p, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)len);
    return out;
}

static int hip_state_cb(void *arg, const uint8_t *state, size_t len,
                        const vv *version)
{
    hip_state *h = arg;
    uint8_t vbuf[VV_MAX_ENCODED];
    size_t vlen = 0;
    int rc = vv_encode(version, vbuf, sizeof vbuf, &vlen);
    if (rc)
        return rc;
    h->state_b64 = hip_b64(state, len);
    h->vv_b64 = hip_b64(vbuf, vlen);
    return h->state_b64 && h->vv_b64 ? 0 : WB_ENOMEM;
}

typedef struct hip_call {
    const char *board;
    hip_state *h;
} hip_call;

static int hip_fn(engine *e, void *arg)
{
    hip_call *c = arg;
    return engine_board_state(e, c->board, hip_state_cb, c->h);
}

/* Worker thread. */
static void hip_job(node *n, http_req *r, const http_job *j)
{
    hip_state h = {NULL, NULL};
    hip_call c = {j->meta.board, &h};
    int rc = engine_call(n->eng, hip_fn, &c, 10000);
    if (rc) {
        http_error(r, rc == WB_ETIMEDOUT || rc == WB_ECLOSED ? 503 : 500,
                   wb_strerror(rc));
    } else {
        json_t *o = json_pack("{s:s,s:s,s:s}", "board", j->meta.board,
                              "state", h.state_b64, "version", h.vv_b64);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (text)
            http_reply_take(r, 200, "application/json", text, strlen(text));
        else
            http_error(r, 500, "out of memory");
    }
    free(h.state_b64);
    free(h.vv_b64);
}

static int hip_authorized(node *n, http_req *r)
{
    int len = lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    char hdr[256];
    if (len <= 0 || len >= (int)sizeof hdr ||
        lws_hdr_copy(r->wsi, hdr, (int)sizeof hdr,
                     WSI_TOKEN_HTTP_AUTHORIZATION) < 0 ||
        strncmp(hdr, "WB-Node ", 8) != 0)
        return 0;
    /* the previous secret too: during a rolling rotation a peer may sign
     * with either (repl_repair.c retries a 401 with its previous one) */
    int64_t now = (int64_t)time(NULL);
    return repl_auth_check(n->keys.secret, n->keys.secret_len, "GET", r->path,
                           hdr + 8, now) == 0 ||
           (n->keys.previous_len &&
            repl_auth_check(n->keys.previous, n->keys.previous_len, "GET",
                            r->path, hdr + 8, now) == 0);
}

void http_internal_peer(node *n, http_req *r)
{
    if (!atomic_load(&n->ready) || atomic_load(&n->stopping)) {
        snprintf(r->extra_hdr, sizeof r->extra_hdr, "Retry-After: 1");
        http_error(r, 503, "node not ready");
        return;
    }
    if (r->method != HTTP_GET) {
        http_error(r, 405, "method not allowed");
        return;
    }
    if (!hip_authorized(n, r)) {
        WBLOGF(WBLOG_WARN, "internal request refused: bad or missing "
                           "node signature",
               WBF_STR("path", r->path));
        http_error(r, 401, "node signature required");
        return;
    }
    const char *p = r->path;
    size_t pl = strlen(HIP_PREFIX);
    const char *id = p + pl;
    const char *slash = strncmp(p, HIP_PREFIX, pl) ? NULL : strchr(id, '/');
    if (!slash || strcmp(slash, "/state") != 0 ||
        !http_board_id_ok(id, (size_t)(slash - id))) {
        http_error(r, 404, "no such endpoint");
        return;
    }
    char bid[WB_MAX_ID_LEN + 1];
    memcpy(bid, id, (size_t)(slash - id));
    bid[slash - id] = 0;
    snap_board_meta m;
    if (snap_board_get(engine_snap_store(n->eng), bid, &m) != 0) {
        http_error(r, 404, "unknown board");
        return;
    }
    http_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_error(r, 500, "out of memory");
        return;
    }
    j->fn = hip_job;
    j->meta = m;
    http_worker_submit(n, r, j);
}
