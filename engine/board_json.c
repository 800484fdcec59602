/*
 * board_json.c: the canonical JSON rendering of a board (board_to_json),
 * used by the REST API and wbctl.
 *
 *   {"id":"b1","elements":[{"id":"e1","type":"rect","x":10.5,...},...],
 *    "version":{"<node>":"<seq>",...}}
 *
 * Visible elements only, sorted by id bytewise; each element's keys in
 * property-number order (codec_json_props); numbers exact (see
 * codec_json.c); 64-bit integers (version vector) as decimal strings, node
 * ids ascending. Same board state -> same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "board_internal.h"
#include "codec_internal.h"
#include "wb_error.h"

static void board_json_version(codec_sbuf *s, const vv *v)
{
    codec_sbuf_puts(s, "\"version\":{");
    for (uint32_t i = 0; i < v->n; i++) {
        codec_sbuf_puts(s, i ? ",\"" : "\"");
        codec_sbuf_u64(s, v->e[i].node);
        codec_sbuf_puts(s, "\":\"");
        codec_sbuf_u64(s, v->e[i].seq);
        codec_sbuf_puts(s, "\"");
    }
    codec_sbuf_puts(s, "}");
}

int board_to_json(const board *b, char **out, size_t *len)
{
    board_elem **recs;
    int rc = board_sorted_records(b, &recs);
    if (rc)
        return rc;
    codec_sbuf s = {0};
    codec_sbuf_puts(&s, "{\"id\":");
    codec_sbuf_jstr(&s, b->id, strlen(b->id));
    codec_sbuf_puts(&s, ",\"elements\":[");
    int first = 1;
    for (size_t i = 0; i < b->count && !s.err; i++) {
        const board_elem *e = recs[i];
        if (!(e->live & WB_PROP_BIT(WB_PROP_TYPE)))
            continue;
        codec_sbuf_puts(&s, first ? "{\"id\":" : ",{\"id\":");
        first = 0;
        codec_sbuf_jstr(&s, e->id, e->idlen);
        wb_props p;
        board_elem_props(e, &p);
        codec_json_props(&s, &p);
        codec_sbuf_puts(&s, "}");
    }
    codec_sbuf_puts(&s, "],");
    board_json_version(&s, &b->version);
    codec_sbuf_puts(&s, "}");
    free(recs);
    if (s.err) {
        free(s.p);
        return s.err;
    }
    *out = s.p;
    if (len)
        *len = s.len;
    return 0;
}
