/*
 * utf8.h: strict UTF-8 validation (RFC 3629) for text and user ids.
 *
 * Rejects overlong forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates
 * (ED A0..BF), code points above U+10FFFF (F4 90.., F5..FF), stray
 * continuation bytes and sequences cut short by the end of the string.
 * U+0000 is valid UTF-8 and accepted (strings carry their length).
 */
#ifndef WB_UTF8_H
#define WB_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 0 if s[0..n) is valid UTF-8, else WB_EUTF8. */
int utf8_validate(const uint8_t *s, size_t n);

#endif /* WB_UTF8_H */
