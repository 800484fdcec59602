/* test_net_jwt.c: HS256 tokens. Known vectors (one from RFC 7515, one made
 * once with python3's hmac/base64/json and committed as constants), every
 * step of verification refusing what it must, rotation, times, and the
 * sign -> verify round trip. */

#include "jwt.h"
#include "wbtest.h"

static const char SECRET[] = "wb-test-secret-0123456789abcdef-XYZ";
static const char PREVIOUS[] = "previous-secret-fedcba9876543210-ABC";

/* python3:
 *   h = {"alg":"HS256","typ":"JWT"}
 *   p = {"sub":"user-42","name":"Ada Lovelace","role":"viewer",
 *        "boards":{"b1":"owner","team-plan":"editor"},
 *        "iat":1700000000,"exp":1700003600}
 *   each json.dumps(separators=(',',':')), base64url without '=', joined
 *   with '.', then hmac.new(secret, signing_input, sha256). */
static const char VECTOR[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJ1c2VyLTQyIiwibmFtZSI6IkFkYSBMb3ZlbGFjZSIsInJvbGUiOiJ2aWV3ZX"
    "IiLCJib2FyZHMiOnsiYjEiOiJvd25lciIsInRlYW0tcGxhbiI6ImVkaXRvciJ9LCJpYXQi"
    "OjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0."
    "UhfYHam2kaMe3NLzX0yGHUl8lvMCOAlrTw2ygGzA-Do";
/* The same signing input under PREVIOUS. */
static const char VECTOR_PREV_SIG[] =
    "ZUI5sFNn5kkpnXhXchkzRgrftb9IOEFciaCQLwDCGDY";

#define NOW 1700000100LL

static jwt_keys keys_current(void)
{
    return (jwt_keys){.secret = SECRET, .secret_len = strlen(SECRET)};
}

static jwt_keys keys_rotated(void)
{
    return (jwt_keys){.secret = "a-brand-new-secret-after-rotation!!",
                      .secret_len = 35,
                      .previous = SECRET,
                      .previous_len = strlen(SECRET)};
}

static int verify_str(const char *tok, const jwt_keys *k, int64_t now,
                      jwt_claims *c)
{
    return jwt_verify(tok, strlen(tok), k, now, c, NULL);
}

static void vector_claims(jwt_claims *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->sub, "user-42");
    strcpy(c->name, "Ada Lovelace");
    c->role = JWT_ROLE_VIEWER;
    c->nboards = 2;
    strcpy(c->boards[0].id, "b1");
    c->boards[0].role = JWT_ROLE_OWNER;
    strcpy(c->boards[1].id, "team-plan");
    c->boards[1].role = JWT_ROLE_EDITOR;
    c->iat = 1700000000;
    c->exp = 1700003600;
}

static void test_known_vector_verifies(void)
{
    jwt_keys k = keys_current();
    jwt_claims c;
    int used = -1;
    CHECK_OK(jwt_verify(VECTOR, strlen(VECTOR), &k, NOW, &c, &used));
    CHECK_EQ_INT(used, 0);
    CHECK_STR(c.sub, "user-42");
    CHECK_STR(c.name, "Ada Lovelace");
    CHECK_EQ_INT(c.role, JWT_ROLE_VIEWER);
    CHECK_EQ_INT(c.nboards, 2);
    CHECK_EQ_INT(c.iat, 1700000000);
    CHECK_EQ_INT(c.exp, 1700003600);
    CHECK_EQ_INT(c.nbf, 0);
    CHECK_EQ_INT(c.guest, 0);
    CHECK_EQ_INT(jwt_role_for(&c, "b1"), JWT_ROLE_OWNER);
    CHECK_EQ_INT(jwt_role_for(&c, "team-plan"), JWT_ROLE_EDITOR);
    CHECK_EQ_INT(jwt_role_for(&c, "elsewhere"), JWT_ROLE_VIEWER);
    CHECK_EQ_INT(jwt_role_for(&c, "b"), JWT_ROLE_VIEWER);
}

static void test_signer_reproduces_vector(void)
{
    jwt_keys k = keys_current();
    jwt_claims c;
    vector_claims(&c);
    char *tok = NULL;
    CHECK_OK(jwt_sign(&c, &k, &tok));
    CHECK_STR(tok, VECTOR);
    free(tok);
}

/* RFC 7515 appendix A.1: the HS256 example, key from its JWK "k". The
 * header has a CRLF and a space in it, the payload no "sub": only the
 * signature steps apply. */
static void test_rfc7515_a1_signature(void)
{
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
        "LmNvbS9pc19yb290Ijp0cnVlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const unsigned char key[] = {
        3,   35,  53,  75,  43,  15,  165, 188, 131, 126, 6,   101, 119,
        123, 166, 143, 90,  179, 40,  230, 240, 84,  201, 40,  169, 15,
        132, 178, 210, 80,  46,  191, 211, 251, 90,  146, 210, 6,   71,
        239, 150, 138, 180, 195, 119, 98,  61,  34,  61,  46,  33,  114,
        5,   46,  79,  8,   192, 205, 154, 245, 103, 208, 128, 163};
    jwt_keys k = {.secret = key, .secret_len = sizeof key};
    CHECK_OK(jwt_verify_signature(tok, strlen(tok), &k, NULL));
    /* Without "sub" the full verification refuses it. */
    jwt_claims c;
    CHECK_RC(jwt_verify(tok, strlen(tok), &k, 1300819000, &c, NULL),
             WB_EMALFORMED);
}

static void test_rotation_previous_secret(void)
{
    jwt_keys rot = keys_rotated();
    jwt_claims c;
    int used = -1;
    CHECK_OK(jwt_verify(VECTOR, strlen(VECTOR), &rot, NOW, &c, &used));
    CHECK_EQ_INT(used, 1);
    /* Once previous is dropped, old tokens stop working. */
    rot.previous = NULL;
    rot.previous_len = 0;
    CHECK_RC(verify_str(VECTOR, &rot, NOW, &c), WB_EBADSIG);
    /* A token signed by PREVIOUS verifies only where PREVIOUS is listed. */
    char tok[sizeof VECTOR];
    strcpy(tok, VECTOR);
    memcpy(tok + strlen(tok) - 43, VECTOR_PREV_SIG, 43);
    jwt_keys k = keys_current();
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EBADSIG);
    k.previous = PREVIOUS;
    k.previous_len = strlen(PREVIOUS);
    CHECK_OK(jwt_verify(tok, strlen(tok), &k, NOW, &c, &used));
    CHECK_EQ_INT(used, 1);
}

static void test_wrong_secret_and_tampering(void)
{
    jwt_keys wrong = {.secret = "not-the-secret-not-the-secret-xx",
                      .secret_len = 32};
    jwt_claims c;
    CHECK_RC(verify_str(VECTOR, &wrong, NOW, &c), WB_EBADSIG);
    /* A different secret that is a prefix of the right one. */
    jwt_keys prefix = {.secret = SECRET, .secret_len = strlen(SECRET) - 1};
    CHECK_RC(verify_str(VECTOR, &prefix, NOW, &c), WB_EBADSIG);

    jwt_keys k = keys_current();
    size_t n = strlen(VECTOR);
    const char *dot2 = strrchr(VECTOR, '.');
    size_t sig_at = (size_t)(dot2 - VECTOR) + 1;
    /* Flip every character of header and payload to another alphabet
     * character: never accepted. */
    char tok[sizeof VECTOR];
    for (size_t i = 0; i < n; i++) {
        if (VECTOR[i] == '.')
            continue;
        strcpy(tok, VECTOR);
        tok[i] = tok[i] == 'A' ? 'B' : 'A';
        int rc = verify_str(tok, &k, NOW, &c);
        CHECK_MSG(rc != 0, "change at %zu accepted", i);
        if (i >= sig_at && i < n - 1)
            CHECK_MSG(rc == WB_EBADSIG, "sig change at %zu: %s", i,
                      wb_errname(rc));
    }
}

/* Token from arbitrary header/payload text, signed with SECRET. */
static char *raw(const char *header, const char *payload)
{
    char *tok = NULL;
    if (jwt_encode_raw(header, strlen(header), payload, strlen(payload),
                       SECRET, strlen(SECRET), &tok) != 0)
        return NULL;
    return tok;
}

static int verify_raw(const char *header, const char *payload, int64_t now)
{
    char *tok = raw(header, payload);
    if (!tok)
        return 12345;
    jwt_keys k = keys_current();
    jwt_claims c;
    int rc = verify_str(tok, &k, now, &c);
    free(tok);
    return rc;
}

#define P_OK "{\"sub\":\"u\",\"exp\":1700003600}"

static void test_algorithm_is_pinned(void)
{
    CHECK_OK(verify_raw("{\"alg\":\"HS256\"}", P_OK, NOW));
    CHECK_RC(verify_raw("{\"alg\":\"none\"}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", P_OK, NOW),
             WB_EBADALG);
    CHECK_RC(verify_raw("{\"alg\":\"HS512\"}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{\"alg\":\"hs256\"}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{\"alg\":\"HS256 \"}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{\"alg\":null}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{\"alg\":[\"HS256\"]}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{\"typ\":\"JWT\"}", P_OK, NOW), WB_EBADALG);
    CHECK_RC(verify_raw("{}", P_OK, NOW), WB_EBADALG);
    /* Header shape. */
    CHECK_RC(verify_raw("{\"alg\":\"HS256\",\"typ\":\"JOSE+JSON\"}", P_OK,
                        NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw("{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
                        P_OK, NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw("{\"alg\":\"HS256\",\"alg\":\"none\"}", P_OK, NOW),
             WB_EMALFORMED);
    CHECK_RC(verify_raw("[\"HS256\"]", P_OK, NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw("{\"alg\":\"HS256\"", P_OK, NOW), WB_EMALFORMED);

    /* An unsigned "alg":"none" token as attackers send it (empty sig). */
    char *tok = raw("{\"alg\":\"none\"}", P_OK);
    CHECK(tok);
    *(strrchr(tok, '.') + 1) = '\0';
    jwt_keys k = keys_current();
    jwt_claims c;
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    free(tok);
}

static void test_claims_shape(void)
{
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    CHECK_RC(verify_raw(h, "{\"exp\":1700003600}", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"\",\"exp\":1700003600}", NOW),
             WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":42,\"exp\":1700003600}", NOW),
             WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\"}", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":\"1700003600\"}", NOW),
             WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":-5}", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":1e300}", NOW),
             WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":1700003600,\"role\":"
                           "\"admin\"}", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":1700003600,\"boards\":"
                           "{\"b\":\"god\"}}", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":1700003600,\"boards\":"
                           "[\"b\"]}", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"exp\":1700003600,\"guest\":1}",
                        NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "{\"sub\":\"u\",\"sub\":\"v\",\"exp\":1700003600}",
                        NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "[1]", NOW), WB_EMALFORMED);
    CHECK_RC(verify_raw(h, "not json", NOW), WB_EMALFORMED);
    /* A real exp is rounded down; unknown claims are ignored. */
    CHECK_OK(verify_raw(h, "{\"sub\":\"u\",\"exp\":1700003600.9,\"iss\":"
                           "\"x\",\"aud\":[1]}", NOW));
    /* Size bounds at their limits. */
    char p[1024];
    char sub[JWT_SUB_MAX + 2];
    memset(sub, 's', sizeof sub);
    sub[JWT_SUB_MAX] = '\0';
    snprintf(p, sizeof p, "{\"sub\":\"%s\",\"exp\":1700003600}", sub);
    CHECK_OK(verify_raw(h, p, NOW));
    sub[JWT_SUB_MAX] = 's';
    sub[JWT_SUB_MAX + 1] = '\0';
    snprintf(p, sizeof p, "{\"sub\":\"%s\",\"exp\":1700003600}", sub);
    CHECK_RC(verify_raw(h, p, NOW), WB_EMALFORMED);
    /* 33 boards is one too many. */
    size_t o = (size_t)snprintf(p, sizeof p,
                                "{\"sub\":\"u\",\"exp\":1700003600,"
                                "\"boards\":{");
    for (unsigned i = 0; i <= JWT_MAX_BOARDS; i++)
        o += (size_t)snprintf(p + o, sizeof p - o, "%s\"b%u\":\"viewer\"",
                              i ? "," : "", i);
    snprintf(p + o, sizeof p - o, "}}");
    CHECK_RC(verify_raw(h, p, NOW), WB_EMALFORMED);
}

static void test_times(void)
{
    const char *h = "{\"alg\":\"HS256\"}";
    const char *p = "{\"sub\":\"u\",\"exp\":1000,\"nbf\":500,\"iat\":400}";
    CHECK_OK(verify_raw(h, p, 700));
    /* exp with leeway: valid while now < exp + leeway. */
    CHECK_OK(verify_raw(h, p, 1000 + JWT_LEEWAY_S - 1));
    CHECK_RC(verify_raw(h, p, 1000 + JWT_LEEWAY_S), WB_EEXPIRED);
    CHECK_RC(verify_raw(h, p, 999999), WB_EEXPIRED);
    /* nbf with leeway. */
    CHECK_OK(verify_raw(h, p, 500 - JWT_LEEWAY_S));
    CHECK_RC(verify_raw(h, p, 500 - JWT_LEEWAY_S - 1), WB_ENOTYET);
    /* iat in the future (beyond leeway) is not yet valid either. */
    const char *p2 = "{\"sub\":\"u\",\"exp\":5000,\"iat\":2000}";
    CHECK_OK(verify_raw(h, p2, 2000 - JWT_LEEWAY_S));
    CHECK_RC(verify_raw(h, p2, 2000 - JWT_LEEWAY_S - 1), WB_ENOTYET);
    /* Expiry is checked only after the signature: a forged expired token
     * is a bad signature, not "expired" (no oracle on the payload). */
    char *tok = raw(h, p);
    CHECK(tok);
    tok[strlen(tok) - 2] ^= 1;
    jwt_keys k = keys_current();
    jwt_claims c;
    CHECK_RC(verify_str(tok, &k, 999999, &c), WB_EBADSIG);
    free(tok);
}

static void test_bad_base64_and_framing(void)
{
    jwt_keys k = keys_current();
    jwt_claims c;
    char tok[sizeof VECTOR + 8];
    const char *cases[] = {"", ".", "..", "a.b", "a.b.c.d",
                           "eyJhbGciOiJIUzI1NiJ9..sig", VECTOR + 1};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(verify_str(cases[i], &k, NOW, &c) == WB_EMALFORMED,
                  "case %zu not malformed", i);
    /* Padding, standard alphabet, whitespace, an extra dot. */
    size_t dot1 = (size_t)(strchr(VECTOR, '.') - VECTOR);
    snprintf(tok, sizeof tok, "%.*s=%s", (int)dot1, VECTOR, VECTOR + dot1);
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    strcpy(tok, VECTOR);
    *strchr(tok, '-') = '+';
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    snprintf(tok, sizeof tok, " %s", VECTOR);
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    snprintf(tok, sizeof tok, "%s\n", VECTOR);
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    snprintf(tok, sizeof tok, "%s.", VECTOR);
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    /* Non-zero unused bits: the last signature char 'o' (40) -> 'p' (41)
     * decodes to the same 32 bytes in a lax decoder. */
    strcpy(tok, VECTOR);
    tok[strlen(tok) - 1] = 'p';
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    /* Signature of the wrong length (one byte short). */
    strcpy(tok, VECTOR);
    tok[strlen(tok) - 3] = '\0';
    CHECK_RC(verify_str(tok, &k, NOW, &c), WB_EMALFORMED);
    /* Embedded NUL within the given length. */
    strcpy(tok, VECTOR);
    tok[10] = '\0';
    CHECK_RC(jwt_verify(tok, strlen(VECTOR), &k, NOW, &c, NULL),
             WB_EMALFORMED);
}

static void test_oversize_and_bad_keys(void)
{
    jwt_keys k = keys_current();
    jwt_claims c;
    char *big = malloc(JWT_MAX_TOKEN + 2);
    CHECK(big);
    memset(big, 'A', JWT_MAX_TOKEN + 1);
    big[JWT_MAX_TOKEN + 1] = '\0';
    int rc = verify_str(big, &k, NOW, &c);
    free(big);
    CHECK_RC(rc, WB_ETOOBIG);
    jwt_keys none = {0};
    CHECK_RC(verify_str(VECTOR, &none, NOW, &c), WB_EINVAL);
    jwt_claims v;
    vector_claims(&v);
    char *tok = NULL;
    CHECK_RC(jwt_sign(&v, &none, &tok), WB_EINVAL);
    CHECK(tok == NULL);
}

static void test_sign_round_trip_and_refusals(void)
{
    jwt_keys k = keys_current();
    jwt_claims in, out;
    memset(&in, 0, sizeof in);
    strcpy(in.sub, "guest-7f3a");
    strcpy(in.name, "Gu\xc3\xa9st \"quoted\" \\ /");
    in.guest = 1;
    in.role = JWT_ROLE_EDITOR;
    in.nbf = NOW - 10;
    in.exp = NOW + 3600;
    char *tok = NULL;
    CHECK_OK(jwt_sign(&in, &k, &tok));
    CHECK_OK(verify_str(tok, &k, NOW, &out));
    free(tok);
    CHECK_STR(out.sub, in.sub);
    CHECK_STR(out.name, in.name);
    CHECK_EQ_INT(out.guest, 1);
    CHECK_EQ_INT(out.role, JWT_ROLE_EDITOR);
    CHECK_EQ_INT(out.nbf, in.nbf);
    CHECK_EQ_INT(out.exp, in.exp);
    CHECK_EQ_INT(out.iat, 0);
    /* The signer refuses what the verifier would refuse. */
    jwt_claims bad = in;
    bad.exp = 0;
    CHECK_RC(jwt_sign(&bad, &k, &tok), WB_EINVAL);
    bad = in;
    bad.sub[0] = '\0';
    CHECK_RC(jwt_sign(&bad, &k, &tok), WB_EINVAL);
    bad = in;
    strcpy(bad.name, "\xff\xfe");
    CHECK_RC(jwt_sign(&bad, &k, &tok), WB_EINVAL);
    bad = in;
    bad.nboards = 2;
    strcpy(bad.boards[0].id, "same");
    strcpy(bad.boards[1].id, "same");
    bad.boards[0].role = bad.boards[1].role = JWT_ROLE_VIEWER;
    CHECK_RC(jwt_sign(&bad, &k, &tok), WB_EINVAL);
    bad.boards[1].id[0] = 'x';
    bad.boards[1].role = JWT_ROLE_NONE;
    CHECK_RC(jwt_sign(&bad, &k, &tok), WB_EINVAL);
}

static void test_role_names(void)
{
    CHECK_EQ_INT(jwt_role_parse("viewer"), JWT_ROLE_VIEWER);
    CHECK_EQ_INT(jwt_role_parse("editor"), JWT_ROLE_EDITOR);
    CHECK_EQ_INT(jwt_role_parse("owner"), JWT_ROLE_OWNER);
    CHECK_EQ_INT(jwt_role_parse("none"), JWT_ROLE_NONE);
    CHECK_EQ_INT(jwt_role_parse("Owner"), JWT_ROLE_NONE);
    CHECK_STR(jwt_role_name(JWT_ROLE_EDITOR), "editor");
    CHECK_STR(jwt_role_name((enum jwt_role)77), "none");
}

int main(void)
{
    WB_RUN(test_known_vector_verifies);
    WB_RUN(test_signer_reproduces_vector);
    WB_RUN(test_rfc7515_a1_signature);
    WB_RUN(test_rotation_previous_secret);
    WB_RUN(test_wrong_secret_and_tampering);
    WB_RUN(test_algorithm_is_pinned);
    WB_RUN(test_claims_shape);
    WB_RUN(test_times);
    WB_RUN(test_bad_base64_and_framing);
    WB_RUN(test_oversize_and_bad_keys);
    WB_RUN(test_sign_round_trip_and_refusals);
    WB_RUN(test_role_names);
    return wb_test_summary();
}
