/*
 * mirror_mongo.c: the mirror's MongoDB client (libmongoc): URI defaults,
 * the driver's log routed into the node's JSON log, index creation, ping,
 * and the unordered bulk upsert every collection is written with.
 *
 * One single-threaded mongoc_client_t, used by the mirror thread only.
 * mongo_up is set here, by the outcome of each request to Mongo (a local
 * failure, e.g. of the snapshot store, does not touch it).
 * Timeouts (set unless the URL has them): serverSelectionTimeoutMS 2000,
 * connectTimeoutMS 2000, socketTimeoutMS 10000, serverSelectionTryOnce
 * false; so a dead Mongo costs the mirror thread at most a few seconds per
 * attempt and never touches the node's other threads.
 */
#include <pthread.h>
#include <string.h>

#include "log.h"
#include "mirror_internal.h"
#include "wb_error.h"

static pthread_once_t mirror_init_once = PTHREAD_ONCE_INIT;

/* The driver's own messages (connection refused, ...) as JSON log lines;
 * the log's flood control keeps a dead Mongo from filling it. */
static void mirror_driver_log(mongoc_log_level_t level, const char *domain,
                              const char *message, void *arg)
{
    (void)arg;
    enum wblog_level lv = level <= MONGOC_LOG_LEVEL_ERROR     ? WBLOG_ERROR
                          : level == MONGOC_LOG_LEVEL_WARNING ? WBLOG_WARN
                          : level <= MONGOC_LOG_LEVEL_INFO    ? WBLOG_INFO
                                                              : WBLOG_DEBUG;
    if (level >= MONGOC_LOG_LEVEL_DEBUG)
        return;
    WBLOGF(lv, "mongo driver", WBF_STR("domain", domain),
           WBF_STR("detail", message), WBF_STR("src", "mirror"));
}

static void mirror_driver_init(void)
{
    mongoc_init();
    mongoc_log_set_handler(mirror_driver_log, NULL);
}

static void mirror_uri_default(mongoc_uri_t *uri, const char *opt, int32_t v)
{
    if (!mongoc_uri_has_option(uri, opt))
        mongoc_uri_set_option_as_int32(uri, opt, v);
}

int mirror_mongo_open(mirror *m)
{
    pthread_once(&mirror_init_once, mirror_driver_init);
    bson_error_t err;
    m->uri = mongoc_uri_new_with_error(m->n->cfg->mongo_url, &err);
    if (!m->uri) {
        WBLOGF(WBLOG_ERROR, "mirror: bad MONGO_URL",
               WBF_STR("detail", err.message));
        return WB_EINVAL;
    }
    mirror_uri_default(m->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
    mirror_uri_default(m->uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
    mirror_uri_default(m->uri, MONGOC_URI_SOCKETTIMEOUTMS, 10000);
    if (!mongoc_uri_has_option(m->uri, MONGOC_URI_SERVERSELECTIONTRYONCE))
        mongoc_uri_set_option_as_bool(m->uri, MONGOC_URI_SERVERSELECTIONTRYONCE,
                                      false);
    const char *db = mongoc_uri_get_database(m->uri);
    snprintf(m->db, sizeof m->db, "%s", db && *db ? db : MIRROR_DEFAULT_DB);
    m->client = mongoc_client_new_from_uri_with_error(m->uri, &err);
    if (!m->client) {
        WBLOGF(WBLOG_ERROR, "mirror: cannot create the Mongo client",
               WBF_STR("detail", err.message));
        return WB_EINVAL;
    }
    mongoc_client_set_appname(m->client, "whiteboardd-mirror");
    mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);
    return 0;
}

void mirror_mongo_close(mirror *m)
{
    if (m->client)
        mongoc_client_destroy(m->client);
    if (m->uri)
        mongoc_uri_destroy(m->uri);
    m->client = NULL;
    m->uri = NULL;
}

/* One createIndexes command: coll, then (name, key document) pairs. */
static int mirror_index(mirror *m, const char *coll, const char *name,
                        const bson_t *key)
{
    bson_t cmd, arr, ix, reply;
    bson_error_t err;
    bson_init(&cmd);
    BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &ix);
    BSON_APPEND_DOCUMENT(&ix, "key", key);
    BSON_APPEND_UTF8(&ix, "name", name);
    bson_append_document_end(&arr, &ix);
    bson_append_array_end(&cmd, &arr);
    mongoc_database_t *db = mongoc_client_get_database(m->client, m->db);
    bool ok =
        mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &err);
    mongoc_database_destroy(db);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    metrics_set(m->up, ok ? 1 : 0);
    if (!ok) {
        WBLOGF(WBLOG_WARN, "mirror: createIndexes failed",
               WBF_STR("collection", coll), WBF_STR("index", name),
               WBF_STR("detail", err.message));
        return WB_EIO;
    }
    return 0;
}

int mirror_mongo_indexes(mirror *m)
{
    static const struct {
        const char *coll, *name, *k1;
        int d1;
        const char *k2;
        int d2;
    } ix[] = {
        {"ops", "boardId_time", "boardId", 1, "time", 1},
        {"ops", "userId_time", "userId", 1, "time", 1},
        {"ops", "boardId_seq", "boardId", 1, "seq", 1},
        {"snapshots", "boardId_createdAt", "boardId", 1, "createdAt", -1},
        {"snapshots", "boardId_pos", "boardId", 1, "pos", -1},
        {"snapshot_chunks", "snapshot_n", "snapshot", 1, "n", 1},
    };
    for (size_t i = 0; i < sizeof ix / sizeof ix[0]; i++) {
        bson_t key;
        bson_init(&key);
        BSON_APPEND_INT32(&key, ix[i].k1, ix[i].d1);
        BSON_APPEND_INT32(&key, ix[i].k2, ix[i].d2);
        int rc = mirror_index(m, ix[i].coll, ix[i].name, &key);
        bson_destroy(&key);
        if (rc)
            return rc;
    }
    return 0;
}

int mirror_mongo_ping(mirror *m)
{
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t err;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bool ok = mongoc_client_command_simple(m->client, "admin", &cmd, NULL,
                                           &reply, &err);
    bson_destroy(&cmd);
    bson_destroy(&reply);
    metrics_set(m->up, ok ? 1 : 0);
    return ok ? 0 : WB_EIO;
}

int mirror_mongo_upsert(mirror *m, const char *coll, bson_t **docs, size_t n)
{
    if (n == 0)
        return 0;
    mongoc_collection_t *c =
        mongoc_client_get_collection(m->client, m->db, coll);
    bson_t opts = BSON_INITIALIZER, uopts = BSON_INITIALIZER, reply;
    BSON_APPEND_BOOL(&opts, "ordered", false);
    BSON_APPEND_BOOL(&uopts, "upsert", true);
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(c, &opts);
    bson_error_t err;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        bson_iter_t it;
        bson_t sel = BSON_INITIALIZER;
        if (bson_iter_init_find(&it, docs[i], "_id"))
            bson_append_iter(&sel, "_id", 3, &it);
        ok = mongoc_bulk_operation_replace_one_with_opts(bulk, &sel, docs[i],
                                                         &uopts, &err);
        bson_destroy(&sel);
    }
    if (ok)
        ok = mongoc_bulk_operation_execute(bulk, &reply, &err) != 0;
    else
        bson_init(&reply);
    metrics_set(m->up, ok ? 1 : 0);
    if (!ok)
        WBLOGF(WBLOG_WARN, "mirror: bulk upsert failed",
               WBF_STR("collection", coll), WBF_UINT("docs", n),
               WBF_STR("detail", err.message), WBF_UINT("code", err.code));
    bson_destroy(&reply);
    mongoc_bulk_operation_destroy(bulk);
    bson_destroy(&uopts);
    bson_destroy(&opts);
    mongoc_collection_destroy(c);
    return ok ? 0 : WB_EIO;
}
