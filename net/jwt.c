/*
 * jwt.c: HS256 token verification and minting (the checks of jwt.h, in
 * that order).
 *
 * Invariants: nothing is decoded before the length cap; the algorithm is
 * pinned to HS256 and never chosen by the token; the payload is parsed only
 * after the signature matched; signatures are compared with CRYPTO_memcmp
 * (time independent of where they differ); all buffers are sized from the
 * capped token length, never from a decoded field.
 */
#include "jwt.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_internal.h"
#include "wb_error.h"

#define JWT_SIG_LEN 32u           /* HMAC-SHA256 */
#define JWT_SIG_B64_LEN 43u       /* its base64url text */
#define JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* The three parts of a token, as offsets into its text. */
typedef struct jwt_parts {
    const char *header, *payload, *sig;
    size_t header_len, payload_len, sig_len;
    size_t signing_len; /* header "." payload */
} jwt_parts;

static int jwt_split(const char *token, size_t len, jwt_parts *p)
{
    const char *d1 = memchr(token, '.', len);
    if (!d1)
        return WB_EMALFORMED;
    const char *rest = d1 + 1;
    size_t rest_len = len - (size_t)(rest - token);
    const char *d2 = memchr(rest, '.', rest_len);
    if (!d2)
        return WB_EMALFORMED;
    p->header = token;
    p->header_len = (size_t)(d1 - token);
    p->payload = rest;
    p->payload_len = (size_t)(d2 - rest);
    p->sig = d2 + 1;
    p->sig_len = len - (size_t)(p->sig - token);
    p->signing_len = (size_t)(d2 - token);
    if (!p->header_len || !p->payload_len || p->sig_len != JWT_SIG_B64_LEN ||
        memchr(p->sig, '.', p->sig_len))
        return WB_EMALFORMED;
    return 0;
}

/* Decodes one base64url part holding JSON into a new object, or NULL. */
static json_t *jwt_part_json(const char *b64, size_t n)
{
    uint8_t buf[JWT_MAX_TOKEN]; /* n <= JWT_MAX_TOKEN: decoded is smaller */
    long m = jwt_b64url_decode(b64, n, buf);
    if (m < 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, (size_t)m,
                           JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int jwt_b64url_valid(const char *b64, size_t n)
{
    uint8_t buf[JWT_MAX_TOKEN];
    return jwt_b64url_decode(b64, n, buf) >= 0;
}

static int jwt_check_header(const json_t *h)
{
    const json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) ||
                strcmp(json_string_value(typ), "JWT") != 0))
        return WB_EMALFORMED;
    if (json_object_get(h, "crit"))
        return WB_EMALFORMED; /* we implement no extension */
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5)
        return WB_EBADALG;
    return 0;
}

static int jwt_hmac(const void *key, size_t key_len, const void *data,
                    size_t n, uint8_t mac[JWT_SIG_LEN])
{
    unsigned int mac_len = 0;
    if (key_len == 0 || key_len > 0x7fffffff)
        return WB_EINVAL;
    if (!HMAC(EVP_sha256(), key, (int)key_len, data, n, mac, &mac_len) ||
        mac_len != JWT_SIG_LEN)
        return WB_ENOMEM;
    return 0;
}

int jwt_verify_signature(const char *token, size_t len, const jwt_keys *keys,
                         int *key_used)
{
    if (!keys || !keys->secret || keys->secret_len == 0)
        return WB_EINVAL;
    if (len > JWT_MAX_TOKEN)
        return WB_ETOOBIG;
    jwt_parts p;
    int rc = jwt_split(token, len, &p);
    if (rc)
        return rc;
    uint8_t sig[JWT_SIG_LEN + 3], mac[JWT_SIG_LEN];
    if (jwt_b64url_decode(p.sig, p.sig_len, sig) != (long)JWT_SIG_LEN)
        return WB_EMALFORMED;
    if (!jwt_b64url_valid(p.payload, p.payload_len))
        return WB_EMALFORMED;
    json_t *h = jwt_part_json(p.header, p.header_len);
    if (!h)
        return WB_EMALFORMED;
    rc = jwt_check_header(h);
    json_decref(h);
    if (rc)
        return rc;
    rc = jwt_hmac(keys->secret, keys->secret_len, token, p.signing_len, mac);
    if (rc)
        return rc;
    if (CRYPTO_memcmp(mac, sig, JWT_SIG_LEN) == 0) {
        if (key_used)
            *key_used = 0;
        return 0;
    }
    if (keys->previous && keys->previous_len) {
        rc = jwt_hmac(keys->previous, keys->previous_len, token,
                      p.signing_len, mac);
        if (rc)
            return rc;
        if (CRYPTO_memcmp(mac, sig, JWT_SIG_LEN) == 0) {
            if (key_used)
                *key_used = 1;
            return 0;
        }
    }
    return WB_EBADSIG;
}

static int jwt_check_times(const jwt_claims *c, int64_t now)
{
    if (c->exp == 0)
        return WB_EMALFORMED;
    if (now >= c->exp + JWT_LEEWAY_S)
        return WB_EEXPIRED;
    if (c->nbf && now + JWT_LEEWAY_S < c->nbf)
        return WB_ENOTYET;
    if (c->iat && now + JWT_LEEWAY_S < c->iat)
        return WB_ENOTYET;
    return 0;
}

int jwt_verify(const char *token, size_t len, const jwt_keys *keys,
               int64_t now, jwt_claims *out, int *key_used)
{
    int rc = jwt_verify_signature(token, len, keys, key_used);
    if (rc)
        return rc;
    jwt_parts p;
    jwt_split(token, len, &p); /* succeeded above */
    json_t *payload = jwt_part_json(p.payload, p.payload_len);
    if (!payload)
        return WB_EMALFORMED;
    rc = jwt_claims_from_json(payload, out);
    json_decref(payload);
    if (rc)
        return rc;
    return jwt_check_times(out, now);
}

int jwt_encode_raw(const void *header, size_t hlen, const void *payload,
                   size_t plen, const void *secret, size_t secret_len,
                   char **out)
{
    *out = NULL;
    if (hlen > JWT_MAX_TOKEN * 4 || plen > JWT_MAX_TOKEN * 4)
        return WB_ETOOBIG;
    size_t cap = (hlen * 4 + 2) / 3 + (plen * 4 + 2) / 3 + JWT_SIG_B64_LEN + 4;
    char *tok = malloc(cap);
    if (!tok)
        return WB_ENOMEM;
    size_t n = jwt_b64url_encode(header, hlen, tok);
    tok[n++] = '.';
    n += jwt_b64url_encode(payload, plen, tok + n);
    uint8_t mac[JWT_SIG_LEN];
    int rc = jwt_hmac(secret, secret_len, tok, n, mac);
    if (rc) {
        free(tok);
        return rc;
    }
    tok[n++] = '.';
    jwt_b64url_encode(mac, sizeof mac, tok + n);
    *out = tok;
    return 0;
}

int jwt_sign(const jwt_claims *claims, const jwt_keys *keys, char **out)
{
    *out = NULL;
    if (!keys || !keys->secret || keys->secret_len == 0)
        return WB_EINVAL;
    int rc = 0;
    json_t *payload = jwt_claims_to_json(claims, &rc);
    if (!payload)
        return rc;
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text)
        return WB_ENOMEM;
    rc = jwt_encode_raw(JWT_HEADER, strlen(JWT_HEADER), text, strlen(text),
                        keys->secret, keys->secret_len, out);
    free(text);
    if (rc == 0 && strlen(*out) > JWT_MAX_TOKEN) {
        free(*out);
        *out = NULL;
        rc = WB_ETOOBIG;
    }
    return rc;
}
