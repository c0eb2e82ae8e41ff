# package.sh - the "package" suite of `scripts/portal test`: the Debian package, built once
# from `make dist`'s tarball, installed into a clean Debian 12 made for the run, set up,
# used through nginx, upgraded and restored there (docs/install.md describes what it checks).
#
# The Debian 12 is made with mmdebstrap from this machine's own apt sources (its Debian
# entries only), with the package's dependencies already in it, and booted with
# `systemd-nspawn --boot --private-network`: systemd is its PID 1, so the units run as they
# do on a server (timers, socket activation, hardening), and the package is installed with
# no network at all, which is how we know the postinst needs none. This machine's PID 1 is
# not systemd, so nspawn neither registers with machined nor asks for a scope
# (--register=no --keep-unit), and commands reach the container with nsenter.
# Nothing is kept between runs: the tree is made anew and removed at the end.

PKG_HOST=portal.test          # the site name given to setup; curl sends it as Host
PKG_PHONE=13800138021
PKG_DEB=""
PKG_CONTAINER_PID=""

# pcheck DESCRIPTION CMD...: one counted test; output of a failing CMD goes to the log. It
# returns CMD's status: a plain call needs `|| true` (the suite runs under errexit).
pcheck() {
	local msg=$1
	shift
	if "$@" >>"$PKG_LOG" 2>&1; then
		SUITE_PASS=$((SUITE_PASS + 1))
		say "  ok   $msg"
		return 0
	fi
	SUITE_FAIL=$((SUITE_FAIL + 1))
	say "  FAIL $msg (log: $PKG_LOG)"
	echo "FAILED: $msg" >>"$PKG_LOG"
	return 1
}

# The scripts run with errexit and trace (the trace goes to the log), without pipefail: a
# check is `cmd | grep -q ...`, whose grep may stop reading early. `! cmd` never stops a
# `set -e` script: the scripts below say `not cmd` instead.
CT_PRELUDE='not() { if "$@"; then return 1; fi; };'

# in_ct SCRIPT: run a bash script inside the booted container as root (its stdout is ours).
in_ct() {
	nsenter -t "$PKG_CONTAINER_PID" -a -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/bash -c "set -ex; $CT_PRELUDE $1" </dev/null
}

# --- the package ---------------------------------------------------------------------------------

# `make dist`, then dpkg-buildpackage from the unpacked tarball (so the tarball is known to
# carry all a build needs). The unit tests ran in the unit suite: nocheck here.
pkg_build() {
	local dist tarball
	make -C "$BUILD" --no-print-directory dist </dev/null >>"$PKG_LOG" 2>&1 || return 1
	tarball=$(ls "$BUILD"/portal-*.tar.gz | head -n 1)
	mkdir -p "$PKG_DIR/src"
	tar -C "$PKG_DIR/src" -xzf "$tarball" || return 1
	dist=$(ls -d "$PKG_DIR"/src/portal-*/ | head -n 1)
	(cd "$dist" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b </dev/null) \
		>>"$PKG_LOG" 2>&1 || return 1
	PKG_DEB=$(ls "$PKG_DIR"/src/portal_*_"$(dpkg --print-architecture)".deb | head -n 1)
	[ -f "$PKG_DEB" ]
}

# lintian on the build; every tag it may still print is explained in debian/portal.lintian-overrides.
pkg_lintian() {
	lintian --fail-on error,warning --no-tag-display-limit "$PKG_DIR"/src/portal_*.changes
}

# pkg_variant VERSION OUT [MIGRATION SQL]: the built package as version VERSION, with one more
# core migration when given and a changed shipped portal.conf (so dpkg has to choose between
# it and the admin's edited copy), packed with dpkg-deb.
pkg_variant() {
	local version=$1 out=$2 mig=${3:-} sql=${4:-} d=$PKG_DIR/variant
	rm -rf "$d"
	dpkg-deb -R "$PKG_DEB" "$d" || return 1
	sed -i "s/^Version: .*/Version: $version/" "$d/DEBIAN/control"
	if [ -n "$mig" ]; then
		printf '%s\n' "$sql" >"$d/usr/share/portal/migrations/$mig"
	fi
	printf '\n# (shipped with %s)\n' "$version" >>"$d/etc/portal/portal.conf"
	(cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
		xargs -0 md5sum >DEBIAN/md5sums) || return 1
	dpkg-deb --root-owner-group -Zxz --build "$d" "$out"
}

# --- the Debian 12 it goes into ------------------------------------------------------------------

# The package's own dependencies plus what a server has (systemd, MariaDB, nginx).
pkg_rootfs() {
	local deps
	deps=$(dpkg-deb -f "$PKG_DEB" Depends | tr ',' '\n' | sed -e 's/[(|].*//' -e 's/[[:space:]]//g' | grep . | paste -sd,)
	mmdebstrap --mode=root --variant=apt --quiet \
		--include="systemd,systemd-sysv,dbus,iproute2,mariadb-server,nginx,logrotate,$deps" \
		bookworm "$PKG_ROOT" /etc/apt/sources.list.d/debian.sources </dev/null
}

# Boot it and wait until systemd says the system is up; PKG_CONTAINER_PID is its PID 1.
pkg_boot() {
	local name=portalpkg$PORT i
	setsid systemd-nspawn --boot --directory="$PKG_ROOT" --machine="$name" --private-network \
		--register=no --keep-unit --console=passive </dev/null >"$LOG/nspawn.log" 2>&1 &
	echo $! >"$RUN/nspawn.pid"
	for i in $(seq 100); do
		PKG_CONTAINER_PID=$(pgrep -P "$(cat "$RUN/nspawn.pid")" -x systemd || true)
		[ -n "$PKG_CONTAINER_PID" ] && break
		sleep 0.2
	done
	[ -n "$PKG_CONTAINER_PID" ] || return 1
	sleep 1
	in_ct 'timeout 120 systemctl is-system-running --wait' || in_ct 'systemctl --failed --no-pager; false'
}

# Power the container off (SIGTERM to nspawn asks its systemd to shut down) and forget it.
pkg_halt() {
	local pid
	[ -s "$RUN/nspawn.pid" ] || return 0
	pid=$(cat "$RUN/nspawn.pid")
	if [ -e "/proc/$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_until 60 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/nspawn.pid"
	PKG_CONTAINER_PID=""
}

# --- what is checked inside ----------------------------------------------------------------------

CT_CURL="curl -s -m 20 -H 'Host: $PKG_HOST'"

ct_install() { in_ct "apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold /root/pkgs/$1"; }

ct_installed_layout() {
	in_ct 'test -x /usr/bin/portald; test -x /usr/sbin/portal-server
		for p in outreach volunteers welfare; do test -f /usr/share/portal/plugins/$p/plugin.lua; done
		test -f /usr/share/portal/templates/layout.html; test -f /usr/share/portal/static/portal.css
		test -f /usr/share/portal/migrations/0001_accounts.sql
		grep -q "^plugin_dir = /usr/share/portal/plugins$" /etc/portal/portal.conf
		test -f /etc/logrotate.d/portal; logrotate -d /etc/logrotate.d/portal 2>&1 | grep -q /var/log/portal
		id portal; test "$(stat -c %U:%G:%a /var/log/portal)" = portal:portal:2750
		dpkg-query -W -f="\${Conffiles}\n" portal | grep -q /etc/portal/portal.conf'
}

ct_units_enabled() {
	in_ct 'for u in portald.socket portald.service portald-jobs-hourly.timer portald-jobs-daily.timer; do
			test "$(systemctl is-enabled $u)" = enabled || { echo "$u not enabled"; exit 1; }
		done
		systemctl list-timers --all --no-pager | grep -q portald-jobs-daily.timer
		test "$(systemctl show -p NoNewPrivileges --value portald-jobs@daily.service)" = yes
		test "$(systemctl show -p ProtectSystem --value portald-jobs@daily.service)" = strict
		test "$(systemctl show -p PrivateTmp --value portald.service)" = yes'
}

# before set-up nothing runs and nothing failed; Debian's default nginx site is still the one
ct_not_started() {
	in_ct 'not systemctl is-active portald.service; not systemctl is-active portald.socket
		test -z "$(systemctl --failed --plain --no-legend)"
		test -L /etc/nginx/sites-enabled/default; test ! -e /etc/nginx/sites-enabled/portal
		curl -s http://127.0.0.1/ | grep -q "Welcome to nginx"'
}

ct_setup() {
	in_ct "portal-server setup --server-name $PKG_HOST" >"$PKG_DIR/setup.out" 2>>"$PKG_LOG" || return 1
	cat "$PKG_DIR/setup.out" >>"$PKG_LOG"
	PKG_ADMIN_PW=$(sed -n 's/^First administrator: admin \/ //p' "$PKG_DIR/setup.out")
	[ -n "$PKG_ADMIN_PW" ]
}

# after set-up: the socket, portald and both timers active, the timers due
ct_services_active() {
	in_ct 'for u in portald.socket portald.service portald-jobs-hourly.timer portald-jobs-daily.timer; do
			systemctl is-active --quiet $u || { systemctl status --no-pager $u; exit 1; }
		done
		systemctl list-timers --no-pager | grep -q "portald-jobs@daily.service"
		test -z "$(systemctl --failed --plain --no-legend)"'
}

ct_secrets() {
	in_ct 'test "$(stat -c %U:%G:%a /etc/portal/site.conf)" = root:portal:640
		test "$(stat -c %U:%G:%a /etc/portal/migrate.conf)" = root:root:600
		grep -q "^db_password = ..*" /etc/portal/site.conf; not grep -q migrate_password /etc/portal/site.conf
		g=$(mariadb -N -e "SHOW GRANTS FOR portal@localhost")
		echo "$g"; echo "$g" | grep -q "SELECT, INSERT, UPDATE, DELETE"
		not grep -Eq "CREATE,|ALTER|DROP|ALL PRIVILEGES|GRANT OPTION" <<<"$g"
		mariadb -N -e "SHOW GRANTS FOR portal_migrate@localhost" | grep -q ALTER'
}

ct_setup_again() {
	in_ct "pw=\$(sed -n 's/^db_password = //p' /etc/portal/site.conf)
		portal-server setup --server-name $PKG_HOST >/tmp/setup2.out
		not grep -q 'First administrator' /tmp/setup2.out
		test \"\$(sed -n 's/^db_password = //p' /etc/portal/site.conf)\" = \"\$pw\"
		test \"\$(portald user list | awk 'NR > 1' | wc -l)\" = 1"
}

ct_home() { in_ct "$CT_CURL http://127.0.0.1/ -o /tmp/home.html -w '%{http_code}' | grep -qx 200; grep -q '$1' /tmp/home.html"; }

# /healthz and /metrics answer on loopback, 403 from any other address (one on the
# container's own lo, in its private network namespace)
ct_monitoring_loopback() {
	in_ct "test \"\$($CT_CURL -o /dev/null -w '%{http_code}' http://127.0.0.1/healthz)\" = 200
		ip addr add 192.0.2.10/32 dev lo 2>/dev/null || true
		test \"\$($CT_CURL -o /dev/null -w '%{http_code}' --interface 192.0.2.10 http://192.0.2.10/healthz)\" = 403
		test \"\$($CT_CURL -o /dev/null -w '%{http_code}' --interface 192.0.2.10 http://192.0.2.10/metrics)\" = 403
		test \"\$($CT_CURL -o /dev/null -w '%{http_code}' --interface 192.0.2.10 http://192.0.2.10/)\" = 200"
}

# setup enabled the portal's site beside Debian's default one, which still answers for any
# other name (nothing replaced it without --default-site)
ct_default_site_kept() {
	in_ct 'test -L /etc/nginx/sites-enabled/default; test -L /etc/nginx/sites-enabled/portal
		grep -q "server_name portal.test;" /etc/nginx/sites-available/portal
		curl -s -H "Host: other.example" http://127.0.0.1/ | grep -q "Welcome to nginx"'
}

# An event made and published through the API with a token, then a resident's registration.
ct_register() {
	in_ct "tok=\$(portald token create admin --expires 1 --name pkgtest | tail -n 1)
		start=\$(TZ=Asia/Shanghai date -d '+3 days' +%F)
		ev=\$($CT_CURL -H \"Authorization: Bearer \$tok\" -H 'Content-Type: application/json' \
			--data \"{\\\"kind\\\":\\\"general\\\",\\\"title\\\":\\\"安装测试活动\\\",\\\"location\\\":\\\"社区服务中心\\\",\\\"starts_at\\\":\\\"\${start}T09:00:00+08:00\\\",\\\"ends_at\\\":\\\"\${start}T11:00:00+08:00\\\",\\\"capacity\\\":10}\" \
			http://127.0.0.1/api/v1/events)
		echo \"\$ev\"
		id=\$(echo \"\$ev\" | grep -o '\"id\": *[0-9]*' | head -n 1 | grep -o '[0-9]*\$')
		$CT_CURL -o /dev/null -X POST -H \"Authorization: Bearer \$tok\" http://127.0.0.1/api/v1/events/\$id/publish
		reg=\$($CT_CURL -H 'Content-Type: application/json' --data '{\"name\":\"王阿姨\",\"phone\":\"$PKG_PHONE\"}' \
			http://127.0.0.1/api/v1/events/\$id/registrations)
		echo \"\$reg\"
		echo \"\$reg\" | grep -o '\"code\": *\"[A-Z0-9]*\"' | grep -o '[A-Z0-9]\\{6\\}' >/root/reg-code"
	PKG_CODE=$(in_ct 'cat /root/reg-code')
	[ -n "$PKG_CODE" ]
}

# the registration is there: looked up through nginx by code and phone, like the resident does
ct_registration_there() {
	in_ct "out=\$($CT_CURL http://127.0.0.1/api/v1/registrations/$PKG_CODE?phone=$PKG_PHONE)
		echo \"\$out\"; grep -q '\"status\":\"confirmed\"' <<<\"\$out\""
}

ct_daily_job() {
	in_ct 'systemctl start portald-jobs@daily.service
		test "$(systemctl show -p Result --value portald-jobs@daily.service)" = success
		test "$(systemctl show -p ExecMainStatus --value portald-jobs@daily.service)" = 0
		grep "no-shows marked" /var/log/portal/jobs.log; grep "registrants anonymised" /var/log/portal/jobs.log'
}

ct_backup() {
	in_ct 'portal-server backup /root/backup.tar.gz
		test "$(stat -c %a /root/backup.tar.gz)" = 600
		tar -tzf /root/backup.tar.gz | grep -qx portal-backup/database.sql
		tar -tzf /root/backup.tar.gz | grep -qx portal-backup/etc/portal/site.conf
		tar -tzf /root/backup.tar.gz | grep -qx portal-backup/etc/portal/migrate.conf'
}

# The admin's edit of a conffile: the home page shows it.
ct_edit_conffile() { in_ct "sed -i 's/^site_name = .*/site_name = 安装测试社区/' /etc/portal/portal.conf; systemctl reload portald; sleep 2"; }

ct_upgrade_refused() {
	local out
	out=$(ct_install portal-broken.deb 2>&1) && return 1
	printf '%s\n' "$out" >>"$PKG_LOG"
	grep -q 'database migrations of this version could not run' <<<"$out" &&
		grep -q '9998_broken.sql' <<<"$out"
}

# The good upgrade while a resident keeps loading the home page: every answer a 200 (the
# socket held by systemd bridges portald's restart). Bounded: at most 3000 requests, about
# 8 a second (under the site's per-address limit_req of 20/s).
ct_upgrade_under_load() {
	in_ct "rm -f /tmp/codes /tmp/upgrade.done
		( for i in \$(seq 3000); do [ -e /tmp/upgrade.done ] && break
			$CT_CURL -o /dev/null -w '%{http_code}\n' http://127.0.0.1/ >>/tmp/codes; sleep 0.1; done ) &
		load=\$!
		sleep 1
		old=\$(systemctl show -p MainPID --value portald.service)
		rc=0
		apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold /root/pkgs/portal-upgrade.deb || rc=\$?
		sleep 1; touch /tmp/upgrade.done; wait \$load
		echo \"apt: \$rc; requests: \$(wc -l </tmp/codes); not 200: \$(grep -vc '^200\$' /tmp/codes || true)\"
		test \$rc = 0
		test \"\$(systemctl show -p MainPID --value portald.service)\" != \"\$old\"
		test \"\$(wc -l </tmp/codes)\" -ge 10
		not grep -qv '^200\$' /tmp/codes"
}

ct_migrated_once() {
	in_ct 'dpkg-query -W -f="\${Version}" portal | grep -q pkgtest2
		dpkg-reconfigure portal
		test "$(mariadb -N portal -e "SELECT COUNT(*) FROM package_test")" = 1
		test "$(mariadb -N portal -e "SELECT COUNT(*) FROM schema_migrations WHERE name LIKE \"9999%\"")" = 1'
}

ct_conffile_kept() {
	in_ct 'grep -q "^site_name = 安装测试社区" /etc/portal/portal.conf; test -f /etc/portal/portal.conf.dpkg-dist'
}

# A lost server: the database dropped and the settings gone, then the backup restored.
ct_restore() {
	in_ct "mariadb -e 'DROP DATABASE portal'
		rm -f /etc/portal/site.conf /etc/portal/migrate.conf
		portal-server restore /root/backup.tar.gz --yes --server-name $PKG_HOST
		test \"\$(stat -c %U:%G:%a /etc/portal/site.conf)\" = root:portal:640
		portald user list | grep -q admin
		test \"\$(mariadb -N portal -e 'SELECT COUNT(*) FROM package_test')\" = 1"
}

# --- the suite -----------------------------------------------------------------------------------

suite_package() {
	PKG_DIR=$INST/pkg
	PKG_ROOT=$PKG_DIR/root
	PKG_LOG=$LOG/package.log
	rm -rf "$PKG_DIR"
	mkdir -p "$PKG_DIR"
	: >"$PKG_LOG"
	step "package: build (log: $PKG_LOG)"
	pcheck "make dist + dpkg-buildpackage from the tarball" pkg_build || return 0
	pcheck "lintian: no error or warning beyond debian/portal.lintian-overrides" pkg_lintian || true
	pcheck "variant packages (upgrade with one more migration; one with a broken migration)" \
		eval 'pkg_variant "$(dpkg-deb -f "$PKG_DEB" Version)+pkgtest1" "$PKG_DIR/portal-broken.deb" 9998_broken.sql \
			"INSERT INTO no_such_table VALUES (1);" &&
			pkg_variant "$(dpkg-deb -f "$PKG_DEB" Version)+pkgtest2" "$PKG_DIR/portal-upgrade.deb" 9999_package_test.sql \
			"CREATE TABLE package_test (id INT PRIMARY KEY, note VARCHAR(40) NOT NULL) ENGINE=InnoDB;
INSERT INTO package_test VALUES (1, '"'"'upgraded once'"'"');"' || true
	step "package: a clean Debian 12 (mmdebstrap), booted with systemd-nspawn"
	pcheck "mmdebstrap bookworm with the package's dependencies" pkg_rootfs || return 0
	mkdir -p "$PKG_ROOT/root/pkgs"
	cp "$PKG_DEB" "$PKG_ROOT/root/pkgs/portal.deb"
	cp "$PKG_DIR"/portal-broken.deb "$PKG_DIR"/portal-upgrade.deb "$PKG_ROOT/root/pkgs/" 2>/dev/null || true
	if ! pcheck "systemd-nspawn --boot: systemd up, no failed unit" pkg_boot; then
		pkg_halt
		return 0
	fi
	step "package: install, set up, use, upgrade, restore"
	pcheck "install without network (apt-get install ./portal.deb)" ct_install portal.deb &&
		pcheck "FHS layout, the portal user, logrotate, conffiles" ct_installed_layout &&
		pcheck "units enabled and hardened; timers listed" ct_units_enabled &&
		pcheck "nothing started before set-up; Debian's default nginx site untouched" ct_not_started &&
		pcheck "portal-server setup: database, users, migrations, first administrator printed once" ct_setup &&
		pcheck "socket, portald and both timers active after set-up" ct_services_active &&
		pcheck "secrets' modes; runtime user has row rights only" ct_secrets &&
		pcheck "setup again: no change, no second administrator" ct_setup_again &&
		pcheck "home page through nginx" ct_home 社区服务平台 &&
		pcheck "Debian's default site still answers for other names" ct_default_site_kept &&
		pcheck "/healthz and /metrics from loopback only" ct_monitoring_loopback &&
		pcheck "an event and a registration through nginx" ct_register &&
		pcheck "portald jobs run daily via systemctl start portald-jobs@daily.service" ct_daily_job &&
		pcheck "portal-server backup: dump and secrets, mode 0600" ct_backup &&
		pcheck "the admin edits a conffile (site_name), portald reloads" ct_edit_conffile &&
		pcheck "upgrade with a failing migration is refused clearly" ct_upgrade_refused &&
		pcheck "the refused upgrade left the portal serving and the registration" \
			eval 'ct_home 安装测试社区 && ct_registration_there' &&
		pcheck "upgrade with one more migration under load: no request dropped" ct_upgrade_under_load &&
		pcheck "the migration ran once (again after dpkg-reconfigure)" ct_migrated_once &&
		pcheck "the edited conffile kept, the new one beside it (.dpkg-dist)" ct_conffile_kept &&
		pcheck "data survived the upgrade: the registration, the site name" \
			eval 'ct_registration_there && ct_home 安装测试社区' &&
		pcheck "restore from the backup onto a dropped database and lost secrets" ct_restore &&
		pcheck "after the restore: the registration and home page through nginx" \
			eval 'ct_registration_there && ct_home 安装测试社区' || true
	pkg_halt
	rm -rf "$PKG_ROOT"
}
