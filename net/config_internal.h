/*
 * config_internal.h: what the config files share (not public).
 *   config.c        the table, typed parsing, cfg_set, defaults
 *   config_check.c  shape checks of string settings
 *   config_load.c   env file, environment, flags, cross-field validation
 *   config_out.c    --help text and the redacted JSON line
 */
#ifndef WB_CONFIG_INTERNAL_H
#define WB_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

/* Row number of s in the table (index into cfg.source). */
size_t cfg_index(const cfg_setting *s);

/* snprintf into err (may be NULL). */
void cfg_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shape checks (cfg_setting.check): 0, or WB_EINVAL with why filled. */
int cfg_check_nonempty(const char *v, char *why, size_t whylen);
int cfg_check_listen(const char *v, char *why, size_t whylen);
int cfg_check_jwt_secret(const char *v, char *why, size_t whylen);
int cfg_check_redis_url(const char *v, char *why, size_t whylen);
int cfg_check_mongo_url(const char *v, char *why, size_t whylen);
int cfg_check_fsync(const char *v, char *why, size_t whylen);
int cfg_check_origins(const char *v, char *why, size_t whylen);

#endif /* WB_CONFIG_INTERNAL_H */
