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
	is_str(ev_rc_code(EV_KEY_REUSED), "idempotency_key_reused", "a reused idempotency key");
	ok(!strstr(ev_rc_message(EV_DUPLICATE_PHONE), "短信"), "the duplicate answer promises no SMS");
	ok(strstr(ev_rc_message(EV_DUPLICATE_PHONE), "签到处") != NULL, "it says how to get in without the code");
}

static void test_idem_keys(arena *a)
{
	ok(ev_idem_key_ok("8e03978e-40d5-43e8-bc93-6894a57f9324"), "key: a UUID");
	ok(ev_idem_key_ok("abcdefghijklmnop"), "key: 16 characters");
	ok(!ev_idem_key_ok("abcdefghijklmno"), "key: 15 characters are too few");
	char k[66];
	memset(k, 'a', 64);
	k[64] = 0;
	ok(ev_idem_key_ok(k), "key: 64 characters");
	k[64] = 'a';
	k[65] = 0;
	ok(!ev_idem_key_ok(k), "key: 65 are too many");
	ok(!ev_idem_key_ok("abcdefgh ijklmnop"), "key: no spaces");
	ok(!ev_idem_key_ok("abcdefgh.ijklmnop"), "key: no dots");
	ok(!ev_idem_key_ok("abcdefgh\xc3\xa9ijklmnop"), "key: ASCII only");
	const char *k1 = ev_idem_key_new(a), *k2 = ev_idem_key_new(a);
	ok(ev_idem_key_ok(k1) && strlen(k1) == 22, "a new key is 22 base64url characters, and valid");
	ok(strcmp(k1, k2) != 0, "two new keys differ");
}

int main(void)
{
	arena *a = ar_new(0);
	test_times(a);
	test_mask(a);
	test_codes();
	test_idem_keys(a);
	ar_free(a);
	return tap_done();
}
