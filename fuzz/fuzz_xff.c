/*
 * fuzz_xff.c: libFuzzer harness for the client address taken from an
 * X-Forwarded-For header behind --trust-proxy (net/node_ip.c,
 * node_xff_client). The header's bytes come from the network.
 *
 * Properties checked: no crash or sanitizer report; an accepted address is
 * NUL-terminated, 1..45 characters of [0-9a-fA-F.:], fits the buffer, and
 * is exactly the input's last comma-separated entry with spaces and tabs
 * trimmed; a rejected input leaves the buffer untouched; a buffer too small
 * for the address is never overrun.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int addr_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    char ip[64];
    memset(ip, 0x5a, sizeof ip);
    int ok = node_xff_client(v, size, ip, sizeof ip);
    /* the expected entry, computed the plain way */
    size_t start = size;
    while (start > 0 && v[start - 1] != ',')
        start--;
    size_t end = size;
    while (start < end && (v[start] == ' ' || v[start] == '\t'))
        start++;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
        end--;
    size_t n = end - start;
    int want = n >= 1 && n <= 45;
    for (size_t i = start; want && i < end; i++)
        want = addr_char(v[i]);
    if (ok != want)
        abort();
    if (ok) {
        if (strlen(ip) != n || memcmp(ip, v + start, n) != 0)
            abort();
    } else {
        for (size_t i = 0; i < sizeof ip; i++)
            if (ip[i] != 0x5a)
                abort();
    }
    /* a small buffer: refused when the address does not fit, never
     * written past */
    char small[9];
    memset(small, 0x5a, sizeof small);
    int ok2 = node_xff_client(v, size, small, 8);
    if (ok2 != (ok && n < 8) || small[8] != 0x5a)
        abort();
    return 0;
}
