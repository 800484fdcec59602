/*
 * wbctl_http.h: the small HTTP/1.1 client of the wbctl subcommands that
 * talk to a running node (seed, snapshot take), and their shared API
 * helpers (credentials, error answers).
 *
 * The client (wbctl_http.c) speaks exactly what whiteboardd answers: one
 * request per connection ("Connection: close"), plain http:// only (no
 * TLS: point it at the node's plain port, or at a port-forward), request
 * and answer bodies framed by Content-Length (an answer without one is
 * read to the end of the connection; chunked answers are refused with a
 * message saying so). Every step has a deadline. Not a general client:
 * no redirects, no proxies, no keep-alive.
 *
 * The API helpers (wbctl_api.c) turn the subcommands' credential options
 * into a bearer token: --token T as given, --secret-file F / --secret-env
 * VAR minted here (wbctl_token_mint), or, with none, a guest token from
 * POST /api/v1/auth/guest (development nodes).
 */
#ifndef WBCTL_HTTP_H
#define WBCTL_HTTP_H

#include <stddef.h>

#include "jwt.h"

#define WBCTL_HTTP_MAX_ANSWER (64u << 20) /* bytes of headers + body */
#define WBCTL_HTTP_TIMEOUT_MS 30000

typedef struct wbctl_url {
    char host[256];   /* name or address; IPv6 without brackets */
    char port[8];     /* decimal, "80" by default */
    char prefix[512]; /* path before /api/v1 ("" or "/x", no trailing /) */
    int ipv6;         /* host was a bracketed literal */
} wbctl_url;

/* Parses "http://HOST[:PORT][/PREFIX]". 0, or -1 with a reason in err. */
int wbctl_url_parse(const char *s, wbctl_url *u, char *err, size_t errcap);

typedef struct wbctl_http_resp {
    int status;          /* HTTP status code */
    char *body;          /* NUL-terminated; owned, wbctl_http_resp_free */
    size_t len;          /* body bytes */
    int retry_after;     /* Retry-After seconds, -1 when absent */
} wbctl_http_resp;

/* One request: METHOD PREFIX+path with an optional bearer token and JSON
 * body (body NULL: none; a POST always sends Content-Length). Returns 0
 * with *out filled for any HTTP answer (also 4xx/5xx), or a negative
 * errno / WB_EMALFORMED / WB_ETOOBIG / WB_ETIMEDOUT with what went wrong
 * in err (connection refused, timed out, malformed answer, ...). */
int wbctl_http_request(const wbctl_url *u, const char *method,
                       const char *path, const char *token, const char *body,
                       int timeout_ms, wbctl_http_resp *out, char *err,
                       size_t errcap);
void wbctl_http_resp_free(wbctl_http_resp *r);

/* ---- wbctl_api.c ----------------------------------------------------- */

typedef struct wbctl_creds {
    const char *token, *secret_file, *secret_env;
} wbctl_creds;

/* A bearer token for cmd: creds->token copied, or minted from the secret
 * with claims c (sub, role, boards filled by the caller; iat/exp set
 * here, ttl seconds), or a guest token from the node. *out malloc'd.
 * 0, or -1 after printing why. */
int wbctl_api_token(const char *cmd, const wbctl_url *u,
                    const wbctl_creds *creds, jwt_claims *c, long long ttl,
                    char **out);

/* Prints "wbctl CMD: WHAT: HTTP STATUS CODE: MESSAGE" for an error answer
 * (the node's {"error":{"code","message"}} when it is one). */
void wbctl_api_error(const char *cmd, const char *what,
                     const wbctl_http_resp *r);

/* wbctl_token.c: signs claims c (iat/exp as set) with the node secret
 * read from secret_file or the environment variable secret_env (exactly
 * one non-NULL). *out malloc'd. 0, or -1 after printing why for cmd. */
int wbctl_token_mint(const char *cmd, const char *secret_file,
                     const char *secret_env, const jwt_claims *c, char **out);

#endif /* WBCTL_HTTP_H */
