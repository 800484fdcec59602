/*
 * jwt_claims.c: the payload of our tokens, JSON <-> struct jwt_claims.
 *
 * The claim set is documented in jwt.h. Both directions enforce the same
 * bounds, so that every token jwt_sign mints is accepted back by
 * jwt_verify with equal claims (the fuzz harness checks this round trip).
 */
#include <math.h>
#include <string.h>

#include "jwt_internal.h"
#include "wb_error.h"

static const char *const jwt_role_names[] = {"none", "viewer", "editor",
                                             "owner"};

const char *jwt_role_name(enum jwt_role role)
{
    if ((unsigned)role > JWT_ROLE_OWNER)
        return "none";
    return jwt_role_names[role];
}

enum jwt_role jwt_role_parse(const char *name)
{
    for (int r = JWT_ROLE_VIEWER; r <= JWT_ROLE_OWNER; r++)
        if (strcmp(name, jwt_role_names[r]) == 0)
            return (enum jwt_role)r;
    return JWT_ROLE_NONE;
}

enum jwt_role jwt_role_for(const jwt_claims *c, const char *board_id)
{
    enum jwt_role best = c->role;
    for (size_t i = 0; i < c->nboards; i++)
        if (strcmp(c->boards[i].id, board_id) == 0 && c->boards[i].role > best)
            best = c->boards[i].role;
    return best;
}

/* Copies a JSON string of min..max bytes without NUL into dst. */
static int claim_str(const json_t *v, size_t min, size_t max, char *dst)
{
    if (!json_is_string(v))
        return WB_EMALFORMED;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < min || n > max || memchr(s, '\0', n))
        return WB_EMALFORMED;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static int claim_time(const json_t *v, int64_t *out)
{
    if (!v)
        return 0;
    double d;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > JWT_MAX_TIME)
            return WB_EMALFORMED;
        *out = (int64_t)i;
        return 0;
    }
    if (!json_is_real(v))
        return WB_EMALFORMED;
    d = json_real_value(v);
    if (!(d >= 0 && d <= (double)JWT_MAX_TIME))
        return WB_EMALFORMED; /* also NaN */
    *out = (int64_t)floor(d);
    return 0;
}

static int claim_role(const json_t *v, enum jwt_role *out)
{
    if (!json_is_string(v))
        return WB_EMALFORMED;
    *out = jwt_role_parse(json_string_value(v));
    return *out == JWT_ROLE_NONE ? WB_EMALFORMED : 0;
}

static int claim_boards(const json_t *v, jwt_claims *c)
{
    if (!json_is_object(v) || json_object_size(v) > JWT_MAX_BOARDS)
        return WB_EMALFORMED;
    const char *id;
    json_t *role;
    json_object_foreach((json_t *)v, id, role) {
        jwt_board_role *b = &c->boards[c->nboards];
        size_t n = strlen(id); /* keys with NUL are refused by the parser */
        if (n == 0 || n > JWT_BOARD_ID_MAX)
            return WB_EMALFORMED;
        memcpy(b->id, id, n + 1);
        if (claim_role(role, &b->role))
            return WB_EMALFORMED;
        c->nboards++;
    }
    return 0;
}

int jwt_claims_from_json(const json_t *p, jwt_claims *c)
{
    memset(c, 0, sizeof *c);
    const json_t *v;
    if (claim_str(json_object_get(p, "sub"), 1, JWT_SUB_MAX, c->sub))
        return WB_EMALFORMED;
    if ((v = json_object_get(p, "name")) &&
        claim_str(v, 0, JWT_NAME_MAX, c->name))
        return WB_EMALFORMED;
    if ((v = json_object_get(p, "role")) && claim_role(v, &c->role))
        return WB_EMALFORMED;
    if ((v = json_object_get(p, "boards")) && claim_boards(v, c))
        return WB_EMALFORMED;
    if ((v = json_object_get(p, "guest"))) {
        if (!json_is_boolean(v))
            return WB_EMALFORMED;
        c->guest = json_is_true(v);
    }
    if (claim_time(json_object_get(p, "iat"), &c->iat) ||
        claim_time(json_object_get(p, "nbf"), &c->nbf) ||
        claim_time(json_object_get(p, "exp"), &c->exp))
        return WB_EMALFORMED;
    return 0;
}

static int claims_valid(const jwt_claims *c)
{
    size_t n = strnlen(c->sub, JWT_SUB_MAX + 1);
    if (n == 0 || n > JWT_SUB_MAX)
        return 0;
    if (strnlen(c->name, JWT_NAME_MAX + 1) > JWT_NAME_MAX)
        return 0;
    if ((unsigned)c->role > JWT_ROLE_OWNER || c->nboards > JWT_MAX_BOARDS)
        return 0;
    for (size_t i = 0; i < c->nboards; i++) {
        size_t m = strnlen(c->boards[i].id, JWT_BOARD_ID_MAX + 1);
        if (m == 0 || m > JWT_BOARD_ID_MAX ||
            c->boards[i].role < JWT_ROLE_VIEWER ||
            c->boards[i].role > JWT_ROLE_OWNER)
            return 0;
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->boards[i].id, c->boards[j].id) == 0)
                return 0; /* would be a duplicate key */
    }
    return c->exp > 0 && c->exp <= JWT_MAX_TIME && c->iat >= 0 &&
           c->iat <= JWT_MAX_TIME && c->nbf >= 0 && c->nbf <= JWT_MAX_TIME;
}

/* json_object_set_new that remembers a failure in *ok. */
static void put(json_t *o, const char *key, json_t *v, int *ok)
{
    if (!v || json_object_set_new(o, key, v) != 0)
        *ok = 0;
}

json_t *jwt_claims_to_json(const jwt_claims *c, int *rc)
{
    if (!claims_valid(c)) {
        *rc = WB_EINVAL;
        return NULL;
    }
    int ok = 1;
    json_t *o = json_object();
    if (!o) {
        *rc = WB_ENOMEM;
        return NULL;
    }
    put(o, "sub", json_string(c->sub), &ok);
    if (c->name[0])
        put(o, "name", json_string(c->name), &ok);
    if (c->role != JWT_ROLE_NONE)
        put(o, "role", json_string(jwt_role_name(c->role)), &ok);
    if (c->nboards) {
        json_t *b = json_object();
        for (size_t i = 0; b && i < c->nboards; i++)
            put(b, c->boards[i].id,
                json_string(jwt_role_name(c->boards[i].role)), &ok);
        put(o, "boards", b, &ok);
    }
    if (c->guest)
        put(o, "guest", json_true(), &ok);
    if (c->iat)
        put(o, "iat", json_integer(c->iat), &ok);
    if (c->nbf)
        put(o, "nbf", json_integer(c->nbf), &ok);
    put(o, "exp", json_integer(c->exp), &ok);
    if (!ok) {
        json_decref(o);
        /* json_string refuses invalid UTF-8: that is the caller's input */
        *rc = WB_EINVAL;
        return NULL;
    }
    return o;
}
