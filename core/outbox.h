/* outbox.h - messages to residents, queued in the outbox table (prefix outbox_).
 *
 * Confirmation, promotion from the waitlist, cancellation and the day-before
 * reminder are queued as rows (migrations 0002, 0003) in the same transaction
 * as the change they announce. A sender delivers due rows later: `portald
 * jobs run hourly` runs outbox_send with the configured sender. A sender is a
 * table of function pointers so a plugin (SMS gateway) can provide one; the
 * core ships outbox_log_sender, which writes each message to the log with the
 * phone masked and marks it sent. */
#ifndef PORTAL_OUTBOX_H
#define PORTAL_OUTBOX_H
#include "arena.h"
#include "db.h"

typedef struct outbox_msg {
	long long id;
	const char *kind;          /* confirmation, reminder, promotion, cancellation, notice */
	const char *phone;         /* 11 digits */
	const char *body;          /* zh-CN text */
	long long event_id, registration_id;   /* 0 when none */
} outbox_msg;

typedef struct outbox_sender {
	const char *name;
	/* Deliver one message: 0 when delivered, else -1 with a reason in err
	 * (the row stays queued and is retried, up to 5 attempts). */
	int (*send)(void *ctx, const outbox_msg *m, char *err, size_t errlen);
	void *ctx;
} outbox_sender;

/* Writes "outbox message" log lines (kind, masked phone, body). */
extern const outbox_sender outbox_log_sender;

/* Queue a message (inside the caller's transaction when there is one).
 * send_after: "YYYY-MM-DD HH:MM:SS" China time or NULL for now.
 * 0 or a db_status. */
int outbox_queue(db *d, arena *a, const char *kind, const char *phone, const char *body,
                 const char *send_after, long long event_id, long long registration_id);
/* Deliver up to max due messages with sender s: each row is claimed
 * (queued -> sending) before the sender sees it, then marked sent, or put
 * back to queued with last_error (failed after 5 attempts). Returns the
 * count sent, or a negative db_status. */
long long outbox_send(db *d, arena *a, const outbox_sender *s, int max);
/* Queue the day-before reminder for every confirmed registration of a
 * published event starting tomorrow (China time) that has none yet.
 * Returns the count queued or a negative db_status. */
long long outbox_queue_reminders(db *d, arena *a);
/* The scheduled work of the core for "daily" or "hourly": hourly sends due
 * messages and queues reminders; daily marks no-shows and anonymises
 * registrants past retention. 0, or -1 when a part failed (logged). */
int outbox_jobs(db *d, arena *a, const char *every);

#endif
