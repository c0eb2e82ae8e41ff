/* main.c - portald's command line. Everything else lives in libcore.a. */
#include "config.h"
#include "conf.h"
#include "db.h"
#include "handlers.h"
#include "lease.h"
#include "log.h"
#include "migrate.h"
#include "outbox.h"
#include "plugin.h"
#include "server.h"
#include "tmpl.h"
#include <mysql.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXCONF 8

static const char usage[] =
	"usage: portald [-c FILE]... COMMAND\n"
	"\n"
	"  serve               run the FastCGI server (master + workers) in the foreground\n"
	"  migrate             apply pending database migrations\n"
	"  migrate status      show applied and pending migrations, change nothing\n"
	"  check               check configuration, templates and the database connection\n"
	"  user add NAME --role R [--role R2]... [--display-name X] [--grid G]\n"
	"                      create a staff account; the password is the first line of stdin\n"
	"                      (roles: admin, staff, grid, volunteer, approver)\n"
	"  user passwd NAME    set a new password (first line of stdin); ends the user's sessions\n"
	"  user disable NAME   disable an account: its sessions and tokens stop at once\n"
	"  user enable NAME    enable it again\n"
	"  user list           list the accounts\n"
	"  token create USER [--role R] [--expires DAYS] [--name N]\n"
	"                      make an API token; stdout is the token alone (shown once)\n"
	"  token revoke ID     revoke an API token\n"
	"  token list [USER]   list API tokens (never their values)\n"
	"  plugin list         list plugins with their status\n"
	"  plugin new ID       scaffold a working plugin with a test in plugin_dir\n"
	"  plugin test DIR...  run plugins' tests in the sandbox against throwaway tables\n"
	"  jobs run daily|hourly [--force]\n"
	"                      run the scheduled jobs of that kind: once per period (day or hour)\n"
	"                      across every machine; --force runs them again in the same period\n"
	"  config defaults     print the documented default configuration\n"
	"  config dump         print the effective configuration (secrets masked)\n"
	"  version             print the version\n"
	"\n"
	"  -c FILE   configuration file; may be repeated, later files win\n"
	"            (default: " PORTAL_SYSCONFDIR "/portal.conf, then site.conf beside it, if they exist)\n"
	"Environment PORTAL_<KEY> overrides any key, e.g. PORTAL_WORKERS=2.\n";

static int cmd_migrate(conf *cf, int status_only)
{
	char err[1024];
	/* an ALTER of a big table may take minutes: do not mistake it for a
	 * lost connection (and re-send it) */
	cf->db_read_timeout = cf->db_write_timeout = 3600;
	if (cf->migrate_user && *cf->migrate_user) {
		free(cf->db_user);
		free(cf->db_password);
		cf->db_user = strdup(cf->migrate_user);
		cf->db_password = strdup(cf->migrate_password ? cf->migrate_password : "");
	}
	db *d = db_open(cf, err, sizeof err);
	if (!d) {
		fprintf(stderr, "portald: database: %s\n", err);
		return 1;
	}
	mig_status st;
	int rc = status_only ? mig_pending(d, "core", cf->migration_dir, &st, err, sizeof err)
	                     : mig_run(d, "core", cf->migration_dir, stdout, &st, err, sizeof err);
	/* then every plugin's own migrations, on its own prefixed tables */
	if (rc == 0 && !status_only)
		rc = plug_migrate(cf, d, stdout, err, sizeof err);
	db_close(d);
	if (rc != 0) {
		fprintf(stderr, "portald: migrate: %s\n", err);
		return 1;
	}
	printf("core: %d applied now, %d pending, %d in total\n", status_only ? 0 : st.applied, st.pending,
	       st.total);
	return status_only && st.pending ? 2 : 0;
}

/* Run the jobs of one schedule (cron or a systemd timer on each app machine
 * calls this): the core's, then the plugins' and their hooks. A lease row and
 * the record of the period's run (lease.h) make it run once per period
 * across every machine, never two at a time; force runs it again. */
static int cmd_jobs(conf *cf, const char *every, int force)
{
	if (strcmp(every, "daily") && strcmp(every, "hourly")) {
		fprintf(stderr, "portald jobs run: daily or hourly\n");
		return 2;
	}
	char err[1024];
	db *d = db_open(cf, err, sizeof err);
	if (!d) {
		fprintf(stderr, "portald: database: %s\n", err);
		return 1;
	}
	arena *a = ar_new(1024);
	lease_run run;
	char msg[512];
	int go = lease_run_begin(d, &run, every, force, msg, sizeof msg);
	int rc = go < 0 ? 1 : 0;
	if (go <= 0)
		fprintf(stderr, "portald jobs run: %s\n", msg);
	else {
		/* the core's own jobs first: reminders, outbox, no-shows, retention */
		rc = outbox_jobs(d, a, every) == 0 ? 0 : 1;
		lease_run_renew(d, &run);
		plug_set *s = plug_load(cf, d, 0, err, sizeof err);
		if (plug_run_jobs(s, every) != 0)
			rc = 1;
		lease_run_renew(d, &run);
		/* the "daily" and "hourly" hooks run with the jobs of that schedule */
		if (plug_hook(s, NULL, every, NULL, NULL) != 0)
			rc = 1;
		plug_free(s);
		lease_run_end(d, &run, rc == 0);
	}
	ar_free(a);
	db_close(d);
	return rc;
}

static int cmd_check(conf *cf)
{
	char err[1024];
	int bad = 0;
	tpl_set *t = tpl_new();
	int n = tpl_load_dir(t, cf->template_dir, err, sizeof err);
	if (n < 0) {
		fprintf(stderr, "templates: %s\n", err);
		bad = 1;
	} else
		printf("templates: %d loaded from %s\n", n, cf->template_dir);
	tpl_free(t);
	db *d = db_open(cf, err, sizeof err);
	if (!d) {
		fprintf(stderr, "database: %s\n", err);
		bad = 1;
	} else {
		mig_status st;
		if (mig_pending(d, "core", cf->migration_dir, &st, err, sizeof err) != 0) {
			fprintf(stderr, "migrations: %s\n", err);
			bad = 1;
		} else {
			printf("database: ok, %d migrations pending\n", st.pending);
			bad |= st.pending > 0;
		}
		db_close(d);
	}
	return bad;
}

int main(int argc, char **argv)
{
	const char *paths[MAXCONF];
	int npaths = 0, opt;
	while ((opt = getopt(argc, argv, "+c:hV")) != -1) {
		switch (opt) {
		case 'c':
			if (npaths == MAXCONF) {
				fprintf(stderr, "portald: at most %d -c files\n", MAXCONF);
				return 2;
			}
			paths[npaths++] = optarg;
			break;
		case 'V':
			puts(PACKAGE_STRING);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : "serve";
	const char *sub = optind + 1 < argc ? argv[optind + 1] : NULL;

	if (strcmp(cmd, "version") == 0) {
		puts(PACKAGE_STRING);
		return 0;
	}
	if (strcmp(cmd, "config") == 0 && sub && strcmp(sub, "defaults") == 0) {
		conf_write_defaults(stdout);
		return 0;
	}

	conf cf;
	char err[1024];
	conf_defaults(&cf);
	/* no -c: the installed defaults, then the site's own file (portal-server
	 * setup writes it; readable by root and the portal group) */
	if (npaths == 0 && access(PORTAL_SYSCONFDIR "/portal.conf", R_OK) == 0) {
		paths[npaths++] = PORTAL_SYSCONFDIR "/portal.conf";
		if (access(PORTAL_SYSCONFDIR "/site.conf", R_OK) == 0)
			paths[npaths++] = PORTAL_SYSCONFDIR "/site.conf";
	}
	for (int i = 0; i < npaths; i++)
		if (conf_load(&cf, paths[i], err, sizeof err) != 0) {
			fprintf(stderr, "portald: %s\n", err);
			return 2;
		}
	if (conf_env(&cf, err, sizeof err) != 0) {
		fprintf(stderr, "portald: %s\n", err);
		return 2;
	}
	int lv = log_level_parse(cf.log_level);
	if (lv < 0) {
		fprintf(stderr, "portald: log_level: expected debug, info, warn or error\n");
		return 2;
	}
	log_set_level((enum log_level)lv);

	/* once, before any fork: Connector/C and libsodium global set-up */
	if (mysql_library_init(0, NULL, NULL) != 0 || sodium_init() < 0) {
		fprintf(stderr, "portald: library initialisation failed\n");
		return 1;
	}
	int rc;
	if (strcmp(cmd, "serve") == 0)
		rc = srv_run(&cf, paths, npaths);
	else if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&cf, sub && strcmp(sub, "status") == 0);
	else if (strcmp(cmd, "check") == 0)
		rc = cmd_check(&cf);
	else if (strcmp(cmd, "user") == 0)
		rc = h_cmd_user(&cf, argc - optind, argv + optind);
	else if (strcmp(cmd, "token") == 0)
		rc = h_cmd_token(&cf, argc - optind, argv + optind);
	else if (strcmp(cmd, "plugin") == 0)
		rc = plug_cmd(&cf, argc - optind, argv + optind);
	else if (strcmp(cmd, "jobs") == 0 && sub && strcmp(sub, "run") == 0 && optind + 2 < argc &&
	         (optind + 3 == argc || (optind + 4 == argc && strcmp(argv[optind + 3], "--force") == 0)))
		rc = cmd_jobs(&cf, argv[optind + 2], optind + 4 == argc);
	else if (strcmp(cmd, "config") == 0 && sub && strcmp(sub, "dump") == 0) {
		conf_dump(&cf, stdout);
		rc = 0;
	} else {
		fprintf(stderr, "portald: unknown command \"%s\"\n\n%s", cmd, usage);
		rc = 2;
	}
	conf_free(&cf);
	mysql_library_end();
	return rc;
}
