/*
 * fuzz_jwt.c: libFuzzer harness for JWT verification (net/jwt.c).
 *
 * Input: one mode byte, then data.
 *   mode even: data is a token, verified with a fixed secret (and a
 *              previous one) at a fixed time. Reaches framing, base64url,
 *              header parsing and the signature check.
 *   mode odd:  data is a payload; the harness signs it (valid header and
 *              HMAC) so that the claims parser behind the signature check
 *              is reached too.
 * Properties checked: no crash or sanitizer report; only documented codes
 * are returned; every accepted token's claims are well-formed and survive
 * jwt_sign -> jwt_verify unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "wb_error.h"

#define FUZZ_NOW 1700000100LL

static const char fuzz_secret[] = "wb-test-secret-0123456789abcdef-XYZ";
static const char fuzz_previous[] = "previous-secret-fedcba9876543210-ABC";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const jwt_claims *c, const jwt_keys *k)
{
    if (strlen(c->sub) == 0 || strlen(c->sub) > JWT_SUB_MAX ||
        c->nboards > JWT_MAX_BOARDS || c->exp <= 0)
        abort();
    char *tok = NULL;
    if (jwt_sign(c, k, &tok) != 0)
        abort();
    jwt_claims back;
    int rc = jwt_verify(tok, strlen(tok), k, FUZZ_NOW, &back, NULL);
    free(tok);
    if (rc != 0 || strcmp(back.sub, c->sub) != 0 ||
        strcmp(back.name, c->name) != 0 || back.role != c->role ||
        back.guest != c->guest || back.nboards != c->nboards ||
        back.exp != c->exp || back.nbf != c->nbf || back.iat != c->iat)
        abort();
    for (size_t i = 0; i < c->nboards; i++)
        if (strcmp(back.boards[i].id, c->boards[i].id) != 0 ||
            back.boards[i].role != c->boards[i].role)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    jwt_keys k = {.secret = fuzz_secret,
                  .secret_len = strlen(fuzz_secret),
                  .previous = fuzz_previous,
                  .previous_len = strlen(fuzz_previous)};
    const char *tok = (const char *)data + 1;
    size_t n = size - 1;
    char *signed_tok = NULL;
    if (data[0] & 1) {
        static const char h[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        if (jwt_encode_raw(h, strlen(h), data + 1, n, fuzz_secret,
                           strlen(fuzz_secret), &signed_tok) != 0)
            return 0;
        tok = signed_tok;
        n = strlen(signed_tok);
    }
    jwt_claims c;
    int rc = jwt_verify(tok, n, &k, FUZZ_NOW, &c, NULL);
    switch (rc) {
    case 0:
        check_round_trip(&c, &k);
        break;
    case WB_ETOOBIG: case WB_EMALFORMED: case WB_EBADALG: case WB_EBADSIG:
    case WB_EEXPIRED: case WB_ENOTYET:
        break;
    default:
        abort();
    }
    free(signed_tok);
    return 0;
}
