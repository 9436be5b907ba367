# test/soak/lib.sh: TAP helpers and state comparisons shared by test/soak
# and test/crash.  Source it from the root of the tree after setting $tmp
# (a scratch directory).
n=0
tap_ok() { n=$((n + 1)); echo "ok $n - $1"; }
tap_fail() { n=$((n + 1)); echo "not ok $n - $1"; }
tap_skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
diag() { sed 's/^/# /'; }
# a check from a command's exit status; its output is shown when it fails
tap_check() {   # description, command...
	local what="$1"; shift
	if "$@" >"$tmp/check.out" 2>&1; then tap_ok "$what"; else tap_fail "$what"; head -40 "$tmp/check.out" | diag; fi
}
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }   # one value, unaligned

# Compares two queries of the same columns with EXCEPT ALL both ways: true
# when they agree; else prints how many rows differ each way and the first
# ones (sorted), each marked with the side it is on.
same_rows() {   # database, label-a, query-a, label-b, query-b
	local db="$1" la="$2" a="$3" lb="$4" b="$5" counts
	counts=$(qv -d "$db" -c "SELECT (SELECT count(*) FROM (($a) EXCEPT ALL ($b)) x) || ' ' ||
	                                (SELECT count(*) FROM (($b) EXCEPT ALL ($a)) y)") || return 1
	set -- $counts
	[ "$1" = 0 ] && [ "$2" = 0 ] && return 0
	echo "$1 rows only in $la, $2 rows only in $lb; the first of them:"
	q -d "$db" -P pager=off -c "SELECT * FROM (SELECT '$la' AS only_in, * FROM (($a) EXCEPT ALL ($b)) x
	                          UNION ALL SELECT '$lb', * FROM (($b) EXCEPT ALL ($a)) y) z ORDER BY 2, 1 LIMIT ${SHOW_ROWS:-12}"
	return 1
}

# the server log, if we can find it: $PGHOST/server.log (tools/cluster.sh),
# read directly or, failing that, through pg_read_file as a superuser
server_log_file() {
	local f
	f=$(qv -d postgres -c "SELECT CASE WHEN pg_current_logfile() IS NOT NULL THEN current_setting('data_directory') || '/' || pg_current_logfile() END" 2>/dev/null)
	[ -n "$f" ] || f="${PGHOST:-}/server.log"
	case "$f" in /*) echo "$f" ;; *) return 1 ;; esac
}
server_log_size() {   # file
	if [ -r "$1" ]; then stat -c %s "$1"
	else qv -d postgres -c "SELECT (pg_stat_file('$1')).size" 2>/dev/null; fi
}
server_log_since() {   # file, byte offset: what was logged since
	if [ -r "$1" ]; then tail -c +$(($2 + 1)) "$1"
	else qv -d postgres -c "SELECT pg_read_file('$1', $2, (pg_stat_file('$1')).size - $2)"; fi
}

# With the clock pinned to now: the due sweep and the nightly refresh (what
# the jobs would have done by then), then the state before and after
# refresh(rebuild => true), in soak_check.{tags,facts,next_change}_{before,after}
pinned_rebuild() {   # database
	local pinned
	pinned=$(qv -d "$1" -c "SELECT now()") || return 1
	q -d "$1" <<-EOF
		SET client_min_messages = warning;
		SET tagscrm.clock_override = '$pinned';
		SELECT tagscrm.sweep();
		SELECT tagscrm.refresh(quiet => true);
		DROP TABLE IF EXISTS soak_check.tags_before, soak_check.facts_before, soak_check.next_change_before,
		                     soak_check.tags_after, soak_check.facts_after, soak_check.next_change_after;
		CREATE TABLE soak_check.tags_before AS SELECT * FROM soak_check.tags;
		CREATE TABLE soak_check.facts_before AS SELECT * FROM soak_check.facts;
		CREATE TABLE soak_check.next_change_before AS SELECT * FROM soak_check.next_change;
		SELECT tagscrm.refresh(rebuild => true, quiet => true);
		CREATE TABLE soak_check.tags_after AS SELECT * FROM soak_check.tags;
		CREATE TABLE soak_check.facts_after AS SELECT * FROM soak_check.facts;
		CREATE TABLE soak_check.next_change_after AS SELECT * FROM soak_check.next_change;
	EOF
}
# customers whose next change is later than the rebuild's: as stored, and as rebuilt
later_where="WHERE b.next_change_at > a.next_change_at OR (b.next_change_at IS NULL AND a.next_change_at IS NOT NULL)
                OR b.rule_next_change_at > a.rule_next_change_at
                OR (b.rule_next_change_at IS NULL AND a.rule_next_change_at IS NOT NULL)"
later_next_change="SELECT b.* FROM soak_check.next_change_before b JOIN soak_check.next_change_after a USING (customer_id) $later_where"
rebuild_next_change="SELECT a.* FROM soak_check.next_change_before b JOIN soak_check.next_change_after a USING (customer_id) $later_where"

# The deadlocks of a server log by who took part (the first words of each
# process's statement), with counts
deadlock_summary() {   # log file
	awk 'function flush(   i, j, t, m) {
	         if (!n) return
	         for (i = 2; i <= n; i++) for (j = i; j > 1 && w[j - 1] > w[j]; j--) { t = w[j]; w[j] = w[j - 1]; w[j - 1] = t }
	         m = ""; for (i = 1; i <= n; i++) m = m (i > 1 ? " + " : "") w[i]
	         c[m]++; n = 0 }
	     /ERROR:  deadlock detected/ { flush(); on = 1; next }
	     on && /^\tProcess [0-9]+: / { sub(/^\tProcess [0-9]+: /, ""); s = $1 " " $2 " " $3; sub(/ +$/, "", s)
	                                   for (i = 1; i <= n; i++) if (w[i] == s) next
	                                   w[++n] = s; next }
	     on && (/^\t/ || / DETAIL: /) { next }
	     { on = 0 }
	     END { flush(); for (m in c) printf "%5d deadlocks between: %s\n", c[m], m }' "$1" | sort -rn
}
