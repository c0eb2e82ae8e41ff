# suites.sh - `scripts/portal test`: a test stack from nothing, every suite, one total.

# The suites, in order: NAME NEEDS FUNCTION [ARGS]. NEEDS is "db" (the test MariaDB only) or
# "stack" (MariaDB, portald and nginx answering on the test port). Adding a suite is one
# line here; "shutdown" stops portald and checks the sanitizer logs of the whole run, so it
# stays the last suite that needs the stack.
TEST_SUITES=(
	"unit         db     suite_make_check"
	"plugins      stack  suite_plugins"
	"integration  stack  suite_node tests/integration"
	"browser      stack  suite_node tests/browser"
	"faults       stack  suite_faults"
	"shutdown     stack  suite_shutdown"
	"distcheck    db     suite_distcheck"
	"cluster      none   suite_cluster"
	"package      none   suite_package"
)

# Databases beside the served one: `make check` and `make distcheck` get their own.
CHECK_DB=portal_check
DIST_DB=portal_dist

TOTAL_PASS=0
TOTAL_FAIL=0
SUMMARY_DONE=0
STACK_STATE=down   # down | up | broken

# cmd_test [SUITE...]: every suite, or only the named ones (for iterating on a change; CI
# runs them all). PORTAL_TEST_FILES=GLOB narrows the node suites to files whose name
# matches (e.g. 'welfare*'). A partial run still ends with the total line.
cmd_test() {
	local only=" $* " known=" " entry name needs fn args
	for entry in "${TEST_SUITES[@]}"; do known+="${entry%% *} "; done
	for name in "$@"; do
		[[ "$known" == *" $name "* ]] || die "no suite named $name (suites:$known)"
	done
	instance_init "$REPO/var/test" "$REPO/var/build-test" "${PORTAL_TEST_PORT:-8181}"
	# Whatever stops the run early (a missing package, a build error) still ends with the
	# total line and a non-zero exit.
	trap test_abort EXIT
	ensure_packages
	test_wipe
	instance_dirs
	build_portald "$BUILD" --enable-werror --enable-sanitizers
	# Sanitizer reports of the served portald go to files, checked by the shutdown suite.
	PORTALD_EXTRA_ENV=(
		"ASAN_OPTIONS=log_path=$LOG/sanitizer:detect_leaks=1"
		"UBSAN_OPTIONS=log_path=$LOG/sanitizer:print_stacktrace=1"
	)
	db_start
	db_setup "$CHECK_DB" "$DIST_DB"
	test_plugin_dir
	# The tests change events and read the public list at once: no micro-cache there
	# (tests/unit/t_pcache covers the cache itself).
	PUBLIC_CACHE_MS=0

	for entry in "${TEST_SUITES[@]}"; do
		read -r name needs fn args <<<"$entry"
		[ $# -eq 0 ] || [[ "$only" == *" $name "* ]] || continue
		# shellcheck disable=SC2086 # ARGS are words
		run_suite "$name" "$needs" "$fn" $args
	done

	step "stopping the test stack"
	stack_down
	[ "$TOTAL_FAIL" -eq 0 ] || say "logs of this run: $LOG/"
	SUMMARY_DONE=1
	echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
	[ "$TOTAL_FAIL" -eq 0 ]
}

# EXIT trap: a step outside the suites failed. Stop what runs, count it, say where to look.
test_abort() {
	local rc=$?
	[ "$SUMMARY_DONE" = 1 ] && return
	SUMMARY_DONE=1
	pkg_halt >/dev/null 2>&1 || true
	stack_down >/dev/null 2>&1 || true
	say "the test run stopped early (exit $rc); logs: ${LOG:-var/test/log}/"
	echo "$TOTAL_PASS passed, $((TOTAL_FAIL + 1)) failed"
	exit 1
}

# The test instance serves the shipped plugins and, beside them, the plugins that exist only
# for tests (tests/plugins: a hostile one, a friendly one), through a folder of links.
test_plugin_dir() {
	PLUGIN_DIR=$INST/plugins
	mkdir -p "$PLUGIN_DIR"
	local d
	for d in "$REPO"/plugins/*/ "$REPO"/tests/plugins/*/; do
		[ -f "$d/plugin.lua" ] && ln -sfn "${d%/}" "$PLUGIN_DIR/$(basename "$d")"
	done
	return 0
}

# `portald plugin test` of every shipped plugin and test plugin that has tests: each runs in
# the real sandbox against throwaway tables in the test database; TAP counted per test.
suite_plugins() {
	local d log=$LOG/plugin-tests.log counts rc
	: >"$log"
	for d in "$PLUGIN_DIR"/*/; do
		[ -d "$d/tests" ] || continue
		rc=0
		portald plugin test "$d" </dev/null >>"$log" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || say "plugin tests of $(basename "$d") failed (exit $rc)"
	done
	counts=$(awk '/^ok / { p++ } /^not ok / { f++ } /^Bail out!/ { f++ } END { print p + 0, f + 0 }' "$log")
	read -r SUITE_PASS SUITE_FAIL <<<"$counts"
	grep -E '^(not ok|Bail out!|#   )' "$log" >&2 || true
	if [ "$SUITE_PASS" -eq 0 ] && [ "$SUITE_FAIL" -eq 0 ]; then
		say "no plugin tests ran"
		SUITE_FAIL=1
	fi
}

# Stop a stack left by an earlier run (its pid files are the only record) and start afresh.
test_wipe() {
	[ -d "$INST/cluster" ] && (cluster_test_init && cluster_down >/dev/null 2>&1) || true
	if [ -d "$INST" ]; then
		pkg_halt
		stack_down
		[ "$RUN" != "$INST/run" ] && rm -rf "$RUN"
		rm -rf "$INST"
	fi
}

# run_suite NAME NEEDS FUNCTION ARGS...: bring up what the suite needs, run it, add it up.
# A suite function sets SUITE_PASS and SUITE_FAIL; it must not exit the script.
run_suite() {
	local name=$1 needs=$2 fn=$3
	shift 3
	SUITE_NAME=$name SUITE_PASS=0 SUITE_FAIL=0
	step "suite $name"
	if [ "$needs" = stack ]; then
		ensure_test_stack
	fi
	if [ "$needs" = stack ] && [ "$STACK_STATE" != up ]; then
		say "[$name] not run: the test stack did not start"
		SUITE_FAIL=1
	else
		"$fn" "$@"
	fi
	say "[$name] $SUITE_PASS passed, $SUITE_FAIL failed"
	TOTAL_PASS=$((TOTAL_PASS + SUITE_PASS))
	TOTAL_FAIL=$((TOTAL_FAIL + SUITE_FAIL))
}

# try CMD...: run CMD in a subshell with errexit in force (a failing step inside a function
# called from an `if` would otherwise go unnoticed); its exit status lands in TRY_RC.
try() {
	set +e
	(
		set -e
		"$@"
	)
	TRY_RC=$?
	set -e
}

# Bring the stack up (again, after the shutdown suite) and set STACK_STATE. Called as a plain
# command, never in a condition: that would switch errexit off inside try's subshell.
ensure_test_stack() {
	case "$STACK_STATE" in
	up) portald_running && return 0 ;;
	broken) return 0 ;;
	esac
	try stack_up "$CHECK_DB" "$DIST_DB"
	if [ "$TRY_RC" -eq 0 ]; then STACK_STATE=up; else STACK_STATE=broken; fi
}

# Environment of the unit tests that use the database (tests/unit/t_db).
test_db_env() {
	printf '%s\n' "PORTAL_TEST_DB_SOCKET=$DB_SOCK" "PORTAL_TEST_DB_NAME=$1" \
		"PORTAL_TEST_DB_USER=$DB_USER" "PORTAL_TEST_DB_PASSWORD=$(db_password)" \
		"PORTAL_TEST_REQUIRE_DB=1"
}

# Add up automake's .trs files: one ":test-result:" line per TAP test point (or per program
# for a plain test). XFAIL is a known, expected failure and counts as passed; FAIL, XPASS,
# ERROR and SKIP count as failed (nothing may be skipped in this run).
count_trs() {
	local counts
	counts=$(find "$1" -name '*.trs' -exec cat {} + 2>/dev/null | awk '
		$1 == ":test-result:" { if ($2 == "PASS" || $2 == "XFAIL") p++; else f++ }
		END { print p + 0, f + 0 }')
	read -r SUITE_PASS SUITE_FAIL <<<"$counts"
}

# make check in the sanitizer build, with the test MariaDB.
suite_make_check() {
	local log=$LOG/make-check.log rc=0 envs
	mapfile -t envs < <(test_db_env "$CHECK_DB")
	find "$BUILD" -name '*.trs' -delete
	env "${envs[@]}" make -C "$BUILD" -j2 --no-print-directory check </dev/null >"$log" 2>&1 || rc=$?
	count_trs "$BUILD"
	grep -E '^(FAIL|XPASS|ERROR|SKIP):' "$log" >&2 || true
	grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$log" >&2 || true
	if [ "$rc" -ne 0 ]; then
		[ "$SUITE_FAIL" -eq 0 ] && SUITE_FAIL=1
		tail -n 40 "$log" >&2
		say "make check failed (exit $rc): $log, $BUILD/test-suite.log"
	fi
}

# node's test runner over DIR/*.test.mjs against the test stack, one file at a time (the
# process tests kill and reload workers). spec output on the console, TAP kept in the log.
suite_node() {
	local dir=$1 tap=$LOG/$SUITE_NAME.tap rc=0 files counts
	files=("$REPO/$dir"/${PORTAL_TEST_FILES:-*}.test.mjs)
	if [ ! -e "${files[0]}" ]; then
		say "no tests in $dir"
		SUITE_FAIL=1
		return
	fi
	# Tests that import packages (the browser tests: playwright-core) need node_modules from
	# package-lock.json; installed once, never updated behind the lock file's back.
	# (looked for in every module of the folder: a shared lib.mjs may be the one importing)
	if grep -lq "from 'playwright-core'" "$REPO/$dir"/*.mjs && [ ! -d "$REPO/node_modules/playwright-core" ]; then
		step "npm ci (playwright-core for $dir)"
		if ! (cd "$REPO" && npm ci --no-audit --no-fund </dev/null >"$LOG/npm-ci.log" 2>&1); then
			say "npm ci failed: $LOG/npm-ci.log"
			SUITE_FAIL=1
			return
		fi
	fi
	PORTAL_URL=$URL PORTAL_VAR=$INST PORTAL_BIN=$BIN PORTAL_PID_FILE=$PORTALD_PID \
		PORTAL_CONF="$REPO/conf/portal.conf:$CONF_FILE" \
		node --test --test-concurrency=1 \
		--test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tap" \
		"${files[@]}" </dev/null >&2 || rc=$?
	# The closing "# pass N" ... lines of the TAP stream; skipped and todo tests count as
	# failed here, cancelled ones (a test file that died) too.
	counts=$(awk '
		$1 == "#" && $2 == "pass" { p = $3 }
		$1 == "#" && ($2 == "fail" || $2 == "cancelled" || $2 == "skipped" || $2 == "todo") { f += $3 }
		END { print p + 0, f + 0 }' "$tap" 2>/dev/null || echo "0 0")
	read -r SUITE_PASS SUITE_FAIL <<<"$counts"
	if [ "$rc" -ne 0 ] && [ "$SUITE_FAIL" -eq 0 ]; then
		SUITE_FAIL=1
		say "node --test exited $rc"
	fi
}

# portald under the sanitizers, at the end of the run: SIGTERM stops the master and every
# worker in time, and no sanitizer wrote a report at any point of the run.
suite_shutdown() {
	local pids p left=""
	mapfile -t pids < <(portald_pids)
	portald_stop
	for p in "${pids[@]}"; do pid_gone "$p" || left+=" $p"; done
	if [ ${#pids[@]} -gt 1 ] && [ -z "$left" ]; then
		SUITE_PASS=$((SUITE_PASS + 1))
	else
		say "portald stop: master and workers were: ${pids[*]:-none}; still running:${left:- none}"
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
	STACK_STATE=down
	local reports
	reports=$(find "$LOG" -maxdepth 1 -name 'sanitizer.*' -size +0 2>/dev/null)
	if [ -z "$reports" ]; then
		SUITE_PASS=$((SUITE_PASS + 1))
	else
		say "sanitizer reports from portald:"
		for p in $reports; do
			say "--- $p"
			head -n 30 "$p" >&2
		done
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
}

# make distcheck in its own build folder, counted as one test; output in the log.
suite_distcheck() {
	local dir=$REPO/var/build-dist log=$LOG/distcheck.log rc=0 envs p f
	mapfile -t envs < <(test_db_env "$DIST_DB")
	configure_build "$dir" >"$log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		env "${envs[@]}" make -C "$dir" -j2 distcheck </dev/null >>"$log" 2>&1 || rc=$?
	fi
	if [ "$rc" -eq 0 ]; then
		SUITE_PASS=1
		grep -E 'archives ready for distribution|\.tar\.gz$' "$log" | tail -n 2 >&2 || true
	else
		SUITE_FAIL=1
		tail -n 40 "$log" >&2
		say "make distcheck failed (exit $rc): $log"
		return 0
	fi
	# the tarball itself: every tracked file an install needs, each shipped plugin whole
	# (make distcheck's installcheck has checked the installed tree: tests/unit/check-install.sh)
	local tap=$LOG/check-dist.tap counts
	sh "$REPO/tests/unit/check-dist.sh" "$(ls "$dir"/portal-*.tar.gz | head -n 1)" "$REPO" >"$tap" 2>&1 || true
	counts=$(awk '/^ok / { p++ } /^not ok / { f++ } END { print p + 0, f + 0 }' "$tap")
	read -r p f <<<"$counts"
	grep -E '^(not ok|#)' "$tap" >&2 || true
	[ "$p" -gt 0 ] || f=$((f + 1))
	SUITE_PASS=$((SUITE_PASS + p))
	SUITE_FAIL=$((SUITE_FAIL + f))
}

# --- the cluster suite ------------------------------------------------------------------------

# The test cluster (in a subshell: it selects other folders than the test stack's): var/test/
# cluster, the sanitizer build, rate limits off (every client is 127.0.0.1), the test plugins.
cluster_test_init() {
	local base
	export PORTAL_RATE_LIMITS=off PORTAL_CLUSTER_APP_NODES=2
	export PORTAL_CLUSTER_TOPOLOGY=${PORTAL_CLUSTER_TOPOLOGY:-multi}
	base=${PORTAL_CLUSTER_PORT_BASE:-$(cat "$REPO/var/test/cluster/port-base" 2>/dev/null || cluster_free_base 9200)}
	export PORTAL_CLUSTER_PORT_BASE=$base
	cluster_init "$REPO/var/test/cluster" "$REPO/var/build-test" $((base + 14))
	PLUGIN_DIR=$REPO/var/test/plugins
	PUBLIC_CACHE_MS=0
	PORTALD_EXTRA_ENV=(
		"ASAN_OPTIONS=log_path=$CLOG/sanitizer:detect_leaks=1"
		"UBSAN_OPTIONS=log_path=$CLOG/sanitizer:print_stacktrace=1"
	)
}

# A command for the tests to drive the test cluster (tests/cluster/README.md):
#   ctl db-kill|db-start I, app-kill|app-start K, reload K   (cluster_node_cmd)
#   ctl sql I QUERY       rows of QUERY on Galera node I (tab-separated)
#   ctl cli K ARGS...     portald ARGS with app node K's configuration
#   ctl pids K            app node K's master and workers, master first
#   ctl metrics K         GET /metrics straight from app node K's socket
#   ctl get K PATH        GET PATH straight from app node K's socket (CGI headers, body)
#   ctl synced I          exit 0 when Galera node I is Synced
write_cluster_ctl() {
	local f=$CINST/ctl
	cat >"$f" <<-EOF
		#!/usr/bin/env bash
		# Written by scripts/portal test: drives the test cluster in $CINST.
		set -euo pipefail
		REPO=$REPO
		for lib in common setup stack cluster suites; do . "\$REPO/scripts/lib/\$lib.sh"; done
		cluster_test_init
		cmd=\${1:-}
		shift || true
		case "\$cmd" in
		sql) n=\$1; shift; gsql "\$n" -N -B -r "\$DB_NAME" -e "\$*" ;;
		cli) app_node "\$1"; shift; portald "\$@" ;;
		pids) app_node "\$1"; portald_pids ;;
		metrics) app_node "\$1"; REQUEST_METHOD=GET SCRIPT_NAME=/metrics REQUEST_URI=/metrics QUERY_STRING= \\
			REMOTE_ADDR=127.0.0.1 cgi-fcgi -bind -connect "\$PORTALD_SOCK" ;;
		get) app_node "\$1"; REQUEST_METHOD=GET SCRIPT_NAME="\${2%%\\?*}" REQUEST_URI="\$2" \\
			QUERY_STRING="\$([[ "\$2" == *\\?* ]] && echo "\${2#*\\?}" || true)" REMOTE_ADDR=127.0.0.1 \\
			cgi-fcgi -bind -connect "\$PORTALD_SOCK" ;;
		synced) gsynced "\$1" ;;
		*) cluster_node_cmd "\$cmd" "\$@" ;;
		esac
	EOF
	chmod 0700 "$f"
}

# The cluster from nothing, tests/cluster/*.test.mjs against it, then everything stopped.
# Writes "PASS FAIL" to $1.
cluster_suite_run() {
	local out=$1 tap rc=0 counts reports
	cluster_test_init
	if [ -d "$CINST" ]; then
		cluster_down >/dev/null 2>&1 || true
		[ "$CRUN" != "$CINST/run" ] && rm -rf "$CRUN"
		rm -rf "$CINST"
	fi
	trap 'cluster_down >/dev/null 2>&1 || true' EXIT
	cluster_up
	write_cluster_ctl
	cluster_self
	tap=$CLOG/cluster.tap
	PORTAL_URL=$URL PORTAL_CLUSTER_CTL=$CINST/ctl \
		node --test --test-concurrency=1 \
		--test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tap" \
		"$REPO"/tests/cluster/${PORTAL_TEST_FILES:-*}.test.mjs </dev/null >&2 || rc=$?
	counts=$(awk '
		$1 == "#" && $2 == "pass" { p = $3 }
		$1 == "#" && ($2 == "fail" || $2 == "cancelled" || $2 == "skipped" || $2 == "todo") { f += $3 }
		END { print p + 0, f + 0 }' "$tap" 2>/dev/null || echo "0 0")
	read -r SUITE_PASS SUITE_FAIL <<<"$counts"
	if [ "$rc" -ne 0 ] && [ "$SUITE_FAIL" -eq 0 ]; then SUITE_FAIL=1; fi
	step "stopping the test cluster"
	cluster_down
	# no sanitizer report from any portald of the cluster (those killed with -9 write none)
	reports=$(find "$CLOG" -maxdepth 1 -name 'sanitizer.*' -size +0 2>/dev/null)
	if [ -z "$reports" ]; then SUITE_PASS=$((SUITE_PASS + 1)); else
		say "sanitizer reports from the cluster's portald:"
		head -n 30 $reports >&2
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
	echo "$SUITE_PASS $SUITE_FAIL" >"$out"
}

# The cluster suite (~2 GB: three MariaDB Galera nodes, two portald nodes, nginx).
suite_cluster() {
	local out=$LOG/cluster-suite.counts
	rm -f "$out"
	try cluster_suite_run "$out"
	if [ -s "$out" ]; then
		read -r SUITE_PASS SUITE_FAIL <"$out"
	else
		say "the cluster suite stopped early; logs: $REPO/var/test/cluster/"
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
}
