/*
 * config_out.c: what the table prints: the --help text and the effective
 * configuration as one JSON object for the startup log line.
 *
 * Redaction: CFG_F_SECRET values print as "***" ("" when unset, so an
 * operator can see that a secret is missing without seeing one that is
 * set); CFG_F_URL values keep everything but the password of their
 * userinfo (redis://:***@host:6379, mongodb://app:***@db1,db2/wb).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "wb_error.h"

/* A copy of url with the password in scheme://user:PASSWORD@host hidden. */
static char *redact_url(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *start = scheme ? scheme + 3 : url;
    const char *at = strchr(start, '@'), *slash = strchr(start, '/');
    if (!at || (slash && slash < at))
        return strdup(url);
    const char *colon = memchr(start, ':', (size_t)(at - start));
    if (!colon)
        return strdup(url);
    size_t head = (size_t)(colon + 1 - url);
    size_t n = head + 3 + strlen(at) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s***%s", (int)head, url, at);
    return out;
}

static void fmt_duration(char *buf, size_t cap, int64_t ms)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(buf, cap, "%lldh", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, cap, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, cap, "%lldms", (long long)ms);
}

static json_t *setting_json(const cfg *c, const cfg_setting *s)
{
    const char *base = (const char *)c + s->offset;
    char buf[32];
    switch (s->type) {
    case CFG_STRING: {
        const char *v = *(char *const *)base;
        if ((s->flags & CFG_F_SECRET) && *v)
            return json_string("***");
        if (s->flags & CFG_F_URL) {
            char *r = redact_url(v);
            json_t *j = r ? json_string(r) : NULL;
            free(r);
            return j;
        }
        /* json_string refuses invalid UTF-8; keep the key anyway */
        json_t *j = json_string(v);
        return j ? j : json_string("<not UTF-8>");
    }
    case CFG_INT:
    case CFG_SIZE:
        return json_integer(*(const int64_t *)base);
    case CFG_DURATION:
        fmt_duration(buf, sizeof buf, *(const int64_t *)base);
        return json_string(buf);
    case CFG_BOOL:
        return json_boolean(*(const int *)base);
    case CFG_ENUM:
        return json_string(s->words[*(const int *)base]);
    }
    return NULL;
}

char *cfg_to_json(const cfg *c)
{
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *v = setting_json(c, &t[i]);
        if (!v || json_object_set_new(o, t[i].name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static const char *placeholder(const cfg_setting *s, char *buf, size_t cap)
{
    switch (s->type) {
    case CFG_INT: return "<n>";
    case CFG_BOOL: return "[=<bool>]";
    case CFG_DURATION: return "<duration>";
    case CFG_SIZE: return "<size>";
    case CFG_ENUM:
        buf[0] = '\0';
        for (int i = 0; s->words[i]; i++)
            snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s",
                     i ? "|" : "<", s->words[i]);
        snprintf(buf + strlen(buf), cap - strlen(buf), ">");
        return buf;
    default: return "<text>";
    }
}

void cfg_print_help(FILE *out, const char *prog)
{
    size_t n;
    const cfg_setting *t = cfg_settings(&n);
    fprintf(out,
            "Usage: %s [--env-file FILE] [--<setting> VALUE | "
            "--<setting>=VALUE]...\n\n"
            "Every setting has a default, so no flag is required. Later "
            "sources win:\ndefault < env file (--env-file FILE, else ./.env) "
            "< environment < flag.\nSizes take K/M/G/T (powers of 1024), "
            "durations ms/s/m/h (bare: seconds).\n\nSettings:\n",
            prog ? prog : "whiteboardd");
    for (size_t i = 0; i < n; i++) {
        char buf[96];
        const char *def = t[i].def;
        if (t[i].flags & CFG_F_SECRET)
            def = *def ? "(secret)" : "(none)";
        else if (!*def)
            def = "(none)";
        fprintf(out, "  --%s %s\n      env %s, default %s\n      %s%s\n",
                t[i].name, placeholder(&t[i], buf, sizeof buf), t[i].env,
                def, t[i].help,
                (t[i].flags & CFG_F_SECRET)
                    ? " Prefer the environment or the env file: flags "
                      "show in ps."
                    : "");
    }
    fprintf(out, "  --help\n      This text.\n");
}
