/* test_net_config.c: the settings table. Precedence across the four
 * sources (env file written to a tmp dir, variables set with setenv, argv
 * built here), typed values and bounds, error texts naming setting and
 * source, env file syntax, shape checks, redaction, --help. */
#include <errno.h>
#include <jansson.h>

#include "config.h"
#include "wbtest.h"

#define SECRET_A "current-secret-0123456789abcdefABCDEF"
#define SECRET_B "previous-secret-0123456789abcdefABCDEF"

static char err[512];

/* Unsets every setting's variable so the process environment (ctest's,
 * the developer's) cannot leak into a test. */
static void clear_env(void)
{
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    for (size_t i = 0; i < n; i++)
        unsetenv(t[i].env);
}

static const char *write_file(const char *dir, const char *name,
                              const char *text)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    return path;
}

/* cfg_load with argv from a NULL-terminated list. */
static int load(cfg *c, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "whiteboardd";
    for (size_t i = 0; args && args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    err[0] = '\0';
    return cfg_load(c, argc, argv, err, sizeof err);
}

#define CHECK_ERR_HAS(s)                                                     \
    CHECK_MSG(strstr(err, (s)) != NULL, "error \"%s\" lacks \"%s\"", err, (s))

static void test_defaults(void)
{
    clear_env();
    cfg c;
    CHECK_OK(cfg_defaults(&c));
    CHECK_STR(c.data_dir, "./data");
    CHECK_STR(c.listen, "127.0.0.1:8080");
    CHECK_STR(c.jwt_secret, "");
    CHECK_STR(c.fsync, "always");
    CHECK_EQ_INT(c.segment_size, 64 << 20);
    CHECK_EQ_INT(c.snapshot_interval_ms, 60000);
    CHECK_EQ_INT(c.memory_budget, 512LL << 20);
    CHECK_EQ_INT(c.max_frame, 1 << 20);
    CHECK_EQ_INT(c.max_elements, 100000);
    CHECK_EQ_INT(c.guest, CFG_GUEST_AUTO);
    CHECK_EQ_INT(c.log_level, CFG_LOG_INFO);
    CHECK_EQ_INT(c.log_format, CFG_LOG_JSON);
    CHECK_EQ_INT(c.trust_proxy, 0);
    CHECK_OK(cfg_validate(&c, err, sizeof err));
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    CHECK(n >= 28);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_INT(c.source[i], CFG_SRC_DEFAULT);
        CHECK(cfg_find(t[i].name) == &t[i]);
        CHECK(cfg_find(t[i].env) == &t[i]);
        for (size_t j = 0; j < i; j++)
            CHECK_MSG(strcmp(t[i].name, t[j].name) != 0 &&
                          strcmp(t[i].env, t[j].env) != 0,
                      "rows %zu and %zu share a name", i, j);
    }
    cfg_free(&c);
    /* A bare start (no args, no .env, empty environment) works. */
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd));
    CHECK(chdir(wb_test_tmpdir("net_config_bare")) == 0);
    cfg d;
    int rc = load(&d, NULL);
    cfg_free(&d);
    CHECK(chdir(cwd) == 0);
    CHECK_MSG(rc == 0, "bare start: %s", err);
}

static void test_precedence(void)
{
    clear_env();
    const char *dir = wb_test_tmpdir("net_config");
    const char *path = write_file(dir, "wb.env",
                                  "WB_LISTEN=10.0.0.1:1000\n"
                                  "WB_MAX_FRAME=2MiB\n"
                                  "WB_MAX_ELEMENTS=111\n"
                                  "WB_DATA=/from/file\n");
    setenv("WB_MAX_FRAME", "3MiB", 1);    /* env beats file */
    setenv("WB_MAX_ELEMENTS", "222", 1);  /* flag beats env and file */
    setenv("WB_SNAPSHOT_OPS", "333", 1);  /* env beats default */
    setenv("WB_LOG_LEVEL", "", 1);        /* empty: unset */
    const char *args[] = {"--env-file", path, "--max-elements=444",
                          "--log-format", "text", NULL};
    cfg c;
    CHECK_OK(load(&c, args));
    CHECK_STR(c.listen, "10.0.0.1:1000");
    CHECK_EQ_INT(cfg_source_of(&c, "listen"), CFG_SRC_ENV_FILE);
    CHECK_STR(c.data_dir, "/from/file");
    CHECK_EQ_INT(c.max_frame, 3 << 20);
    CHECK_EQ_INT(cfg_source_of(&c, "WB_MAX_FRAME"), CFG_SRC_ENV);
    CHECK_EQ_INT(c.max_elements, 444);
    CHECK_EQ_INT(cfg_source_of(&c, "max-elements"), CFG_SRC_FLAG);
    CHECK_EQ_INT(c.snapshot_ops, 333);
    CHECK_EQ_INT(c.log_level, CFG_LOG_INFO);
    CHECK_EQ_INT(cfg_source_of(&c, "log-level"), CFG_SRC_DEFAULT);
    CHECK_EQ_INT(c.log_format, CFG_LOG_TEXT);
    CHECK_STR(cfg_source_name(CFG_SRC_ENV_FILE), "env file");
    cfg_free(&c);
    /* The same flag twice: the last wins. */
    const char *twice[] = {"--env-file", path, "--max-elements", "5",
                           "--max-elements", "6", NULL};
    CHECK_OK(load(&c, twice));
    CHECK_EQ_INT(c.max_elements, 6);
    cfg_free(&c);
    clear_env();
    wb_test_rmtree(dir);
}

static void test_dotenv_in_working_directory(void)
{
    clear_env();
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd));
    const char *dir = wb_test_tmpdir("net_config_cwd");
    char saved[700];
    snprintf(saved, sizeof saved, "%s", dir);
    write_file(saved, ".env", "MONGO_URL=mongodb://db:27017/wb\n");
    CHECK(chdir(saved) == 0);
    cfg c;
    int rc = load(&c, NULL);
    char mongo[128];
    snprintf(mongo, sizeof mongo, "%s", rc == 0 ? c.mongo_url : "");
    if (rc == 0)
        cfg_free(&c);
    /* An explicit --env-file that is missing is an error... */
    const char *missing[] = {"--env-file=/nonexistent/wb.env", NULL};
    int rc2 = load(&c, missing);
    cfg_free(&c);
    CHECK(chdir(cwd) == 0);
    CHECK_OK(rc);
    CHECK_STR(mongo, "mongodb://db:27017/wb");
    CHECK_RC(rc2, -ENOENT);
    CHECK_ERR_HAS("/nonexistent/wb.env");
    /* ...a missing ./.env is not. */
    CHECK_OK(cfg_defaults(&c));
    CHECK_OK(cfg_load_env_file(&c, "/nonexistent/.env", 0, err, sizeof err));
    cfg_free(&c);
    wb_test_rmtree(saved);
}

static void test_env_file_syntax(void)
{
    clear_env();
    const char *dir = wb_test_tmpdir("net_config_syntax");
    const char *path = write_file(
        dir, "ok.env",
        "# a comment\n"
        "\n"
        "   # indented comment\n"
        "export WB_DATA=/srv/wb#1   # trailing comment\n"
        "WB_LISTEN = \"0.0.0.0:9000\"  # quoted, spaces around =\n"
        "JWT_SECRET='" SECRET_A "'\n"
        "WB_ALLOWED_ORIGINS=\"https://a.example, http://b.example:8080\"\n"
        "WB_TLS_CERT=\"/etc/wb/cert \\\"x\\\".pem\"\n"
        "WB_TLS_KEY='/etc/wb/key $HOME \\n.pem'\r\n"
        "OTHER_SERVICE_KEY=whatever ignored\n"
        "REDIS_URL=redis://cache:6379\n");
    cfg c;
    CHECK_OK(cfg_defaults(&c));
    CHECK_OK(cfg_load_env_file(&c, path, 1, err, sizeof err));
    CHECK_STR(c.data_dir, "/srv/wb#1");
    CHECK_STR(c.listen, "0.0.0.0:9000");
    CHECK_STR(c.jwt_secret, SECRET_A);
    CHECK_STR(c.allowed_origins, "https://a.example, http://b.example:8080");
    CHECK_STR(c.tls_cert, "/etc/wb/cert \"x\".pem");
    CHECK_STR(c.tls_key, "/etc/wb/key $HOME \\n.pem");
    CHECK_STR(c.redis_url, "redis://cache:6379");
    cfg_free(&c);

    static const struct {
        const char *text;
        int rc;
        const char *where;
    } bad[] = {
        {"WB_DATA=/a\nWB_DATAX=1\n", WB_EUNKNOWN, ":2: unknown setting WB_DATAX"},
        {"WB_LISTEN\n", WB_EMALFORMED, ":1: expected KEY=VALUE"},
        {"\n\nWB_LISTEN=\"1.2.3.4:5\n", WB_EMALFORMED, ":3:"},
        {"WB_LISTEN='1.2.3.4:5\n", WB_EMALFORMED, ":1:"},
        {"WB_LISTEN=\"1.2.3.4:5\" junk\n", WB_EMALFORMED, ":1:"},
        {"WB_LISTEN=\"bad \\q escape\"\n", WB_EMALFORMED, ":1:"},
        {"9KEY=1\n", WB_EMALFORMED, ":1:"},
        {"WB_MAX_FRAME=12x\n", WB_EINVAL, ":1 WB_MAX_FRAME: \"12x\" is not a size"},
        {"WB_SEGMENT_SIZE=4096\n", -ERANGE, ":1 WB_SEGMENT_SIZE: 4096 is below the minimum 1048576"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = write_file(dir, "bad.env", bad[i].text);
        CHECK_OK(cfg_defaults(&c));
        err[0] = '\0';
        int rc = cfg_load_env_file(&c, path, 1, err, sizeof err);
        cfg_free(&c);
        CHECK_MSG(rc == bad[i].rc, "case %zu: %s (%s)", i, wb_errname(rc),
                  err);
        CHECK_MSG(strstr(err, path) && strstr(err, bad[i].where),
                  "case %zu: error \"%s\"", i, err);
    }
    /* A line longer than the cap is refused, not split. */
    size_t big = 10000;
    char *text = malloc(big + 16);
    CHECK(text);
    memcpy(text, "WB_DATA=", 8);
    memset(text + 8, 'd', big);
    strcpy(text + 8 + big, "\n");
    path = write_file(dir, "long.env", text);
    free(text);
    CHECK_OK(cfg_defaults(&c));
    CHECK_RC(cfg_load_env_file(&c, path, 1, err, sizeof err), WB_EMALFORMED);
    CHECK_ERR_HAS("too long");
    CHECK_STR(c.data_dir, "./data");
    cfg_free(&c);
    wb_test_rmtree(dir);
}

/* Sets name=value through the environment layer; returns the code. */
static int env_set(cfg *c, const char *name, const char *value)
{
    clear_env();
    setenv(name, value, 1);
    err[0] = '\0';
    int rc = cfg_load_environ(c, err, sizeof err);
    clear_env();
    return rc;
}

static void test_types_and_bounds(void)
{
    cfg c;
    CHECK_OK(cfg_defaults(&c));
    CHECK_RC(env_set(&c, "WB_MAX_ELEMENTS", "12abc"), WB_EINVAL);
    CHECK_ERR_HAS("environment WB_MAX_ELEMENTS: \"12abc\" is not an integer");
    CHECK_RC(env_set(&c, "WB_MAX_ELEMENTS", " 12"), WB_EINVAL);
    CHECK_RC(env_set(&c, "WB_MAX_ELEMENTS", "0"), -ERANGE);
    CHECK_ERR_HAS("below the minimum 1");
    CHECK_RC(env_set(&c, "WB_MAX_ELEMENTS", "10000001"), -ERANGE);
    CHECK_ERR_HAS("above the maximum 10000000");
    CHECK_RC(env_set(&c, "WB_MAX_ELEMENTS", "99999999999999999999"),
             WB_EINVAL);
    CHECK_OK(env_set(&c, "WB_MAX_ELEMENTS", "10000000"));
    CHECK_EQ_INT(c.max_elements, 10000000);
    /* Sizes. */
    static const struct {
        const char *text;
        int64_t bytes;
    } sizes[] = {{"1048576", 1 << 20}, {"1MiB", 1 << 20}, {"1m", 1 << 20},
                 {"2048K", 2 << 20},   {"1G", 1LL << 30}, {"1gib", 1LL << 30},
                 {"3145728B", 3 << 20}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK_MSG(env_set(&c, "WB_SEGMENT_SIZE", sizes[i].text) == 0,
                  "%s: %s", sizes[i].text, err);
        CHECK_EQ_INT(c.segment_size, sizes[i].bytes);
    }
    CHECK_RC(env_set(&c, "WB_SEGMENT_SIZE", "2GiB"), -ERANGE);
    CHECK_RC(env_set(&c, "WB_SEGMENT_SIZE", "1.5MiB"), WB_EINVAL);
    CHECK_RC(env_set(&c, "WB_SEGMENT_SIZE", "-1MiB"), WB_EINVAL);
    CHECK_RC(env_set(&c, "WB_SEGMENT_SIZE", "MiB"), WB_EINVAL);
    CHECK_RC(env_set(&c, "WB_SEGMENT_SIZE", "9223372036854775807T"),
             WB_EINVAL);
    /* Durations. */
    static const struct {
        const char *text;
        int64_t ms;
    } durs[] = {{"500ms", 500}, {"30s", 30000}, {"2m", 120000},
                {"1h", 3600000}, {"7", 7000},    {"0", 0}};
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        CHECK_MSG(env_set(&c, "WB_SNAPSHOT_INTERVAL", durs[i].text) == 0,
                  "%s: %s", durs[i].text, err);
        CHECK_EQ_INT(c.snapshot_interval_ms, durs[i].ms);
    }
    CHECK_RC(env_set(&c, "WB_SNAPSHOT_INTERVAL", "25h"), -ERANGE);
    CHECK_RC(env_set(&c, "WB_SNAPSHOT_INTERVAL", "5d"), WB_EINVAL);
    CHECK_ERR_HAS("is not a duration");
    /* Bools and enums. */
    CHECK_OK(env_set(&c, "WB_TRUST_PROXY", "YES"));
    CHECK_EQ_INT(c.trust_proxy, 1);
    CHECK_OK(env_set(&c, "WB_TRUST_PROXY", "off"));
    CHECK_EQ_INT(c.trust_proxy, 0);
    CHECK_RC(env_set(&c, "WB_TRUST_PROXY", "maybe"), WB_EINVAL);
    CHECK_OK(env_set(&c, "WB_GUEST", "off"));
    CHECK_EQ_INT(c.guest, CFG_GUEST_OFF);
    CHECK_RC(env_set(&c, "WB_LOG_LEVEL", "verbose"), WB_EINVAL);
    CHECK_ERR_HAS("not one of debug, info, warn, error");
    CHECK_RC(env_set(&c, "WB_GUEST", "ON"), WB_EINVAL);
    /* A failed set leaves the previous value and source. */
    CHECK_EQ_INT(c.guest, CFG_GUEST_OFF);
    CHECK_EQ_INT(cfg_source_of(&c, "guest"), CFG_SRC_ENV);
    cfg_free(&c);
}

static void test_flags(void)
{
    clear_env();
    cfg c;
    const char *unknown[] = {"--no-such-flag=1", NULL};
    CHECK_RC(load(&c, unknown), WB_EUNKNOWN);
    CHECK_ERR_HAS("unknown flag --no-such-flag");
    cfg_free(&c);
    const char *by_env_name[] = {"--WB_DATA=/x", NULL};
    CHECK_RC(load(&c, by_env_name), WB_EUNKNOWN);
    cfg_free(&c);
    const char *novalue[] = {"--listen", NULL};
    CHECK_RC(load(&c, novalue), WB_EINVAL);
    CHECK_ERR_HAS("--listen needs a value");
    cfg_free(&c);
    const char *positional[] = {"serve", NULL};
    CHECK_RC(load(&c, positional), WB_EINVAL);
    CHECK_ERR_HAS("unexpected argument \"serve\"");
    cfg_free(&c);
    const char *range[] = {"--rate-ip=-1", NULL};
    CHECK_RC(load(&c, range), -ERANGE);
    CHECK_ERR_HAS("flag --rate-ip: -1 is below the minimum 0");
    cfg_free(&c);
    const char *good[] = {"--trust-proxy", "--node-id", "42",
                          "--fsync=interval:250", "--guest=on", NULL};
    CHECK_OK(load(&c, good));
    CHECK_EQ_INT(c.trust_proxy, 1);
    CHECK_EQ_INT(c.node_id, 42);
    CHECK_EQ_INT(c.guest, CFG_GUEST_ON);
    enum cfg_fsync mode;
    uint32_t ms;
    CHECK_OK(cfg_fsync_parse(c.fsync, &mode, &ms));
    CHECK_EQ_INT(mode, CFG_FSYNC_INTERVAL);
    CHECK_EQ_INT(ms, 250);
    cfg_free(&c);
    /* --help wins over bad flags. */
    const char *help[] = {"--bogus", "--help", NULL};
    CHECK_EQ_INT(load(&c, help), CFG_HELP);
    cfg_free(&c);
}

static void test_shape_checks(void)
{
    cfg c;
    CHECK_OK(cfg_defaults(&c));
    const char *ok_listen[] = {"0.0.0.0:1", "[::1]:8080", "host.example:65535"};
    const char *bad_listen[] = {"localhost", ":8080", "::1:8080", "h:0",
                                "h:65536", "h:80x", "[::1:80", "h :80", ""};
    for (size_t i = 0; i < 3; i++)
        CHECK_MSG(env_set(&c, "WB_LISTEN", ok_listen[i]) == 0, "%s: %s",
                  ok_listen[i], err);
    for (size_t i = 0; i < sizeof bad_listen / sizeof bad_listen[0]; i++) {
        /* "" through the environment means unset: use cfg_set directly */
        err[0] = '\0';
        int rc = cfg_set(&c, cfg_find("listen"), bad_listen[i], CFG_SRC_FLAG,
                         "flag --listen", err, sizeof err);
        CHECK_MSG(rc == WB_EINVAL, "%s accepted", bad_listen[i]);
        CHECK_ERR_HAS("flag --listen");
    }
    CHECK_STR(c.listen, "host.example:65535");
    const char *bad_fsync[] = {"sometimes", "interval:", "interval:0",
                               "interval:60001", "interval:1x", "ALWAYS"};
    for (size_t i = 0; i < sizeof bad_fsync / sizeof bad_fsync[0]; i++)
        CHECK_MSG(env_set(&c, "WB_FSYNC", bad_fsync[i]) == WB_EINVAL,
                  "fsync %s accepted", bad_fsync[i]);
    CHECK_OK(env_set(&c, "WB_FSYNC", "none"));
    CHECK_OK(env_set(&c, "WB_FSYNC", "interval:60000"));
    /* A short secret is refused without echoing it. */
    CHECK_RC(env_set(&c, "JWT_SECRET", "hunter2-short"), WB_EINVAL);
    CHECK_ERR_HAS("JWT_SECRET");
    CHECK_ERR_HAS("too short");
    CHECK(strstr(err, "hunter2") == NULL);
    CHECK_OK(env_set(&c, "JWT_SECRET", SECRET_A));
    CHECK_RC(env_set(&c, "REDIS_URL", "http://cache:6379"), WB_EINVAL);
    CHECK_OK(env_set(&c, "REDIS_URL", "rediss://:pw@cache:6380/0"));
    CHECK_RC(env_set(&c, "MONGO_URL", "mongodb://"), WB_EINVAL);
    CHECK_OK(env_set(&c, "MONGO_URL", "mongodb+srv://u:p@cluster/wb"));
    CHECK_OK(env_set(&c, "WB_ALLOWED_ORIGINS", "*"));
    CHECK_OK(env_set(&c, "WB_ALLOWED_ORIGINS",
                     "https://wb.example,http://localhost:5173"));
    const char *bad_origins[] = {"https://wb.example/app", "ftp://x",
                                 "https://", "https://a,", "https://a:99999",
                                 "wb.example"};
    for (size_t i = 0; i < sizeof bad_origins / sizeof bad_origins[0]; i++)
        CHECK_MSG(env_set(&c, "WB_ALLOWED_ORIGINS", bad_origins[i]) ==
                      WB_EINVAL,
                  "origin %s accepted", bad_origins[i]);
    CHECK_RC(cfg_set(&c, cfg_find("data-dir"), "", CFG_SRC_FLAG,
                     "flag --data-dir", err, sizeof err), WB_EINVAL);
    cfg_free(&c);
}

static void test_cross_checks(void)
{
    clear_env();
    cfg c;
    const char *small_q[] = {"--ws-sendq-max", "1MiB", NULL};
    CHECK_RC(load(&c, small_q), WB_EINVAL);
    CHECK_ERR_HAS("twice --max-frame");
    cfg_free(&c);
    const char *small_both[] = {"--ws-sendq-max", "1MiB", "--max-frame",
                                "512KiB", NULL};
    CHECK_OK(load(&c, small_both));
    cfg_free(&c);
    const char *cert_only[] = {"--tls-cert", "/c.pem", NULL};
    CHECK_RC(load(&c, cert_only), WB_EINVAL);
    CHECK_ERR_HAS("--tls-key");
    cfg_free(&c);
    const char *both[] = {"--tls-cert", "/c.pem", "--tls-key", "/k.pem",
                          NULL};
    CHECK_OK(load(&c, both));
    cfg_free(&c);
    setenv("JWT_SECRET_PREVIOUS", SECRET_B, 1);
    CHECK_RC(load(&c, NULL), WB_EINVAL);
    CHECK_ERR_HAS("JWT_SECRET is empty");
    cfg_free(&c);
    setenv("JWT_SECRET", SECRET_B, 1);
    CHECK_RC(load(&c, NULL), WB_EINVAL);
    CHECK_ERR_HAS("equals");
    cfg_free(&c);
    setenv("JWT_SECRET", SECRET_A, 1);
    CHECK_OK(load(&c, NULL));
    CHECK_STR(c.jwt_secret_previous, SECRET_B);
    cfg_free(&c);
    clear_env();
}

static void test_json_redacts_secrets(void)
{
    clear_env();
    setenv("JWT_SECRET", SECRET_A, 1);
    setenv("REDIS_URL", "redis://:redispass@cache:6379/0", 1);
    setenv("MONGO_URL", "mongodb://app:mongopass@db1,db2/wb?authSource=admin",
           1);
    const char *args[] = {"--snapshot-interval=2m", "--trust-proxy=true",
                          NULL};
    cfg c;
    CHECK_OK(load(&c, args));
    clear_env();
    char *text = cfg_to_json(&c);
    cfg_free(&c);
    CHECK(text);
    CHECK_MSG(!strstr(text, "current-secret") && !strstr(text, "redispass") &&
                  !strstr(text, "mongopass"),
              "secret leaked: %s", text);
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    free(text);
    CHECK(json_is_object(o));
    size_t n;
    cfg_settings(&n);
    CHECK_EQ_INT(json_object_size(o), n);
    CHECK_STR(json_string_value(json_object_get(o, "jwt-secret")), "***");
    CHECK_STR(json_string_value(json_object_get(o, "jwt-secret-previous")),
              "");
    CHECK_STR(json_string_value(json_object_get(o, "redis-url")),
              "redis://:***@cache:6379/0");
    CHECK_STR(json_string_value(json_object_get(o, "mongo-url")),
              "mongodb://app:***@db1,db2/wb?authSource=admin");
    CHECK_STR(json_string_value(json_object_get(o, "snapshot-interval")),
              "2m");
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "segment-size")),
                 64 << 20);
    CHECK(json_is_true(json_object_get(o, "trust-proxy")));
    CHECK_STR(json_string_value(json_object_get(o, "guest")), "auto");
    CHECK_STR(json_string_value(json_object_get(o, "data-dir")), "./data");
    json_decref(o);
}

static void test_help_lists_every_setting(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    cfg_print_help(f, "whiteboardd");
    fclose(f);
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    for (size_t i = 0; i < n; i++) {
        char flag[80];
        snprintf(flag, sizeof flag, "--%s ", t[i].name);
        CHECK_MSG(strstr(buf, flag) && strstr(buf, t[i].env),
                  "help lacks %s", t[i].name);
    }
    CHECK(strstr(buf, "<auto|on|off>"));
    CHECK(strstr(buf, "env JWT_SECRET, default (none)"));
    CHECK(strstr(buf, "env WB_DATA, default ./data"));
    free(buf);
}

int main(void)
{
    WB_RUN(test_defaults);
    WB_RUN(test_precedence);
    WB_RUN(test_dotenv_in_working_directory);
    WB_RUN(test_env_file_syntax);
    WB_RUN(test_types_and_bounds);
    WB_RUN(test_flags);
    WB_RUN(test_shape_checks);
    WB_RUN(test_cross_checks);
    WB_RUN(test_json_redacts_secrets);
    WB_RUN(test_help_lists_every_setting);
    return wb_test_summary();
}
