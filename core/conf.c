/* conf.c - the one table of configuration keys, their defaults and docs.
 *
 * conf/portal.conf is this table printed by `portald config defaults`;
 * tests/unit/check-conf.sh fails when the two drift apart. */
#include "conf.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum conf_type { CT_STR, CT_INT, CT_SIZE, CT_OCTAL, CT_BOOL };

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t off;
	const char *def;          /* default, as written in the file */
	long long min, max;       /* for numbers */
	int secret;               /* masked by conf_dump */
	const char *section;      /* printed as a heading when it changes */
	const char *doc;          /* one or more comment lines */
};

#define K(n, t, d, lo, hi, sec, s, doc) {#n, t, offsetof(conf, n), d, lo, hi, sec, s, doc}

static const struct conf_key conf_keys[] = {
	K(listen, CT_STR, "/run/portal/portald.sock", 0, 0, 0, "server",
	  "Unix socket portald listens on; nginx's fastcgi_pass points here."),
	K(socket_mode, CT_OCTAL, "0660", 0, 0777, 0, "server",
	  "Permissions of the socket, in octal. nginx's user must be able to connect."),
	K(socket_group, CT_STR, "", 0, 0, 0, "server",
	  "Group given to the socket (e.g. www-data); empty keeps the process's group."),
	K(workers, CT_INT, "8", 1, 256, 0, "server",
	  "Worker processes. Each has one database connection and serves one request at a time, and spends most of a registration waiting for the database, so more workers than cores keep the cores busy: 8 measured 13% more registrations than 4 on 2 cores (docs/benchmarks.md); about 4 per core."),
	K(backlog, CT_INT, "1024", 1, 65535, 0, "server",
	  "Listen backlog of the socket: requests queued while every worker is busy (a burst of registrations when an outreach day opens; nginx answers 502 past it). The kernel caps it at net.core.somaxconn."),
	K(shutdown_timeout, CT_INT, "20", 1, 3600, 0, "server",
	  "Seconds a worker may take to finish its request on stop or reload before it is killed."),
	K(reload_check_ms, CT_INT, "1000", 0, 600000, 0, "server",
	  "Milliseconds between the master's checks of the plugin generation in the database: a reload asked for on any node (the admin page, plugin enable/disable) reaches every node's workers this way. 0: only SIGHUP reloads."),
	K(pid_file, CT_STR, "", 0, 0, 0, "server",
	  "File the master writes its pid to; empty for none."),
	K(log_level, CT_STR, "info", 0, 0, 0, "server",
	  "Least severe level logged: debug, info, warn or error. Logs go to stderr."),
	K(max_body, CT_SIZE, "1048576", 0, 1LL << 30, 0, "requests",
	  "Largest request body in bytes; past it the answer is 413."),
	K(max_fields, CT_SIZE, "1000", 1, 1000000, 0, "requests",
	  "Most fields in one form or query string; past it the answer is 400."),
	K(max_field_len, CT_SIZE, "65536", 1, 1LL << 30, 0, "requests",
	  "Longest single field value in bytes (file parts of multipart bodies included)."),
	K(max_cookie, CT_SIZE, "8192", 1, 1 << 20, 0, "requests",
	  "Longest Cookie header in bytes; past it the answer is 400."),
	K(db_socket, CT_STR, "/run/mysqld/mysqld.sock", 0, 0, 0, "database",
	  "MariaDB unix socket. Empty to connect over TCP to db_host:db_port instead."),
	K(db_host, CT_STR, "127.0.0.1", 0, 0, 0, "database", "MariaDB host when db_socket is empty."),
	K(db_port, CT_INT, "3306", 1, 65535, 0, "database", "MariaDB port when db_socket is empty."),
	K(db_failover, CT_STR, "", 0, 0, 0, "database",
	  "Other MariaDB servers of the same Galera cluster, as host:port (or a socket path) separated by commas, tried in order when the server above cannot be reached or is outside the primary component (error 1047, or wsrep_ready OFF at connect). A worker that failed over tries the first server again every 30 seconds. Empty: none (one server)."),
	K(db_sync_wait, CT_INT, "0", 0, 15, 0, "database",
	  "Galera only: wsrep_sync_wait of each session. 1 makes every read wait until the node has applied what the cluster committed before it (read-your-writes when the next request lands on another node); 0 reads what the node has. Ignored by a server that does not run Galera."),
	K(db_name, CT_STR, "portal", 0, 0, 0, "database", "Database (schema) name."),
	K(db_user, CT_STR, "portal", 0, 0, 0, "database",
	  "Database user. Give it rights on db_name only (see README)."),
	K(db_password, CT_STR, "", 0, 0, 1, "database",
	  "Database password. Keep it in a site file readable by portald only, or set PORTAL_DB_PASSWORD."),
	K(migrate_user, CT_STR, "", 0, 0, 0, "database",
	  "User that `portald migrate` connects as (needs CREATE, ALTER, INDEX, DROP, TRIGGER, REFERENCES on db_name). Empty: db_user. Keeping DDL rights away from db_user is what makes the audit log append-only for the running portal."),
	K(migrate_password, CT_STR, "", 0, 0, 1, "database",
	  "Password of migrate_user, or set PORTAL_MIGRATE_PASSWORD."),
	K(db_connect_timeout, CT_INT, "5", 1, 600, 0, "database", "Seconds to wait for a connection."),
	K(db_read_timeout, CT_INT, "30", 1, 3600, 0, "database", "Seconds to wait for a query's answer."),
	K(db_write_timeout, CT_INT, "30", 1, 3600, 0, "database", "Seconds to wait when sending a query."),
	K(db_tx_retries, CT_INT, "3", 0, 100, 0, "database",
	  "Times a transaction is rerun after a deadlock, a Galera certification failure or a lost connection."),
	K(template_dir, CT_STR, PORTAL_DATADIR "/templates", 0, 0, 0, "files", "HTML templates of the core pages."),
	K(migration_dir, CT_STR, PORTAL_DATADIR "/migrations", 0, 0, 0, "files", "SQL migrations of the core schema."),
	K(plugin_dir, CT_STR, PORTAL_DATADIR "/plugins", 0, 0, 0, "files", "Folder of Lua plugins, one folder each."),
	K(plugin_cpu_ms, CT_INT, "500", 10, 60000, 0, "plugins",
	  "CPU budget in milliseconds of one plugin call (loading, a route, a hook, a job); past it the call is stopped."),
	K(plugin_post_limit, CT_INT, "30", 0, 100000, 0, "plugins",
	  "Submissions per minute from one client address to one plugin's public pages and APIs (POST, PUT, PATCH, DELETE without a role); 0 for no limit. Off with rate_limits = off."),
	K(plugin_mem_mb, CT_INT, "32", 1, 4096, 0, "plugins",
	  "Memory cap in MiB of one plugin's Lua state in one worker; a plugin that keeps hitting it is switched off."),
	K(public_cache_ms, CT_INT, "1000", 0, 60000, 0, "site",
	  "Milliseconds each worker may reuse a public page that is the same for everyone (the event list and its JSON); 0 turns it off. Registering is always decided in the database."),
	K(event_cache_ms, CT_INT, "2000", 0, 60000, 0, "site",
	  "Milliseconds each worker may keep what registering reads of a published event (kind, slots, title); checked against the event's revision in the registering transaction, so a staff change is never missed. 0 reads it every time."),
	K(site_name, CT_STR, "社区服务平台", 0, 0, 0, "site",
	  "Name shown in page titles and headers, e.g. the community office's name."),
	K(base_url, CT_STR, "", 0, 0, 0, "site",
	  "Public address of the site (https://...), used in links sent by message. Empty: taken from the request."),
	K(rate_limits, CT_BOOL, "on", 0, 0, 0, "site",
	  "Rate limits on registration and lookup: on or off (off only for benchmarks). Login limits below always apply."),
	K(register_limit_per_hour, CT_INT, "20", 1, 1000000, 0, "site",
	  "Event registrations (page and API) from one client address per hour; past it 429. Counted in the database, so every worker sees it. Off with rate_limits = off. A community office behind one public address may need more."),
	K(lookup_limit_per_hour, CT_INT, "30", 1, 1000000, 0, "site",
	  "Registration look-ups and cancellations by code and phone from one client address per hour (right or wrong, so codes cannot be guessed); past it 429. Off with rate_limits = off."),
	K(session_idle_minutes, CT_INT, "60", 5, 1440, 0, "accounts",
	  "Minutes without a request after which a staff session ends (checked to the minute)."),
	K(session_max_hours, CT_INT, "12", 1, 720, 0, "accounts",
	  "Hours after login at which a session ends however active it is: one working day."),
	K(login_window_minutes, CT_INT, "15", 1, 1440, 0, "accounts",
	  "Window over which wrong passwords are counted, in minutes (shared by all workers, kept in the database)."),
	K(login_max_failures, CT_INT, "10", 1, 1000, 0, "accounts",
	  "Wrong passwords for one account from one client within the window: one address, or one browser the account signed in on before. Past them that client gets 429 for the account, the right password too, until the window moves on; other clients are not held (docs/accounts.md)."),
	K(login_max_failures_addr, CT_INT, "30", 1, 100000, 0, "accounts",
	  "Wrong passwords from one client address within the window, any account. Higher than the per-account limit because an office's staff often share one public address."),
	K(login_max_failures_account, CT_INT, "30", 1, 100000, 0, "accounts",
	  "Wrong passwords for one account within the window from all the clients it does not know, together (many addresses at once). Past them only browsers the account signed in on within login_device_days may try it."),
	K(login_device_days, CT_INT, "90", 1, 3650, 0, "accounts",
	  "Days a browser stays known to an account after signing in on it (the portal_device cookie): such a browser is never held by other clients' wrong passwords."),
};
#define NKEYS (sizeof conf_keys / sizeof conf_keys[0])

static const struct conf_key *conf_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(conf_keys[i].name, name) == 0)
			return &conf_keys[i];
	return NULL;
}

/* Store value v for key k in c. 0, or -1 with a reason in why. */
static int conf_set(conf *c, const struct conf_key *k, const char *v, const char **why)
{
	char *p = (char *)c + k->off;
	char *end;
	long long n;
	switch (k->type) {
	case CT_STR: {
		char **sp = (char **)(void *)p;
		char *dup = strdup(v);
		if (!dup) {
			*why = "out of memory";
			return -1;
		}
		free(*sp);
		*sp = dup;
		return 0;
	}
	case CT_BOOL:
		if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
			*(int *)(void *)p = 1;
		else if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
			*(int *)(void *)p = 0;
		else {
			*why = "expected on or off";
			return -1;
		}
		return 0;
	case CT_INT:
	case CT_SIZE:
	case CT_OCTAL:
		errno = 0;
		n = strtoll(v, &end, k->type == CT_OCTAL ? 8 : 10);
		if (errno || end == v || *end || (k->type != CT_OCTAL && *v == '-')) {
			*why = k->type == CT_OCTAL ? "expected an octal number" : "expected a whole number";
			return -1;
		}
		if (n < k->min || n > k->max) {
			*why = "out of range";
			return -1;
		}
		if (k->type == CT_SIZE)
			*(size_t *)(void *)p = (size_t)n;
		else
			*(int *)(void *)p = (int)n;
		return 0;
	}
	return -1;
}

void conf_defaults(conf *c)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NKEYS; i++) {
		const char *why = NULL;
		if (conf_set(c, &conf_keys[i], conf_keys[i].def, &why) != 0)
			abort();   /* a bad default is a programming error */
	}
}

static char *conf_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

int conf_load(conf *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		char *s = conf_trim(line);
		if (*s == 0 || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
			rc = -1;
			break;
		}
		*eq = 0;
		char *key = conf_trim(s), *val = conf_trim(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = 0;
			val++;
		}
		const struct conf_key *k = conf_find(key);
		const char *why = NULL;
		if (!k) {
			snprintf(err, errlen, "%s:%d: unknown key \"%s\"", path, lineno, key);
			rc = -1;
			break;
		}
		if (conf_set(c, k, val, &why) != 0) {
			snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int conf_env(conf *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char name[64] = "PORTAL_";
		size_t o = strlen(name);
		for (const char *p = conf_keys[i].name; *p && o < sizeof name - 1; p++)
			name[o++] = (char)toupper((unsigned char)*p);
		name[o] = 0;
		const char *v = getenv(name);
		const char *why = NULL;
		if (v && conf_set(c, &conf_keys[i], v, &why) != 0) {
			snprintf(err, errlen, "environment %s: %s", name, why);
			return -1;
		}
	}
	return 0;
}

void conf_write_defaults(FILE *f)
{
	const char *section = NULL;
	fputs("# portal.conf - configuration of portald, the community portal's FastCGI server.\n"
	      "#\n"
	      "# Every key, its default and what it does. Generated by `portald config defaults`\n"
	      "# from the table in core/conf.c; a test keeps the two in step.\n"
	      "# Format: key = value; later lines and later -c files win; PORTAL_<KEY> in the\n"
	      "# environment overrides both. Put site settings in a second file rather than\n"
	      "# editing this one: portald -c portal.conf -c site.conf\n", f);
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		if (!section || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "\n# --- %s\n", section);
		}
		fprintf(f, "\n# %s\n%s =%s%s\n", k->doc, k->name, *k->def ? " " : "", k->def);
	}
}

void conf_dump(const conf *c, FILE *f)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *p = (const char *)c + k->off;
		switch (k->type) {
		case CT_STR: {
			const char *s = *(char *const *)(const void *)p;
			fprintf(f, "%s = %s\n", k->name, k->secret && s && *s ? "********" : (s ? s : ""));
			break;
		}
		case CT_BOOL:
			fprintf(f, "%s = %s\n", k->name, *(const int *)(const void *)p ? "on" : "off");
			break;
		case CT_OCTAL:
			fprintf(f, "%s = 0%o\n", k->name, (unsigned)*(const int *)(const void *)p);
			break;
		case CT_INT:
			fprintf(f, "%s = %d\n", k->name, *(const int *)(const void *)p);
			break;
		case CT_SIZE:
			fprintf(f, "%s = %zu\n", k->name, *(const size_t *)(const void *)p);
			break;
		}
	}
}

void conf_free(conf *c)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (conf_keys[i].type == CT_STR) {
			char **sp = (char **)(void *)((char *)c + conf_keys[i].off);
			free(*sp);
			*sp = NULL;
		}
}
