# stack.sh - one running instance: a private MariaDB, portald and nginx (see instance_init).
# Every start function is idempotent: it leaves a running, current component alone.

DB_NAME=portal
DB_USER=portal
MIGRATE_USER=portal_migrate
# Least privilege. The running portal (DB_USER) reads and writes rows and nothing else: it
# cannot change the schema, drop the audit log's append-only triggers or grant anything.
# `portald migrate` and `portald plugin test` connect as MIGRATE_USER, which may change the
# schema of the portal's database only. Neither has GRANT, FILE, PROCESS or SUPER. No LOCK
# TABLES or temporary tables for the running portal: nothing uses them, and on a Galera cluster
# neither holds or replicates across nodes (docs/architecture.md).
DB_RUNTIME_PRIVILEGES="SELECT, INSERT, UPDATE, DELETE"
DB_PRIVILEGES="SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, TRIGGER, LOCK TABLES, CREATE TEMPORARY TABLES, EXECUTE"

# --- MariaDB --------------------------------------------------------------------------------

# The administrator connects through the socket as the OS user running the stack (the data
# folder is created with unix_socket authentication: no root password exists to leak).
db_admin() { mariadb --no-defaults --socket="$DB_SOCK" -u "$(id -un)" "$@"; }
db_ping() { mariadb-admin --no-defaults --socket="$DB_SOCK" -u "$(id -un)" ping >/dev/null 2>&1; }

db_start() {
	if pid_alive "$DB_PID" mariadbd; then
		# Running (perhaps still starting up): never start a second server on the same data.
		wait_until 60 db_ping || die "MariaDB (pid $(pid_of "$DB_PID")) runs but does not answer; see $LOG/mariadb.log"
		return 0
	fi
	if [ ! -d "$INST/db/mysql" ]; then
		step "creating the MariaDB data folder ${INST#"$REPO"/}/db"
		rm -rf "$INST/db"
		mariadb-install-db --no-defaults --datadir="$INST/db" --user="$(id -un)" \
			--auth-root-authentication-method=socket --skip-test-db \
			>"$LOG/mariadb-install.log" 2>&1 </dev/null || {
			tail -n 20 "$LOG/mariadb-install.log" >&2
			die "mariadb-install-db failed (log: $LOG/mariadb-install.log)"
		}
	fi
	step "starting MariaDB (socket ${DB_SOCK})"
	rm -f "$DB_SOCK"
	setsid mariadbd --no-defaults --datadir="$INST/db" --socket="$DB_SOCK" --pid-file="$DB_PID" \
		--skip-networking --user="$(id -un)" --log-error="$LOG/mariadb.log" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >>"$LOG/mariadb.log" 2>&1 &
	if ! wait_until 60 db_ping; then
		tail -n 20 "$LOG/mariadb.log" >&2
		die "MariaDB did not start (log: $LOG/mariadb.log)"
	fi
}

db_stop() { stop_pid "$DB_PID" mariadbd TERM 60; }

# A random password made once and kept in secrets/NAME (0600).
secret() {
	local f=$SECRETS/$1
	if [ ! -s "$f" ]; then
		(umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$f")
	fi
	cat "$f"
}
db_password() { secret db-password; }
migrate_password() { secret migrate-password; }

# db_setup [EXTRA_DB...]: the portal database and its two users (rights on it only).
# The test stack adds separate databases for `make check` and `make distcheck`, so unit tests
# never touch the tables the running server uses; there the portal user may also create and
# drop the tables the tests make.
db_setup() {
	local pw mpw d sql
	pw=$(db_password)
	mpw=$(migrate_password)
	sql="CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$MIGRATE_USER'@'localhost' IDENTIFIED BY '$mpw';
ALTER USER '$MIGRATE_USER'@'localhost' IDENTIFIED BY '$mpw';
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT $DB_RUNTIME_PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
REVOKE ALL PRIVILEGES ON \`$DB_NAME\`.* FROM '$DB_USER'@'localhost';
GRANT $DB_RUNTIME_PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
GRANT $DB_PRIVILEGES ON \`$DB_NAME\`.* TO '$MIGRATE_USER'@'localhost';"
	for d in "$@"; do
		sql+="
CREATE DATABASE IF NOT EXISTS \`$d\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT $DB_PRIVILEGES ON \`$d\`.* TO '$DB_USER'@'localhost';"
	done
	db_admin <<<"$sql" || die "could not create the portal database and users"
}

# --- portald --------------------------------------------------------------------------------

# The instance's overrides on top of conf/portal.conf (mode 0600: it holds the password).
write_portal_conf() {
	local tmp=$CONF_FILE.tmp
	(
		umask 077
		cat >"$tmp" <<-EOF
			# Written by scripts/portal for this instance; read after conf/portal.conf.
			listen = $PORTALD_SOCK
			pid_file = $PORTALD_PID
			workers = 8
			db_socket = $DB_SOCK
			db_name = $DB_NAME
			db_user = $DB_USER
			db_password = $(db_password)
			migrate_user = $MIGRATE_USER
			migrate_password = $(migrate_password)
			template_dir = $REPO/www/templates
			migration_dir = $REPO/core/migrations
			plugin_dir = ${PLUGIN_DIR:-$REPO/plugins}
			public_cache_ms = ${PUBLIC_CACHE_MS:-1000}
			base_url = $URL/
		EOF
	)
	mv "$tmp" "$CONF_FILE"
}

portald_migrate() {
	step "migrate"
	portald migrate </dev/null || die "portald migrate failed"
}

# Config, templates and database, checked before a start or reload: a broken set-up stops
# `up` with portald's own message instead of leaving workers that cannot start.
portald_check() {
	portald check </dev/null >"$LOG/portald-check.log" 2>&1 || {
		cat "$LOG/portald-check.log" >&2
		die "portald check failed"
	}
}

# What the running portald was started from: its binary and the PORTAL_* overrides. A
# different stamp means a restart; the same one, a SIGHUP (new templates, plugins, config).
portald_stamp() {
	sha256sum "$BIN" | cut -d' ' -f1
	portald_overrides
}

portald_running() { pid_alive "$PORTALD_PID" portald; }

portald_start() {
	local stamp_file=$RUN/portald.stamp stamp
	stamp=$(portald_stamp)
	if portald_running; then
		if [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
			step "portald running: reloading its workers (SIGHUP)"
			kill -HUP "$(pid_of "$PORTALD_PID")"
			return 0
		fi
		step "portald binary or overrides changed: restarting it"
		portald_stop
	fi
	step "starting portald (${PORTALD_SOCK})"
	rm -f "$PORTALD_PID"
	portald_argv
	# setsid: its own session, so a closed terminal or a Ctrl-C in it does not reach the
	# server. (A background job of a script is no group leader, so setsid does not fork and
	# $! is portald's master itself.)
	setsid "${PORTALD_ARGV[@]}" serve </dev/null >>"$LOG/portald.log" 2>&1 &
	PORTALD_LAUNCHED=$!
	disown "$!" 2>/dev/null || true     # no "Killed" job report when a test kills it
	if ! wait_until 30 portald_up_or_dead || ! portald_listening; then
		tail -n 30 "$LOG/portald.log" >&2
		die "portald did not start (log: $LOG/portald.log)"
	fi
	printf '%s\n' "$stamp" >"$stamp_file"
}

portald_listening() { portald_running && [ -S "$PORTALD_SOCK" ]; }
# Stop waiting as soon as it listens, or as soon as the process just launched has exited
# (a bad config, a missing template: its log says why).
portald_up_or_dead() { portald_listening || pid_gone "$PORTALD_LAUNCHED"; }

# SIGTERM: the master lets every worker finish its request in flight, then exits.
portald_stop() { stop_pid "$PORTALD_PID" portald TERM 45; }

# The master and its workers, one "pid" per line, master first.
portald_pids() {
	portald_running || return 0
	local m
	m=$(pid_of "$PORTALD_PID")
	printf '%s\n' "$m"
	pgrep -P "$m" || true
}

# --- nginx ----------------------------------------------------------------------------------

# Replace every @NAME@ placeholder of conf/nginx.conf.in.
#   render_nginx_conf [UPSTREAM_LINES [HTTP_EXTRA]]: the upstream's server lines ("\n" between
#   lines; default: this instance's portald socket) and lines for the http block (the cluster's).
render_nginx_conf() {
	local user_line="" up=${1:-"server unix:$PORTALD_SOCK;"} extra=${2:-}
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	sed -e "s|@USER_LINE@|$user_line|" -e "s|@RUN@|$RUN|g" -e "s|@LOG@|$LOG|g" \
		-e "s|@INST@|$INST|g" -e "s|@PORT@|$PORT|g" \
		-e "s|@WWW@|$REPO/www|g" -e "s|@CONF@|$REPO/conf|g" \
		"$REPO/conf/nginx.conf.in" |
		awk -v up="$up" -v extra="$extra" '$1 == "@UPSTREAM@" { printf "%s\n", up; next }
			$1 == "@HTTP_EXTRA@" { if (extra != "") printf "    %s\n", extra; next } { print }' >"$NGINX_CONF.tmp"
	mv "$NGINX_CONF.tmp" "$NGINX_CONF"
}

nginx_cmd() { nginx -p "$INST/nginx/" -e "$LOG/nginx-error.log" -c "$NGINX_CONF" "$@"; }

nginx_start() {
	render_nginx_conf
	nginx_start_rendered
}

# Start (or reload) nginx with the configuration already rendered.
nginx_start_rendered() {
	nginx_cmd -t -q </dev/null || die "nginx rejects $NGINX_CONF"
	if pid_alive "$NGINX_PID" nginx; then
		step "nginx running: reloading its configuration"
		kill -HUP "$(pid_of "$NGINX_PID")"
		return 0
	fi
	if port_busy "$PORT"; then
		die "127.0.0.1:$PORT is taken by another program (choose another port: PORTAL_PORT for up, PORTAL_TEST_PORT for test)"
	fi
	step "starting nginx on $URL/"
	nginx_cmd </dev/null >>"$LOG/nginx-error.log" 2>&1 || {
		tail -n 20 "$LOG/nginx-error.log" >&2
		die "nginx did not start"
	}
}

# SIGQUIT: graceful (requests in flight finish).
nginx_stop() { stop_pid "$NGINX_PID" nginx QUIT 15; }

# --- the whole stack ------------------------------------------------------------------------

# stack_up [EXTRA_DB...]: everything from the database to /healthz answering 200. The build
# must exist ($BIN).
stack_up() {
	instance_dirs
	printf '%s\n' "$PORT" >"$INST/port"
	db_start
	db_setup "$@"
	write_portal_conf
	portald_migrate
	portald_check
	portald_start
	nginx_start
	if ! wait_until 30 healthz_ok; then
		say "/healthz did not answer 200 (got $(http_code "$URL/healthz")); recent logs:"
		tail -n 15 "$LOG/portald.log" "$LOG/nginx-error.log" >&2 || true
		die "the stack is not healthy"
	fi
}

healthz_ok() { [ "$(http_code "$URL/healthz")" = 200 ]; }

stack_down() {
	nginx_stop
	portald_stop
	db_stop
}
