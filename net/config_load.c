/*
 * config_load.c: the layers of cfg_load, applied in precedence order
 * (defaults < env file < environment < flags), each overwriting what the
 * previous set, then the cross-field checks.
 *
 * Env file grammar, one setting per line (no multi-line values):
 *   line    = ws* ( "#" any* | "export" ws+ pair | pair )? ws*
 *   pair    = KEY ws* "=" ws* value
 *   KEY     = [A-Za-z_][A-Za-z0-9_]*
 *   value   = '"' (escaped char)* '"' ws* ("#" any*)?     \n \t \r \" \\ \$
 *           | "'" (any but ')* "'"   ws* ("#" any*)?      literal
 *           | unquoted: up to " #" or the end, trailing ws removed
 * Bounds: lines up to CFG_ENV_LINE_MAX bytes, files up to CFG_ENV_LINES
 * lines (an env file is configuration, not data).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "wb_error.h"

#define CFG_ENV_LINE_MAX 4096
#define CFG_ENV_LINES 10000

/* Unescapes a double-quoted value in place; p points after the opening
 * quote. Returns the end of the value (after the closing quote) or NULL. */
static char *unquote_double(char *p)
{
    char *w = p;
    while (*p && *p != '"') {
        if (*p == '\\') {
            p++;
            switch (*p) {
            case 'n': *w++ = '\n'; break;
            case 't': *w++ = '\t'; break;
            case 'r': *w++ = '\r'; break;
            case '"': case '\\': case '$': *w++ = *p; break;
            default: return NULL;
            }
            p++;
        } else {
            *w++ = *p++;
        }
    }
    if (*p != '"')
        return NULL;
    *w = '\0';
    return p + 1;
}

/* After a quoted value only whitespace or a comment may follow. */
static int rest_is_blank(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return *p == '\0' || *p == '#';
}

static int parse_value(char *p, char **value)
{
    if (*p == '"') {
        char *end = unquote_double(p + 1);
        if (!end || !rest_is_blank(end))
            return -1;
        *value = p + 1;
        return 0;
    }
    if (*p == '\'') {
        char *close = strchr(p + 1, '\'');
        if (!close || !rest_is_blank(close + 1))
            return -1;
        *close = '\0';
        *value = p + 1;
        return 0;
    }
    for (char *q = p; *q; q++)
        if (*q == '#' && (q == p || q[-1] == ' ' || q[-1] == '\t')) {
            *q = '\0';
            break;
        }
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        p[--n] = '\0';
    *value = p;
    return 0;
}

/* 1: pair found, 0: blank or comment, -1: syntax error. Edits line. */
static int parse_env_line(char *line, char **key, char **value)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
        p += 6;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    if (!(isalpha((unsigned char)*p) || *p == '_'))
        return -1;
    *key = p;
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    char *key_end = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '=')
        return -1;
    *key_end = '\0';
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    return parse_value(p, value) == 0 ? 1 : -1;
}

static int env_file_pair(cfg *c, const char *path, int lineno, char *key,
                         char *value, char *err, size_t errlen)
{
    const cfg_setting *s = cfg_find(key);
    if (!s || strcmp(s->env, key) != 0) {
        if (strncmp(key, "WB_", 3) != 0)
            return 0; /* another service's key */
        cfg_errf(err, errlen, "%s:%d: unknown setting %s", path, lineno, key);
        return WB_EUNKNOWN;
    }
    char where[600];
    snprintf(where, sizeof where, "%s:%d %s", path, lineno, key);
    return cfg_set(c, s, value, CFG_SRC_ENV_FILE, where, err, errlen);
}

int cfg_load_env_file(cfg *c, const char *path, int must_exist, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        if (e == ENOENT && !must_exist)
            return 0;
        cfg_errf(err, errlen, "env file %s: %s", path, strerror(e));
        return -e;
    }
    char line[CFG_ENV_LINE_MAX + 2];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *key, *value;
        size_t n = strlen(line);
        int r;
        if (lineno > CFG_ENV_LINES ||
            (n > CFG_ENV_LINE_MAX && line[n - 1] != '\n'))
            r = -2;
        else
            r = parse_env_line(line, &key, &value);
        if (r < 0) {
            cfg_errf(err, errlen, "%s:%d: %s", path, lineno,
                     r == -2 ? "line or file too long"
                             : "expected KEY=VALUE (quotes closed, "
                               "known escapes only)");
            rc = WB_EMALFORMED;
        } else if (r == 1) {
            rc = env_file_pair(c, path, lineno, key, value, err, errlen);
        }
    }
    if (rc == 0 && ferror(f)) {
        cfg_errf(err, errlen, "env file %s: read error", path);
        rc = -EIO;
    }
    fclose(f);
    return rc;
}

int cfg_load_environ(cfg *c, char *err, size_t errlen)
{
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(t[i].env);
        if (!v || !*v)
            continue; /* empty counts as unset */
        char where[128];
        snprintf(where, sizeof where, "environment %s", t[i].env);
        int rc = cfg_set(c, &t[i], v, CFG_SRC_ENV, where, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static const cfg_setting *find_flag(const char *name, size_t len)
{
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    for (size_t i = 0; i < n; i++)
        if (strlen(t[i].name) == len && strncmp(t[i].name, name, len) == 0)
            return &t[i];
    return NULL;
}

int cfg_load_args(cfg *c, int argc, char *const *argv, int *help,
                  char *err, size_t errlen)
{
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
            cfg_errf(err, errlen, "unexpected argument \"%s\" (see --help)",
                     arg);
            return WB_EINVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : NULL;
        int is_env_file = len == 8 && strncmp(name, "env-file", 8) == 0;
        const cfg_setting *s = is_env_file ? NULL : find_flag(name, len);
        if (!s && !is_env_file) {
            cfg_errf(err, errlen, "unknown flag --%.*s (see --help)",
                     (int)(len > 64 ? 64 : len), name);
            return WB_EUNKNOWN;
        }
        if (!value && s && s->type == CFG_BOOL)
            value = "true";
        if (!value) {
            if (i + 1 >= argc) {
                cfg_errf(err, errlen, "flag --%.*s needs a value", (int)len,
                         name);
                return WB_EINVAL;
            }
            value = argv[++i];
        }
        if (is_env_file)
            continue; /* read by cfg_load before the environment */
        char where[128];
        snprintf(where, sizeof where, "flag --%s", s->name);
        int rc = cfg_set(c, s, value, CFG_SRC_FLAG, where, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int cfg_validate(const cfg *c, char *err, size_t errlen)
{
    if (!*c->tls_cert != !*c->tls_key) {
        cfg_errf(err, errlen, "--tls-cert and --tls-key go together (one "
                              "is set, the other is empty)");
        return WB_EINVAL;
    }
    if (*c->jwt_secret_previous && !*c->jwt_secret) {
        cfg_errf(err, errlen, "JWT_SECRET_PREVIOUS is set but JWT_SECRET is "
                              "empty");
        return WB_EINVAL;
    }
    if (*c->jwt_secret_previous &&
        strcmp(c->jwt_secret_previous, c->jwt_secret) == 0) {
        cfg_errf(err, errlen, "JWT_SECRET_PREVIOUS equals JWT_SECRET");
        return WB_EINVAL;
    }
    /* A broadcast of a batch as large as --max-frame (plus its stamps)
     * must fit in a client's queue, or every reader of it is closed as a
     * slow consumer however fast it reads. */
    if (c->ws_sendq_max < 2 * c->max_frame) {
        cfg_errf(err, errlen, "--ws-sendq-max (%llu) must be at least twice "
                              "--max-frame (%llu)",
                 (unsigned long long)c->ws_sendq_max,
                 (unsigned long long)c->max_frame);
        return WB_EINVAL;
    }
    return 0;
}

/* The --env-file argument, or NULL. */
static const char *env_file_arg(int argc, char *const *argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--env-file=", 11) == 0)
            path = argv[i] + 11;
        else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc)
            path = argv[++i];
    }
    return path;
}

int cfg_load(cfg *c, int argc, char *const *argv, char *err, size_t errlen)
{
    int rc = cfg_defaults(c);
    if (rc) {
        cfg_errf(err, errlen, "out of memory");
        return rc;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return CFG_HELP;
    const char *env_file = env_file_arg(argc, argv);
    rc = env_file ? cfg_load_env_file(c, env_file, 1, err, errlen)
                  : cfg_load_env_file(c, ".env", 0, err, errlen);
    if (rc == 0)
        rc = cfg_load_environ(c, err, errlen);
    int help = 0;
    if (rc == 0)
        rc = cfg_load_args(c, argc, argv, &help, err, errlen);
    if (rc == 0)
        rc = cfg_validate(c, err, errlen);
    return rc;
}
