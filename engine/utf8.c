/*
 * utf8.c: strict UTF-8 validation (see utf8.h). Called by the codec for
 * every text value and user id it decodes or encodes.
 *
 * The accepted byte sequences are exactly the table of RFC 3629 section 4:
 * for each lead byte, the range allowed for the first continuation byte
 * (narrower after E0, ED, F0, F4) and 80..BF for the others.
 */
#include "utf8.h"

#include "wb_error.h"

/* Length of the sequence led by c and the allowed range of its second
 * byte; 0 for a byte that cannot lead. */
static unsigned utf8_lead(uint8_t c, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0)
            *lo = 0xA0; /* overlong below U+0800 */
        if (c == 0xED)
            *hi = 0x9F; /* surrogates D800..DFFF */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0)
            *lo = 0x90; /* overlong below U+10000 */
        if (c == 0xF4)
            *hi = 0x8F; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

int utf8_validate(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) { /* fast path for ASCII */
            i++;
            continue;
        }
        uint8_t lo, hi;
        unsigned len = utf8_lead(s[i], &lo, &hi);
        if (len == 0 || n - i < len)
            return WB_EUTF8;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return WB_EUTF8;
        for (unsigned k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return WB_EUTF8;
        i += len;
    }
    return 0;
}
