/* h_pages.c - the core's public pages. */
#include "handlers.h"
#include <time.h>

/* The home page: what the portal offers, in plain words for residents. */
int h_home(req *r)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	json_t *data = json_pack("{s:s, s:i}", "title", "首页", "year", tm.tm_year + 1900);
	resp_header(r, "Cache-Control", "no-cache");
	int rc = resp_page(r, 200, "home", data);
	json_decref(data);
	return rc;
}
