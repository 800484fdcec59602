/*
 * wbctl_ops.h: rendering of WB_REC_OPS payloads (one codec batch) for
 * `wbctl inspect`; plugged into the renderer table of wbctl_oplog.c.
 */
#ifndef WBCTL_OPS_H
#define WBCTL_OPS_H

#include <stdio.h>

#include "oplog.h"

/* Writes rec's payload decoded: with json, one JSON value (the batch as
 * codec_batch_to_json renders it, or {"error": NAME} if it does not
 * decode); otherwise one line: board=ID ops=N KIND:ELEM{props} ... (at most
 * WBCTL_OPS_SHOWN ops listed, then "+M more"). */
void wbctl_render_ops(FILE *out, const oplog_record *rec, int json);

#define WBCTL_OPS_SHOWN 16u

#endif /* WBCTL_OPS_H */
