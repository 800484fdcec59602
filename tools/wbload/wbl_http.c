/*
 * wbl_http.c: wb-load's setup over plain HTTP/1.1 (blocking sockets, one
 * request per connection, `Connection: close`), before any WebSocket opens:
 * tokens (minted from JWT_SECRET with jwt_sign, a --token given, or guest
 * sign-in), the boards of the rooms (POST /api/v1/boards, owned by client
 * 0's user; every minted token carries the editor role on every board) and
 * the server's RSS (/proc/PID/status, or process_resident_memory_bytes from
 * /metrics).
 *
 * ws:// only: for wss:// pass --boards and --token (or JWT_SECRET), or
 * --no-setup. Responses are read whole (bounded at 16 MiB); chunked bodies
 * are decoded.
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "jwt.h"
#include "wbl.h"

#define WBL_HTTP_MAX (16u << 20)

static int http_connect(const char *host, int port)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, ps, &hints, &res))
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Decodes a chunked body in place; returns the new length or -1. */
static long dechunk(char *b, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        unsigned long sz = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || end == b + in)
            return -1;
        in = (size_t)(crlf - b) + 2;
        if (sz == 0)
            break;
        if (in + sz > n)
            return -1;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz + 2;
        if (in > n)
            return -1;
    }
    b[out] = 0;
    return (long)out;
}

int wbl_http(const wbl_run *r, const char *method, const char *path,
             const char *token, const char *body, int *status, char **resp)
{
    *resp = NULL;
    *status = 0;
    if (r->tls)
        return -1;
    int fd = http_connect(r->host, r->port);
    if (fd < 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    size_t hcap = 1024 + (token ? strlen(token) : 0);
    char *req = malloc(hcap + blen);
    if (!req) {
        close(fd);
        return -1;
    }
    int hl = snprintf(req, hcap,
                      "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "%s%s%s\r\n",
                      method, path, r->host, r->port, blen,
                      token ? "Authorization: Bearer " : "", token ? token : "",
                      token ? "\r\n" : "");
    memcpy(req + hl, body ? body : "", blen);
    int rc = write_all(fd, req, (size_t)hl + blen);
    free(req);
    if (rc) {
        close(fd);
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (len == cap) {
            if (cap >= WBL_HTTP_MAX)
                break;
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return -1;
    buf[len] = 0;
    char *hdr_end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) || !hdr_end) {
        free(buf);
        return -1;
    }
    *status = atoi(buf + 9);
    char *b = hdr_end + 4;
    size_t bl = len - (size_t)(b - buf);
    *hdr_end = 0;
    int chunked = strcasestr(buf, "transfer-encoding: chunked") != NULL;
    memmove(buf, b, bl + 1);
    if (chunked && dechunk(buf, bl) < 0) {
        free(buf);
        return -1;
    }
    *resp = buf;
    return 0;
}

/* ---- tokens and boards ----------------------------------------------------- */

static char *mint(const char *secret, const char *sub, const char *name)
{
    jwt_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", sub);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.role = JWT_ROLE_EDITOR;
    c.iat = time(NULL);
    c.exp = c.iat + 6 * 3600;
    jwt_keys k = {secret, strlen(secret), NULL, 0};
    char *out = NULL;
    return jwt_sign(&c, &k, &out) ? NULL : out;
}

static char *json_field(const char *text, const char *key)
{
    json_error_t e;
    json_t *o = json_loads(text, 0, &e);
    json_t *v = o ? json_object_get(o, key) : NULL;
    char *s = v && json_is_string(v) ? strdup(json_string_value(v)) : NULL;
    json_decref(o);
    return s;
}

static char *guest_token(const wbl_run *r, uint32_t i)
{
    char body[64];
    snprintf(body, sizeof body, "{\"name\":\"load %u\"}", i);
    int st;
    char *resp;
    if (wbl_http(r, "POST", "/api/v1/auth/guest", NULL, body, &st, &resp))
        return NULL;
    char *t = st == 200 || st == 201 ? json_field(resp, "token") : NULL;
    if (!t)
        fprintf(stderr, "wb-load: guest sign-in: HTTP %d %.200s\n", st,
                resp ? resp : "");
    free(resp);
    return t;
}

#define WBL_GUEST_TOKENS 64u

static int setup_tokens(wbl_run *r)
{
    r->tokens = calloc(r->nclients, sizeof *r->tokens);
    if (!r->tokens)
        return -1;
    const char *secret = getenv("JWT_SECRET");
    if (r->o.token[0] || (r->o.no_setup && !(secret && *secret))) {
        char *t = strdup(r->o.token[0] ? r->o.token : "no-token");
        for (uint32_t i = 0; i < r->nclients; i++)
            r->tokens[i] = t;
        return t ? 0 : -1;
    }
    if (secret && *secret) {
        for (uint32_t i = 0; i < r->nclients; i++) {
            char sub[96], name[64];
            snprintf(sub, sizeof sub, "wbl-%s-%u", r->nonce, i);
            snprintf(name, sizeof name, "load %u", i);
            r->tokens[i] = mint(secret, sub, name);
            if (!r->tokens[i]) {
                fprintf(stderr, "wb-load: cannot mint a token from JWT_SECRET\n");
                return -1;
            }
        }
        return 0;
    }
    /* guest sign-in: a few users, shared round robin (the per-user rate
     * limit then applies to their sum) */
    uint32_t n = r->nclients < WBL_GUEST_TOKENS ? r->nclients : WBL_GUEST_TOKENS;
    for (uint32_t i = 0; i < n; i++) {
        r->tokens[i] = guest_token(r, i);
        if (!r->tokens[i]) {
            fprintf(stderr, "wb-load: no token: pass --token, set JWT_SECRET, "
                            "or enable guest sign-in on the node\n");
            return -1;
        }
    }
    for (uint32_t i = n; i < r->nclients; i++)
        r->tokens[i] = r->tokens[i % n];
    return 0;
}

static int setup_boards(wbl_run *r)
{
    int nr = r->o.rooms;
    r->boards = calloc((size_t)nr, sizeof *r->boards);
    if (!r->boards)
        return -1;
    if (r->o.boards_arg[0]) {
        char *save = NULL, *copy = strdup(r->o.boards_arg);
        int i = 0;
        for (char *t = strtok_r(copy, ",", &save); t && i < nr;
             t = strtok_r(NULL, ",", &save))
            r->boards[i++] = strdup(t);
        free(copy);
        if (i < nr) {
            fprintf(stderr, "wb-load: --boards lists %d ids, %d rooms\n", i, nr);
            return -1;
        }
        return 0;
    }
    if (r->o.no_setup) {
        for (int i = 0; i < nr; i++) {
            char id[64];
            snprintf(id, sizeof id, "wbl-%s-r%d", r->nonce, i);
            r->boards[i] = strdup(id);
        }
        return 0;
    }
    for (int i = 0; i < nr; i++) {
        char body[96];
        snprintf(body, sizeof body, "{\"title\":\"wb-load %s room %d\"}",
                 r->nonce, i);
        int st = 0;
        char *resp = NULL;
        /* a node still recovering answers 503: retry for up to 30 s */
        for (int tries = 0; tries < 300; tries++) {
            free(resp);
            resp = NULL;
            if (wbl_http(r, "POST", "/api/v1/boards", r->tokens[0], body, &st,
                         &resp)) {
                fprintf(stderr, "wb-load: cannot reach %s:%d over HTTP\n",
                        r->host, r->port);
                return -1;
            }
            if (st != 503)
                break;
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
        r->boards[i] = st == 201 || st == 200 ? json_field(resp, "id") : NULL;
        if (!r->boards[i]) {
            fprintf(stderr, "wb-load: POST /api/v1/boards: HTTP %d %.200s\n",
                    st, resp ? resp : "");
            free(resp);
            return -1;
        }
        free(resp);
    }
    return 0;
}

int wbl_setup(wbl_run *r)
{
    if (r->tls && !r->o.no_setup && !r->o.boards_arg[0]) {
        fprintf(stderr, "wb-load: wss:// needs --boards (and --token or "
                        "JWT_SECRET) or --no-setup\n");
        return -1;
    }
    if (setup_tokens(r))
        return -1;
    return setup_boards(r);
}

int64_t wbl_server_rss(const wbl_run *r)
{
    if (r->o.server_pid > 0) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%ld/status", r->o.server_pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return -1;
        int64_t kb = -1;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmRSS:", 6)) {
                kb = atoll(line + 6);
                break;
            }
        fclose(f);
        return kb < 0 ? -1 : kb * 1024;
    }
    int st;
    char *resp;
    if (wbl_http(r, "GET", "/metrics", NULL, NULL, &st, &resp))
        return -1;
    int64_t v = -1;
    const char *k = "\nprocess_resident_memory_bytes ";
    char *p = st == 200 && resp ? strstr(resp, k) : NULL;
    if (p)
        v = (int64_t)strtod(p + strlen(k), NULL);
    free(resp);
    return v;
}

double wbl_server_cpu(const wbl_run *r)
{
    if (r->o.server_pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", r->o.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the command name (which may hold spaces): state is 3,
     * utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
