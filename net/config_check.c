/*
 * config_check.c: shape checks of string settings, run by cfg_set on every
 * source (defaults included). Each returns 0 or WB_EINVAL and says why in
 * a few words; an empty value is accepted wherever it means "unset".
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "wb_error.h"

static int fail(char *why, size_t whylen, const char *text)
{
    cfg_errf(why, whylen, "%s", text);
    return WB_EINVAL;
}

int cfg_check_nonempty(const char *v, char *why, size_t whylen)
{
    return *v ? 0 : fail(why, whylen, "must not be empty");
}

/* 1..65535 in decimal, nothing else. */
static int valid_port(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    long port = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return 0;
        port = port * 10 + (p[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

int cfg_check_listen(const char *v, char *why, size_t whylen)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return fail(why, whylen, "expected host:port");
    size_t hlen = (size_t)(colon - v);
    if (v[0] == '[' && (hlen < 3 || v[hlen - 1] != ']'))
        return fail(why, whylen, "expected [ipv6]:port");
    if (v[0] != '[' && memchr(v, ':', hlen))
        return fail(why, whylen, "IPv6 hosts go in brackets: [::1]:8080");
    for (size_t i = 0; i < hlen; i++)
        if (isspace((unsigned char)v[i]) || v[i] == '/')
            return fail(why, whylen, "bad character in host");
    if (!valid_port(colon + 1, strlen(colon + 1)))
        return fail(why, whylen, "port must be 1..65535");
    return 0;
}

int cfg_check_jwt_secret(const char *v, char *why, size_t whylen)
{
    size_t n = strlen(v);
    if (n != 0 && n < CFG_JWT_SECRET_MIN) {
        cfg_errf(why, whylen, "secret too short (%zu bytes, need %d)", n,
                 CFG_JWT_SECRET_MIN);
        return WB_EINVAL;
    }
    return 0;
}

/* "" or scheme followed by a non-empty rest without spaces. */
static int check_url(const char *v, const char *const *schemes, char *why,
                     size_t whylen, const char *expect)
{
    if (!*v)
        return 0;
    for (size_t i = 0; schemes[i]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncmp(v, schemes[i], n) == 0 && v[n] != '\0') {
            for (const char *p = v; *p; p++)
                if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
                    return fail(why, whylen, "spaces in URL");
            return 0;
        }
    }
    return fail(why, whylen, expect);
}

int cfg_check_redis_url(const char *v, char *why, size_t whylen)
{
    static const char *const s[] = {"redis://", "rediss://", NULL};
    return check_url(v, s, why, whylen, "expected redis://host:port");
}

int cfg_check_mongo_url(const char *v, char *why, size_t whylen)
{
    static const char *const s[] = {"mongodb://", "mongodb+srv://", NULL};
    return check_url(v, s, why, whylen, "expected mongodb://host:port/db");
}

int cfg_check_fsync(const char *v, char *why, size_t whylen)
{
    enum cfg_fsync mode;
    uint32_t ms;
    if (cfg_fsync_parse(v, &mode, &ms) != 0)
        return fail(why, whylen,
                    "expected always, none or interval:MS (1..60000)");
    return 0;
}

int cfg_fsync_parse(const char *s, enum cfg_fsync *mode, uint32_t *interval_ms)
{
    *interval_ms = 0;
    if (strcmp(s, "always") == 0) {
        *mode = CFG_FSYNC_ALWAYS;
        return 0;
    }
    if (strcmp(s, "none") == 0) {
        *mode = CFG_FSYNC_NONE;
        return 0;
    }
    if (strncmp(s, "interval:", 9) != 0)
        return WB_EINVAL;
    const char *p = s + 9;
    size_t n = strlen(p);
    if (n == 0 || n > 5)
        return WB_EINVAL;
    uint32_t ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return WB_EINVAL;
        ms = ms * 10 + (uint32_t)(p[i] - '0');
    }
    if (ms < 1 || ms > 60000)
        return WB_EINVAL;
    *mode = CFG_FSYNC_INTERVAL;
    *interval_ms = ms;
    return 0;
}

/* One origin: "*" or http(s)://host[:port], no path, no spaces. */
static int valid_origin(const char *o, size_t n)
{
    if (n == 1 && o[0] == '*')
        return 1;
    size_t skip;
    if (n > 7 && strncmp(o, "http://", 7) == 0)
        skip = 7;
    else if (n > 8 && strncmp(o, "https://", 8) == 0)
        skip = 8;
    else
        return 0;
    const char *host = o + skip;
    size_t hn = n - skip;
    if (hn == 0 || host[0] == ':')
        return 0;
    for (size_t i = 0; i < hn; i++)
        if (host[i] == '/' || isspace((unsigned char)host[i]) ||
            iscntrl((unsigned char)host[i]) || host[i] == ',')
            return 0;
    const char *colon = memchr(host, ':', hn);
    if (colon && host[0] != '[' &&
        !valid_port(colon + 1, hn - (size_t)(colon + 1 - host)))
        return 0;
    return 1;
}

int cfg_check_origins(const char *v, char *why, size_t whylen)
{
    const char *p = v;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ')
            n--;
        if (!valid_origin(p, n)) {
            cfg_errf(why, whylen, "bad origin \"%.*s\" (want https://host"
                     "[:port] or *)", (int)(n > 80 ? 80 : n), p);
            return WB_EINVAL;
        }
        if (!end)
            break;
        p = end + 1;
        if (!*p)
            return fail(why, whylen, "trailing comma");
    }
    return 0;
}
