# cluster.sh - `scripts/portal cluster`: the portal past one machine, on the loopback of one.
#
#   3 MariaDB Galera nodes (galera-4, rsync state transfer, mariadbd as the mysql user)
#   N portald nodes (PORTAL_CLUSTER_APP_NODES, default 2), each its own master and workers,
#     app node k connected to Galera node ((k-1) mod 3)+1 and failing over to the others
#   one nginx balancing over the portald nodes (passive health checks, retry only what is
#     safe to retry: see conf/nginx-cluster.inc)
#   with PORTAL_CLUSTER_TOPOLOGY=single: one HAProxy in front of the Galera nodes that sends
#     every app node to one writer (node 1, then 2, then 3 by wsrep_local_state), instead of
#     each app node writing to its own Galera node (multi, the default; docs/architecture.md)
#
# Ports: PORTAL_CLUSTER_PORT_BASE (default: the first free block of 16 from 9200) holds, per
# Galera node i (0-based), client B+4i, group communication B+4i+1, IST B+4i+2, SST B+4i+3,
# then HAProxy B+12; the test cluster's nginx takes B+14 (the dev cluster's: PORTAL_PORT).
# Everything lives in the cluster instance folder (var/cluster, or var/test/cluster).

CLUSTER_DB_NODES=3
GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
CLUSTER_CHECK_USER=portal_check

# cluster_init DIR BUILD PORT: the cluster instance (sets CINST, CBUILD, CPORT, CRUN, CLOG,
# SECRETS, BIN, URL, NGINX_CONF, NGINX_PID, the port base and topology).
cluster_init() {
	CINST=$1
	BUILD=$2
	CPORT=$3
	PORT=$3
	BIN=$BUILD/portald
	SECRETS=$CINST/secrets
	CRUN=$(run_dir "$CINST")
	CLOG=$CINST/log
	LOG=$CLOG
	RUN=$CRUN
	INST=$CINST
	NGINX_CONF=$CINST/nginx.conf
	NGINX_PID=$CRUN/nginx.pid
	URL=http://127.0.0.1:$CPORT
	CLUSTER_APPS=${PORTAL_CLUSTER_APP_NODES:-$(cat "$CINST/apps" 2>/dev/null || echo 2)}
	CLUSTER_TOPOLOGY=${PORTAL_CLUSTER_TOPOLOGY:-$(cat "$CINST/topology" 2>/dev/null || echo multi)}
	case "$CLUSTER_TOPOLOGY" in multi | single) ;; *) die "PORTAL_CLUSTER_TOPOLOGY: multi or single" ;; esac
	case "$CLUSTER_APPS" in [1-9]) ;; *) die "PORTAL_CLUSTER_APP_NODES: 1 to 9" ;; esac
	CLUSTER_BASE=${PORTAL_CLUSTER_PORT_BASE:-$(cat "$CINST/port-base" 2>/dev/null || true)}
	# DB_USER_HOST: portald reaches MariaDB over TCP here, so its accounts are @127.0.0.1
	DB_USER_HOST=127.0.0.1
}

# The first block of 16 free ports at or above $1 (steps of 16), for a new cluster.
cluster_free_base() {
	local b=$1 i
	while [ "$b" -lt 65000 ]; do
		for ((i = 0; i < 16; i++)); do
			port_busy $((b + i)) && break
		done
		[ "$i" -eq 16 ] && { echo "$b"; return 0; }
		b=$((b + 16))
	done
	die "no 16 free ports on 127.0.0.1"
}

cluster_dirs() {
	mkdir -p "$CINST" "$CLOG" "$CINST/nginx"
	# the run folder is crossed by mariadbd (user mysql) to its own g<I>/ socket folders
	install -d -m 0711 "$CRUN"
	install -d -m 0700 "$SECRETS"
	if [ "$CRUN" != "$CINST/run" ] && [ ! -L "$CINST/run" ]; then ln -sfn "$CRUN" "$CINST/run"; fi
	if [ -z "$CLUSTER_BASE" ]; then CLUSTER_BASE=$(cluster_free_base 9200); fi
	echo "$CLUSTER_BASE" >"$CINST/port-base"
	echo "$CLUSTER_APPS" >"$CINST/apps"
	echo "$CLUSTER_TOPOLOGY" >"$CINST/topology"
	echo "$CPORT" >"$CINST/port"
}

# --- Galera nodes -----------------------------------------------------------------------

# gnode I: select Galera node I (1..3): GDIR (owned by mysql), GSOCK, GPID, GLOGF and its ports.
gnode() {
	GI=$1
	GDIR=$CINST/galera/node$1
	GSOCK=$CRUN/g$1/mysql.sock
	GPID=$CRUN/g$1/mysql.pid
	GLOGF=$CLOG/galera$1.log
	GPORT=$((CLUSTER_BASE + 4 * ($1 - 1)))
	GCOMM=$((GPORT + 1))
	GIST=$((GPORT + 2))
	GSST=$((GPORT + 3))
}
galera_port() { echo $((CLUSTER_BASE + 4 * ($1 - 1))); }
haproxy_port() { echo $((CLUSTER_BASE + 12)); }

# gsql I ARGS...: the administrator on node I (unix_socket authentication as root).
gsql() {
	local i=$1
	shift
	mariadb --no-defaults --socket="$CRUN/g$i/mysql.sock" -u "$(id -un)" "$@"
}

# gstatus I NAME: one wsrep status value of node I ("" when it does not answer).
gstatus() { gsql "$1" -N -B -e "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{ print $2 }'; }
gsynced() { [ "$(gstatus "$1" wsrep_local_state_comment)" = Synced ]; }
grunning() { gnode "$1" && pid_alive "$GPID" mariadbd; }

# The gcomm:// address of the whole cluster.
gcomm_all() {
	local i s=""
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do s+="${s:+,}127.0.0.1:$(($(galera_port "$i") + 1))"; done
	echo "gcomm://$s"
}

# The donors node I asks for a state transfer, best first: the nodes no app node writes to,
# then the others, then anyone (the trailing comma). rsync blocks its donor's writes while it
# copies (FLUSH TABLES WITH READ LOCK), so the donor should be a node that serves nobody.
galera_donors() {
	local i=$1 j k busy=" " list=""
	for ((k = 1; k <= CLUSTER_APPS; k++)); do busy+="$(((k - 1) % CLUSTER_DB_NODES + 1)) "; done
	for j in $(seq "$CLUSTER_DB_NODES"); do
		[ "$j" != "$i" ] && [[ "$busy" != *" $j "* ]] && list+="node$j,"
	done
	for j in $(seq "$CLUSTER_DB_NODES"); do
		[ "$j" != "$i" ] && [[ "$busy" == *" $j "* ]] && list+="node$j,"
	done
	echo "$list"
}

# galera_start I [new]: start node I (new: bootstrap a new cluster from it). Returns at once;
# wait with galera_wait.
galera_start() {
	local i=$1 mode=${2:-join} addr newflag=()
	gnode "$i"
	pid_alive "$GPID" mariadbd && return 0
	install -d -o mysql -g mysql -m 0750 "$GDIR" "$GDIR/data"
	install -d -o mysql -g mysql -m 0755 "$CRUN/g$i"
	if [ "$mode" = new ] && [ ! -d "$GDIR/data/mysql" ]; then
		step "creating the Galera data folder of node $i"
		mariadb-install-db --no-defaults --datadir="$GDIR/data" --user=mysql \
			--auth-root-authentication-method=socket --skip-test-db >"$CLOG/galera-install.log" 2>&1 </dev/null ||
			{ tail -n 20 "$CLOG/galera-install.log" >&2; die "mariadb-install-db failed"; }
	fi
	addr=$(gcomm_all)
	if [ "$mode" = new ]; then
		addr=gcomm://
		newflag=(--wsrep-new-cluster)
		# a node that stopped last (or was chosen after a crash) may start a new cluster
		[ -f "$GDIR/data/grastate.dat" ] && sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$GDIR/data/grastate.dat"
	fi
	rm -f "$GSOCK"
	: >>"$GLOGF"
	chown mysql:mysql "$GLOGF"
	step "starting Galera node $i (port $GPORT, $mode)"
	# innodb_flush_log_at_trx_commit=2: a commit is durable once it is certified on the
	# cluster (a lost node gets it back by state transfer), the setting Galera recommends.
	# log_bin_trust_function_creators: Galera logs every write like a binary log, and then
	# only SUPER may create triggers; the migrate user creates the audit log's triggers.
	setsid mariadbd --no-defaults --datadir="$GDIR/data" --socket="$GSOCK" --pid-file="$GPID" \
		--port="$GPORT" --bind-address=127.0.0.1 --skip-name-resolve --user=mysql \
		--log-error="$GLOGF" --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		--innodb-buffer-pool-size=96M --innodb-log-file-size=48M --innodb-flush-log-at-trx-commit=2 \
		--max-connections=300 --default-storage-engine=InnoDB --log-bin-trust-function-creators=1 \
		--wsrep-on=ON --wsrep-provider="$GALERA_PROVIDER" --wsrep-cluster-name=portal \
		--wsrep-cluster-address="$addr" ${newflag[@]+"${newflag[@]}"} \
		--wsrep-node-name="node$i" --wsrep-node-address="127.0.0.1:$GCOMM" \
		--wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$GCOMM;ist.recv_addr=127.0.0.1:$GIST;gcache.size=64M;repl.causal_read_timeout=PT10S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S" \
		--wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$GSST" \
		--wsrep-sst-donor="$(galera_donors "$i")" \
		--wsrep-slave-threads=2 --binlog-format=ROW --innodb-autoinc-lock-mode=2 \
		</dev/null >>"$GLOGF" 2>&1 &
	G_LAUNCHED[$i]=$!
	disown "$!" 2>/dev/null || true    # no "Killed" job report when a test kills it
}
G_LAUNCHED=()

# galera_wait I [SECONDS]: until node I is Synced.
galera_wait() {
	local i=$1 secs=${2:-120}
	gnode "$i"
	if ! wait_until "$secs" gsynced_or_dead "$i" || ! gsynced "$i"; then
		tail -n 30 "$GLOGF" >&2
		die "Galera node $i did not reach Synced in ${secs}s (log: $GLOGF)"
	fi
}
gsynced_or_dead() { gsynced "$1" || { [ -n "${G_LAUNCHED[$1]:-}" ] && pid_gone "${G_LAUNCHED[$1]}"; }; }

galera_stop() {
	gnode "$1"
	stop_pid "$GPID" mariadbd TERM 60
}

# The node to bootstrap a stopped cluster from: safe_to_bootstrap: 1, else the highest seqno
# in grastate.dat (a full-cluster restart; docs/architecture.md), else node 1.
galera_bootstrap_node() {
	local i best=1 bestseq=-2 st seq
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do
		st=$CINST/galera/node$i/data/grastate.dat
		[ -f "$st" ] || continue
		if grep -q '^safe_to_bootstrap: 1' "$st"; then echo "$i"; return 0; fi
		seq=$(awk '$1 == "seqno:" { print $2 }' "$st")
		if [ -n "$seq" ] && [ "$seq" -gt "$bestseq" ]; then best=$i bestseq=$seq; fi
	done
	echo "$best"
}

galera_up() {
	local i any=0 first
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do grunning "$i" && any=$i; done
	if [ "$any" = 0 ]; then
		first=$(galera_bootstrap_node)
		galera_start "$first" new
		galera_wait "$first"
	fi
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do galera_start "$i"; done
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do galera_wait "$i"; done
}

# Stop the nodes one by one: the last one down is safe to bootstrap from next time.
galera_down() {
	local i
	for ((i = CLUSTER_DB_NODES; i >= 1; i--)); do galera_stop "$i"; done
}

# The portal's database, its two users and the health-check user (no rights: SHOW STATUS
# needs none), made once on one node; Galera replicates them.
cluster_db_setup() {
	local pw mpw cpw n
	n=$(cluster_any_db) || die "no Galera node answers"
	pw=$(db_password)
	mpw=$(migrate_password)
	cpw=$(secret check-password)
	gsql "$n" <<-EOF || die "could not create the portal database and users"
		CREATE USER IF NOT EXISTS '$DB_USER'@'$DB_USER_HOST' IDENTIFIED BY '$pw';
		ALTER USER '$DB_USER'@'$DB_USER_HOST' IDENTIFIED BY '$pw';
		CREATE USER IF NOT EXISTS '$MIGRATE_USER'@'$DB_USER_HOST' IDENTIFIED BY '$mpw';
		ALTER USER '$MIGRATE_USER'@'$DB_USER_HOST' IDENTIFIED BY '$mpw';
		CREATE USER IF NOT EXISTS '$CLUSTER_CHECK_USER'@'$DB_USER_HOST' IDENTIFIED BY '$cpw';
		ALTER USER '$CLUSTER_CHECK_USER'@'$DB_USER_HOST' IDENTIFIED BY '$cpw';
		CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
		GRANT $DB_RUNTIME_PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'$DB_USER_HOST';
		GRANT $DB_PRIVILEGES ON \`$DB_NAME\`.* TO '$MIGRATE_USER'@'$DB_USER_HOST';
	EOF
}

# A Galera node that answers as Synced (its number), or fail.
cluster_any_db() {
	local i
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do
		gsynced "$i" && { echo "$i"; return 0; }
	done
	return 1
}

# --- HAProxy (topology single) ------------------------------------------------------------

# HAProxy sends every connection to the first Galera node whose wsrep_local_state is 4
# (Synced), the others being backups; its external check asks the node itself.
haproxy_start() {
	local i cfg=$CINST/haproxy.cfg check=$CINST/galera-check
	cat >"$check" <<-EOF
		#!/bin/sh
		# HAProxy external check: \$3 \$4 are the server's address and port. Healthy when the
		# node is Synced (wsrep_local_state 4) and in the primary component.
		out=\$(mariadb --no-defaults -h "\$3" -P "\$4" -u $CLUSTER_CHECK_USER -p'$(secret check-password)' \\
			--connect-timeout=2 -N -B -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state', 'wsrep_ready')" 2>/dev/null)
		echo "\$out" | grep -q '^wsrep_local_state[[:space:]]4\$' && echo "\$out" | grep -q '^wsrep_ready[[:space:]]ON\$'
	EOF
	chmod 0700 "$check"
	{
		echo "global"
		echo "    pidfile $CRUN/haproxy.pid"
		echo "    external-check"
		echo "    insecure-fork-wanted"
		echo "    log stderr format short local0 notice"
		echo "defaults"
		echo "    mode tcp"
		echo "    log global"
		echo "    timeout connect 2s"
		echo "    timeout client 1h"
		echo "    timeout server 1h"
		echo "    retries 2"
		echo "    option redispatch"
		echo "listen galera"
		echo "    bind 127.0.0.1:$(haproxy_port)"
		echo "    option external-check"
		echo "    external-check path /usr/bin:/bin"
		echo "    external-check command $check"
		echo "    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions"
		for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do
			echo "    server node$i 127.0.0.1:$(galera_port "$i") check$([ "$i" -gt 1 ] && echo " backup")"
		done
	} >"$cfg"
	if pid_alive "$CRUN/haproxy.pid" haproxy; then
		kill -USR2 "$(pid_of "$CRUN/haproxy.pid")" 2>/dev/null || true
		return 0
	fi
	step "starting HAProxy on 127.0.0.1:$(haproxy_port) (one writer at a time)"
	haproxy -c -q -f "$cfg" || die "haproxy rejects $cfg"
	setsid haproxy -D -f "$cfg" </dev/null >>"$CLOG/haproxy.log" 2>&1 || die "haproxy did not start"
}
haproxy_stop() { stop_pid "$CRUN/haproxy.pid" haproxy TERM 10; }

# --- portald nodes --------------------------------------------------------------------------

# app_node K: select portald node K (sets INST RUN LOG CONF_FILE PORTALD_SOCK PORTALD_PID).
app_node() {
	APP=$1
	INST=$CINST/app$1
	RUN=$(run_dir "$INST")
	LOG=$INST/log
	CONF_FILE=$INST/portal.conf
	PORTALD_SOCK=$RUN/portald.sock
	PORTALD_PID=$RUN/portald.pid
	mkdir -p "$INST" "$LOG"
	install -d -m 0700 "$RUN"
	if [ "$RUN" != "$INST/run" ] && [ ! -L "$INST/run" ]; then ln -sfn "$RUN" "$INST/run"; fi
}

# The Galera node app node K writes to (multi) and the ones it fails over to, in order.
app_db_nodes() {
	local k=$1 i first
	first=$(((k - 1) % CLUSTER_DB_NODES + 1))
	for ((i = 0; i < CLUSTER_DB_NODES; i++)); do echo $(((first - 1 + i) % CLUSTER_DB_NODES + 1)); done
}

# portal.conf of the selected app node.
write_app_conf() {
	local tmp=$CONF_FILE.tmp nodes host port failover="" n
	mapfile -t nodes < <(app_db_nodes "$APP")
	if [ "$CLUSTER_TOPOLOGY" = single ]; then
		port=$(haproxy_port)
	else
		port=$(galera_port "${nodes[0]}")
		for n in "${nodes[@]:1}"; do failover+="${failover:+,}127.0.0.1:$(galera_port "$n")"; done
	fi
	(
		umask 077
		cat >"$tmp" <<-EOF
			# Written by scripts/portal cluster for app node $APP; read after conf/portal.conf.
			listen = $PORTALD_SOCK
			pid_file = $PORTALD_PID
			workers = ${CLUSTER_WORKERS:-4}
			db_socket =
			db_host = 127.0.0.1
			db_port = $port
			db_failover = $failover
			db_sync_wait = 1
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

# Back to the cluster's own folders after app_node.
cluster_self() {
	INST=$CINST
	RUN=$CRUN
	LOG=$CLOG
	PORT=$CPORT
}

# --- nginx over the portald nodes -------------------------------------------------------------

cluster_nginx_start() {
	local k up=""
	# CLUSTER_NGINX_APPS: balance over the first that many nodes only (the benchmark's 1 vs 2)
	for ((k = 1; k <= ${CLUSTER_NGINX_APPS:-$CLUSTER_APPS}; k++)); do
		# passive health checks: two failures in 5 s take a node out for 5 s
		up+="        server unix:$(run_dir "$CINST/app$k")/portald.sock max_fails=2 fail_timeout=5s;\\n"
	done
	cluster_self
	render_nginx_conf "$up" "include $REPO/conf/nginx-cluster.inc;"
	nginx_start_rendered
}

# --- the whole cluster ----------------------------------------------------------------------

cluster_up() {
	local k
	cluster_dirs
	galera_up
	cluster_db_setup
	[ "$CLUSTER_TOPOLOGY" = single ] && haproxy_start
	for ((k = 1; k <= CLUSTER_APPS; k++)); do
		app_node "$k"
		write_app_conf
	done
	# migrations once, from app node 1 (a lease row keeps a second `migrate` on another node
	# waiting, then finding nothing to do: core/lease.c)
	app_node 1
	portald_migrate
	portald_check
	for ((k = 1; k <= CLUSTER_APPS; k++)); do
		app_node "$k"
		portald_start
	done
	cluster_nginx_start
	if ! wait_until 60 healthz_ok; then
		say "/healthz did not answer 200 (got $(http_code "$URL/healthz"))"
		die "the cluster is not healthy (logs: $CINST/*/log/)"
	fi
}

cluster_down() {
	local k
	cluster_self
	nginx_stop
	for ((k = 1; k <= CLUSTER_APPS; k++)); do
		app_node "$k"
		portald_stop
	done
	haproxy_stop
	galera_down
}

cluster_status() {
	local i k ok=0 code
	for ((i = 1; i <= CLUSTER_DB_NODES; i++)); do
		gnode "$i"
		if pid_alive "$GPID" mariadbd; then
			echo "galera$i  running (pid $(pid_of "$GPID"), port $GPORT) $(gstatus "$i" wsrep_local_state_comment)," \
				"cluster size $(gstatus "$i" wsrep_cluster_size), $(gstatus "$i" wsrep_cluster_status)"
		else
			echo "galera$i  stopped"
			ok=1
		fi
	done
	if [ "$CLUSTER_TOPOLOGY" = single ]; then
		if pid_alive "$CRUN/haproxy.pid" haproxy; then echo "haproxy  running on 127.0.0.1:$(haproxy_port)"; else
			echo "haproxy  stopped"
			ok=1
		fi
	fi
	for ((k = 1; k <= CLUSTER_APPS; k++)); do
		app_node "$k"
		if portald_running; then
			echo "app$k     running (pid $(pid_of "$PORTALD_PID"), $(pgrep -c -P "$(pid_of "$PORTALD_PID")" || true) workers," \
				"database $(awk -F' = ' '$1 == "db_port" { print "127.0.0.1:" $2 }' "$CONF_FILE"))"
		else
			echo "app$k     stopped"
			ok=1
		fi
	done
	if pid_alive "$CRUN/nginx.pid" nginx; then echo "nginx    running on $URL/"; else
		echo "nginx    stopped"
		ok=1
	fi
	code=$(http_code "$URL/healthz")
	echo "healthz  $code"
	[ "$code" = 200 ] || ok=1
	return $ok
}

# cluster_node_cmd db-kill|db-start|app-kill|app-start|reload N: what an operator (and the
# cluster test) does to one node.
#   db-kill I     kill -9 Galera node I's mariadbd
#   db-start I    start it again with the same options; it rejoins by IST or SST; waits for Synced
#   app-kill K    kill -9 portald node K's master and every worker at once
#   app-start K   start portald node K again
#   reload K      SIGHUP to node K's master (what `scripts/portal up` does after a deploy)
cluster_node_cmd() {
	local what=$1 n=$2 pids
	case "$n" in [1-9]) ;; *) die "node number expected, got $n" ;; esac
	case "$what" in
	db-kill)
		gnode "$n"
		pid_alive "$GPID" mariadbd || die "Galera node $n is not running"
		kill -KILL "$(pid_of "$GPID")"
		wait_until 10 pid_gone "$(pid_of "$GPID")" || die "Galera node $n survived kill -9"
		;;
	db-start)
		galera_start "$n"
		galera_wait "$n"
		;;
	app-kill)
		app_node "$n"
		portald_running || die "portald node $n is not running"
		mapfile -t pids < <(portald_pids)
		kill -KILL "${pids[@]}"
		local p
		for p in "${pids[@]}"; do wait_until 10 pid_gone "$p" || die "portald pid $p survived kill -9"; done
		;;
	app-start)
		app_node "$n"
		portald_start
		;;
	reload)
		app_node "$n"
		portald_running || die "portald node $n is not running"
		kill -HUP "$(pid_of "$PORTALD_PID")"
		;;
	*) die "unknown node command $what" ;;
	esac
}
