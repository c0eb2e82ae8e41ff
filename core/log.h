/* log.h - structured log lines on stderr (prefix log_).
 *
 * One line per event in logfmt: ts=... level=... pid=... msg="..." key=value ...
 * Values are quoted and escaped when needed, so a line is always one line.
 * Never pass secrets (passwords, session or API tokens) to these functions. */
#ifndef PORTAL_LOG_H
#define PORTAL_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERR };

void log_set_level(enum log_level lv);
/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int log_level_parse(const char *s);
/* msg is a short fixed phrase; kv is a printf format for the rest
 * ("user=%s n=%d"), may be NULL. Control characters in the formatted result
 * are written as \xNN so a line is always one line; a value that may hold
 * spaces or quotes should be passed through log_quote() first. */
void log_msg(enum log_level lv, const char *msg, const char *kv, ...) __attribute__((format(printf, 3, 4)));
#define log_info(msg, ...) log_msg(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_msg(LOG_WARN, msg, __VA_ARGS__)
#define log_err(msg, ...) log_msg(LOG_ERR, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_msg(LOG_DEBUG, msg, __VA_ARGS__)
/* Quote a value for logfmt into out (size n): "..." with \" and \\ escaped,
 * truncated to fit. Returns out. */
char *log_quote(char *out, unsigned long n, const char *v);
/* The per-request access line: method, path, status, bytes, ms. */
void log_request(const char *method, const char *path, int status, unsigned long bytes, double ms);

#endif
