# setup.sh - what scripts/portal needs before a stack can run: Debian packages and the build.

# Every Debian 12 package the portal needs to build, run and test.
#   build: compiler, autotools, the libraries found with pkg-config
#   run:   MariaDB, nginx (libfcgi-bin gives cgi-fcgi for FastCGI smoke tests); galera-4,
#          rsync (its state transfer) and haproxy for `scripts/portal cluster`
#   tests: wrk (load), jq/curl, clang + its runtime (libFuzzer), chromium and a CJK font
#          (browser tests; without the font Chinese text renders as boxes), procps (pgrep)
#   package suite: debhelper, dpkg-dev, lintian (build and check the .deb), mmdebstrap (a
#          clean Debian 12), systemd-container (systemd-nspawn boots it)
PACKAGES=(build-essential autoconf automake libtool pkg-config
	libfcgi-dev libfcgi-bin liblua5.4-dev libmariadb-dev libsodium-dev libjansson-dev libqrencode-dev
	mariadb-server mariadb-client nginx galera-4 rsync haproxy
	wrk jq curl clang libclang-rt-14-dev chromium fonts-wqy-microhei procps
	debhelper dpkg-dev lintian mmdebstrap systemd-container)

# Packages from PACKAGES (plus nodejs/npm when there is no node at all: a machine may carry
# its own Node.js 20, which Debian's would conflict with) that are not installed.
missing_packages() {
	local want=("${PACKAGES[@]}") have p
	command -v node >/dev/null 2>&1 || want+=(nodejs npm)
	have=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${want[@]}" 2>/dev/null |
		awk '$2 == "ii" { print $1 }' || true)
	for p in "${want[@]}"; do
		grep -qx -- "$p" <<<"$have" || printf '%s\n' "$p"
	done
}

# Install what is missing. As root: apt-get (refreshing the package lists only when they are
# missing, or when an install from the current lists fails). Otherwise print the exact
# command and stop.
ensure_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	[ ${#missing[@]} -eq 0 ] && return 0
	local cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
	if [ "$(id -u)" -ne 0 ]; then
		say "Missing Debian packages: ${missing[*]}"
		say "Run as root:"
		say "  apt-get update && DEBIAN_FRONTEND=noninteractive ${cmd[*]}"
		exit 1
	fi
	step "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt-get update -q
	fi
	if ! "${cmd[@]}" </dev/null; then
		say "install failed; refreshing the package lists and trying again"
		apt-get update -q
		"${cmd[@]}" </dev/null
	fi
}

# Regenerate configure and Makefile.in when they are missing or older than their sources.
autoreconf_if_needed() {
	local gen
	for gen in configure Makefile.in; do
		if [ ! -e "$REPO/$gen" ] || [ "$REPO/configure.ac" -nt "$REPO/$gen" ] ||
			[ "$REPO/Makefile.am" -nt "$REPO/$gen" ]; then
			step "autoreconf"
			(cd "$REPO" && autoreconf -fi)
			return
		fi
	done
}

# configure_build BUILD_DIR CONFIGURE_FLAGS...: configure an out-of-tree build folder when it
# is new, when configure changed, or when the flags differ from its last run. Returns
# non-zero (with the end of the output shown) when configure fails.
configure_build() {
	local build=$1
	shift
	local flags="$*"
	mkdir -p "$build" || return 1
	if [ -f "$build/Makefile" ] && [ ! "$REPO/configure" -nt "$build/config.status" ] &&
		[ "$(cat "$build/.portal-configure-flags" 2>/dev/null)" = "$flags" ]; then
		return 0
	fi
	step "configure $flags (in ${build#"$REPO"/})"
	if ! (cd "$build" && "$REPO/configure" "$@" >configure.out 2>&1); then
		tail -n 30 "$build/configure.out" >&2
		say "configure failed (full output: $build/configure.out, $build/config.log)"
		return 1
	fi
	printf '%s' "$flags" >"$build/.portal-configure-flags"
}

# build_portald BUILD_DIR CONFIGURE_FLAGS...: the out-of-tree build, brought up to date.
build_portald() {
	local build=$1
	autoreconf_if_needed
	configure_build "$@" || die "configure failed"
	step "make (in ${build#"$REPO"/})"
	make -C "$build" -j2 --no-print-directory </dev/null || die "the build failed"
}
