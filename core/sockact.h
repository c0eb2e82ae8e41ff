/* sockact.h - a listening socket handed over by systemd (prefix sa_).
 *
 * With a portald.socket unit, systemd owns the socket: it stays open while
 * portald restarts (a package upgrade), so connections queue in its backlog
 * instead of being refused, and nginx sees a slow answer, never a 502. */
#ifndef PORTAL_SOCKACT_H
#define PORTAL_SOCKACT_H

/* The socket systemd passed to this process (LISTEN_PID is ours and
 * LISTEN_FDS is 1: fd 3, a stream socket), or -1 when there is none. The
 * LISTEN_* variables are removed either way, so workers and any program
 * they start never take the socket for their own. */
int sa_inherited(void);

#endif
