/*
 * trace.c: random trace and span ids (trace.h), from getrandom(2).
 */
#include <stdio.h>
#include <sys/random.h>

#include "trace.h"

void trace_new_id(char *out, size_t bytes)
{
    unsigned char raw[16] = {0};
    out[0] = '\0';
    if (bytes == 0)
        return;
    if (bytes > sizeof raw)
        bytes = sizeof raw;
    if (getrandom(raw, bytes, 0) != (ssize_t)bytes)
        raw[0] = 1; /* never all-zero */
    int zero = 1;
    for (size_t i = 0; i < bytes; i++)
        zero &= raw[i] == 0;
    if (zero)
        raw[bytes - 1] = 1;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}
