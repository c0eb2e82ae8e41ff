# faults.sh - the fault runs (issue 12): registration load while the stack is broken on
# purpose, then checks from the database. The suite `faults` of `scripts/portal test`
# (`scripts/portal test faults` runs it alone); figures in docs/benchmarks.md "Fault runs".
#
# Three phases of FAULT_SECONDS (PORTAL_FAULT_SECONDS, default 20) each, on fresh events with
# little room, under the load of tests/faults/run.mjs (residents retrying with their
# Idempotency-Key; one in ten without a key):
#   kill     a portald worker gets SIGKILL every second (a busy one when there is one)
#   mariadb  MariaDB is restarted twice: a clean stop (SIGTERM) and start, then SIGKILL and
#            start (crash recovery)
#   reload   the master gets SIGHUP every 2 seconds: every worker replaced, plugins reloaded
# The checks (run.mjs check): 201s not saved = 0, saved but reported failed = 0 for residents
# with a key, overbooked = 0, every resident answered. Each check is one test of the suite.

FAULT_PHASES=(kill mariadb reload)

# The fault of one phase, for FAULT_SECONDS, beside the load.
# kill: a worker that is serving a request (not waiting for one in ppoll, by its wchan), so
# that kills land in the middle of registrations, before or after their COMMIT; any worker
# when all are idle.
fault_kill() {
	local end=$((SECONDS + FAULT_SECONDS)) pids busy p
	while [ "$SECONDS" -lt "$end" ]; do
		sleep 1
		mapfile -t pids < <(pgrep -P "$(pid_of "$PORTALD_PID")" || true)
		busy=()
		for p in "${pids[@]}"; do
			case "$(cat "/proc/$p/wchan" 2>/dev/null)" in
			*poll*) ;;
			*) busy+=("$p") ;;
			esac
		done
		[ ${#busy[@]} -gt 0 ] && pids=("${busy[@]}")
		[ ${#pids[@]} -gt 0 ] && kill -KILL "${pids[RANDOM % ${#pids[@]}]}" 2>/dev/null || true
	done
}

fault_mariadb() {
	local start=$SECONDS pid
	sleep 4
	say "  MariaDB: clean stop and start"
	db_stop
	db_start
	sleep $((FAULT_SECONDS / 2 - (SECONDS - start) > 1 ? FAULT_SECONDS / 2 - (SECONDS - start) : 1))
	say "  MariaDB: SIGKILL and start"
	pid=$(pid_of "$DB_PID")
	# (wait: it is this shell's child since db_start, and bash would announce its death)
	{ kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	db_start
	local left=$((FAULT_SECONDS - (SECONDS - start)))
	[ "$left" -gt 0 ] && sleep "$left"
	return 0
}

fault_reload() {
	local end=$((SECONDS + FAULT_SECONDS))
	while [ "$SECONDS" -lt "$end" ]; do
		sleep 2
		kill -HUP "$(pid_of "$PORTALD_PID")"
	done
}

# suite_faults: the three phases and their checks, figures to $LOG/faults.txt.
suite_faults() {
	local dir=$LOG/faults run=$REPO/tests/faults/run.mjs phase load_pid rc=0 outs=()
	FAULT_SECONDS=${PORTAL_FAULT_SECONDS:-20}
	rm -rf "$dir"
	mkdir -p "$dir"
	export PORTAL_URL=$URL PORTAL_VAR=$INST PORTAL_BIN=$BIN PORTAL_PID_FILE=$PORTALD_PID
	export PORTAL_CONF="$REPO/conf/portal.conf:$CONF_FILE"
	if ! node "$run" setup "${FAULT_PHASES[@]}" </dev/null >"$dir/events.json" 2>"$dir/setup.log"; then
		cat "$dir/setup.log" >&2
		say "fault runs: could not create the events"
		SUITE_FAIL=1
		return
	fi
	for phase in "${FAULT_PHASES[@]}"; do
		say "fault run $phase: ${FAULT_SECONDS}s of registrations"
		node "$run" load "$phase" "$FAULT_SECONDS" "$dir/events.json" "$dir/$phase.json" </dev/null 2>"$dir/$phase.log" &
		load_pid=$!
		"fault_$phase"
		wait "$load_pid" || {
			say "fault run $phase: the load generator failed"
			cat "$dir/$phase.log" >&2
		}
		# the stack answers again before the next phase
		wait_until 60 healthz_ok || say "fault run $phase: /healthz does not answer 200"
		outs+=("$dir/$phase.json")
	done
	node "$run" check "$dir/events.json" "${outs[@]}" </dev/null >"$dir/check.tap" 2>&1 || rc=$?
	cat "$dir/check.tap" >&2
	grep '^#' "$dir/check.tap" >"$LOG/faults.txt" || true
	SUITE_PASS=$(grep -c '^ok ' "$dir/check.tap" || true)
	SUITE_FAIL=$(grep -c '^not ok ' "$dir/check.tap" || true)
	if [ "$SUITE_PASS" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$SUITE_FAIL" -eq 0 ]; }; then
		SUITE_FAIL=$((SUITE_FAIL + 1))
	fi
}
