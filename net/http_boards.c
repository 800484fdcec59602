/*
 * http_boards.c: /api/v1/boards and below (Bearer JWT already verified).
 *
 *   GET    /api/v1/boards                 boards the caller may see
 *   POST   /api/v1/boards                 {"title"} -> 201 {"id",...}; the
 *                                         caller owns the new board
 *   GET    /api/v1/boards/{id}            metadata + elements + version
 *   DELETE /api/v1/boards/{id}            owner only; soft delete
 *   POST   /api/v1/boards/{id}/ops        JSON ops -> engine; 200 once durable
 *   GET    /api/v1/boards/{id}/ops        history (http_history.c)
 *   GET    /api/v1/boards/{id}/snapshots  snapshots of the board
 *   POST   /api/v1/boards/{id}/snapshots  snapshot dirty boards now
 *
 * Board metadata (title, owner, deleted flag) lives in the engine's
 * snapshot store ("board" database). A board without metadata, or flagged
 * deleted, is unknown here (404). Roles: the higher of the token's role
 * (global or per board, jwt_role_for) and owner for the user who created
 * the board; viewer reads, editor writes ops, owner deletes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "http_internal.h"
#include "log.h"
#include "wb_error.h"
#include "ws_hub.h"

int http_board_id_ok(const char *id, size_t len)
{
    if (len == 0 || len > WB_MAX_ID_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int64_t http_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum jwt_role http_role(const jwt_claims *c, const snap_board_meta *m)
{
    enum jwt_role role = jwt_role_for(c, m->board);
    if (m->owner[0] && strcmp(m->owner, c->sub) == 0)
        role = JWT_ROLE_OWNER;
    return role;
}

static void http_json(http_req *r, int status, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        http_error(r, 500, "out of memory");
        return;
    }
    http_reply_take(r, status, "application/json", text, strlen(text));
}

static json_t *http_meta_json(const snap_board_meta *m, enum jwt_role role)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "id", m->board, "title",
                     m->title, "owner", m->owner, "createdAt",
                     (json_int_t)(m->created_us / 1000), "updatedAt",
                     (json_int_t)(m->updated_us / 1000), "role",
                     jwt_role_name(role));
}

/* ---- list and create ---------------------------------------------------- */

typedef struct http_list_ctx {
    const jwt_claims *c;
    json_t *arr;
} http_list_ctx;

static int http_list_cb(void *arg, const snap_board_meta *m)
{
    http_list_ctx *x = arg;
    if (m->deleted)
        return 0;
    enum jwt_role role = http_role(x->c, m);
    if (role >= JWT_ROLE_VIEWER)
        json_array_append_new(x->arr, http_meta_json(m, role));
    return 0;
}

static void http_board_list(node *n, http_req *r, const jwt_claims *c)
{
    http_list_ctx x = {c, json_array()};
    int rc = snap_board_list(engine_snap_store(n->eng), NULL, 0, http_list_cb,
                             &x);
    if (rc < 0) {
        json_decref(x.arr);
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    http_json(r, 200, json_pack("{s:o}", "boards", x.arr));
}

static void http_board_create(node *n, http_req *r, const jwt_claims *c)
{
    if (c->role == JWT_ROLE_VIEWER && c->nboards == 0) {
        http_error(r, 403, "viewers cannot create boards");
        return;
    }
    const char *title = "Untitled";
    json_error_t jerr;
    json_t *o = r->body_len ? json_loadb(r->body, r->body_len, 0, &jerr)
                            : json_object();
    json_t *t = o ? json_object_get(o, "title") : NULL;
    if (!o || !json_is_object(o) || (t && !json_is_string(t)) ||
        (t && strlen(json_string_value(t)) > SNAP_TITLE_MAX)) {
        json_decref(o);
        http_error(r, 400, "body must be {\"title\": \"<= 256 bytes\"}");
        return;
    }
    if (t)
        title = json_string_value(t);
    snap_board_meta m;
    memset(&m, 0, sizeof m);
    unsigned char raw[6];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        json_decref(o);
        http_error(r, 500, "no randomness");
        return;
    }
    snprintf(m.board, sizeof m.board, "b%02x%02x%02x%02x%02x%02x", raw[0],
             raw[1], raw[2], raw[3], raw[4], raw[5]);
    snprintf(m.title, sizeof m.title, "%s", title);
    json_decref(o);
    snprintf(m.owner, sizeof m.owner, "%s", c->sub);
    m.created_us = m.updated_us = http_now_us();
    snap_board_meta old;
    if (snap_board_get(engine_snap_store(n->eng), m.board, &old) == 0) {
        http_error(r, 409, "board id collision, retry");
        return;
    }
    int rc = snap_board_put(engine_snap_store(n->eng), &m);
    if (rc) {
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    WBLOGF(WBLOG_INFO, "board created", WBF_BOARD(m.board), WBF_USER(c->sub));
    http_json(r, 201, http_meta_json(&m, JWT_ROLE_OWNER));
}

/* ---- one board ---------------------------------------------------------- */

typedef struct http_bj {
    const char *id;
    char *out;
    size_t len;
} http_bj;

static int http_bj_fn(engine *e, void *arg)
{
    http_bj *b = arg;
    return engine_board_json(e, b->id, &b->out, &b->len);
}

/* Worker thread: the board's elements (engine_call) + metadata. */
static void http_board_get_job(node *n, http_req *r, const http_job *j)
{
    const snap_board_meta *m = &j->meta;
    http_bj b = {m->board, NULL, 0};
    int rc = engine_call(n->eng, http_bj_fn, &b, 10000);
    if (rc) {
        free(b.out);
        http_error(r, rc == WB_ETIMEDOUT || rc == WB_ECLOSED ? 503 : 500,
                   wb_strerror(rc));
        return;
    }
    json_error_t jerr;
    json_t *o = json_loadb(b.out, b.len, 0, &jerr);
    free(b.out);
    if (!o) {
        http_error(r, 500, "board rendering failed");
        return;
    }
    json_object_set_new(o, "title", json_string(m->title));
    json_object_set_new(o, "owner", json_string(m->owner));
    json_object_set_new(o, "role", json_string(jwt_role_name(j->role)));
    http_json(r, 200, o);
}

/* Service thread: hands the read to the worker (no engine_call here). */
static void http_board_job(node *n, http_req *r, const snap_board_meta *m,
                           enum jwt_role role,
                           void (*fn)(node *, http_req *, const http_job *))
{
    http_job *j = calloc(1, sizeof *j);
    if (!j) {
        http_error(r, 500, "out of memory");
        return;
    }
    j->fn = fn;
    j->role = role;
    j->meta = *m;
    http_worker_submit(n, r, j);
}

static void http_board_delete(node *n, http_req *r, snap_board_meta *m,
                              const jwt_claims *c)
{
    m->deleted = 1;
    m->updated_us = http_now_us();
    int rc = snap_board_put(engine_snap_store(n->eng), m);
    if (rc) {
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    WBLOGF(WBLOG_INFO, "board deleted", WBF_BOARD(m->board), WBF_USER(c->sub));
    if (atomic_load(&n->started) && n->hub)
        ws_hub_board_gone(n, m->board); /* its WS sessions close with 4004 */
    http_json(r, 200, json_pack("{s:s,s:b}", "id", m->board, "deleted", 1));
}

static int http_snap_cb(void *arg, const snap_info *i)
{
    json_array_append_new(
        arg, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "id",
                       (json_int_t)i->id, "pos", (json_int_t)i->pos,
                       "createdAt", (json_int_t)(i->created_us / 1000),
                       "elements", (json_int_t)i->elements, "rawSize",
                       (json_int_t)i->raw_size, "storedSize",
                       (json_int_t)i->stored_size, "ok", i->status == 0));
    return 0;
}

static void http_snap_list(node *n, http_req *r, const char *bid)
{
    json_t *arr = json_array();
    int rc = snap_list(engine_snap_store(n->eng), bid, http_snap_cb, arr);
    if (rc < 0) {
        json_decref(arr);
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    http_json(r, 200, json_pack("{s:s,s:o}", "board", bid, "snapshots", arr));
}

static int http_snap_all_fn(engine *e, void *arg)
{
    return engine_snapshot_all(e);
}

/* Worker thread: snapshot now, then the list. */
static void http_snap_take_job(node *n, http_req *r, const http_job *j)
{
    int rc = engine_call(n->eng, http_snap_all_fn, NULL, 30000);
    if (rc) {
        http_error(r, rc == WB_ETIMEDOUT || rc == WB_ECLOSED ? 503 : 500,
                   wb_strerror(rc));
        return;
    }
    http_snap_list(n, r, j->meta.board);
    if (r->status == 200)
        r->status = 201;
}

static void http_ops_submit(node *n, http_req *r, const jwt_claims *c,
                            const char *bid)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    uint32_t nops = 0;
    char err[256];
    int rc = http_ops_encode(r->body ? r->body : "", r->body_len, bid,
                             c->sub, &enc, &len, &nops, err, sizeof err);
    if (rc) {
        http_error(r, 400, err);
        return;
    }
    /* The per-user limit counts ops, as on the WebSocket path. */
    if (n->rl_user &&
        rl_table_take(n->rl_user, c->sub, nops, rl_now_ns()) == 0) {
        free(enc);
        const char *kind[1] = {"user"};
        metrics_inc(metrics_series_get(n->m.ratelimited_total, kind));
        WBLOGF(WBLOG_INFO, "rate limited", WBF_BOARD(bid), WBF_USER(c->sub),
               WBF_STR("kind", "user"));
        snprintf(r->extra_hdr, sizeof r->extra_hdr, "Retry-After: 1");
        http_error(r, 429, "rate limit exceeded");
        return;
    }
    if ((rc = node_rest_register(n, &r->token)) != 0) {
        free(enc);
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    rc = engine_submit_encoded(n->eng, enc, len, r->token);
    free(enc);
    if (rc) {
        node_rest_cancel(n, r->token);
        if (rc == WB_EAGAIN || rc == WB_ECLOSED) {
            snprintf(r->extra_hdr, sizeof r->extra_hdr, "Retry-After: 1");
            http_error(r, 503, "engine busy, retry");
        } else {
            http_error(r, 400, wb_strerror(rc));
        }
        return;
    }
    r->nops = nops;
    snprintf(r->board, sizeof r->board, "%s", bid);
    snprintf(r->user, sizeof r->user, "%s", c->sub);
    http_trace_begin(r);
    http_wait_start(r);
}

void http_ops_done(node *n, http_req *r, const node_rest_result *res)
{
    if (res->status) {
        int st = res->status == WB_ELIMIT || res->status == WB_ETOOBIG ? 413
                 : res->status == WB_ECLOSED ? 503
                 : res->status == WB_EMALFORMED || res->status == WB_EUNKNOWN ||
                         res->status == WB_EUTF8
                     ? 400
                     : 500;
        WBLOGF(WBLOG_WARN, "ops rejected", WBF_BOARD(r->board),
               WBF_USER(r->user), WBF_ERR(res->status));
        http_error(r, st, wb_strerror(res->status));
        http_trace_end(r, "op.apply", res->nops);
        return;
    }
    http_json(r, 200,
              json_pack("{s:s,s:I,s:I,s:I}", "board", r->board, "applied",
                        (json_int_t)res->nops, "duplicates",
                        (json_int_t)res->duplicates, "seq",
                        (json_int_t)res->first_seq));
    http_trace_end(r, "op.apply", res->nops);
}

void http_boards(node *n, http_req *r, const jwt_claims *c, const char *rest)
{
    if (rest[0] == '\0' || !strcmp(rest, "/")) {
        if (r->method == HTTP_GET)
            http_board_list(n, r, c);
        else if (r->method == HTTP_POST)
            http_board_create(n, r, c);
        else
            http_error(r, 405, "method not allowed");
        return;
    }
    const char *id = rest + 1;
    const char *slash = strchr(id, '/');
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    const char *sub = slash ? slash : "";
    if (!http_board_id_ok(id, idlen)) {
        http_error(r, 404, "unknown board");
        return;
    }
    char bid[WB_MAX_ID_LEN + 1];
    memcpy(bid, id, idlen);
    bid[idlen] = '\0';
    snap_board_meta m;
    int rc = snap_board_get(engine_snap_store(n->eng), bid, &m);
    if (rc == WB_ENOTFOUND || (rc == 0 && m.deleted)) {
        http_error(r, 404, "unknown board");
        return;
    }
    if (rc) {
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    enum jwt_role role = http_role(c, &m);
    if (role < JWT_ROLE_VIEWER) {
        http_error(r, 403, "no role on this board");
        return;
    }
    if (sub[0] == '\0') {
        if (r->method == HTTP_GET)
            http_board_job(n, r, &m, role, http_board_get_job);
        else if (r->method == HTTP_DELETE && role < JWT_ROLE_OWNER)
            http_error(r, 403, "only the owner may delete a board");
        else if (r->method == HTTP_DELETE)
            http_board_delete(n, r, &m, c);
        else
            http_error(r, 405, "method not allowed");
    } else if (!strcmp(sub, "/ops")) {
        if (r->method == HTTP_GET)
            http_history(n, r, bid);
        else if (r->method != HTTP_POST)
            http_error(r, 405, "method not allowed");
        else if (role < JWT_ROLE_EDITOR)
            http_error(r, 403, "editor role required to write");
        else
            http_ops_submit(n, r, c, bid);
    } else if (!strcmp(sub, "/snapshots")) {
        if (r->method == HTTP_GET)
            http_snap_list(n, r, bid);
        else if (r->method != HTTP_POST)
            http_error(r, 405, "method not allowed");
        else if (role < JWT_ROLE_EDITOR)
            http_error(r, 403, "editor role required");
        else
            http_board_job(n, r, &m, role, http_snap_take_job);
    } else {
        http_error(r, 404, "no such endpoint");
    }
}
