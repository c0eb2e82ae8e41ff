/* hookbench.c - what one plugin hook call costs: loads a plugin folder (default
 * tests/plugins/bench) in the real sandbox and times N calls of its "checkin"
 * hook through plug_hook(), beside N calls of an empty C function pointer.
 * Run by scripts/portal bench; a benchmark, never a test.
 *   hookbench TEMPLATE_DIR PLUGIN_PARENT_DIR [N] */
#include "plugin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int noop(void *x)
{
	return x != NULL;
}
static int (*volatile noop_ptr)(void *) = noop;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hookbench TEMPLATE_DIR PLUGIN_PARENT_DIR [N]\n");
		return 2;
	}
	conf cf;
	conf_defaults(&cf);
	free(cf.template_dir);
	free(cf.plugin_dir);
	cf.template_dir = strdup(argv[1]);
	cf.plugin_dir = strdup(argv[2]);
	long n = argc > 3 ? atol(argv[3]) : 200000;
	char err[1024];
	plug_set *s = plug_load(&cf, NULL, 0, err, sizeof err);
	if (!s || !plug_find(s, "bench")) {
		fprintf(stderr, "hookbench: no plugin \"bench\" in %s\n", argv[2]);
		return 1;
	}
	json_t *payload = json_pack("{s:i, s:s}", "registration_id", 42, "code", "ABC234");
	for (int i = 0; i < 1000; i++)                    /* warm up */
		plug_hook(s, NULL, "checkin", payload, NULL);
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		plug_hook(s, NULL, "checkin", payload, NULL);
	double t1 = now_ns();
	int acc = 0;
	for (long i = 0; i < n; i++)
		acc += noop_ptr(payload);
	double t2 = now_ns();
	printf("hook call through the plugin host (1 plugin, 2-field payload): %.0f ns/call over %ld calls\n",
	       (t1 - t0) / (double)n, n);
	printf("empty C call through a function pointer:                      %.1f ns/call (%d)\n",
	       (t2 - t1) / (double)n, acc > 0);
	json_decref(payload);
	plug_free(s);
	conf_free(&cf);
	return 0;
}
