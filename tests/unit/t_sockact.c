/* t_sockact.c - the socket systemd hands over (portald.socket): taken only when it is for
 * this process, is one listening stream socket at fd 3; the LISTEN_* variables never
 * outlive the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "tap.h"
#include "sockact.h"

/* Put a socket of TYPE (bound to an abstract name and listening when
 * listen_it) at fd 3. */
static void fd3_socket(int type, int listen_it)
{
	int s = socket(AF_UNIX, type, 0);
	if (listen_it) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1, "portal-t-sockact-%ld", (long)getpid());
		if (bind(s, (struct sockaddr *)&sun, sizeof sun) != 0 || listen(s, 4) != 0)
			perror("bind/listen");
	}
	if (s != 3) {
		dup2(s, 3);
		close(s);
	}
}

static void set_env(long pid, const char *fds)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%ld", pid);
	setenv("LISTEN_PID", buf, 1);
	setenv("LISTEN_FDS", fds, 1);
	setenv("LISTEN_FDNAMES", "portald.socket", 1);
}

static int env_gone(void)
{
	return !getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES");
}

int main(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	is_int(sa_inherited(), -1, "no LISTEN_* variables: no socket (portald opens its own)");

	fd3_socket(SOCK_STREAM, 1);
	set_env((long)getpid(), "1");
	is_int(sa_inherited(), 3, "a listening stream socket at fd 3 for this pid is taken");
	ok(env_gone(), "the variables are removed, so workers never see them");

	set_env((long)getpid() + 1, "1");
	is_int(sa_inherited(), -1, "LISTEN_PID of another process: not ours");
	ok(env_gone(), "removed when refused too");

	set_env((long)getpid(), "2");
	is_int(sa_inherited(), -1, "two sockets: portald needs exactly one");
	set_env((long)getpid(), "1x");
	is_int(sa_inherited(), -1, "a malformed count is refused");

	fd3_socket(SOCK_STREAM, 0);
	set_env((long)getpid(), "1");
	is_int(sa_inherited(), -1, "a stream socket that does not listen is refused");

	fd3_socket(SOCK_DGRAM, 0);
	set_env((long)getpid(), "1");
	is_int(sa_inherited(), -1, "a datagram socket is refused");

	close(3);
	set_env((long)getpid(), "1");
	is_int(sa_inherited(), -1, "fd 3 closed: refused");
	return tap_done();
}
