/*
 * wbctl_ops.c: `wbctl inspect` rendering of WB_REC_OPS records (see
 * wbctl_ops.h). The payload is decoded with the engine's codec, the same
 * decoder restore and the node use, so what inspect shows is what replay
 * applies; a payload that does not decode is shown as such (the hex is
 * printed next to it by inspect anyway).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "codec.h"
#include "wb_error.h"
#include "wbctl_ops.h"

static void render_json(FILE *out, const wb_batch *b, int rc)
{
    char *json = NULL;
    if (rc == 0)
        rc = codec_batch_to_json(b, &json, NULL);
    if (rc) {
        fprintf(out, "{\"error\": \"%s\"}", wb_errname(rc));
        return;
    }
    fputs(json, out);
    free(json);
}

/* {x,y,...}: the property keys an upsert sets. */
static void render_props(FILE *out, const wb_props *p)
{
    const char *sep = "{";
    for (unsigned k = WB_PROP_MIN; k <= WB_PROP_MAX; k++) {
        if (!(p->mask & WB_PROP_BIT(k)))
            continue;
        const char *name = codec_prop_name(k);
        fprintf(out, "%s%s", sep, name ? name : "?");
        sep = ",";
    }
    fputc('}', out);
}

static void render_text(FILE *out, const wb_batch *b)
{
    fprintf(out, "board=%.*s ops=%" PRIu32, (int)b->board.len, b->board.ptr,
            b->nops);
    for (uint32_t i = 0; i < b->nops && i < WBCTL_OPS_SHOWN; i++) {
        const wb_op *op = &b->ops[i];
        fprintf(out, " %s:%.*s", op->kind == WB_OP_DELETE ? "delete" : "upsert",
                (int)op->elem.len, op->elem.ptr);
        if (op->kind == WB_OP_UPSERT)
            render_props(out, &op->props);
    }
    if (b->nops > WBCTL_OPS_SHOWN)
        fprintf(out, " +%" PRIu32 " more", b->nops - WBCTL_OPS_SHOWN);
}

void wbctl_render_ops(FILE *out, const oplog_record *rec, int json)
{
    wb_batch *b = NULL;
    int rc = codec_decode_batch(rec->payload, rec->len, &b);
    if (json)
        render_json(out, b, rc);
    else if (rc)
        fprintf(out, "undecodable ops batch: %s (%s)", wb_strerror(rc),
                wb_errname(rc));
    else
        render_text(out, b);
    codec_batch_free(b);
}
