/*
 * node_ip.c: the client IP address of a request or WebSocket upgrade, the
 * key of the per-IP limits (--rate-ip).
 *
 * Without --trust-proxy it is the socket's peer. With it, the node runs
 * behind one reverse proxy of the operator's (the ingress), which appends
 * the address it got the connection from to X-Forwarded-For: the LAST
 * entry is the client. Earlier entries come from the client itself and
 * prove nothing (taking the first one would let any client pick its own
 * rate-limit bucket by sending the header). A last entry that is not an
 * address (characters other than hex digits, '.', ':'; empty; longer than
 * an IPv6 address) falls back to the peer.
 */
#include <string.h>

#include <libwebsockets.h>

#include "node.h"

#define XFF_MAX 4096
#define IP_TEXT_MAX 45 /* the longest IPv6 text form (with IPv4 tail) */

int node_xff_client(const char *v, size_t vlen, char *ip, size_t len)
{
    const char *s = v + vlen;
    while (s > v && s[-1] != ',')
        s--;
    size_t n = (size_t)(v + vlen - s);
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n > IP_TEXT_MAX || n >= len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
              (c >= 'A' && c <= 'F') || c == '.' || c == ':'))
            return 0;
    }
    memcpy(ip, s, n);
    ip[n] = '\0';
    return 1;
}

void node_client_ip(const node *n, struct lws *wsi, char *ip, size_t len)
{
    ip[0] = '\0';
    if (n->cfg && n->cfg->trust_proxy) {
        char xff[XFF_MAX];
        int total = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
        if (total > 0 && total < (int)sizeof xff &&
            lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) > 0 &&
            node_xff_client(xff, strlen(xff), ip, len))
            return;
    }
    lws_get_peer_simple(wsi, ip, len);
}
