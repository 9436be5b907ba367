#!/usr/bin/env bash
# Upgrade paths: every version the server offers has an update path to the
# default version, and installing it then ALTER EXTENSION ... UPDATE gives
# exactly the objects of a fresh install (a fingerprint of every member's
# definition) with the data kept.  TAP output; needs PGHOST/PGPORT.
set -u
cd "$(dirname "$0")/../.."
n=0
check() {
	local what="$1"; shift
	n=$((n + 1))
	if out="$("$@" 2>&1)"; then echo "ok $n - $what"; else echo "not ok $n - $what"; printf '%s\n' "$out" | sed 's/^/# /' | head -20; fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

fingerprint() {   # one md5 over every member's definition
	q -d "$1" -c "
	SELECT md5(string_agg(line, E'\n' ORDER BY line)) FROM (
		SELECT pg_describe_object(d.classid, d.objid, 0) || ' ' || COALESCE((
			SELECT md5(concat_ws('|', p.prosrc, p.proconfig::text, p.provolatile, p.proparallel, p.prosecdef,
			                     p.proisstrict, p.proacl::text, p.prorettype::regtype::text))
			  FROM pg_proc p WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid), (
			SELECT md5(concat_ws('|', c.relkind, c.relacl::text, (
				SELECT string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull, ',' ORDER BY a.attnum)
				  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)))
			  FROM pg_class c WHERE d.classid = 'pg_class'::regclass AND c.oid = d.objid), '') AS line
		  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
		 WHERE e.extname = 'tagscrm' AND d.deptype = 'e') members"
}

default=$(q -d postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'tagscrm'")
olds=$(q -d postgres -c "SELECT version FROM pg_available_extension_versions WHERE name = 'tagscrm' AND version <> '$default' ORDER BY version")
# the plan: two checks of the fresh install, six per older version (or one skip)
echo "1..$((2 + $(echo "$olds" | grep -c .) * 6 + $([ -z "$olds" ] && echo 1 || echo 0)))"
dropdb --if-exists upgrade_fresh 2>/dev/null; createdb upgrade_fresh
check "version $default installs" q -d upgrade_fresh -c "CREATE EXTENSION tagscrm"
fresh=$(fingerprint upgrade_fresh)
check "the fingerprint sees the members" test -n "$fresh"
if [ -z "$olds" ]; then
	n=$((n + 1)); echo "ok $n # SKIP no older version of tagscrm is installed: no update path to test"
fi
for v in $olds; do
	check "$v has an update path to $default" \
		test -n "$(q -d upgrade_fresh -c "SELECT path FROM pg_extension_update_paths('tagscrm') WHERE source = '$v' AND target = '$default'")"
	dropdb --if-exists upgrade_old 2>/dev/null; createdb upgrade_old
	check "$v installs and takes data" q -d upgrade_old -c "CREATE EXTENSION tagscrm VERSION '$v'" \
		-c "SELECT tagscrm.create_tag_group('g', 'manual')" -c "SELECT tagscrm.create_tag('t', 'g')" \
		-c "SELECT tagscrm.tag_customer('c1', 't')"
	check "$v updates to $default" q -d upgrade_old -c "ALTER EXTENSION tagscrm UPDATE"
	check "$v updated equals a fresh $default install" test "$(fingerprint upgrade_old)" = "$fresh"
	check "$v data survives the update" test "$(q -d upgrade_old -c "SELECT count(*) FROM tagscrm.customer_tags")" = 1
	dropdb upgrade_old
done
dropdb upgrade_fresh
