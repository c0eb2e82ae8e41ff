#!/bin/sh
# check-dist.sh TARBALL SRCDIR - the release tarball carries every file git tracks under the
# folders an install or a package build needs (plugins, www, core/migrations, conf, debian,
# scripts, docs), each shipped plugin whole. TAP on stdout, non-zero exit on any failure.
tarball=$1 src=$2
n=0 bad=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }
list=${TMPDIR:-/tmp}/check-dist.$$
trap 'rm -f "$list" "$list.want"' EXIT
if ! tar -tzf "$tarball" | sed 's#^[^/]*/##' | sort -u >"$list"; then
	echo "not ok 1 - cannot list $tarball"
	exit 1
fi
if ! git -C "$src" ls-files plugins www core/migrations conf debian scripts docs >"$list.want" 2>/dev/null ||
	[ ! -s "$list.want" ]; then
	echo "not ok 1 - no git checkout at $src to compare with"
	exit 1
fi
for dir in plugins www core/migrations conf debian scripts docs; do
	missing=$(grep "^$dir/" "$list.want" | sort | comm -23 - "$list")
	have=$(grep -c "^$dir/" "$list.want")
	if [ -z "$missing" ]; then
		ok "$dir: all $have tracked files in the tarball"
	else
		nok "$dir: missing from the tarball:"
		printf '%s\n' "$missing" | sed 's/^/#   /'
	fi
done
for p in $(ls -d "$src"/plugins/*/ | xargs -n1 basename); do
	if grep -qx "plugins/$p/plugin.lua" "$list"; then
		ok "shipped plugin $p: $(grep -c "^plugins/$p/" "$list") files"
	else
		nok "shipped plugin $p: plugin.lua not in the tarball"
	fi
done
echo "1..$n"
[ "$bad" -eq 0 ]
