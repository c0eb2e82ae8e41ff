/* conf.h - configuration (prefix conf_).
 *
 * Every key lives in one table in conf.c with its type, default and the line
 * of documentation that conf/portal.conf carries; `portald config defaults`
 * prints that file from the table and a test checks the two agree.
 * File format: "key = value" lines, '#' comments, later lines win, so a
 * site file may be layered on top of the shipped one (-c may be repeated).
 * The environment variable PORTAL_<KEY> (upper case) overrides a file. */
#ifndef PORTAL_CONF_H
#define PORTAL_CONF_H
#include <stddef.h>
#include <stdio.h>

typedef struct conf {
	/* server */
	char *listen;            /* unix socket path for nginx */
	int socket_mode;         /* octal, e.g. 0660 */
	char *socket_group;      /* group owning the socket ("" = unchanged) */
	int workers;
	int backlog;
	int shutdown_timeout;    /* seconds a worker may take to finish on stop/reload */
	char *pid_file;
	char *log_level;
	/* requests */
	size_t max_body;         /* bytes; 413 past it */
	size_t max_fields;       /* form fields per request */
	size_t max_field_len;    /* bytes of one field value */
	size_t max_cookie;       /* bytes of the Cookie header */
	/* database */
	char *db_socket;         /* unix socket; empty = TCP to db_host:db_port */
	char *db_host;
	int db_port;
	char *db_failover;       /* "host:port,..." of other Galera nodes, tried in order */
	int db_sync_wait;        /* wsrep_sync_wait of each session (Galera only) */
	int reload_check_ms;     /* master's poll of the plugin generation; 0 = off */
	char *db_name;
	char *db_user;
	char *db_password;
	char *migrate_user;      /* DDL rights for `portald migrate`; "" = db_user */
	char *migrate_password;
	int db_connect_timeout;  /* seconds */
	int db_read_timeout;
	int db_write_timeout;
	int db_tx_retries;       /* deadlock / Galera certification retries */
	/* files */
	char *template_dir;
	char *migration_dir;
	char *plugin_dir;
	/* plugins */
	int plugin_cpu_ms;
	int plugin_mem_mb;
	int plugin_post_limit;   /* per address per plugin per minute */
	/* site */
	int public_cache_ms;     /* per-worker micro-cache of public pages */
	int event_cache_ms;      /* per-worker cache of published events for registering */
	char *site_name;
	char *base_url;
	int rate_limits;         /* 1 = on (registration, lookup; login limits always apply) */
	int register_limit_per_hour; /* event registrations per client address per hour */
	int lookup_limit_per_hour;   /* registration lookups/cancels per client address per hour */
	/* accounts */
	int session_idle_minutes;
	int session_max_hours;
	int login_window_minutes;
	int login_max_failures;      /* per account from one client (address, or known device) */
	int login_max_failures_addr; /* per client address */
	int login_max_failures_account; /* per account from clients it does not know */
	int login_device_days;       /* a browser stays known this long after a login */
} conf;

/* Fill c with every default. */
void conf_defaults(conf *c);
/* Read one file on top of c. Returns 0, or -1 with a message naming the file,
 * line and problem in err. Unknown keys and bad values are errors. */
int conf_load(conf *c, const char *path, char *err, size_t errlen);
/* Apply PORTAL_<KEY> environment overrides. Same return convention. */
int conf_env(conf *c, char *err, size_t errlen);
/* Write the documented default file (the text of conf/portal.conf). */
void conf_write_defaults(FILE *f);
/* Write the effective configuration, secrets masked. */
void conf_dump(const conf *c, FILE *f);
/* Release strings owned by c. */
void conf_free(conf *c);

#endif
