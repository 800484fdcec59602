/*
 * test_net_repl_entry.c: what replication reads from Redis before anything
 * of it reaches the engine or a client (net/repl_entry.h): the records of
 * a stream entry (exact cover, cut or oversized lengths, left-over bytes,
 * a callback that stops the walk) and the presence messages of pub/sub
 * (only a well-formed server presence frame of another origin, for a real
 * board id, within the size bound, is taken).
 */
#include <stdlib.h>
#include <string.h>

#include "repl_entry.h"
#include "wb_error.h"
#include "wbtest.h"
#include "ws_frame.h"

typedef struct seen {
    size_t n, bytes;
} seen;

static int count_cb(void *arg, const uint8_t *rec, uint32_t len)
{
    seen *s = arg;
    (void)rec;
    s->n++;
    s->bytes += len;
    return s->n == 99 ? 42 : 0;
}

static size_t put_rec(uint8_t *p, const char *body)
{
    uint32_t len = (uint32_t)strlen(body);
    p[0] = (uint8_t)len;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 24);
    memcpy(p + 4, body, len);
    return 4 + len;
}

static void test_records(void)
{
    uint8_t buf[256];
    size_t n = 0, nrec = 9;
    n += put_rec(buf + n, "abc");
    n += put_rec(buf + n, "");
    n += put_rec(buf + n, "hello");
    seen s = {0, 0};
    CHECK_OK(repl_entry_records(buf, n, count_cb, &s, &nrec));
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.bytes, 8);
    CHECK_EQ_INT(nrec, 3);
    /* empty entry: nothing, fine */
    s = (seen){0, 0};
    CHECK_OK(repl_entry_records(buf, 0, count_cb, &s, NULL));
    CHECK_EQ_INT(s.n, 0);
    /* the last record cut: the ones before it were handed over */
    s = (seen){0, 0};
    CHECK_RC(repl_entry_records(buf, n - 1, count_cb, &s, &nrec),
             WB_ETRUNCATED);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(nrec, 2);
    /* 1..3 bytes after the last record: not a length */
    for (size_t extra = 1; extra <= 3; extra++) {
        s = (seen){0, 0};
        memset(buf + n, 0, extra);
        CHECK_RC(repl_entry_records(buf, n + extra, count_cb, &s, NULL),
                 WB_ETRUNCATED);
        CHECK_EQ_INT(s.n, 3);
    }
    /* a length near 2^32 (would wrap a 32-bit sum) */
    uint8_t big[8] = {0xfc, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    s = (seen){0, 0};
    CHECK_RC(repl_entry_records(big, sizeof big, count_cb, &s, NULL),
             WB_ETRUNCATED);
    CHECK_EQ_INT(s.n, 0);
    /* the callback's error stops the walk and comes back as is */
    uint8_t many[99 * 4 + 4];
    memset(many, 0, sizeof many);
    s = (seen){0, 0};
    CHECK_RC(repl_entry_records(many, sizeof many, count_cb, &s, &nrec), 42);
    CHECK_EQ_INT(s.n, 99);
    CHECK_EQ_INT(nrec, 98);
}

/* "<origin>:<board>\n" + frame, malloc'd; *len its size. */
static char *pres_msg(const char *head, const ws_frame *f, size_t *len)
{
    uint8_t *enc = NULL;
    size_t elen = 0;
    if (ws_frame_encode(f, &enc, &elen) != 0)
        abort();
    size_t hl = strlen(head);
    char *m = malloc(hl + elen);
    memcpy(m, head, hl);
    memcpy(m + hl, enc, elen);
    free(enc);
    *len = hl + elen;
    return m;
}

static void test_presence(void)
{
    ws_frame p = {.type = WS_SPRESENCE};
    p.u.presence.x = 12;
    p.u.presence.y = -7;
    p.u.presence.user = (wb_str){"u1", 2};
    p.u.presence.name = (wb_str){"Ann", 3};
    p.u.presence.colour = 0x112233;
    char bid[WB_MAX_ID_LEN + 1];
    const uint8_t *fr;
    size_t flen, len;
    char *m = pres_msg("7:b-1_x\n", &p, &len);
    CHECK_OK(repl_presence_parse(m, len, 5, bid, &fr, &flen));
    CHECK(strcmp(bid, "b-1_x") == 0);
    CHECK(fr == (const uint8_t *)m + 8);
    CHECK_EQ_INT(flen, len - 8);
    /* our own message */
    CHECK_RC(repl_presence_parse(m, len, 7, bid, &fr, &flen), WB_EINVAL);
    /* the frame cut short */
    CHECK(repl_presence_parse(m, len - 1, 5, bid, &fr, &flen) != 0);
    free(m);
    /* heads that are not "<number>:<board id>\n" */
    const char *bad_heads[] = {
        ":b1\n", "x:b1\n",  "7b1\n",
        "7:\n",  "7:b 1\n", "7:../b\n",
        "7:b1",  " 7:b1\n", "123456789012345678901:b1\n"};
    for (size_t i = 0; i < sizeof bad_heads / sizeof *bad_heads; i++) {
        m = pres_msg(bad_heads[i], &p, &len);
        CHECK_RC(repl_presence_parse(m, len, 5, bid, &fr, &flen),
                 WB_EMALFORMED);
        free(m);
    }
    /* a board id one byte over the limit */
    char head[WB_MAX_ID_LEN + 8];
    memset(head, 'a', sizeof head);
    memcpy(head, "7:", 2);
    head[WB_MAX_ID_LEN + 3] = '\n';
    head[WB_MAX_ID_LEN + 4] = '\0';
    m = pres_msg(head, &p, &len);
    CHECK_RC(repl_presence_parse(m, len, 5, bid, &fr, &flen), WB_EMALFORMED);
    free(m);
    /* any other frame type must not reach clients this way: a fatal error
     * frame would close every session of the board */
    ws_frame e = {.type = WS_ERROR};
    e.u.error.code = WS_CODE_NOT_FOUND;
    e.u.error.fatal = 1;
    e.u.error.msg = (wb_str){"board deleted", 13};
    m = pres_msg("7:b1\n", &e, &len);
    CHECK_RC(repl_presence_parse(m, len, 5, bid, &fr, &flen), WB_EMALFORMED);
    free(m);
    /* bytes that are no frame at all, and too many of them */
    char junk[16 + REPL_PRESENCE_MAX + 1];
    memset(junk, 0x84, sizeof junk);
    memcpy(junk, "7:b1\n", 5);
    CHECK(repl_presence_parse(junk, 5 + 10, 5, bid, &fr, &flen) != 0);
    CHECK_RC(repl_presence_parse(junk, 5 + REPL_PRESENCE_MAX + 1, 5, bid, &fr,
                                 &flen),
             WB_ETOOBIG);
}

int main(void)
{
    WB_RUN(test_records);
    WB_RUN(test_presence);
    return wb_test_summary();
}
