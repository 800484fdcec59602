/*
 * ws_frame_internal.h: what the frame decoder (ws_frame.c) and encoder
 * (ws_frame_enc.c) share. Not for other modules.
 */
#ifndef WB_WS_FRAME_INTERNAL_H
#define WB_WS_FRAME_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* 1 if p[0..n) is an id: 1..WB_MAX_ID_LEN bytes of [A-Za-z0-9_-]. */
int ws_frame_id_ok(const uint8_t *p, size_t n);

#endif /* WB_WS_FRAME_INTERNAL_H */
