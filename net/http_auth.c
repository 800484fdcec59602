/*
 * http_auth.c: the Bearer token check of the REST API.
 *
 * `Authorization: Bearer <JWT>` is verified with jwt_verify (HS256 pinned,
 * exp required, current or previous secret). Any failure answers 401 with
 * a WWW-Authenticate header; the message names the reason (missing, bad
 * signature, expired, ...) but never echoes the token. A verification with
 * the previous secret is logged so operators see when rotation can finish.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_internal.h"
#include "log.h"
#include "wb_error.h"

static const char *http_auth_reason(int rc)
{
    switch (rc) {
    case WB_EBADSIG: return "invalid token: bad signature";
    case WB_EEXPIRED: return "invalid token: expired";
    case WB_ENOTYET: return "invalid token: not yet valid";
    case WB_EBADALG: return "invalid token: algorithm not allowed";
    case WB_ETOOBIG: return "invalid token: too large";
    default: return "invalid token: malformed";
    }
}

static void http_unauthorized(http_req *r, const char *why)
{
    snprintf(r->extra_hdr, sizeof r->extra_hdr,
             "WWW-Authenticate: Bearer realm=\"whiteboard\"");
    http_error(r, 401, why);
}

int http_auth(node *n, http_req *r, jwt_claims *claims)
{
    int len = lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (len <= 0) {
        http_unauthorized(r, "missing bearer token");
        return 401;
    }
    if ((size_t)len > JWT_MAX_TOKEN + 16) {
        http_unauthorized(r, http_auth_reason(WB_ETOOBIG));
        return 401;
    }
    char *hdr = malloc((size_t)len + 1);
    if (!hdr || lws_hdr_copy(r->wsi, hdr, len + 1,
                             WSI_TOKEN_HTTP_AUTHORIZATION) < 0) {
        free(hdr);
        http_error(r, 500, "out of memory");
        return 500;
    }
    if (strncasecmp(hdr, "Bearer ", 7) != 0) {
        free(hdr);
        http_unauthorized(r, "missing bearer token");
        return 401;
    }
    const char *tok = hdr + 7;
    while (*tok == ' ')
        tok++;
    int key_used = 0;
    int rc = jwt_verify(tok, strlen(tok), &n->keys, (int64_t)time(NULL),
                        claims, &key_used);
    free(hdr);
    if (rc) {
        WBLOGF(WBLOG_INFO, "auth refused", WBF_STR("path", r->path),
               WBF_ERR(rc));
        http_unauthorized(r, http_auth_reason(rc));
        return 401;
    }
    if (key_used == 1)
        WBLOGF(WBLOG_INFO, "token verified with the previous JWT secret",
               WBF_USER(claims->sub));
    return 0;
}
