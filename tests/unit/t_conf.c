/* t_conf.c - configuration: defaults, files, layering, errors, environment. */
#include "conf.h"
#include "tap.h"
#include <stdlib.h>
#include <unistd.h>

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/t_conf.XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

int main(void)
{
	conf c;
	char err[256];
	conf_defaults(&c);
	is_int(c.workers, 8, "default workers");
	is_int(c.socket_mode, 0660, "default socket mode is octal 0660");
	is_int((long long)c.max_body, 1048576, "default max_body");
	is_int(c.rate_limits, 1, "rate limits on by default");
	is_str(c.db_name, "portal", "default db_name");

	char *p = write_tmp("# comment\n\nworkers = 2\nsocket_mode = 0600\n db_name = \"x y\" \nrate_limits = off\n");
	is_int(conf_load(&c, p, err, sizeof err), 0, "a valid file loads");
	is_int(c.workers, 2, "value read");
	is_int(c.socket_mode, 0600, "octal value read");
	is_str(c.db_name, "x y", "quotes removed, spaces kept inside");
	is_int(c.rate_limits, 0, "off read as 0");
	unlink(p);

	p = write_tmp("workers = 3\n");
	conf_load(&c, p, err, sizeof err);
	is_int(c.workers, 3, "a later file overrides an earlier one");
	unlink(p);

	p = write_tmp("workers = 2\nbogus = 1\n");
	is_int(conf_load(&c, p, err, sizeof err), -1, "unknown key is an error");
	ok(strstr(err, ":2:") && strstr(err, "bogus"), "error names line and key: %s", err);
	unlink(p);

	p = write_tmp("workers = many\n");
	is_int(conf_load(&c, p, err, sizeof err), -1, "non-number is an error");
	ok(strstr(err, "workers") != NULL, "error names the key: %s", err);
	unlink(p);

	p = write_tmp("workers = 0\n");
	is_int(conf_load(&c, p, err, sizeof err), -1, "out of range is an error");
	unlink(p);

	p = write_tmp("just text\n");
	is_int(conf_load(&c, p, err, sizeof err), -1, "a line without = is an error");
	unlink(p);

	is_int(conf_load(&c, "/nonexistent/portal.conf", err, sizeof err), -1, "missing file is an error");

	setenv("PORTAL_WORKERS", "7", 1);
	setenv("PORTAL_RATE_LIMITS", "on", 1);
	is_int(conf_env(&c, err, sizeof err), 0, "environment applies");
	is_int(c.workers, 7, "PORTAL_WORKERS overrides");
	is_int(c.rate_limits, 1, "PORTAL_RATE_LIMITS overrides");
	setenv("PORTAL_WORKERS", "-1", 1);
	is_int(conf_env(&c, err, sizeof err), -1, "bad environment value is an error");
	unsetenv("PORTAL_WORKERS");

	conf_free(&c);
	return tap_done();
}
