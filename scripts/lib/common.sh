# common.sh - shared helpers of scripts/portal: messages, instance paths, processes.
# Sourced by scripts/portal (bash, set -euo pipefail); defines functions and globals only.

# Messages go to stderr so that stdout stays for what a command reports (URL, status, totals).
say() { printf '%s\n' "$*" >&2; }
step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'portal: %s\n' "$*" >&2; exit 1; }

# An instance is one complete stack (MariaDB, portald, nginx) with its own folder, build and
# port: the dev stack lives in var/, the test stack in var/test/, so `test` never disturbs `up`.
#   instance_init DIR BUILD_DIR PORT
# sets INST RUN LOG SECRETS BUILD BIN PORT CONF_FILE NGINX_CONF and the socket paths.
instance_init() {
	INST=$1
	BUILD=$2
	PORT=$3
	LOG=$INST/log
	SECRETS=$INST/secrets
	BIN=$BUILD/portald
	CONF_FILE=$INST/portal.conf
	NGINX_CONF=$INST/nginx.conf
	RUN=$(run_dir "$INST")
	DB_SOCK=$RUN/mysql.sock
	DB_PID=$RUN/mysql.pid
	PORTALD_SOCK=$RUN/portald.sock
	PORTALD_PID=$RUN/portald.pid
	NGINX_PID=$RUN/nginx.pid
	URL=http://127.0.0.1:$PORT
}

# Unix socket paths are limited to 107 bytes. A checkout deep in the file system would make
# <instance>/run/portald.sock too long, so then the run folder moves to /tmp under a name
# derived from the instance path, and <instance>/run becomes a symlink to it.
run_dir() {
	local inst=$1 dir=$1/run
	if [ ${#dir} -gt 80 ]; then
		dir=/tmp/portal-run.$(id -u).$(printf '%s' "$inst" | cksum | cut -d' ' -f1)
	fi
	printf '%s\n' "$dir"
}

# Create the instance folders (private: the run folder holds the database socket and the
# secrets folder the database password).
instance_dirs() {
	mkdir -p "$INST" "$LOG" "$INST/nginx"
	install -d -m 0700 "$RUN" "$SECRETS"
	if [ "$RUN" != "$INST/run" ] && [ ! -L "$INST/run" ]; then
		ln -sfn "$RUN" "$INST/run"
	fi
}

# pid_alive PIDFILE NAME: true when PIDFILE names a live process whose command is NAME
# (so a stale pid file whose number was reused by another program does not count).
pid_alive() {
	local pidfile=$1 name=$2 pid comm
	[ -s "$pidfile" ] || return 1
	pid=$(head -n1 "$pidfile" 2>/dev/null) || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[ "$comm" = "$name" ]
}

# The pid in PIDFILE (call after pid_alive).
pid_of() { head -n1 "$1"; }

# wait_until SECONDS CMD...: run CMD every 0.2 s until it succeeds; false once SECONDS have
# passed (counted in time, not tries: CMD itself may take a while, e.g. curl's own timeout).
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# stop_pid PIDFILE NAME SIGNAL SECONDS: signal the process and wait for it to exit; SIGKILL it
# (and any children left, e.g. portald workers) when it is still there after SECONDS.
stop_pid() {
	local pidfile=$1 name=$2 sig=$3 secs=$4 pid kids
	pid_alive "$pidfile" "$name" || return 0
	pid=$(pid_of "$pidfile")
	kill "-$sig" "$pid" 2>/dev/null || true
	if ! wait_until "$secs" pid_gone "$pid"; then
		say "$name (pid $pid) still running after ${secs}s: killing it"
		kids=$(pgrep -P "$pid" || true)
		# shellcheck disable=SC2086 # one word per pid
		kill -KILL "$pid" $kids 2>/dev/null || true
		wait_until 5 pid_gone "$pid" || true
	fi
}

# True when process PID has exited (a zombie not yet reaped by its parent counts as exited).
pid_gone() {
	[ ! -e "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The HTTP status of GET URL ("000" when nothing answers).
http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true; }

# Environment for portald: the caller's PORTAL_<KEY> overrides (e.g. PORTAL_RATE_LIMITS=off)
# reach it, this script's own variables do not.
SCRIPT_VARS=(PORTAL_PORT PORTAL_TEST_PORT PORTAL_URL PORTAL_VAR PORTAL_BIN PORTAL_CONF
	PORTAL_PID_FILE PORTAL_TEST_DB_SOCKET PORTAL_TEST_DB_NAME PORTAL_TEST_DB_USER
	PORTAL_TEST_DB_PASSWORD PORTAL_TEST_REQUIRE_DB PORTAL_TEST_FILES PORTAL_CLUSTER_APP_NODES
	PORTAL_CLUSTER_TOPOLOGY PORTAL_CLUSTER_PORT_BASE PORTAL_CLUSTER_NODE PORTAL_CLUSTER_CTL)

# The overrides in effect, one per line (part of the "is the running portald current?" stamp).
portald_overrides() {
	local line s
	while IFS= read -r line; do
		for s in "${SCRIPT_VARS[@]}"; do
			[ "${line%%=*}" = "$s" ] && continue 2
		done
		printf '%s\n' "$line"
	done < <(env | grep '^PORTAL_' | sort || true)
}

# Extra NAME=VALUE environment for portald (the test stack sets sanitizer options here).
PORTALD_EXTRA_ENV=()

# PORTALD_ARGV: the instance's portald command line, its config layered on the shipped
# defaults, in the environment described above.
portald_argv() {
	local v
	PORTALD_ARGV=(env)
	for v in "${SCRIPT_VARS[@]}"; do PORTALD_ARGV+=(-u "$v"); done
	PORTALD_ARGV+=(${PORTALD_EXTRA_ENV[@]+"${PORTALD_EXTRA_ENV[@]}"}
		"$BIN" -c "$REPO/conf/portal.conf" -c "$CONF_FILE")
}

# portald ARGS...: run it (migrate, check, ...).
portald() {
	portald_argv
	"${PORTALD_ARGV[@]}" "$@"
}
