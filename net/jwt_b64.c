/*
 * jwt_b64.c: strict base64url without padding (RFC 4648 section 5, as
 * RFC 7515 section 2 uses it for JWS).
 *
 * Strict means one text per byte string: no '=' padding, no whitespace, no
 * characters of the standard alphabet ('+', '/'), no length of 1 mod 4
 * (which no byte string encodes to), and the unused low bits of the last
 * character zero. A token that decodes differs from every other token that
 * decodes, so a signature can never be "re-encoded" into a second valid
 * token text.
 */
#include "jwt_internal.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long jwt_b64url_decode(const char *src, size_t n, uint8_t *dst)
{
    if (n % 4 == 1)
        return -1;
    size_t out = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)src[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* unused trailing bits must be zero */
        return -1;
    return (long)out;
}

size_t jwt_b64url_encode(const uint8_t *src, size_t n, char *dst)
{
    size_t out = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | src[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            dst[out++] = b64url_alphabet[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        dst[out++] = b64url_alphabet[(acc << (6 - bits)) & 63];
    dst[out] = '\0';
    return out;
}
