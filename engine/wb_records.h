/*
 * wb_records.h: the oplog record types the engine writes.
 *
 * The oplog itself is payload-agnostic (oplog.h); these are the types the
 * engine gives to oplog_append_batch() and the meaning of their payloads.
 * Numbers are part of the on-disk format (docs/oplog-format.md): never
 * renumber, only append.
 */
#ifndef WB_RECORDS_H
#define WB_RECORDS_H

enum wb_record_type {
    /* Payload: one codec batch (codec_encode_batch) for one board, every op
     * stamped (hlc, origin node, origin seq). Local and replicated ops alike;
     * the stamp's origin tells them apart. */
    WB_REC_OPS = 1,
};

#endif /* WB_RECORDS_H */
