#!/bin/sh
# check-conf.sh - conf/portal.conf must be exactly what `portald config defaults`
# prints (the table in core/conf.c), apart from the install paths that depend on
# --prefix. Regenerate with: portald config defaults > conf/portal.conf
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
norm() { sed -E 's#^(template_dir|migration_dir|plugin_dir) = .*/(templates|migrations|plugins)$#\1 = DATADIR/\2#'; }
tmp=${TMPDIR:-/tmp}/check-conf.$$
"$top_builddir/portald" config defaults | norm >"$tmp.want"
norm <"$top_srcdir/conf/portal.conf" >"$tmp.have"
echo "1..1"
if diff -u "$tmp.have" "$tmp.want" >"$tmp.diff"; then
  echo "ok 1 - conf/portal.conf matches the key table in core/conf.c"
else
  echo "not ok 1 - conf/portal.conf differs from 'portald config defaults'"
  sed 's/^/# /' "$tmp.diff"
fi
rm -f "$tmp.want" "$tmp.have" "$tmp.diff"
