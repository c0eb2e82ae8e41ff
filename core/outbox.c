/* outbox.c - queueing and sending of messages (see outbox.h). */
#include "outbox.h"
#include "valid.h"
#include "events.h"
#include "log.h"
#include <stdio.h>
#include <string.h>

static int outbox_log_send(void *ctx, const outbox_msg *m, char *err, size_t errlen)
{
	(void)ctx;
	(void)err;
	(void)errlen;
	char masked[12];
	val_mask_phone(m->phone, masked);
	log_info("outbox message", "id=%lld kind=%s phone=%s event=%lld registration=%lld body=\"%s\"", m->id,
	         m->kind, masked, m->event_id, m->registration_id, m->body);
	return 0;
}

const outbox_sender outbox_log_sender = {"log", outbox_log_send, NULL};

int outbox_queue(db *d, arena *a, const char *kind, const char *phone, const char *body,
                 const char *send_after, long long event_id, long long registration_id)
{
	return db_q(d, a, NULL,
	            "INSERT INTO outbox (kind, phone, body, send_after, event_id, registration_id)"
	            " VALUES (?, ?, ?, COALESCE(?, NOW()), ?, ?)",
	            DB_TEXT(kind), DB_TEXT(phone), DB_TEXT(body), DB_TEXT(send_after),
	            event_id ? DB_INT(event_id) : DB_NULL, registration_id ? DB_INT(registration_id) : DB_NULL);
}

long long outbox_send(db *d, arena *a, const outbox_sender *s, int max)
{
	db_res *res = NULL;
	int rc = db_q(d, a, &res,
	              "SELECT id, kind, phone, body, COALESCE(event_id, 0) AS event_id,"
	              " COALESCE(registration_id, 0) AS registration_id FROM outbox"
	              " WHERE status = 'queued' AND send_after <= NOW() ORDER BY id LIMIT ?",
	              DB_INT(max > 0 ? max : 100));
	if (rc != DB_OK)
		return rc;
	long long sent = 0;
	for (size_t i = 0; i < res->nrows; i++) {
		outbox_msg m = {db_cell_int(res, i, "id"), db_cell(res, i, "kind"), db_cell(res, i, "phone"),
		                db_cell(res, i, "body"), db_cell_int(res, i, "event_id"),
		                db_cell_int(res, i, "registration_id")};
		/* claim the row first (queued -> sending, a conditional update) so two
		 * senders never deliver it twice; a crash mid-send leaves it 'sending' */
		db_res *u = NULL;
		if (db_q(d, a, &u,
		         "UPDATE outbox SET attempts = attempts + 1, status = 'sending' WHERE id = ? AND status = 'queued'",
		         DB_INT(m.id)) != DB_OK || u->affected != 1)
			continue;
		char err[256] = "";
		if (s->send(s->ctx, &m, err, sizeof err) == 0) {
			db_q(d, a, NULL, "UPDATE outbox SET status = 'sent', sent_at = NOW() WHERE id = ?", DB_INT(m.id));
			sent++;
		} else {
			db_q(d, a, NULL,
			     "UPDATE outbox SET last_error = ?, status = IF(attempts >= 5, 'failed', 'queued') WHERE id = ?",
			     DB_TEXT(err), DB_INT(m.id));
		}
	}
	return sent;
}

long long outbox_queue_reminders(db *d, arena *a)
{
	db_res *res = NULL;
	int rc = db_q0(d, a, &res,
	               "INSERT INTO outbox (kind, phone, body, send_after, event_id, registration_id)"
	               " SELECT 'reminder', r.phone,"
	               " CONCAT('【活动提醒】您报名的“', e.title, '”将于', DATE_FORMAT(COALESCE(s.starts_at, e.starts_at),"
	               " '%m月%d日 %H:%i'), '在', e.location, '举行，凭报名码 ', r.code, ' 签到。'),"
	               " NOW(), e.id, r.id"
	               " FROM registrations r JOIN events e ON e.id = r.event_id"
	               " LEFT JOIN event_slots s ON s.id = r.slot_id"
	               " WHERE e.status = 'published' AND r.status = 'confirmed'"
	               " AND DATE(COALESCE(s.starts_at, e.starts_at)) = CURDATE() + INTERVAL 1 DAY"
	               " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.registration_id = r.id AND o.kind = 'reminder')");
	return rc == DB_OK ? (long long)res->affected : rc;
}

int outbox_jobs(db *d, arena *a, const char *every)
{
	int bad = 0;
	long long n;
	if (strcmp(every, "hourly") == 0) {
		n = outbox_queue_reminders(d, a);
		if (n < 0)
			bad = 1;
		else
			log_info("reminders queued", "count=%lld", n);
		n = outbox_send(d, a, &outbox_log_sender, 1000);
		if (n < 0)
			bad = 1;
		else
			log_info("outbox sent", "count=%lld sender=%s", n, outbox_log_sender.name);
	} else if (strcmp(every, "daily") == 0) {
		n = ev_mark_no_shows(d, a);
		if (n < 0)
			bad = 1;
		else
			log_info("no-shows marked", "count=%lld", n);
		n = ev_anonymise(d, a);
		if (n < 0)
			bad = 1;
		else
			log_info("registrants anonymised", "count=%lld", n);
	}
	if (bad)
		log_err("core jobs failed", "every=%s error=\"%s\"", every, db_errmsg(d));
	return bad ? -1 : 0;
}
