/*
 * jwt.h: JSON Web Tokens, HS256 only (public API).
 *
 * Who calls it: the server on every HTTP request (`Authorization: Bearer
 * <token>`) and WebSocket hello; wbctl `token` and guest sign-in to mint.
 *
 * A token is BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(sig),
 * base64url without padding (RFC 7515 section 2), sig = HMAC-SHA256(secret,
 * the first two parts as sent). What verification checks, in this order,
 * and the code each failure returns:
 *
 *   1. length <= JWT_MAX_TOKEN, before any decoding         WB_ETOOBIG
 *   2. exactly three non-empty parts; each strict base64url
 *      (alphabet A-Z a-z 0-9 - _, no padding, no spaces,
 *      unused trailing bits zero); the signature 32 bytes   WB_EMALFORMED
 *   3. header is a JSON object (duplicate keys rejected);
 *      "typ", if present, is "JWT"; no "crit"              WB_EMALFORMED
 *   4. header "alg" is exactly "HS256" (missing, "none",
 *      "RS256", "hs256", ... are all refused: the algorithm
 *      is pinned, never taken from the token)               WB_EBADALG
 *   5. signature equals HMAC-SHA256 under the current
 *      secret or, if configured, the previous one
 *      (rotation); compared in constant time (CRYPTO_memcmp) WB_EBADSIG
 *   6. payload (only now parsed: nothing unauthenticated is
 *      interpreted beyond the header) is a JSON object whose
 *      known claims have the types below                    WB_EMALFORMED
 *   7. exp present and now < exp + leeway                   WB_EEXPIRED
 *      (a token without exp is WB_EMALFORMED: we mint none)
 *   8. now + leeway >= nbf and now + leeway >= iat           WB_ENOTYET
 *
 * Claims (payload), all optional except sub and exp:
 *   "sub":    string, 1..JWT_SUB_MAX bytes: the user id
 *   "name":   string, <= JWT_NAME_MAX bytes: display name
 *   "role":   "viewer" | "editor" | "owner": role on EVERY board
 *   "boards": {"<board id>": "<role>", ...}: per-board roles, at most
 *             JWT_MAX_BOARDS, ids 1..JWT_BOARD_ID_MAX bytes
 *   "guest":  true for tokens minted by guest sign-in
 *   "exp", "nbf", "iat": NumericDate (seconds since the epoch; integers,
 *             or reals rounded down), 0..JWT_MAX_TIME
 * Other claims (iss, aud, ...) are ignored. A user's role on board B is the
 * higher of "role" and "boards"[B] (jwt_role_for).
 *
 * Example, as minted by jwt_sign (payload shown decoded):
 *   {"alg":"HS256","typ":"JWT"}
 *   {"sub":"user-42","name":"Ada","role":"viewer",
 *    "boards":{"b1":"owner"},"iat":1700000000,"exp":1700003600}
 */
#ifndef WB_JWT_H
#define WB_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 8192u     /* bytes of a whole token */
#define JWT_SUB_MAX 128u        /* = WB_MAX_USER_LEN of the op codec */
#define JWT_NAME_MAX 128u
#define JWT_BOARD_ID_MAX 64u    /* = SNAP_BOARD_ID_MAX */
#define JWT_MAX_BOARDS 32u
#define JWT_LEEWAY_S 30         /* clock skew allowed between nodes */
#define JWT_MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

enum jwt_role {
    JWT_ROLE_NONE = 0,
    JWT_ROLE_VIEWER = 1,
    JWT_ROLE_EDITOR = 2,
    JWT_ROLE_OWNER = 3,
};

typedef struct jwt_board_role {
    char id[JWT_BOARD_ID_MAX + 1];
    enum jwt_role role;
} jwt_board_role;

typedef struct jwt_claims {
    char sub[JWT_SUB_MAX + 1];   /* user id, NUL-terminated */
    char name[JWT_NAME_MAX + 1]; /* "" when absent */
    enum jwt_role role;          /* on every board; NONE when absent */
    int guest;                   /* 1: minted by guest sign-in */
    size_t nboards;
    jwt_board_role boards[JWT_MAX_BOARDS];
    int64_t iat, nbf, exp;       /* seconds since the epoch; 0: absent */
} jwt_claims;

/* The node's secrets. `secret` signs and verifies; `previous` (NULL or
 * length 0: none) only verifies, so that tokens minted before a rotation
 * keep working until they expire. Borrowed for the duration of a call. */
typedef struct jwt_keys {
    const void *secret;
    size_t secret_len;
    const void *previous;
    size_t previous_len;
} jwt_keys;

/* Verifies token[0..len) at time now (seconds since the epoch) and fills
 * *out with its claims. *key_used (may be NULL) is set to 0 when the
 * current secret matched, 1 when the previous one did (the server logs the
 * latter during a rotation). Returns 0 or one of the codes listed in the
 * comment at the top (WB_EINVAL if keys has no current secret). *out is
 * only meaningful on success. */
int jwt_verify(const char *token, size_t len, const jwt_keys *keys,
               int64_t now, jwt_claims *out, int *key_used);

/* Steps 1-5 only: format, header, pinned algorithm and signature. For tools
 * that inspect a token; the server uses jwt_verify. */
int jwt_verify_signature(const char *token, size_t len, const jwt_keys *keys,
                         int *key_used);

/* Mints a token for *claims with keys->secret: header
 * {"alg":"HS256","typ":"JWT"}, payload with the claims in the order of the
 * list above (sub, name, role, boards, guest, iat, nbf, exp), absent ones
 * left out. claims->exp must be set (> 0) and sub non-empty: WB_EINVAL
 * otherwise. *out receives a NUL-terminated token the caller frees with
 * free(). Returns 0, WB_EINVAL, WB_ETOOBIG (token over JWT_MAX_TOKEN) or
 * WB_ENOMEM. */
int jwt_sign(const jwt_claims *claims, const jwt_keys *keys, char **out);

/* Low level: a token from arbitrary header and payload bytes, signed with
 * HMAC-SHA256 under secret. For tests, the fuzz harness and tools only:
 * nothing is checked. *out as for jwt_sign. Returns 0, WB_EINVAL (empty
 * secret), WB_ETOOBIG (a part over 4 * JWT_MAX_TOKEN bytes) or WB_ENOMEM. */
int jwt_encode_raw(const void *header, size_t hlen, const void *payload,
                   size_t plen, const void *secret, size_t secret_len,
                   char **out);

/* The higher of claims->role and the role listed for board_id. */
enum jwt_role jwt_role_for(const jwt_claims *claims, const char *board_id);

/* "viewer", "editor", "owner" ("none" for JWT_ROLE_NONE). */
const char *jwt_role_name(enum jwt_role role);

/* Parses a role name; returns JWT_ROLE_NONE for anything else. */
enum jwt_role jwt_role_parse(const char *name);

#endif /* WB_JWT_H */
