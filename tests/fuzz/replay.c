/* replay.c - runs a libFuzzer harness over its stored corpus (make check).
 *
 * Linked with one fuzz_*.c file; CORPUS names the folder under
 * $(srcdir)/tests/fuzz/corpus. Each file is one TAP test: it passes when the
 * harness returns without crashing (a crash or sanitizer report kills the
 * program, which the TAP driver reports as an error). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../unit/tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	char dir[4096], path[8192];
	snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top ? top : ".", CORPUS);
	DIR *d = opendir(dir);
	if (!d) {
		ok(0, "corpus folder %s exists", dir);
		return tap_done();
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp);
	ok(n > 0, "corpus %s has %zu inputs", CORPUS, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "rb");
		if (!f) {
			ok(0, "open %s", names[i]);
			continue;
		}
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, 0, SEEK_SET);
		uint8_t *data = malloc(len > 0 ? (size_t)len : 1);
		size_t got = fread(data, 1, (size_t)len, f);
		fclose(f);
		LLVMFuzzerTestOneInput(data, got);
		free(data);
		ok(1, "replay %s (%zu bytes)", names[i], got);
		free(names[i]);
	}
	free(names);
	return tap_done();
}
