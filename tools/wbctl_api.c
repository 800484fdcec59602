/*
 * wbctl_api.c: what the API subcommands (seed, snapshot take) share on top
 * of the HTTP client: a bearer token from the credential options, and the
 * node's error answers printed in one shape. See wbctl_http.h.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wbctl_http.h"

static char *guest_token(const char *cmd, const wbctl_url *u)
{
    wbctl_http_resp r;
    char err[512];
    int rc = wbctl_http_request(u, "POST", "/api/v1/auth/guest", NULL,
                                "{\"name\":\"wbctl\"}", 0, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "wbctl %s: %s\n", cmd, err);
        return NULL;
    }
    char *tok = NULL;
    if (r.status == 200) {
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "token"));
        tok = t ? strdup(t) : NULL;
        json_decref(j);
        if (!tok)
            fprintf(stderr, "wbctl %s: guest sign-in: no token in the "
                            "answer\n", cmd);
    } else {
        wbctl_api_error(cmd, "guest sign-in (no --token, --secret-file or "
                             "--secret-env given)", &r);
    }
    wbctl_http_resp_free(&r);
    return tok;
}

int wbctl_api_token(const char *cmd, const wbctl_url *u,
                    const wbctl_creds *creds, jwt_claims *c, long long ttl,
                    char **out)
{
    *out = NULL;
    if (creds->token) {
        *out = strdup(creds->token);
        return *out ? 0 : -1;
    }
    if (creds->secret_file || creds->secret_env) {
        c->iat = (int64_t)time(NULL);
        c->exp = c->iat + ttl;
        return wbctl_token_mint(cmd, creds->secret_file, creds->secret_env, c,
                                out);
    }
    *out = guest_token(cmd, u);
    return *out ? 0 : -1;
}

void wbctl_api_error(const char *cmd, const char *what,
                     const wbctl_http_resp *r)
{
    json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code)
        fprintf(stderr, "wbctl %s: %s: HTTP %d %s: %s\n", cmd, what, r->status,
                code, msg ? msg : "");
    else
        fprintf(stderr, "wbctl %s: %s: HTTP %d: %.200s\n", cmd, what,
                r->status, r->body ? r->body : "");
    if (r->status == 401)
        fprintf(stderr, "wbctl %s: the node refused the token: is it signed "
                        "with the node's JWT_SECRET, and not expired?\n", cmd);
    json_decref(j);
}
