/*
 * ws_origin.c: the Origin check of WebSocket upgrades (docs/protocol.md
 * 2.1), a pure function so that it is tested without sockets. Called by
 * ws_conn.c at LWS_CALLBACK_ESTABLISHED on the service thread.
 */
#include <string.h>
#include <strings.h>

#include "ws_internal.h"

/* Does the comma list contain item (case-insensitive, spaces trimmed)? */
static int list_has(const char *list, const char *item, size_t ilen)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        size_t n = (size_t)(t - p);
        if ((n == 1 && *p == '*') ||
            (n == ilen && n && strncasecmp(p, item, n) == 0))
            return 1;
        p = e;
    }
    return 0;
}

int ws_origin_allowed(const char *origin, const char *host,
                      const char *allowed)
{
    if (!origin || !*origin)
        return 1; /* not a browser: nothing to hijack */
    size_t olen = strlen(origin);
    while (olen && origin[olen - 1] == '/')
        olen--;
    if (allowed && *allowed)
        return list_has(allowed, origin, olen);
    const char *h = strstr(origin, "://");
    if (!h || !host || !*host)
        return 0;
    h += 3;
    size_t hlen = olen - (size_t)(h - origin);
    return hlen == strlen(host) && strncasecmp(h, host, hlen) == 0;
}
