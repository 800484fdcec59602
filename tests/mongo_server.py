#!/usr/bin/python3
"""mongo_server.py: a MongoDB-wire TEST DOUBLE for the mirror's tests.

NOT MongoDB. mongod is not packaged in Debian, so the tests talk to this
instead; production runs a real MongoDB (mongo:7 in the compose file and the
Kubernetes manifests). It is built from two Debian packages:

  python3-mockupdb   the wire protocol (OP_MSG and legacy OP_QUERY framing,
                     one thread per connection, requests serialized under
                     mockupdb's server lock)
  python3-mongomock  the engine (filters, updates with upsert, sort, indexes
                     with unique keys, aggregation pipelines)

Run with /usr/bin/python3 (the python3 on PATH may not see Debian's
packages):

  /usr/bin/python3 tests/mongo_server.py --port-file F [--port N]
                   [--data FILE] [--log FILE]

Fault injection for the mirror's tests (tests/mirror_faults.py):
  --crash-mid-update N   the Nth update command on `ops` that carries two or
                         more updates applies the first half, saves, logs
                         "crash mid-update: applied K of M" and exits with
                         status 137 without answering: a server dying
                         mid-bulk
  --delay-ms D           each update command on `ops` logs "ops update
                         n=M" and then sleeps D ms before it applies (a slow
                         server; the write still lands if the client left)

It binds 127.0.0.1 (port 0: a free one), writes the port to --port-file once
it serves, and runs until SIGTERM/SIGINT/SIGKILL. With --data, every
collection is loaded from FILE at start and saved to it (BSON, written to a
temporary file, fsynced and renamed) after each write command, so a killed
and restarted server keeps what it acknowledged.

Commands (what libmongoc's mirror and wbctl, and pymongo in the tests, use):
  hello / isMaster / ismaster  standalone primary, maxWireVersion 13 (5.0),
                               no saslSupportedMechs (no auth), helloOk;
                               libmongoc 1.23 sends isMaster over OP_QUERY
                               first, then every command as OP_MSG with $db
                               (each command is logged to stderr:
                               "mongo_server: OpMsg update db=X $db")
  ping, buildInfo, endSessions, killCursors, drop, dropDatabase,
  listCollections (names only), listIndexes
  insert                       duplicate _id or unique index: E11000 write
                               error (code 11000); ordered=false goes on
  update                       q/u/upsert/multi (update operators or a
                               replacement document); reports n, nModified,
                               upserted
  delete                       q/limit
  find                         filter, sort, skip, limit, projection,
                               batchSize (default first batch 101, as
                               MongoDB), singleBatch; getMore on the cursor
  count                        query (and countDocuments, which drivers send
                               as an aggregate)
  aggregate                    any pipeline mongomock runs; cursor replies
  createIndexes                key, name, unique
Anything else gets {ok: 0, code: 59, errmsg: "no such command"}.
"""
import argparse
import datetime
import os
import signal
import sys
import threading
import time

import bson
import mongomock
import mockupdb
from bson.int64 import Int64
from bson.son import SON
from pymongo.errors import DuplicateKeyError

MAX_BSON = 16 * 1024 * 1024

# Fields of a command document that are not arguments.
GENERIC = {'$db', 'lsid', '$readPreference', '$clusterTime', 'txnNumber',
           'writeConcern', 'readConcern', 'autocommit', 'startTransaction',
           'apiVersion', 'apiStrict', 'apiDeprecationErrors', 'comment',
           'maxTimeMS', '$query'}


class Store:
    """The mongomock client, the open cursors and the optional file."""

    def __init__(self, path):
        self.client = mongomock.MongoClient()
        self.path = path
        self.cursors = {}
        self.next_cursor = 1
        self.lock = threading.Lock()
        if path and os.path.exists(path):
            self.load()

    def load(self):
        with open(self.path, 'rb') as f:
            dump = bson.decode(f.read())
        for dbname, colls in dump.items():
            for cname, spec in colls.items():
                coll = self.client[dbname][cname]
                for ix in spec['indexes']:
                    coll.create_index([(k, v) for k, v in ix['key']],
                                      name=ix['name'],
                                      unique=ix.get('unique', False))
                if spec['docs']:
                    coll.insert_many(spec['docs'])

    def save(self):
        if not self.path:
            return
        dump = {}
        for dbname in self.client.list_database_names():
            db = self.client[dbname]
            colls = {}
            for cname in db.list_collection_names():
                coll = db[cname]
                ixs = []
                for name, info in coll.index_information().items():
                    if name == '_id_':
                        continue
                    ixs.append({'name': name,
                                'key': [[k, v] for k, v in info['key']],
                                'unique': bool(info.get('unique'))})
                colls[cname] = {'indexes': ixs, 'docs': list(coll.find())}
            dump[dbname] = colls
        tmp = self.path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(bson.encode(dump))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.path)


def log(msg):
    sys.stderr.write('mongo_server: %s\n' % msg)
    sys.stderr.flush()


def dup_error(index, e):
    return {'index': index, 'code': 11000,
            'errmsg': 'E11000 duplicate key error: %s' % (e,)}


def cmd_hello(st, db, doc):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {'helloOk': True, 'isWritablePrimary': True, 'ismaster': True,
            'maxBsonObjectSize': MAX_BSON,
            'maxMessageSizeBytes': 48000000, 'maxWriteBatchSize': 100000,
            'localTime': now, 'minWireVersion': 0, 'maxWireVersion': 13,
            'connectionId': 1, 'readOnly': False}


def cmd_insert(st, db, doc):
    coll = db[doc['insert']]
    ordered = doc.get('ordered', True)
    n, errors = 0, []
    for i, d in enumerate(doc.get('documents', [])):
        try:
            coll.insert_one(d)
            n += 1
        except DuplicateKeyError as e:
            errors.append(dup_error(i, e))
            if ordered:
                break
    out = {'n': n}
    if errors:
        out['writeErrors'] = errors
    return out


FAULTS = {'crash_mid_update': 0, 'delay_ms': 0, 'ops_updates': 0}


def cmd_update(st, db, doc):
    coll = db[doc['update']]
    ordered = doc.get('ordered', True)
    n = modified = 0
    upserted, errors = [], []
    updates = doc.get('updates', [])
    crash_at = None
    if doc['update'] == 'ops':
        log('ops update n=%d' % len(updates))
        if FAULTS['delay_ms']:
            time.sleep(FAULTS['delay_ms'] / 1000.0)
        if len(updates) >= 2 and FAULTS['crash_mid_update']:
            FAULTS['ops_updates'] += 1
            if FAULTS['ops_updates'] == FAULTS['crash_mid_update']:
                crash_at = len(updates) // 2
    for i, u in enumerate(updates):
        if i == crash_at:
            st.save()
            log('crash mid-update: applied %d of %d' % (i, len(updates)))
            os._exit(137)
        q, upd = u.get('q', {}), u.get('u', {})
        upsert, multi = u.get('upsert', False), u.get('multi', False)
        is_op = any(k.startswith('$') for k in upd)
        try:
            if not is_op:
                r = coll.replace_one(q, upd, upsert=upsert)
            elif multi:
                r = coll.update_many(q, upd, upsert=upsert)
            else:
                r = coll.update_one(q, upd, upsert=upsert)
        except DuplicateKeyError as e:
            errors.append(dup_error(i, e))
            if ordered:
                break
            continue
        if r.upserted_id is not None:
            upserted.append({'index': i, '_id': r.upserted_id})
            n += 1
        else:
            n += r.matched_count
            modified += r.modified_count
    out = {'n': n, 'nModified': modified}
    if upserted:
        out['upserted'] = upserted
    if errors:
        out['writeErrors'] = errors
    return out


def cmd_delete(st, db, doc):
    coll = db[doc['delete']]
    n = 0
    for d in doc.get('deletes', []):
        if d.get('limit', 0) == 1:
            n += coll.delete_one(d.get('q', {})).deleted_count
        else:
            n += coll.delete_many(d.get('q', {})).deleted_count
    return {'n': n}


def cursor_reply(st, ns, docs, batch, single):
    """A cursor's first batch; the rest waits for getMore."""
    first, rest = (docs, []) if batch is None else (docs[:batch], docs[batch:])
    cid = 0
    if rest and not single:
        cid = st.next_cursor
        st.next_cursor += 1
        st.cursors[cid] = (ns, rest)
    return {'cursor': {'id': Int64(cid), 'ns': ns, 'firstBatch': first}}


def batch_size(v, first=True):
    """As MongoDB: a first batch without batchSize holds 101 documents (the
    rest waits for getMore); a getMore without one takes the rest."""
    if v is None or v == 0:
        return 101 if first else None
    return int(v)


def cmd_find(st, db, doc):
    coll = db[doc['find']]
    cur = coll.find(doc.get('filter', {}), doc.get('projection'))
    if doc.get('sort'):
        cur = cur.sort(list(doc['sort'].items()))
    if doc.get('skip'):
        cur = cur.skip(int(doc['skip']))
    limit = int(doc.get('limit') or 0)
    if limit:
        cur = cur.limit(abs(limit))
    single = doc.get('singleBatch', False) or limit < 0
    return cursor_reply(st, db.name + '.' + doc['find'], list(cur),
                        batch_size(doc.get('batchSize')), single)


def cmd_getmore(st, db, doc):
    cid = int(doc['getMore'])
    if cid not in st.cursors:
        return {'ok': 0, 'code': 43, 'codeName': 'CursorNotFound',
                'errmsg': 'cursor id %d not found' % cid}
    ns, rest = st.cursors.pop(cid)
    n = batch_size(doc.get('batchSize'), first=False)
    now, later = (rest, []) if n is None else (rest[:n], rest[n:])
    if later:
        st.cursors[cid] = (ns, later)
    else:
        cid = 0
    return {'cursor': {'id': Int64(cid), 'ns': ns, 'nextBatch': now}}


def cmd_killcursors(st, db, doc):
    ids = [int(c) for c in doc.get('cursors', [])]
    for c in ids:
        st.cursors.pop(c, None)
    return {'cursorsKilled': [Int64(c) for c in ids]}


def cmd_aggregate(st, db, doc):
    coll = db[doc['aggregate']]
    docs = list(coll.aggregate(doc.get('pipeline', [])))
    batch = batch_size((doc.get('cursor') or {}).get('batchSize'))
    return cursor_reply(st, db.name + '.' + doc['aggregate'], docs, batch,
                        False)


def cmd_count(st, db, doc):
    coll = db[doc['count']]
    return {'n': coll.count_documents(doc.get('query') or {})}


def cmd_create_indexes(st, db, doc):
    coll = db[doc['createIndexes']]
    before = len(coll.index_information())
    for ix in doc.get('indexes', []):
        coll.create_index(list(ix['key'].items()), name=ix.get('name'),
                          unique=ix.get('unique', False))
    after = len(coll.index_information())
    return {'numIndexesBefore': before, 'numIndexesAfter': after,
            'createdCollectionAutomatically': before == 0}


def cmd_list_indexes(st, db, doc):
    coll = db[doc['listIndexes']]
    out = []
    for name, info in coll.index_information().items():
        d = {'v': 2, 'key': SON(info['key']), 'name': name}
        if info.get('unique'):
            d['unique'] = True
        out.append(d)
    return cursor_reply(st, db.name + '.' + doc['listIndexes'], out, None,
                        True)


def cmd_list_collections(st, db, doc):
    out = [{'name': n, 'type': 'collection'}
           for n in db.list_collection_names()]
    return cursor_reply(st, db.name + '.$cmd.listCollections', out, None,
                        True)


def cmd_drop(st, db, doc):
    db.drop_collection(doc['drop'])
    return {}


def cmd_drop_database(st, db, doc):
    st.client.drop_database(db.name)
    return {}


def cmd_ok(st, db, doc):
    return {}


def cmd_build_info(st, db, doc):
    return {'version': '5.0.0-test-double', 'versionArray': [5, 0, 0, 0],
            'maxBsonObjectSize': MAX_BSON}


COMMANDS = {
    'hello': (cmd_hello, False), 'ismaster': (cmd_hello, False),
    'ping': (cmd_ok, False), 'buildinfo': (cmd_build_info, False),
    'endsessions': (cmd_ok, False), 'insert': (cmd_insert, True),
    'update': (cmd_update, True), 'delete': (cmd_delete, True),
    'find': (cmd_find, False), 'getmore': (cmd_getmore, False),
    'killcursors': (cmd_killcursors, False),
    'aggregate': (cmd_aggregate, False), 'count': (cmd_count, False),
    'createindexes': (cmd_create_indexes, True),
    'listindexes': (cmd_list_indexes, False),
    'listcollections': (cmd_list_collections, False),
    'drop': (cmd_drop, True), 'dropdatabase': (cmd_drop_database, True),
}


def handle(st, request):
    doc = request.doc
    if not doc:
        return False
    name = next(iter(doc))
    dbname = request.namespace.split('.')[0] if request.namespace else 'admin'
    if '$db' in doc:
        dbname = doc['$db']
    args = {k: v for k, v in doc.items() if k not in GENERIC}
    entry = COMMANDS.get(name.lower())
    # one line per command: the tests check the driver's framing
    log('%s %s db=%s%s' % (type(request).__name__, name, dbname,
                           ' $db' if '$db' in doc else ''))
    with st.lock:
        if entry is None:
            reply = {'ok': 0, 'code': 59, 'codeName': 'CommandNotFound',
                     'errmsg': 'no such command: %s' % name}
        else:
            fn, writes = entry
            try:
                reply = fn(st, st.client[dbname], args)
            except Exception as e:  # a bad request, not a dead server
                reply = {'ok': 0, 'code': 2, 'codeName': 'BadValue',
                         'errmsg': '%s: %s' % (type(e).__name__, e)}
                writes = False
            if writes:
                st.save()
        reply.setdefault('ok', 1)
    request.replies(reply)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--data')
    ap.add_argument('--crash-mid-update', type=int, default=0)
    ap.add_argument('--delay-ms', type=int, default=0)
    args = ap.parse_args()
    FAULTS['crash_mid_update'] = args.crash_mid_update
    FAULTS['delay_ms'] = args.delay_ms
    st = Store(args.data)
    server = mockupdb.MockupDB(port=args.port, request_timeout=int(1e6))
    server._address = ('127.0.0.1', args.port)
    server.autoresponds(lambda req: handle(st, req))
    port = server.run()
    tmp = args.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % port)
    os.rename(tmp, args.port_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
