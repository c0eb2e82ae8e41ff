/* sockact.c - systemd socket activation (see sockact.h).
 *
 * The protocol is the one sd_listen_fds(3) documents as stable for programs
 * that do not link libsystemd: LISTEN_PID names the process the sockets are
 * for, LISTEN_FDS how many, starting at fd 3. portald needs exactly one, and
 * nothing else from libsystemd, so this is those few lines rather than a new
 * library in every build. */
#include "sockact.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SA_FIRST_FD 3

/* A whole positive decimal number in s, else -1. */
static long sa_number(const char *s)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	return errno || *end || v <= 0 ? -1 : v;
}

int sa_inherited(void)
{
	long pid = sa_number(getenv("LISTEN_PID"));
	long n = sa_number(getenv("LISTEN_FDS"));
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (pid != (long)getpid() || n != 1)
		return -1;
	int type = 0;
	socklen_t len = sizeof type;
	if (getsockopt(SA_FIRST_FD, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
		return -1;
	int acc = 0;
	len = sizeof acc;
	if (getsockopt(SA_FIRST_FD, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc)
		return -1;
	return SA_FIRST_FD;
}
