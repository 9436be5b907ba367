#!/usr/bin/env bash
# Soak: watched orders and events tables under concurrent writers, bulk
# loads, refresh() and sweep(), then the maintained state is compared with
# an independent recompute.  TAP output; needs PGHOST/PGPORT of a cluster
# where tagscrm is installed, as a superuser.
#
# For each isolation level (READ COMMITTED, then REPEATABLE READ through
# PGOPTIONS, where pgbench retries 40001/40P01 up to 10 times):
#   - two fresh databases from test/soak/setup.sql: one where tagscrm watches
#     orders and events (bulk_rows 200, three rule tags), one with identical
#     tables and nothing watching (the baseline);
#   - for SOAK_SECONDS (default 25) on each: pgbench, SOAK_CLIENTS (8)
#     clients, the scripts of test/soak/bench (single-row and multi-row
#     inserts below bulk_rows, updates of amounts, of events and of the
#     customer column, deletes) with a fixed seed; beside it a loop of bulk
#     statements above bulk_rows (COPY FROM STDIN via psql, INSERT ...
#     SELECT, a bulk UPDATE, a bulk DELETE: 300 to 1000 rows each); on the
#     watched database also refresh(quiet => true) every 3 s and sweep()
#     every second;
#   - then the queue must drain by itself, apply_pending() is called, and:
#     pgbench had no failed transaction (REPEATABLE READ: none but 40001
#     after 10 tries) and no aborted client; the server
#     log has no "deadlock detected" and no other ERROR but the explained
#     ones (REPEATABLE READ: 40001 "could not serialize access"); the jobs
#     and bulk loads did not fail otherwise; customer_fact,
#     customer_event_fact and customer_day equal a plain-SQL recompute
#     (test/soak/checks.sql, EXCEPT ALL both ways); with the clock pinned,
#     after the due sweep and the nightly refresh, the tags and facts equal
#     what refresh(rebuild => true) makes of them, and no next_change_at is
#     later than the rebuild's; every current model and rule tag has an add
#     or replace in tag_history after its last removal, and the history
#     replays to the stored tags.
# The tps with and without tagscrm are printed as "# tps" lines (figures,
# not checks).  SOAK_KEEP=1 keeps the databases; SOAK_SEED changes the seed;
# SOAK_BASELINE=0 skips the runs without tagscrm (half the time);
# SOAK_LEVELS="repeatable read" runs one level; SOAK_JOBS_OPTIONS= runs the
# jobs of the REPEATABLE READ soak at the database's default level.
set -u
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
chmod 755 "$tmp"
loops=()
cleanup() {
	local p
	touch "$tmp/stop"
	for p in "${loops[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
. test/soak/lib.sh

seconds="${SOAK_SECONDS:-25}"
clients="${SOAK_CLIENTS:-8}"
seed="${SOAK_SEED:-20260301}"
drain_timeout=30
grace=15
IFS=, read -r -a levels <<<"${SOAK_LEVELS:-read committed,repeatable read}"
checks_per_level=16
echo "1..$((checks_per_level * ${#levels[@]}))"

bench_args=(-n -c "$clients" -j 2 -T "$seconds" --random-seed="$seed" -P 5 --failures-detailed)
for f in ins_order@25 ins_event@25 multi_order@8 multi_event@7 upd_amount@8 upd_move@7 upd_event@5 del_order@8 del_event@7; do
	bench_args+=(-f "test/soak/bench/${f%@*}.sql@${f#*@}")
done

# Bulk statements above bulk_rows until $tmp/stop exists, in a fixed order
# of kinds and sizes; counts in $tmp/$2.bulk, failures in $tmp/$2.bulk.err.
bulk_loop() {   # database, name
	local db="$1" i=0 rows ok=0 bad=0 sql gen
	RANDOM="$seed"
	while [ ! -e "$tmp/stop" ]; do
		i=$((i + 1)); rows=$((300 + RANDOM % 701))
		gen=""
		case $((i % 6)) in
		1) gen="SELECT 1 + (g * 7) % 200, now() - (g % 4000) * interval '1 hour', 5 + g % 300 FROM generate_series(1, $rows) g"
		   sql="COPY orders (customer, paid_at, amount) FROM STDIN" ;;
		2) sql="INSERT INTO events (customer, at, kind) SELECT 1 + (g * 13 + $i) % 200, now() - (g % 900) * interval '1 hour',
		        (ARRAY['view', 'consult', 'review', 'register'])[1 + g % 4] FROM generate_series(1, $rows) g" ;;
		3) gen="SELECT 1 + (g * 11 + $i) % 200, now() - (g % 900) * interval '1 hour', (ARRAY['view', 'consult'])[1 + g % 2]
		        FROM generate_series(1, $rows) g"
		   sql="COPY events (customer, at, kind) FROM STDIN" ;;
		4) sql="INSERT INTO orders (customer, paid_at, amount) SELECT 1 + (g * 3 + $i) % 200, now() - (g % 4000) * interval '1 hour',
		        10 + g % 90 FROM generate_series(1, $rows) g" ;;
		# bulk updates and deletes lock their rows in id order, like the
		# pgbench scripts: the mix itself cannot deadlock
		5) sql="WITH pick AS (SELECT order_id FROM orders ORDER BY order_id DESC LIMIT $rows),
		        l AS (SELECT order_id FROM orders WHERE order_id IN (SELECT order_id FROM pick) ORDER BY order_id FOR UPDATE)
		        UPDATE orders SET amount = amount + 1 WHERE order_id IN (SELECT order_id FROM l)" ;;
		0) sql="WITH l AS (SELECT event_id FROM events ORDER BY event_id LIMIT $rows FOR UPDATE)
		        DELETE FROM events WHERE event_id IN (SELECT event_id FROM l)" ;;
		esac
		if [ -n "$gen" ]; then
			qv -d "$db" -c "COPY ($gen) TO STDOUT" | q -d "$db" -c "$sql" >/dev/null 2>>"$tmp/$2.bulk.err"
		else
			q -d "$db" -c "$sql" >/dev/null 2>>"$tmp/$2.bulk.err"
		fi && ok=$((ok + 1)) || bad=$((bad + 1))
		echo "$ok $bad" >"$tmp/$2.bulk"
		sleep 0.3
	done
}

# A job every pause seconds until $tmp/stop exists; one that fails with
# 40001 or 40P01 is tried again at once, as a scheduler with retries would.
# Counts in $tmp/$2 (ok, failed), failures in $tmp/$2.err.
job_loop() {   # database, name, pause, SQL
	local ok=0 bad=0
	while [ ! -e "$tmp/stop" ]; do
		if PGOPTIONS="$jobs_options" q -d "$1" -c "$4" >/dev/null 2>"$tmp/$2.last"; then
			ok=$((ok + 1)); echo "$ok $bad" >"$tmp/$2"; sleep "$3"
		else
			bad=$((bad + 1)); echo "$ok $bad" >"$tmp/$2"; cat "$tmp/$2.last" >>"$tmp/$2.err"
			grep -qE 'could not serialize|deadlock detected' "$tmp/$2.last" && sleep 0.1 || sleep "$3"
		fi
	done
}

# What waits for what in a database (evidence when something hangs)
activity() {   # database
	q -d postgres -P pager=off -c "SELECT pid, application_name AS app, state, wait_event_type || ':' || wait_event AS waits,
	       pg_blocking_pids(pid) AS blocked_by, round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_s,
	       left(regexp_replace(query, '\s+', ' ', 'g'), 70) AS query
	  FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST LIMIT 20"
}
# Waits for a process for at most some seconds; false if it is still running.
wait_for() {   # pid, seconds
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$i" -ge $(($2 * 5)) ] && return 1
		sleep 0.2; i=$((i + 1))
	done
}

# One pgbench run with the bulk loop (and, watched, the job loops) beside
# it; pgbench's output in $tmp/$2.bench, its exit status in $tmp/$2.status.
# A run that has not ended $grace s after its time is stuck: what waits for
# what goes to $tmp/$2.hang, then the database's sessions are terminated.
soak_run() {   # database, name, watched (1/0)
	local p
	rm -f "$tmp/stop"
	loops=()
	bulk_loop "$1" "$2" & loops+=($!)
	if [ "$3" = 1 ]; then
		job_loop "$1" "$2.refresh" 3 "SELECT tagscrm.refresh(quiet => true)" & loops+=($!)
		job_loop "$1" "$2.sweep" 1 "SELECT tagscrm.sweep()" & loops+=($!)
	fi
	pgbench "${bench_args[@]}" "${extra_bench[@]}" "$1" >"$tmp/$2.bench" 2>&1 &
	p=$!
	if ! wait_for "$p" $((seconds + grace)); then
		{ echo "pgbench still running $grace s after its $seconds s:"; activity "$1"; } >"$tmp/$2.pghang" 2>&1
		qv -d postgres -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
	fi
	wait "$p"
	echo $? >"$tmp/$2.status"
	touch "$tmp/stop"
	for p in "${loops[@]}"; do
		if ! wait_for "$p" "$grace"; then
			{ echo "a job or bulk loop still running $grace s after pgbench ended:"; activity "$1"; } >>"$tmp/$2.loophang" 2>&1
			qv -d postgres -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
		fi
		wait "$p"
	done
	loops=()
}

tps_of() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$1" | head -1; }
field() { sed -n "s/^$2: \([0-9]*\).*/\1/p" "$1" | head -1; }   # file, pgbench summary line

for level in "${levels[@]}"; do
	tag="${level// /_}"
	db="soak_${tag}" base="soak_${tag}_base"
	echo "# ---- $level: $seconds s, $clients clients, seed $seed"
	if [ "$level" = "read committed" ]; then
		export PGOPTIONS="-c default_transaction_isolation=read\\ committed"
		jobs_options="$PGOPTIONS"
		extra_bench=()
		explained='^$'
	else
		export PGOPTIONS="-c default_transaction_isolation=repeatable\\ read"
		# the jobs too (SOAK_JOBS_OPTIONS= runs them at the database's default
		# level, as pg_cron would, beside writers at REPEATABLE READ)
		jobs_options="${SOAK_JOBS_OPTIONS-$PGOPTIONS}"
		extra_bench=(--max-tries=10)
		explained='could not serialize access due to concurrent (update|delete)'
	fi
	first=$((n + 1)) tstart=$SECONDS

	# -- setup: both databases, and the check views in the watched one
	for d in "$db" "$base"; do dropdb --if-exists "$d" 2>/dev/null; done
	if createdb "$db" && createdb "$base" &&
	   q -d "$db" -v watch=on -f test/soak/setup.sql >/dev/null 2>"$tmp/setup.err" &&
	   q -d "$base" -v watch=off -f test/soak/setup.sql >/dev/null 2>>"$tmp/setup.err" &&
	   q -d "$db" -v with_events=on -f test/soak/checks.sql >/dev/null 2>>"$tmp/setup.err"; then
		tap_ok "$level: setup of the watched and the baseline databases"
	else
		tap_fail "$level: setup of the watched and the baseline databases"; diag <"$tmp/setup.err"
		while [ "$n" -lt $((first - 1 + checks_per_level)) ]; do tap_fail "$level: not run (setup failed)"; done
		continue
	fi
	q -d "$db" -c "SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS events,
	               (SELECT count(*) FROM tagscrm.customer_tag) AS tags" | diag

	# -- the baseline: the same mix on tables nothing watches
	t0=$SECONDS
	[ "${SOAK_BASELINE:-1}" = 1 ] && soak_run "$base" base 0
	t1=$SECONDS
	if [ "${SOAK_BASELINE:-1}" != 1 ]; then
		tap_skip "$level: the same pgbench mix without tagscrm (SOAK_BASELINE=0)"
	elif [ "$(cat "$tmp/base.status")" = 0 ] && [ "$(field "$tmp/base.bench" 'number of deadlock failures')" = 0 ] &&
	     { [ "$level" != "read committed" ] ||   # at REPEATABLE READ, 40001 after 10 tries may happen here too
	       [ "$(field "$tmp/base.bench" 'number of failed transactions')" = 0 ]; } &&
	     [ "$(field "$tmp/base.bench" 'number of failed transactions')" = "$(field "$tmp/base.bench" 'number of serialization failures')" ]; then
		tap_ok "$level: the same pgbench mix without tagscrm ran cleanly"
	else
		tap_fail "$level: the same pgbench mix without tagscrm ran cleanly"; grep -v '^progress' "$tmp/base.bench" | head -30 | diag
	fi

	# -- the soak
	log="$(server_log_file)" && log_from="$(server_log_size "$log")" || log=""
	t2=$SECONDS
	soak_run "$db" soak 1
	t3=$SECONDS
	echo "# pgbench progress (watched):"; grep '^progress' "$tmp/soak.bench" | diag

	# the queue must empty by itself (the background applier), then apply_pending()
	until left=$(qv -d "$db" -c "SELECT count(*) FROM tagscrm.pending_changes" 2>&1)
	      [ "$left" = 0 ] || [ $((SECONDS - t3)) -ge "$drain_timeout" ]; do
		sleep 0.2
	done
	waited=$((SECONDS - t3))
	applied=$(qv -d "$db" -c "SET statement_timeout = '120s'; SELECT tagscrm.apply_pending()" 2>&1)

	tps_w=$(tps_of "$tmp/soak.bench") tps_b=$(tps_of "$tmp/base.bench" 2>/dev/null)
	echo "# tps $level: ${tps_w:-?} with tagscrm, ${tps_b:-?} without (ratio $(awk -v a="${tps_w:-0}" -v b="${tps_b:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'))"
	for side in soak base; do
		[ -e "$tmp/$side.bench" ] || continue
		echo "# $side: $(field "$tmp/$side.bench" 'number of transactions actually processed') transactions," \
			"$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$tmp/$side.bench" | head -1 | grep . || echo 0) retried," \
			"$(field "$tmp/$side.bench" 'number of serialization failures') serialization and" \
			"$(field "$tmp/$side.bench" 'number of deadlock failures') deadlock failures after retries;" \
			"bulk statements ok/failed: $(cat "$tmp/$side.bulk" 2>/dev/null)"
	done
	echo "# jobs ok/failed: refresh $(cat "$tmp/soak.refresh" 2>/dev/null), sweep $(cat "$tmp/soak.sweep" 2>/dev/null);" \
		"queue: drained by itself after $waited s: $([ "$left" = 0 ] && echo yes || echo "no ($left left)"), apply_pending() applied ${applied}"

	# (a) pgbench
	# Under REPEATABLE READ a writer that meets a concurrent change of its
	# customer fails with 40001, as documented, and retries: a transaction
	# still failing after its 10 tries counts, if it failed with 40001 only.
	failed=$(field "$tmp/soak.bench" 'number of failed transactions')
	serialization=$(field "$tmp/soak.bench" 'number of serialization failures')
	deadlocks=$(field "$tmp/soak.bench" 'number of deadlock failures')
	if [ "$level" = "read committed" ]; then
		allowed=0 what="0 failed transactions, no client aborted"
	else
		allowed=${serialization:-0} what="no failure but 40001 after 10 tries (${failed:-?} of them), no deadlock, no client aborted"
	fi
	if [ "$(cat "$tmp/soak.status")" = 0 ] && [ "${failed:-x}" = "$allowed" ] && [ "${deadlocks:-0}" = 0 ] &&
	   ! grep -q 'aborted' "$tmp/soak.bench" && [ ! -e "$tmp/soak.pghang" ]; then
		tap_ok "$level: pgbench with tagscrm: $what"
	else
		tap_fail "$level: pgbench with tagscrm: $what"
		[ -e "$tmp/soak.pghang" ] && echo "pgbench hung: its sessions were terminated (see the stall check)" | diag
		echo "exit status $(cat "$tmp/soak.status"), failed transactions: ${failed:-none reported}" | diag
		grep -E '^number of (failed|serialization|deadlock)|error|abort' "$tmp/soak.bench" | head -10 | diag
		awk '/^SQL script/ { s = $4 } /- number of failed transactions: [1-9]/ { print s ": " $6 " failed " $7 }' "$tmp/soak.bench" | diag
	fi

	# writers kept going: no 5-second interval without a transaction, no overrun
	stalls=$(grep -c '^progress: .* 0\.0 tps' "$tmp/soak.bench")
	if [ "$stalls" = 0 ] && [ ! -e "$tmp/soak.pghang" ]; then
		tap_ok "$level: writers never stalled (every 5 s of pgbench progress committed transactions)"
	else
		tap_fail "$level: writers never stalled (every 5 s of pgbench progress committed transactions)"
		echo "$stalls intervals of 5 s with 0 tps (progress above)" | diag
		[ -e "$tmp/soak.pghang" ] && diag <"$tmp/soak.pghang"
	fi

	# (a) the server log of the soak, its drain and the checks below (read after them)
	# (c) with the clock pinned: the due sweep and the nightly refresh, then the
	# state before and after refresh(rebuild => true)
	if pinned_rebuild "$db" >"$tmp/rebuild.out" 2>&1
	then rebuilt=1; else rebuilt=0; fi

	# (a) deadlocks and errors in the server log
	if [ -n "$log" ] && server_log_since "$log" "$log_from" >"$tmp/soak.log" 2>"$tmp/log.err"; then
		if grep -q 'deadlock detected' "$tmp/soak.log"; then
			tap_fail "$level: no deadlock in the server log"
			echo "$(grep -c 'ERROR:  deadlock detected' "$tmp/soak.log") deadlocks:" | diag
			deadlock_summary "$tmp/soak.log" | diag
			echo "the first:" | diag
			grep -m1 -A14 'ERROR:  deadlock detected' "$tmp/soak.log" | diag
		else
			tap_ok "$level: no deadlock in the server log"
		fi
		# not ours: pg_cron's launcher exits while cron.database_name does not exist
		cron=$(sed -n 's/.*background worker "pg_cron launcher" (PID \([0-9]*\)) exited.*/\1/p' "$tmp/soak.log" | sort -u | sed 's/.*/\\[&\\]/' | paste -sd'|')
		grep -E '(ERROR|FATAL|PANIC):' "$tmp/soak.log" | grep -v 'deadlock detected' | grep -vE "$explained" |
			{ if [ -n "$cron" ]; then grep -vE "$cron"; else cat; fi; } >"$tmp/errors" || true
		echo "# server log: $(grep -c 'ERROR:' "$tmp/soak.log") ERROR lines, of them $(grep -c 'deadlock detected' "$tmp/soak.log") deadlocks," \
			"$( [ "$explained" = '^$' ] && echo 0 || grep -cE "$explained" "$tmp/soak.log") explained ($explained)"
		if [ -s "$tmp/errors" ]; then
			tap_fail "$level: no other ERROR in the server log than the explained ones"
			echo "$(wc -l <"$tmp/errors") unexplained; by message:" | diag
			sed 's/^.*\(ERROR\|FATAL\|PANIC\): *//' "$tmp/errors" | sort | uniq -c | sort -rn | head -10 | diag
			grep -m1 -A6 -F "$(head -1 "$tmp/errors")" "$tmp/soak.log" | diag
		else
			tap_ok "$level: no other ERROR in the server log than the explained ones"
		fi
	else
		tap_skip "server log not found or not readable ($(cat "$tmp/log.err" 2>/dev/null))"
		tap_skip "server log not found or not readable"
	fi

	# (a) the jobs and the bulk loads: every failure is an explained error
	cat "$tmp"/soak.*err 2>/dev/null | grep -E 'ERROR|FATAL|error' | grep -vE "$explained" >"$tmp/loop_errors" || true
	if [ -s "$tmp/loop_errors" ] || [ -e "$tmp/soak.loophang" ]; then
		tap_fail "$level: refresh(), sweep() and the bulk loads ended in time and failed only with explained errors"
		sort "$tmp/loop_errors" | uniq -c | sort -rn | head -10 | diag
		[ -e "$tmp/soak.loophang" ] && diag <"$tmp/soak.loophang"
	else
		tap_ok "$level: refresh(), sweep() and the bulk loads ended in time and failed only with explained errors"
	fi

	# the queue drained without help
	if [ "$left" = 0 ]; then
		tap_ok "$level: the background applier drained the queue by itself (in $waited s)"
	else
		tap_fail "$level: the background applier drained the queue by itself within $drain_timeout s"
		echo "left: $left; apply_pending() then applied: $applied" | diag
	fi

	# (b) the facts against a plain-SQL recompute (before the pinned jobs: they
	# are in tags_before/facts_before; facts do not depend on the clock)
	tap_check "$level: customer_fact equals a plain-SQL recompute of orders and events" \
		same_rows "$db" recompute "SELECT * FROM soak_check.truth_fact" tagscrm "SELECT * FROM soak_check.have_fact"
	tap_check "$level: customer_event_fact equals a plain-SQL recompute of events" \
		same_rows "$db" recompute "SELECT * FROM soak_check.truth_event_fact" tagscrm "SELECT * FROM soak_check.have_event_fact"
	tap_check "$level: customer_day equals a plain-SQL recompute of orders and events" \
		same_rows "$db" recompute "SELECT * FROM soak_check.truth_day" tagscrm "SELECT * FROM soak_check.have_day"

	# (c) against the rebuild
	if [ "$rebuilt" = 1 ]; then
		tap_check "$level: customer_tag equals what refresh(rebuild => true) makes of it" \
			same_rows "$db" before "SELECT * FROM soak_check.tags_before" rebuild "SELECT * FROM soak_check.tags_after"
		tap_check "$level: facts, days and event facts equal what refresh(rebuild => true) makes of them" \
			same_rows "$db" before "SELECT * FROM soak_check.facts_before" rebuild "SELECT * FROM soak_check.facts_after"
		tap_check "$level: no next_change_at or rule_next_change_at is later than the rebuild's (a later one misses a change)" \
			same_rows "$db" later "$later_next_change" rebuild "$rebuild_next_change"
	else
		for what in "customer_tag equals" "facts equal" "next_change_at"; do
			tap_fail "$level: $what the rebuild (the pinned sweep, refresh or rebuild failed)"; diag <"$tmp/rebuild.out"
		done
	fi

	# (d) the history
	tap_check "$level: every current model and rule tag has an add or replace in tag_history after its last removal" \
		same_rows "$db" unexplained "SELECT * FROM soak_check.unexplained_tags WHERE last_add IS NULL OR last_add < last_removal" \
		none "SELECT * FROM soak_check.unexplained_tags WHERE false"
	tap_check "$level: tag_history replays to the stored tags" \
		same_rows "$db" history "SELECT * FROM soak_check.replayed" customer_tag "SELECT customer_id, tag_id FROM tagscrm.customer_tag"

	echo "# time: setup $((t0 - tstart)) s, baseline $((t1 - t0)) s, soak $((t3 - t2)) s, drain and checks $((SECONDS - t3)) s"
	if [ "${SOAK_KEEP:-0}" != 1 ]; then
		for d in "$db" "$base"; do dropdb --if-exists "$d"; done
	fi
	rm -f "$tmp"/soak.* "$tmp"/base.*
done
unset PGOPTIONS
