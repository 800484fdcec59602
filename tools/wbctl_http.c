/*
 * wbctl_http.c: a minimal HTTP/1.1 client for the node's REST API (see
 * wbctl_http.h for what it does and does not speak).
 *
 * One request per TCP connection: connect (non-blocking, with the
 * deadline), send the request with "Connection: close", read until the
 * answer is complete (headers, then Content-Length body bytes, or the end
 * of the connection when there is no Content-Length), parse. All socket
 * waits go through poll() against one deadline for the whole request, so
 * a silent peer costs at most timeout_ms. The answer is capped at
 * WBCTL_HTTP_MAX_ANSWER bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wb_error.h"
#include "wbctl_http.h"

static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- URL ----------------------------------------------------------------- */

static int parse_port(const char *s, size_t n, wbctl_url *u)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    snprintf(u->port, sizeof u->port, "%u", v);
    return 0;
}

/* HOST[:PORT] or [V6][:PORT] of length n at a. */
static int parse_authority(const char *a, size_t n, wbctl_url *u)
{
    const char *host = a, *colon = NULL;
    size_t hlen;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return -1;
        host = a + 1;
        hlen = (size_t)(close - host);
        u->ipv6 = 1;
        if (close + 1 < a + n) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(a, ':', n);
        hlen = colon ? (size_t)(colon - a) : n;
    }
    if (hlen == 0 || hlen >= sizeof u->host || memchr(a, '@', n))
        return -1;
    memcpy(u->host, host, hlen);
    u->host[hlen] = 0;
    if (colon && parse_port(colon + 1, (size_t)(a + n - colon - 1), u))
        return -1;
    return 0;
}

int wbctl_url_parse(const char *s, wbctl_url *u, char *err, size_t errcap)
{
    memset(u, 0, sizeof *u);
    strcpy(u->port, "80");
    if (!strncasecmp(s, "https://", 8))
        return fail(err, errcap, -1,
                    "%s: https:// is not supported by wbctl's client; use "
                    "the node's plain http:// address (or a port-forward "
                    "to it)", s);
    if (strncasecmp(s, "http://", 7))
        return fail(err, errcap, -1, "%s: want http://HOST[:PORT]", s);
    const char *a = s + 7;
    size_t alen = strcspn(a, "/?#");
    if (parse_authority(a, alen, u))
        return fail(err, errcap, -1, "%s: bad host or port", s);
    const char *p = a + alen;
    if (strpbrk(p, "?#"))
        return fail(err, errcap, -1, "%s: no query or fragment, please", s);
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    if (plen >= sizeof u->prefix)
        return fail(err, errcap, -1, "%s: path too long", s);
    memcpy(u->prefix, p, plen);
    u->prefix[plen] = 0;
    return 0;
}

/* ---- socket with a deadline ----------------------------------------------- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for ev on fd until deadline: 0 ready, WB_ETIMEDOUT, -errno. */
static int wait_fd(int fd, short ev, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return WB_ETIMEDOUT;
        struct pollfd p = {fd, ev, 0};
        int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int connect_one(const struct addrinfo *ai, long long deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                                       SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        rc = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            rc = -errno;
        else if (rc == 0 && soerr)
            rc = -soerr;
    }
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

static int open_conn(const wbctl_url *u, long long deadline, char *err,
                     size_t cap)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g)
        return fail(err, cap, -EHOSTUNREACH, "cannot resolve %s: %s", u->host,
                    gai_strerror(g));
    int fd = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline);
    freeaddrinfo(res);
    if (fd < 0)
        return fail(err, cap, fd, "cannot connect to %s port %s: %s",
                    u->host, u->port, fd == WB_ETIMEDOUT ? "timed out"
                                                         : strerror(-fd));
    return fd;
}

static int send_all(int fd, const char *p, size_t n, long long deadline)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        int rc = wait_fd(fd, POLLOUT, deadline);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- answer ---------------------------------------------------------------- */

typedef struct answer {
    char *buf;
    size_t len, cap;
    size_t head_len;     /* bytes up to and including the blank line; 0 */
    long long clen;      /* Content-Length, -1 when absent */
} answer;

/* Value of header name in the head (NUL-terminated copy in v), or NULL. */
static const char *header(const char *head, const char *name, char *v,
                          size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) || l[nl] != ':')
            continue;
        const char *s = l + nl + 1;
        s += strspn(s, " \t");
        size_t n = strcspn(s, "\r\n");
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n >= cap)
            n = cap - 1;
        memcpy(v, s, n);
        v[n] = 0;
        return v;
    }
    return NULL;
}

/* After more bytes arrived: finds the end of the head and checks its
 * framing headers. 0, or an error (message in err). */
static int check_head(answer *a, char *err, size_t cap)
{
    if (a->head_len)
        return 0;
    char *end = a->len >= 4 ? strstr(a->buf, "\r\n\r\n") : NULL;
    if (!end)
        return 0;
    a->head_len = (size_t)(end - a->buf) + 4;
    end[2] = 0; /* head is "...\r\n" NUL; restored by the caller's copy */
    char v[64];
    if (header(a->buf, "Transfer-Encoding", v, sizeof v))
        return fail(err, cap, WB_EMALFORMED, "the answer uses Transfer-"
                    "Encoding '%s' (wbctl reads Content-Length bodies only)", v);
    a->clen = -1;
    if (header(a->buf, "Content-Length", v, sizeof v)) {
        char *e;
        errno = 0;
        long long n = strtoll(v, &e, 10);
        if (errno || *e || !v[0] || n < 0 || n > WBCTL_HTTP_MAX_ANSWER)
            return fail(err, cap, WB_EMALFORMED, "bad Content-Length '%s'", v);
        a->clen = n;
    }
    end[2] = '\r';
    return 0;
}

static int read_answer(int fd, answer *a, long long deadline, char *err,
                       size_t cap)
{
    for (;;) {
        if (a->head_len && a->clen >= 0 &&
            a->len - a->head_len >= (size_t)a->clen)
            return 0;
        if (a->cap - a->len < 4096 + 1) {
            size_t nc = a->cap ? a->cap * 2 : 16384;
            if (nc > WBCTL_HTTP_MAX_ANSWER + 1)
                return fail(err, cap, WB_ETOOBIG, "answer over %u bytes",
                            WBCTL_HTTP_MAX_ANSWER);
            char *nb = realloc(a->buf, nc);
            if (!nb)
                return fail(err, cap, WB_ENOMEM, "out of memory");
            a->buf = nb;
            a->cap = nc;
        }
        ssize_t r = recv(fd, a->buf + a->len, a->cap - a->len - 1, 0);
        if (r == 0)
            return 0; /* end of connection: the caller checks completeness */
        if (r < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return fail(err, cap, -errno, "reading the answer: %s",
                            strerror(errno));
            int rc = wait_fd(fd, POLLIN, deadline);
            if (rc)
                return fail(err, cap, rc, "no complete answer within the "
                            "timeout");
            continue;
        }
        a->len += (size_t)r;
        a->buf[a->len] = 0;
        int rc = check_head(a, err, cap);
        if (rc)
            return rc;
    }
}

static int parse_answer(answer *a, wbctl_http_resp *out, char *err,
                        size_t cap)
{
    if (!a->head_len)
        return fail(err, cap, WB_EMALFORMED, a->len ? "the answer ended "
                    "inside its headers" : "the server closed the "
                    "connection without answering");
    int status = 0, n = 0;
    if (sscanf(a->buf, "HTTP/1.%*1[01] %3d%n", &status, &n) != 1 || n != 12 ||
        status < 100 || status > 599)
        return fail(err, cap, WB_EMALFORMED, "not an HTTP/1.x status line: "
                    "'%.40s'", a->buf);
    size_t body = a->len - a->head_len;
    if (a->clen >= 0 && body < (size_t)a->clen)
        return fail(err, cap, WB_ETRUNCATED, "connection closed after %zu of "
                    "%lld body bytes", body, a->clen);
    if (a->clen >= 0)
        body = (size_t)a->clen;
    char v[32];
    a->buf[a->head_len - 2] = 0;
    out->status = status;
    out->retry_after = header(a->buf, "Retry-After", v, sizeof v) ? atoi(v) : -1;
    out->len = body;
    out->body = malloc(body + 1);
    if (!out->body)
        return fail(err, cap, WB_ENOMEM, "out of memory");
    memcpy(out->body, a->buf + a->head_len, body);
    out->body[body] = 0;
    return 0;
}

/* ---- request --------------------------------------------------------------- */

static char *build_request(const wbctl_url *u, const char *method,
                           const char *path, const char *token,
                           const char *body, size_t *len)
{
    char auth[64 + 8192] = "";
    if (token && strlen(token) < 8192)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    char clen[96] = "";
    if (body || !strcmp(method, "POST") || !strcmp(method, "PUT"))
        snprintf(clen, sizeof clen, "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n", body ? strlen(body) : 0);
    size_t blen = body ? strlen(body) : 0;
    size_t cap = strlen(method) + strlen(u->prefix) + strlen(path) +
                 strlen(u->host) + strlen(auth) + strlen(clen) + blen + 256;
    char *req = malloc(cap);
    if (!req)
        return NULL;
    int n = snprintf(req, cap, "%s %s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n"
                     "User-Agent: wbctl\r\nAccept: application/json\r\n"
                     "Connection: close\r\n%s%s\r\n",
                     method, u->prefix, path, u->ipv6 ? "[" : "", u->host,
                     u->ipv6 ? "]" : "", strcmp(u->port, "80") ? ":" : "",
                     strcmp(u->port, "80") ? u->port : "", auth, clen);
    memcpy(req + n, body ? body : "", blen);
    *len = (size_t)n + blen;
    return req;
}

int wbctl_http_request(const wbctl_url *u, const char *method,
                       const char *path, const char *token, const char *body,
                       int timeout_ms, wbctl_http_resp *out, char *err,
                       size_t errcap)
{
    memset(out, 0, sizeof *out);
    long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms
                                                    : WBCTL_HTTP_TIMEOUT_MS);
    size_t len;
    char *req = build_request(u, method, path, token, body, &len);
    if (!req)
        return fail(err, errcap, WB_ENOMEM, "out of memory");
    int fd = open_conn(u, deadline, err, errcap);
    if (fd < 0) {
        free(req);
        return fd;
    }
    answer a = {0};
    int rc = send_all(fd, req, len, deadline);
    if (rc)
        fail(err, errcap, rc, "sending the request: %s",
             rc == WB_ETIMEDOUT ? "timed out" : strerror(-rc));
    if (!rc)
        rc = read_answer(fd, &a, deadline, err, errcap);
    if (!rc)
        rc = parse_answer(&a, out, err, errcap);
    close(fd);
    free(req);
    free(a.buf);
    return rc;
}

void wbctl_http_resp_free(wbctl_http_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
