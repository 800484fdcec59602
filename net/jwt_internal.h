/*
 * jwt_internal.h: what jwt.c and jwt_claims.c share (not public).
 */
#ifndef WB_JWT_INTERNAL_H
#define WB_JWT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

/* Fills *out from a payload object (step 6 of jwt.h; times are checked by
 * the caller). Returns 0 or WB_EMALFORMED. */
int jwt_claims_from_json(const json_t *payload, jwt_claims *out);

/* Builds the payload object of jwt_sign (new reference) or NULL: WB_EINVAL
 * via *rc for claims that jwt_claims_from_json would not accept back,
 * WB_ENOMEM. */
json_t *jwt_claims_to_json(const jwt_claims *c, int *rc);

/* Strict base64url without padding: decodes src[0..n) into dst (room for
 * n * 3 / 4 bytes) and returns the decoded length, or -1 on any character
 * outside the alphabet, a length of 1 mod 4, or non-zero unused bits. */
long jwt_b64url_decode(const char *src, size_t n, uint8_t *dst);

/* Encodes src[0..n) into dst (room for (n * 4 + 2) / 3 + 1), NUL-terminates
 * it and returns the encoded length. */
size_t jwt_b64url_encode(const uint8_t *src, size_t n, char *dst);

#endif /* WB_JWT_INTERNAL_H */
