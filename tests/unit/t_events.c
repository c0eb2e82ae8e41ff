/* t_events.c - the pure parts of the events model: ISO 8601 times to China
 * time and back, phone masking. (The rules held by the database are tested
 * through nginx in tests/integration/events_api.test.mjs.) */
#include <string.h>
#include "events.h"
#include "tap.h"

static void test_times(arena *a)
{
	is_str(ev_time_in(a, "2026-12-20T09:00:00+08:00"), "2026-12-20 09:00:00", "+08:00 kept as is");
	is_str(ev_time_in(a, "2026-12-20T01:00:00Z"), "2026-12-20 09:00:00", "Z moved to China time");
	is_str(ev_time_in(a, "2026-12-19T20:30:00-04:30"), "2026-12-20 09:00:00", "a negative offset with minutes");
	is_str(ev_time_in(a, "2026-12-31T20:00:00Z"), "2027-01-01 04:00:00", "across a year end");
	is_str(ev_time_in(a, "2026-12-20 09:00"), "2026-12-20 09:00:00", "no offset: taken as China time");
	ok(ev_time_in(a, "2026-02-30T09:00:00+08:00") == NULL, "30 February refused");
	ok(ev_time_in(a, "tomorrow") == NULL, "words refused");
	ok(ev_time_in(a, NULL) == NULL, "NULL refused");
	is_str(ev_time_out(a, "2026-12-20 09:00:00"), "2026-12-20T09:00:00+08:00", "out: ISO 8601 with +08:00");
	ok(ev_time_out(a, "2026") == NULL, "out: short text refused");
}

static void test_mask(arena *a)
{
	is_str(ev_mask_phone(a, "13812345678"), "138****5678", "phone masked to first 3 and last 4");
	is_str(ev_mask_phone(a, "anon-12"), "****", "anything else fully masked");
	is_str(ev_mask_phone(a, NULL), "****", "NULL masked");
}

static void test_codes(void)
{
	ok(strlen(EV_CODE_ALPHABET) == 32, "code alphabet of 32 characters");
	ok(!strpbrk(EV_CODE_ALPHABET, "01IO"), "no ambiguous characters in the code alphabet");
	is_str(ev_rc_code(EV_DUPLICATE_PHONE), "duplicate_phone", "result code names are stable");
	is_str(ev_rc_code(EV_FULL_NO_WAITLIST), "full", "full");
}

int main(void)
{
	arena *a = ar_new(0);
	test_times(a);
	test_mask(a);
	test_codes();
	ar_free(a);
	return tap_done();
}
