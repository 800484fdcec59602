/*
 * http_api.c: the HTTP routes (docs/api.md is the reference):
 *
 *   GET  /healthz                 200 while the process serves requests
 *   GET  /readyz                  200 recovered and serving; 503 during
 *                                 startup recovery and shutdown
 *   GET  /metrics                 Prometheus text (no auth: scrape target)
 *   POST /api/v1/auth/guest       {"name"} -> {"token"} when guest sign-in
 *                                 is on (403 otherwise)
 *   *    /api/v1/boards...        http_boards.c (Bearer JWT)
 *   GET  anything else            static files from the web directory;
 *                                 /b/{id} (a board's URL) serves index.html
 *
 * Everything under /api/ answers 503 while the node is not ready.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "http_internal.h"
#include "log.h"
#include "wb_error.h"

#ifndef WB_WEB_DIR
#define WB_WEB_DIR "net/web"
#endif
#define HTTP_GUEST_TTL_S (24 * 3600)

static void http_health(node *n, http_req *r, int ready_check)
{
    if (!ready_check) {
        http_reply(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
        return;
    }
    int ready = atomic_load(&n->ready) && !atomic_load(&n->stopping);
    if (ready)
        http_reply(r, 200, "application/json", "{\"status\":\"ready\"}", 18);
    else
        http_error(r, 503, atomic_load(&n->stopping) ? "shutting down"
                                                     : "recovering");
}

static void http_metrics(node *n, http_req *r)
{
    node_metrics_refresh(n);
    char *text;
    size_t len;
    if (metrics_render(n->m.reg, &text, &len)) {
        http_error(r, 500, "out of memory");
        return;
    }
    http_reply_take(r, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                    len);
}

static void http_guest(node *n, http_req *r)
{
    if (!node_guest_enabled(n)) {
        http_error(r, 403, "guest sign-in is disabled");
        return;
    }
    jwt_claims c;
    memset(&c, 0, sizeof c);
    if (r->body_len) {
        json_error_t jerr;
        json_t *o = json_loadb(r->body, r->body_len, 0, &jerr);
        json_t *name = o ? json_object_get(o, "name") : NULL;
        if (!o || !json_is_object(o) || (name && !json_is_string(name)) ||
            (name && strlen(json_string_value(name)) > JWT_NAME_MAX)) {
            json_decref(o);
            http_error(r, 400, "body must be {\"name\": \"<= 128 bytes\"}");
            return;
        }
        if (name)
            snprintf(c.name, sizeof c.name, "%s", json_string_value(name));
        json_decref(o);
    }
    unsigned char raw[8];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        http_error(r, 500, "no randomness");
        return;
    }
    snprintf(c.sub, sizeof c.sub, "guest-%02x%02x%02x%02x%02x%02x%02x%02x",
             raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
    if (!c.name[0])
        snprintf(c.name, sizeof c.name, "Guest");
    c.role = JWT_ROLE_EDITOR;
    c.guest = 1;
    c.iat = time(NULL);
    c.exp = c.iat + HTTP_GUEST_TTL_S;
    char *token;
    int rc = jwt_sign(&c, &n->keys, &token);
    if (rc) {
        http_error(r, 500, wb_strerror(rc));
        return;
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:I}", "token", token, "userId",
                          c.sub, "name", c.name, "expiresAt", (json_int_t)c.exp);
    free(token);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) {
        http_error(r, 500, "out of memory");
        return;
    }
    WBLOGF(WBLOG_INFO, "guest sign-in", WBF_USER(c.sub));
    http_reply_take(r, 200, "application/json", text, strlen(text));
}

static const char *http_mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".json"))
        return "application/json";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".ico"))
        return "image/x-icon";
    return "application/octet-stream";
}

/* Reads a static file (small files only: the client's assets). */
static void http_static(node *n, http_req *r)
{
    const char *p = r->path;
    if (strstr(p, "..") || strchr(p, '\\') || p[0] != '/') {
        http_error(r, 404, "not found");
        return;
    }
    /* A board's shareable URL, /b/{id}, is the client's page (app.js
     * routes on the path). */
    if (!strncmp(p, "/b/", 3))
        p = "/";
    char path[1024];
    const char *dir = getenv("WB_WEB_ROOT");
    snprintf(path, sizeof path, "%s%s%s", dir && *dir ? dir : WB_WEB_DIR, p,
             p[strlen(p) - 1] == '/' ? "index.html" : "");
    struct stat st;
    FILE *f = stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
                      st.st_size <= (16 << 20)
                  ? fopen(path, "rb")
                  : NULL;
    if (!f) {
        http_error(r, 404, "not found");
        return;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        http_error(r, 500, "cannot read file");
        return;
    }
    http_reply_take(r, 200, http_mime(path), buf, got);
}

/* Per-IP limit on API requests (one token per request). */
static int http_ip_limited(node *n, http_req *r)
{
    if (!n->rl_ip)
        return 0;
    char ip[128];
    node_client_ip(n, r->wsi, ip, sizeof ip);
    if (!ip[0] || rl_table_take(n->rl_ip, ip, 1, rl_now_ns()) != 0)
        return 0;
    const char *kind[1] = {"ip"};
    metrics_inc(metrics_series_get(n->m.ratelimited_total, kind));
    WBLOGF(WBLOG_INFO, "rate limited", WBF_STR("ip", ip),
           WBF_STR("kind", "ip"));
    snprintf(r->extra_hdr, sizeof r->extra_hdr, "Retry-After: 1");
    http_error(r, 429, "rate limit exceeded");
    return 1;
}

void http_dispatch(node *n, http_req *r)
{
    const char *p = r->path;
    if (!strcmp(p, "/healthz") || !strcmp(p, "/readyz")) {
        if (r->method != HTTP_GET)
            http_error(r, 405, "method not allowed");
        else
            http_health(n, r, p[1] == 'r');
        return;
    }
    if (!strcmp(p, "/metrics")) {
        if (r->method != HTTP_GET)
            http_error(r, 405, "method not allowed");
        else
            http_metrics(n, r);
        return;
    }
    if (!strncmp(p, "/internal/", 10)) { /* peers: http_internal_peer.c */
        http_internal_peer(n, r);
        return;
    }
    if (!strncmp(p, "/api/", 5)) {
        if (!atomic_load(&n->ready) || atomic_load(&n->stopping)) {
            snprintf(r->extra_hdr, sizeof r->extra_hdr, "Retry-After: 1");
            http_error(r, 503, "node not ready");
            return;
        }
        if (http_ip_limited(n, r))
            return;
        if (!strcmp(p, "/api/v1/auth/guest")) {
            if (r->method != HTTP_POST)
                http_error(r, 405, "method not allowed");
            else
                http_guest(n, r);
            return;
        }
        if (!strncmp(p, "/api/v1/boards", 14) &&
            (p[14] == '\0' || p[14] == '/')) {
            jwt_claims c;
            if (http_auth(n, r, &c))
                return;
            http_boards(n, r, &c, p + 14);
            return;
        }
        http_error(r, 404, "no such endpoint");
        return;
    }
    if (r->method != HTTP_GET) {
        http_error(r, 405, "method not allowed");
        return;
    }
    http_static(n, r);
}
