#!/bin/sh
# check-install.sh DESTDIR BINDIR CONFDIR PKGDATADIR PLUGIN... - the tree `make install` made
# is one portald can serve from: the binary, portal.conf whose template_dir, migration_dir and
# plugin_dir name folders that exist and hold the core's templates and migrations and every
# shipped plugin, static files and the nginx rules. Run by `make installcheck` (so by
# `make distcheck`); TAP on stdout, non-zero exit on any failure.
dest=$1 bindir=$2 confdir=$3 datadir=$4
shift 4
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }
check() { msg=$1; shift; if "$@"; then ok "$msg"; else nok "$msg"; fi; }

conf=$dest$confdir/portal.conf
check "portald installed in $bindir" test -x "$dest$bindir/portald"
check "portal.conf installed in $confdir" test -f "$conf"
for key in template_dir migration_dir plugin_dir; do
	v=$(sed -n "s/^$key = //p" "$conf" 2>/dev/null)
	case $key in
	template_dir) want=$datadir/templates ;;
	migration_dir) want=$datadir/migrations ;;
	plugin_dir) want=$datadir/plugins ;;
	esac
	check "portal.conf: $key = $want (got '$v')" test "$v" = "$want"
done
# the installed binary reads the installed file and agrees
dump=$("$dest$bindir/portald" -c "$conf" config dump 2>&1)
check "portald config dump reads the installed portal.conf" test -n "$(printf '%s\n' "$dump" | grep "^plugin_dir = $datadir/plugins\$")"

check "core templates (layout.html, home.html)" test -f "$dest$datadir/templates/layout.html" -a -f "$dest$datadir/templates/home.html"
check "core migrations (0001_accounts.sql)" test -f "$dest$datadir/migrations/0001_accounts.sql"
check "static files (portal.css, errors/404.html)" test -f "$dest$datadir/static/portal.css" -a -f "$dest$datadir/static/errors/404.html"
check "nginx rules and site" test -f "$dest$datadir/nginx/portal.inc" -a -f "$dest$datadir/nginx/site.conf"
check "nginx site includes the installed rules" grep -q "include $datadir/nginx/portal.inc;" "$dest$datadir/nginx/site.conf"
for p in "$@"; do
	d=$dest$datadir/plugins/$p
	check "plugin $p: plugin.lua" test -f "$d/plugin.lua"
	check "plugin $p: migrations and templates" test -n "$(ls "$d/migrations/" 2>/dev/null)" -a -n "$(ls "$d/templates/" 2>/dev/null)"
	check "plugin $p: no tests installed" test ! -e "$d/tests"
done
echo "1..$n"
[ "$bad" -eq 0 ]
