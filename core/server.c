/* server.c - master process and FastCGI workers.
 *
 * Signals in the master are taken synchronously with sigtimedwait(), so no
 * handler runs in the middle of its bookkeeping. Workers keep SIGTERM blocked
 * while they serve and unblock it only inside ppoll() on the listening
 * socket: a stop or reload request therefore lands between requests, and the
 * request in flight always completes. The listening socket is non-blocking;
 * when several workers wake for one connection, the losers get EAGAIN from
 * FCGX_Accept_r and go back to waiting. */
#define _GNU_SOURCE 1   /* ppoll */
#include "server.h"
#include "app.h"
#include "buf.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "sockact.h"
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SRV_MAXWORKERS 256

struct worker {
	pid_t pid;
	double started;          /* monotonic seconds */
	int retiring;            /* told to stop; do not respawn */
};

struct master {
	conf *cf;
	int listen_fd;
	int inherited;           /* listen_fd came from systemd: never unlink it */
	struct worker w[SRV_MAXWORKERS];
	int nw;                  /* slots in use */
	sigset_t sigs;           /* signals the master waits for */
	int fast_deaths;         /* consecutive deaths right after start */
	gen_watch *watch;        /* the plugin generation (reload asked on any node) */
};

static double srv_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- worker */

static volatile sig_atomic_t srv_stop;

static void srv_on_term(int sig)
{
	(void)sig;
	srv_stop = 1;
}

/* 1 when a SIGTERM waits, blocked, for the worker (see the loop in srv_worker). */
static int srv_term_pending(void)
{
	sigset_t pending;
	return sigpending(&pending) == 0 && sigismember(&pending, SIGTERM) == 1;
}

static const char *srv_getparam(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static long srv_read(void *ctx, char *p, size_t n)
{
	int want = n > INT_MAX ? INT_MAX : (int)n;
	return FCGX_GetStr(p, want, ((FCGX_Request *)ctx)->in);
}

static void srv_write_all(FCGX_Stream *out, const buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		size_t chunk = b->len - off > (1u << 30) ? (1u << 30) : b->len - off;
		if (FCGX_PutStr(b->p + off, (int)chunk, out) < 0)
			return;   /* nginx went away; nothing more to do for this request */
		off += chunk;
	}
}

/* The worker process: never returns. */
#define SRV_EXIT_CANNOT_START 3
static void srv_worker(conf *cf, int listen_fd, int ready_fd, int strict) __attribute__((noreturn));
static void srv_worker(conf *cf, int listen_fd, int ready_fd, int strict)
{
	/* die with the master, even if it is killed with -9 */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(0);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = srv_on_term;          /* no SA_RESTART: ppoll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);          /* Ctrl-C is the master's to handle */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);         /* nginx closing early must not kill us */
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigset_t blocked, waitmask;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	sigemptyset(&waitmask);

	char err[512];
	app *ap = app_new(cf, strict, err, sizeof err);
	if (!ap) {
		log_err("worker cannot start", "error=\"%s\"", err);
		_exit(SRV_EXIT_CANNOT_START);
	}
	/* libfcgi and Connector/C may have changed SIGPIPE: set it ourselves */
	signal(SIGPIPE, SIG_IGN);
	char one = 1;
	if (write(ready_fd, &one, 1) != 1)
		log_warn("ready pipe write failed", "errno=%d", errno);
	close(ready_fd);

	FCGX_Request rq;
	FCGX_InitRequest(&rq, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	buf wire = BUF_INIT;
	struct pollfd pfd = {listen_fd, POLLIN, 0};
	struct timespec tick = {1, 0};
	while (!srv_stop) {
		int pr = ppoll(&pfd, 1, &tick, &waitmask);
		if (pr <= 0)
			continue;                    /* timeout or a signal: check srv_stop */
		/* ppoll delivers a pending SIGTERM only when it has to wait: when
		 * the socket is ready at once (a backlog that never empties, i.e.
		 * load), Linux puts the blocked mask back and the signal stays
		 * pending. Without this check a worker under load never saw its
		 * stop, and a reload waited shutdown_timeout (20 s) to kill it,
		 * dropping the request it was serving. */
		if (srv_term_pending())
			break;
		if (FCGX_Accept_r(&rq) < 0)
			continue;                    /* another worker took it (EAGAIN) */
		app_handle(ap, srv_getparam, &rq, srv_read, &rq, &wire);
		srv_write_all(rq.out, &wire);
		FCGX_Finish_r(&rq);
	}
	buf_free(&wire);
	app_free(ap);
	_exit(0);
}

/* ---------------------------------------------------------------- master */

/* Fork a worker into slot i and wait until it reports ready (or dies).
 * strict: the worker refuses to start unless every plugin loads (reload).
 * Returns 0 when ready. */
static int srv_spawn(struct master *m, int i, int strict)
{
	int pfd[2];
	if (pipe(pfd) != 0) {
		log_err("pipe failed", "errno=%d", errno);
		return -1;
	}
	gen_watch_disconnect(m->watch);     /* no worker may inherit the master's connection */
	pid_t pid = fork();
	if (pid < 0) {
		log_err("fork failed", "errno=%d", errno);
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		sigprocmask(SIG_UNBLOCK, &m->sigs, NULL);
		srv_worker(m->cf, m->listen_fd, pfd[1], strict);
	}
	close(pfd[1]);
	m->w[i].pid = pid;
	m->w[i].started = srv_now();
	m->w[i].retiring = 0;
	struct pollfd p = {pfd[0], POLLIN, 0};
	int ready = 0;
	char c;
	/* the worker connects to the database first; allow for a slow one */
	int timeout_ms = (m->cf->db_connect_timeout + 5) * 1000;
	if (poll(&p, 1, timeout_ms) == 1 && read(pfd[0], &c, 1) == 1)
		ready = 1;
	close(pfd[0]);
	if (!ready)
		log_warn("worker not ready", "pid=%d", (int)pid);
	return ready ? 0 : -1;
}

static int srv_live_workers(const struct master *m)
{
	int n = 0;
	for (int i = 0; i < m->nw; i++)
		if (m->w[i].pid > 0 && !m->w[i].retiring)
			n++;
	return n;
}

/* Reap every exited child; respawn the ones that died unasked. */
static void srv_reap(struct master *m, int respawn)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < m->nw; i++) {
			if (m->w[i].pid != pid)
				continue;
			int retiring = m->w[i].retiring;
			double lived = srv_now() - m->w[i].started;
			m->w[i].pid = 0;
			if (retiring)
				break;
			if (WIFSIGNALED(status))
				log_warn("worker died", "pid=%d signal=%d", (int)pid, WTERMSIG(status));
			else
				log_warn("worker exited", "pid=%d status=%d", (int)pid, WEXITSTATUS(status));
			if (!respawn)
				break;
			met_worker_restart();
			/* a worker that cannot start (bad templates: exit status 3)
			 * or keeps dying right after it starts (a crash while loading)
			 * must not turn into a fork loop: from the second death in a
			 * row within two seconds of starting, wait 1..5 s first. One
			 * killed or crashing after that is replaced at once. */
			int cannot_start = WIFEXITED(status) && WEXITSTATUS(status) == SRV_EXIT_CANNOT_START && lived < 2.0;
			m->fast_deaths = cannot_start || lived < 2.0 ? m->fast_deaths + 1 : 0;
			if (cannot_start || m->fast_deaths > 1) {
				unsigned delay = m->fast_deaths > 5 ? 5 : (unsigned)m->fast_deaths;
				sleep(delay);
			}
			srv_spawn(m, i, 0);
			break;
		}
	}
	met_worker_count(srv_live_workers(m));
}

/* Wait up to timeout seconds for slot i's pid to exit; SIGKILL it after. */
static void srv_wait_exit(struct master *m, int i, int timeout)
{
	pid_t pid = m->w[i].pid;
	double until = srv_now() + timeout;
	while (pid > 0) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			break;
		if (srv_now() > until) {
			log_warn("worker did not stop in time, killing it", "pid=%d", (int)pid);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	m->w[i].pid = 0;
}

/* Replace every worker, one at a time: the new one is ready before the old
 * one is told to finish, so capacity never drops below N-0 and nothing queued
 * on the socket is lost. */
/* Returns 0, or -1 when the first new worker could not start (nothing was
 * replaced). */
static int srv_reload(struct master *m)
{
	int n = m->nw, replaced = 0;
	log_info("reloading workers", "workers=%d", n);
	for (int i = 0; i < n; i++) {
		if (m->w[i].pid <= 0)
			continue;
		if (m->nw >= SRV_MAXWORKERS)
			break;
		int j = m->nw++;
		if (srv_spawn(m, j, 1) != 0) {
			log_err("reload stopped: new worker failed to start (see its error above); old workers keep serving", NULL);
			if (m->w[j].pid > 0) {
				kill(m->w[j].pid, SIGKILL);
				srv_wait_exit(m, j, 1);
			}
			m->nw--;
			return replaced == 0 ? -1 : 0;
		}
		m->w[i].retiring = 1;
		kill(m->w[i].pid, SIGTERM);
		srv_wait_exit(m, i, m->cf->shutdown_timeout);
		m->w[i] = m->w[j];          /* the new worker takes the old slot */
		m->nw--;
		replaced++;
		srv_reap(m, 1);
	}
	met_worker_count(srv_live_workers(m));
	log_info("reload done", NULL);
	return 0;
}

static void srv_stop_all(struct master *m)
{
	log_info("stopping", "workers=%d", srv_live_workers(m));
	for (int i = 0; i < m->nw; i++)
		if (m->w[i].pid > 0) {
			m->w[i].retiring = 1;
			kill(m->w[i].pid, SIGTERM);
		}
	for (int i = 0; i < m->nw; i++)
		if (m->w[i].pid > 0)
			srv_wait_exit(m, i, m->cf->shutdown_timeout);
}

/* The socket systemd passed (portald.socket), else open the unix socket,
 * refusing to steal one a live server answers on. *inherited says which. */
static int srv_listen(const conf *cf, int *inherited)
{
	struct stat st;
	int fd = sa_inherited();
	*inherited = fd >= 0;
	if (fd >= 0) {
		/* mode, group and backlog are the socket unit's */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) & ~FD_CLOEXEC);
		return fd;
	}
	if (lstat(cf->listen, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_err("listen path exists and is not a socket", "path=%s", cf->listen);
			return -1;
		}
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", cf->listen);
		int live = s >= 0 && connect(s, (struct sockaddr *)&sun, sizeof sun) == 0;
		if (s >= 0)
			close(s);
		if (live) {
			log_err("another server is listening on the socket", "path=%s", cf->listen);
			return -1;
		}
		unlink(cf->listen);
	}
	mode_t old = umask(0177);
	fd = FCGX_OpenSocket(cf->listen, cf->backlog);
	umask(old);
	if (fd < 0) {
		log_err("cannot open socket", "path=%s", cf->listen);
		return -1;
	}
	if (chmod(cf->listen, (mode_t)cf->socket_mode) != 0)
		log_warn("chmod of socket failed", "path=%s errno=%d", cf->listen, errno);
	if (cf->socket_group && *cf->socket_group) {
		struct group *g = getgrnam(cf->socket_group);
		if (!g || chown(cf->listen, (uid_t)-1, g->gr_gid) != 0)
			log_warn("cannot give the socket to its group", "group=%s", cf->socket_group);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) & ~FD_CLOEXEC);
	return fd;
}

static void srv_write_pid(const char *path)
{
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "w");
	if (!f) {
		log_warn("cannot write pid file", "path=%s errno=%d", path, errno);
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

/* SIGHUP, or a new plugin generation: re-read the configuration files for the
 * new workers (the socket stays as it is: changing it needs a restart) and
 * replace the workers one at a time. */
static void srv_hup(struct master *m, const char *const *conf_paths, int nconf)
{
	conf *cf = m->cf;
	conf fresh;
	char err[512];
	int ok = 1;
	conf_defaults(&fresh);
	for (int i = 0; i < nconf && ok; i++)
		ok = conf_load(&fresh, conf_paths[i], err, sizeof err) == 0;
	if (ok)
		ok = conf_env(&fresh, err, sizeof err) == 0;
	if (!ok) {
		log_err("reload refused: configuration error", "error=\"%s\"", err);
		conf_free(&fresh);
		return;
	}
	free(fresh.listen);
	fresh.listen = strdup(cf->listen);
	fresh.workers = cf->workers;   /* the count changes on restart only */
	conf old = *cf;
	*cf = fresh;
	if (srv_reload(m) == 0) {
		conf_free(&old);
	} else {
		/* the new configuration cannot start a worker: keep
		 * serving, and respawning, with the old one */
		conf_free(cf);
		*cf = old;
	}
}

int srv_run(conf *cf, const char *const *conf_paths, int nconf)
{
	static struct master m;      /* one per process, lives for the run */
	memset(&m, 0, sizeof m);
	m.cf = cf;
	if (cf->workers > SRV_MAXWORKERS / 2)
		cf->workers = SRV_MAXWORKERS / 2;

	sigemptyset(&m.sigs);
	sigaddset(&m.sigs, SIGHUP);
	sigaddset(&m.sigs, SIGTERM);
	sigaddset(&m.sigs, SIGINT);
	sigaddset(&m.sigs, SIGCHLD);
	sigprocmask(SIG_BLOCK, &m.sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (FCGX_Init() != 0) {
		log_err("FCGX_Init failed", NULL);
		return 1;
	}
	m.listen_fd = srv_listen(cf, &m.inherited);
	if (m.listen_fd < 0)
		return 1;
	if (met_init() != 0)
		log_warn("no shared metrics block; /metrics counts one worker only", NULL);
	srv_write_pid(cf->pid_file);
	log_info("starting", "socket=%s workers=%d", m.inherited ? "systemd" : cf->listen, cf->workers);

	int ready = 0;
	for (int i = 0; i < cf->workers; i++) {
		m.nw++;
		if (srv_spawn(&m, i, 0) == 0)
			ready++;
	}
	met_worker_count(srv_live_workers(&m));
	log_info("ready", "workers=%d", ready);

	/* the watcher keeps its own copy of the settings it needs (a reload
	 * replaces *cf); its polling interval changes on restart only */
	int check_ms = cf->reload_check_ms;
	if (check_ms > 0)
		m.watch = gen_watch_new(cf, GEN_PLUGINS);
	double next_check = 0;
	int rc = 0;
	for (;;) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		if (check_ms >= 1000)
			ts = (struct timespec){1, 0};
		int sig = sigtimedwait(&m.sigs, NULL, &ts);
		if (m.watch && srv_now() >= next_check && sig != SIGTERM && sig != SIGINT) {
			next_check = srv_now() + check_ms / 1000.0;
			if (gen_watch_check(m.watch) == 1) {
				log_info("plugin generation changed: reloading", NULL);
				srv_hup(&m, conf_paths, nconf);
			}
		}
		if (sig == SIGCHLD || sig < 0) {
			srv_reap(&m, 1);
		} else if (sig == SIGHUP) {
			srv_hup(&m, conf_paths, nconf);
		} else if (sig == SIGTERM || sig == SIGINT) {
			break;
		}
	}
	srv_stop_all(&m);
	gen_watch_free(m.watch);
	close(m.listen_fd);
	if (!m.inherited)
		unlink(cf->listen);
	if (cf->pid_file && *cf->pid_file)
		unlink(cf->pid_file);
	log_info("stopped", NULL);
	return rc;
}
