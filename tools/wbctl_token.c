/*
 * wbctl_token.c: `wbctl token`: mints a JWT (HS256) the node accepts, with
 * net/jwt.h's jwt_sign (library wb_auth: the JWT code alone, no server).
 *
 *   wbctl token (--secret-file F | --secret-env VAR) --user ID [--name N]
 *               [--board ID --role viewer|editor|owner]...
 *               [--all-boards ROLE] [--ttl SECONDS]
 *
 * The secret is the node's JWT_SECRET: from a file (one trailing newline,
 * "\n" or "\r\n", is dropped: files written by editors and `echo` end in
 * one) or an environment variable; it must be at least CFG_JWT_SECRET_MIN
 * (32) bytes, as the node requires. The token goes alone on the last line
 * of stdout; a summary of its claims goes to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt.h"
#include "wb_error.h"
#include "wbctl.h"
#include "wbctl_data.h"
#include "wbctl_http.h"

#define TOKEN_SECRET_MIN 32         /* = CFG_JWT_SECRET_MIN of net/config.h */
#define TOKEN_SECRET_MAX 4096
#define TOKEN_TTL_DEFAULT 3600
#define TOKEN_TTL_MAX (366LL * 86400) /* a year: long enough for automation */

static const char token_usage[] =
    "wbctl token (--secret-file F | --secret-env VAR) --user ID [--name N] "
    "[--board ID --role ROLE]... [--all-boards ROLE] [--ttl SECONDS]";
static const char token_help[] =
    "Mints an HS256 JWT that whiteboardd accepts, signed with its\n"
    "JWT_SECRET (read from file F, one trailing newline dropped, or from\n"
    "environment variable VAR; at least 32 bytes). Claims: sub = ID, name,\n"
    "per-board roles (--board ID --role ROLE, repeatable, in pairs), a role\n"
    "on every board (--all-boards ROLE), iat = now, exp = now + SECONDS\n"
    "(default 3600, at most 31622400). ROLE: viewer, editor or owner.\n"
    "The token is printed alone on the last line of stdout; a summary of\n"
    "the claims goes to stderr. Exit 0 ok, 1 failure (secret unreadable or\n"
    "too short), 2 usage error.\n";

typedef struct token_opts {
    const char *secret_file, *secret_env;
    jwt_claims c;
    const char *pending_board; /* --board waiting for its --role */
    long long ttl;
} token_opts;

static int usage(const char *fmt, const char *arg)
{
    return wbctl_usage_error("token", token_usage, fmt, arg);
}

static int add_board_role(token_opts *o, const char *role)
{
    enum jwt_role r = jwt_role_parse(role);
    if (r == JWT_ROLE_NONE)
        return usage("bad role '%s' (viewer, editor or owner)", role);
    if (!o->pending_board)
        return usage("--role '%s' without a --board before it", role);
    if (o->c.nboards == JWT_MAX_BOARDS)
        return usage("too many boards (at most 32): '%s'", o->pending_board);
    size_t n = strlen(o->pending_board);
    if (n == 0 || n > JWT_BOARD_ID_MAX)
        return usage("bad board id '%s'", o->pending_board);
    jwt_board_role *b = &o->c.boards[o->c.nboards++];
    memcpy(b->id, o->pending_board, n + 1);
    b->role = r;
    o->pending_board = NULL;
    return -1;
}

static int parse(int argc, char **argv, token_opts *o)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {"secret-file", required_argument, NULL, 'f'},
        {"secret-env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"name", required_argument, NULL, 'n'},
        {"board", required_argument, NULL, 'b'},
        {"role", required_argument, NULL, 'r'},
        {"all-boards", required_argument, NULL, 'a'},
        {"ttl", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->ttl = TOKEN_TTL_DEFAULT;
    opterr = 0;
    optind = 0;
    int ch, rc;
    unsigned long long v;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'h':
            printf("usage: %s\n%s", token_usage, token_help);
            return WBCTL_OK;
        case 'f': o->secret_file = optarg; break;
        case 'e': o->secret_env = optarg; break;
        case 'u':
            if (!*optarg || strlen(optarg) > JWT_SUB_MAX)
                return usage("bad --user '%s'", optarg);
            strcpy(o->c.sub, optarg);
            break;
        case 'n':
            if (strlen(optarg) > JWT_NAME_MAX)
                return usage("--name too long: '%s'", optarg);
            strcpy(o->c.name, optarg);
            break;
        case 'b':
            if (o->pending_board)
                return usage("--board '%s' has no --role", o->pending_board);
            o->pending_board = optarg;
            break;
        case 'r':
            if ((rc = add_board_role(o, optarg)) >= 0)
                return rc;
            break;
        case 'a':
            if ((o->c.role = jwt_role_parse(optarg)) == JWT_ROLE_NONE)
                return usage("bad --all-boards role '%s'", optarg);
            break;
        case 't':
            if (wbctl_parse_u64(optarg, &v) != 0 || v == 0 ||
                v > (unsigned long long)TOKEN_TTL_MAX)
                return usage("bad --ttl '%s' (1..31622400 seconds)", optarg);
            o->ttl = (long long)v;
            break;
        default:
            return usage("unknown or invalid option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return usage("unexpected argument '%s'", argv[optind]);
    if (o->pending_board)
        return usage("--board '%s' has no --role", o->pending_board);
    if (!o->c.sub[0])
        return usage("--user is required%s", "");
    if (!o->secret_file == !o->secret_env)
        return usage("give exactly one of --secret-file and --secret-env%s", "");
    return -1;
}

/* Reads the secret (from secret_env if set, else secret_file) into buf
 * (cap bytes); its length, or -1 (printed for cmd). */
static long read_secret(const char *cmd, const char *secret_file,
                        const char *secret_env, char *buf, size_t cap)
{
    size_t n;
    if (secret_env) {
        const char *s = getenv(secret_env);
        if (!s) {
            fprintf(stderr, "wbctl %s: environment variable %s is not "
                            "set\n", cmd, secret_env);
            return -1;
        }
        n = strlen(s);
        if (n < cap)
            memcpy(buf, s, n);
        else
            n = cap; /* too long: refused below */
    } else {
        FILE *f = fopen(secret_file, "rb");
        if (!f) {
            fprintf(stderr, "wbctl %s: %s: %s\n", cmd, secret_file,
                    strerror(errno));
            return -1;
        }
        n = fread(buf, 1, cap, f);
        fclose(f);
        if (n && buf[n - 1] == '\n')
            n--;
        if (n && buf[n - 1] == '\r')
            n--;
    }
    if (n >= cap) {
        fprintf(stderr, "wbctl %s: secret too long (over %zu bytes)\n", cmd,
                cap - 1);
        return -1;
    }
    if (n < TOKEN_SECRET_MIN) {
        fprintf(stderr, "wbctl %s: secret too short (%zu bytes, the node "
                        "requires at least %d)\n", cmd, n, TOKEN_SECRET_MIN);
        return -1;
    }
    return (long)n;
}

int wbctl_cmd_token(int argc, char **argv)
{
    token_opts *o = calloc(1, sizeof *o);
    char *secret = malloc(TOKEN_SECRET_MAX + 1);
    int rc = o && secret ? parse(argc, argv, o) : WBCTL_FAIL;
    long n = rc < 0 ? read_secret("token", o->secret_file, o->secret_env,
                                  secret, TOKEN_SECRET_MAX + 1)
                    : -1;
    if (rc < 0 && n < 0)
        rc = WBCTL_FAIL;
    if (rc < 0) {
        o->c.iat = (int64_t)time(NULL);
        o->c.exp = o->c.iat + o->ttl;
        jwt_keys keys = {secret, (size_t)n, NULL, 0};
        char *tok = NULL;
        int jrc = jwt_sign(&o->c, &keys, &tok);
        if (jrc) {
            fprintf(stderr, "wbctl token: %s\n", wb_strerror(jrc));
            rc = WBCTL_FAIL;
        } else {
            char when[64];
            wbctl_format_time(o->c.exp * 1000000, when, sizeof when);
            fprintf(stderr, "token for user %s: role on every board %s, %zu "
                            "board role(s), expires %s\n",
                    o->c.sub, jwt_role_name(o->c.role), o->c.nboards, when);
            printf("%s\n", tok);
            rc = fflush(stdout) == 0 ? WBCTL_OK : WBCTL_FAIL;
        }
        free(tok);
    }
    if (secret)
        memset(secret, 0, TOKEN_SECRET_MAX + 1);
    free(secret);
    free(o);
    return rc;
}

int wbctl_token_mint(const char *cmd, const char *secret_file,
                     const char *secret_env, const jwt_claims *c, char **out)
{
    *out = NULL;
    char *secret = malloc(TOKEN_SECRET_MAX + 1);
    long n = secret ? read_secret(cmd, secret_file, secret_env, secret,
                                  TOKEN_SECRET_MAX + 1)
                    : -1;
    int rc = -1;
    if (n >= 0) {
        jwt_keys keys = {secret, (size_t)n, NULL, 0};
        int jrc = jwt_sign(c, &keys, out);
        if (jrc)
            fprintf(stderr, "wbctl %s: signing a token: %s\n", cmd,
                    wb_strerror(jrc));
        rc = jrc ? -1 : 0;
    }
    if (secret)
        memset(secret, 0, TOKEN_SECRET_MAX + 1);
    free(secret);
    return rc;
}
