/*
 * repl_auth.c: the signature of internal requests between nodes
 * (repl.h): HMAC-SHA256 with the cluster secret over
 * "wb-internal-v1\n<unix seconds>\n<METHOD> <path>", sent as
 * "Authorization: WB-Node <seconds>.<64 hex digits>". Accepted within
 * 60 s of the receiver's clock; compared in constant time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "repl.h"
#include "wb_error.h"

#define AUTH_SKEW_S 60

static int auth_mac(const char *secret, size_t secret_len, const char *method,
                    const char *path, long long ts, char hex[65])
{
    char msg[1200];
    int n = snprintf(msg, sizeof msg, "wb-internal-v1\n%lld\n%s %s", ts,
                     method, path);
    if (n < 0 || n >= (int)sizeof msg || !secret || !secret_len)
        return WB_EINVAL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const uint8_t *)msg,
              (size_t)n, mac, &mlen) || mlen != 32)
        return WB_EINVAL;
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return 0;
}

int repl_auth_sign(const char *secret, size_t secret_len, const char *method,
                   const char *path, int64_t now_s, char *out, size_t cap)
{
    char hex[65];
    int rc = auth_mac(secret, secret_len, method, path, (long long)now_s, hex);
    if (rc)
        return rc;
    int n = snprintf(out, cap, "%lld.%s", (long long)now_s, hex);
    return n < 0 || (size_t)n >= cap ? WB_ETOOBIG : 0;
}

int repl_auth_check(const char *secret, size_t secret_len,
                    const char *method, const char *path, const char *value,
                    int64_t now_s)
{
    char *end;
    long long ts = strtoll(value, &end, 10);
    if (end == value || *end != '.' || strlen(end + 1) != 64)
        return WB_EBADSIG;
    if (ts < now_s - AUTH_SKEW_S || ts > now_s + AUTH_SKEW_S)
        return WB_EBADSIG;
    char hex[65];
    if (auth_mac(secret, secret_len, method, path, ts, hex))
        return WB_EBADSIG;
    return CRYPTO_memcmp(hex, end + 1, 64) == 0 ? 0 : WB_EBADSIG;
}
