#!/usr/bin/env bash
# Crash recovery: a throwaway cluster of its own (tools/cluster.sh, port
# CRASH_PORT, default PGPORT + 1), tagscrm watching an orders table with
# bulk_rows 100 and a rule tag.  Four faults, each while committed bulk work
# waits in the queue:
#   (a) pg_ctl stop -m immediate during a large COPY into the watched table
#       (the applier then waits for a customer a long transaction holds);
#   (b) the same during refresh(rebuild => true) (the queued entry was
#       committed with COMMIT PREPARED, so no applier holds it: the rebuild
#       took it);
#   (c) the same while the background applier applies a large queued entry;
#   (d) kill -9 of the applier process itself during that work (the
#       postmaster then reinitializes by itself).
# After each: the server is started again, one ordinary small write is made
# (below bulk_rows), and the queue must drain by itself within
# CRASH_DRAIN_TIMEOUT s (default 20) with nobody calling apply_pending() or
# sweep(); then (after apply_pending() if it did not) customer_fact and
# customer_day must equal a plain-SQL recompute (nothing lost, nothing
# applied twice), and, with the clock pinned, after the due sweep and the
# nightly refresh, the tags and facts must equal what
# refresh(rebuild => true) makes of them.  TAP output.
set -u
cd "$(dirname "$0")/../.."
root="$(pwd)"
tmp="$(mktemp -d)"
chmod 755 "$tmp"
. tools/cluster.sh
. test/soak/lib.sh

faults=(copy rebuild applier kill9)
checks_per_fault=5
echo "1..$((1 + checks_per_fault * ${#faults[@]}))"

port="${CRASH_PORT:-$((${PGPORT:-54329} + 1))}"
drain_timeout="${CRASH_DRAIN_TIMEOUT:-20}"
db=crash
extra_opts="-c max_prepared_transactions=5 -c deadlock_timeout=200ms"
bg=()
cleanup() {
	local p
	for p in "${bg[@]}"; do kill "$p" 2>/dev/null; done
	cluster_stop
	rm -rf "$tmp"
}

# The server, stopped and started again with the options of cluster_start
server_opts() { echo "-k $CLUSTER_DIR -p $port -c listen_addresses= -c fsync=off $extra_opts"; }
stop_immediate() { as_postgres "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1; }
start_server() {
	as_postgres "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -o "$(server_opts)" -l "$CLUSTER_DIR/server.log" -w -t 60 start >/dev/null 2>&1
}
wait_ready() {   # seconds: until a query succeeds
	local i=0
	until qv -d "$db" -c "SELECT 1" >/dev/null 2>&1; do
		[ "$i" -ge $(($1 * 10)) ] && return 1
		sleep 0.1; i=$((i + 1))
	done
}
# polls a query until it returns t; false after some seconds
wait_until() {   # seconds, SQL
	local i=0
	until [ "$(qv -d "$db" -c "$2" 2>/dev/null)" = t ]; do
		[ "$i" -ge $(($1 * 20)) ] && return 1
		sleep 0.05; i=$((i + 1))
	done
}
pending() { qv -d "$db" -c "SELECT count(*) FROM tagscrm.pending_changes" 2>&1; }
applier_pid() { qv -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'tagscrm applier' AND state = 'active' LIMIT 1"; }
yes_no() { [ "$1" = 0 ] && echo yes || echo no; }
# waits for the background processes of this fault, which the crash ended
reap() { local p; for p in "${bg[@]}"; do wait "$p" 2>/dev/null; done; bg=(); }

if cluster_start "$port" $extra_opts >"$tmp/start.out" 2>&1; then
	trap cleanup EXIT
	chmod 755 "$CLUSTER_DIR"
	createdb "$db" && q -d "$db" >"$tmp/setup.out" 2>&1 <<-'EOF'
		SET client_min_messages = warning;
		CREATE TABLE orders (order_id bigserial PRIMARY KEY, customer bigint, paid_at timestamptz, amount numeric);
		CREATE INDEX ON orders (customer);
		INSERT INTO orders (customer, paid_at, amount)
		SELECT 1 + g % 4000, now() - (g % 3000) * interval '1 hour' - (g % 60) * interval '1 minute', 5 + g % 295
		  FROM generate_series(1, 40000) g;
		CREATE EXTENSION tagscrm;
		UPDATE tagscrm.settings SET bulk_rows = 100;
		SELECT tagscrm.watch_orders('orders', customer => 'customer', at => 'paid_at', amount => 'amount');
		SELECT tagscrm.create_tag_group('spend', 'interest');
		SELECT tagscrm.create_tag('high spender', 'spend', method => 'rule');
		SELECT tagscrm.set_tag_rule('high spender', $$sum(order.amount, last 30 days) >= 300$$);
		SELECT tagscrm.enable_tag_rule('high spender');
	EOF
	status=$?
	[ $status = 0 ] && q -d "$db" -v with_events=off -f test/soak/checks.sql >>"$tmp/setup.out" 2>&1
	status=$?
else
	status=1
	cat "$tmp/start.out" >"$tmp/setup.out"
fi
if [ $status = 0 ]; then
	tap_ok "a cluster of its own on port $port, tagscrm watching orders (40,000 rows, 4,000 customers, bulk_rows 100)"
else
	tap_fail "a cluster of its own on port $port, tagscrm watching orders"; head -30 "$tmp/setup.out" | diag
	while [ "$n" -lt $((1 + checks_per_fault * ${#faults[@]})) ]; do tap_fail "not run (no cluster)"; done
	exit 1
fi

# A bulk insert of rows rows over customers customers, committed (queued)
bulk_insert() {   # rows, customers, first customer
	q -d "$db" -c "INSERT INTO orders (customer, paid_at, amount)
	               SELECT $3 + g % $2, now() - (g % 2000) * interval '1 hour', 1 + g % 50 FROM generate_series(1, $1) g" >/dev/null
}

# The fault: sets fault_ok (did it hit what it should?) and fault_what
fault_copy() {
	# a long transaction holds customer 1's fact row: the applier of the
	# committed bulk insert waits for it, so the entry is queued at the crash
	q -d "$db" -c "BEGIN" -c "SELECT FROM tagscrm.customer_fact WHERE customer_id = '1' FOR UPDATE" -c "SELECT pg_sleep(120)" \
		>/dev/null 2>&1 & bg+=($!)
	wait_until 10 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%' AND datname = '$db')"
	bulk_insert 5000 500 1
	wait_until 10 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'tagscrm applier' AND wait_event_type = 'Lock')"
	local waiting=$?
	{ qv -d "$db" -c "COPY (SELECT 1 + g % 20000, now() - (g % 3000) * interval '1 hour', 1 + g % 99 FROM generate_series(1, 2000000) g) TO STDOUT" |
	  q -d "$db" -c "COPY orders (customer, paid_at, amount) FROM STDIN"; } >/dev/null 2>&1 & bg+=($!)
	wait_until 30 "SELECT EXISTS (SELECT FROM pg_stat_progress_copy WHERE relid = 'orders'::regclass AND tuples_processed > 100000)"
	local copying=$? queued
	queued=$(pending)
	stop_immediate
	fault_what="COPY past 100,000 rows: $(yes_no $copying), applier waiting for the held customer: $(yes_no $waiting), $queued entries queued"
	[ "$copying" = 0 ] && [ "$queued" -ge 1 ] 2>/dev/null && fault_ok=1
}
fault_rebuild() {
	# a bulk insert committed with COMMIT PREPARED: queued, and no applier
	# started; the rebuild takes the entry into its own transaction
	q -d "$db" -c "BEGIN" -c "INSERT INTO orders (customer, paid_at, amount)
	                          SELECT 1 + g % 3000, now() - (g % 2000) * interval '1 hour', 2 FROM generate_series(1, 30000) g" \
		-c "PREPARE TRANSACTION 'crash_b'" -c "COMMIT PREPARED 'crash_b'" >/dev/null
	local queued
	queued=$(pending)
	q -d "$db" -c "SELECT tagscrm.refresh(rebuild => true)" >/dev/null 2>&1 & bg+=($!)
	wait_until 30 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name LIKE 'tagscrm refresh:%' AND state = 'active')"
	local running=$?
	sleep 0.3
	local still
	still=$(qv -d "$db" -c "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'tagscrm refresh:%' AND state = 'active'")
	stop_immediate
	fault_what="$queued entries queued before, rebuild running at the stop: ${still:-no}"
	[ "$running" = 0 ] && [ -n "$still" ] && [ "$queued" -ge 1 ] 2>/dev/null && fault_ok=1
}
applier_at_work() {   # sets pid: the applier, after 0.5 s of applying a large entry
	# large enough that its apply outlasts the half second (several seconds
	# at the write path's speed of 2026-12: 60,000 rows were done in less)
	bulk_insert 200000 20000 1
	wait_until 10 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'tagscrm applier' AND state = 'active')"
	sleep 0.5
	pid=$(applier_pid)
}
fault_applier() {
	local pid queued
	applier_at_work
	queued=$(pending)
	stop_immediate
	fault_what="applier ${pid:-not found} applying, $queued entries queued"
	[ -n "$pid" ] && [ "$queued" -ge 1 ] 2>/dev/null && fault_ok=1
}
fault_kill9() {
	local pid queued log_from
	log_from=$(stat -c %s "$CLUSTER_DIR/server.log")
	applier_at_work
	queued=$(pending)
	[ -n "$pid" ] && kill -9 "$pid"
	# the postmaster ends every backend and reinitializes
	sleep 1
	wait_ready 30
	local restarted
	restarted=$(tail -c +$((log_from + 1)) "$CLUSTER_DIR/server.log" | grep -c 'all server processes terminated; reinitializing')
	fault_what="applier ${pid:-not found} killed, $queued entries queued, postmaster reinitialized: $restarted"
	[ -n "$pid" ] && [ "$queued" -ge 1 ] 2>/dev/null && [ "$restarted" -ge 1 ] 2>/dev/null && fault_ok=1
}

for fault in "${faults[@]}"; do
	case $fault in
	copy) title="(a) immediate stop during a large COPY" ;;
	rebuild) title="(b) immediate stop during refresh(rebuild => true)" ;;
	applier) title="(c) immediate stop while the applier applies a large entry" ;;
	kill9) title="(d) kill -9 of the applier during its work" ;;
	esac
	fault_ok=0 fault_what=""
	t0=$SECONDS
	"fault_$fault"
	reap
	t1=$SECONDS
	if [ "$fault" = kill9 ]; then started=0; else start_server; started=$?; fi
	if [ "$started" = 0 ] && wait_ready 30; then up=1; else up=0; fi
	if [ "$fault_ok" = 1 ] && [ "$up" = 1 ]; then
		tap_ok "$title: it hit ($fault_what) and the server is back"
	else
		tap_fail "$title: it hit and the server is back"
		echo "$fault_what; server back: $up" | diag
		tail -20 "$CLUSTER_DIR/server.log" | diag
	fi
	if [ "$up" = 0 ]; then
		for i in 2 3 4 5; do tap_fail "$title: not checked (the server is not back)"; done
		start_server
		continue
	fi

	# queued work must be picked up without anyone calling for it: one
	# ordinary write (below bulk_rows), then wait
	t2=$SECONDS
	at_restart=$(pending)
	q -d "$db" -c "INSERT INTO orders (customer, paid_at, amount) VALUES (42, now(), 1)" >/dev/null 2>&1
	until left=$(pending); [ "$left" = 0 ] || [ $((SECONDS - t2)) -ge "$drain_timeout" ]; do sleep 0.2; done
	waited=$((SECONDS - t2))
	if [ "$left" = 0 ]; then
		tap_ok "$title: the queue ($at_restart entries after the restart) drained by itself in $waited s"
	else
		tap_fail "$title: the queue drained by itself within $drain_timeout s of the restart"
		echo "$at_restart entries queued after the restart, $left still queued after $drain_timeout s:" | diag
		q -d "$db" -c "SELECT pending_id, queued_at, source, statement, customers FROM tagscrm.pending_changes ORDER BY 1" | diag
		echo "appliers running: $(qv -d "$db" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tagscrm applier'");" \
			"applier lines in the log since the fault: $(grep -c 'tagscrm applier' "$CLUSTER_DIR/server.log")" | diag
		echo "apply_pending() then applied: $(qv -d "$db" -c "SELECT tagscrm.apply_pending()" 2>&1)" | diag
	fi

	t3=$SECONDS
	tap_check "$title: customer_fact equals a plain-SQL recompute of orders" \
		same_rows "$db" recompute "SELECT * FROM soak_check.truth_fact" tagscrm "SELECT * FROM soak_check.have_fact"
	# customer_day, and the state against a rebuild (tags and facts)
	if same_rows "$db" recompute "SELECT * FROM soak_check.truth_day" tagscrm "SELECT * FROM soak_check.have_day" >"$tmp/day.out" 2>&1 &&
	   pinned_rebuild "$db" >"$tmp/rebuild.out" 2>&1; then
		tap_check "$title: customer_tag equals what refresh(rebuild => true) makes of it" \
			same_rows "$db" before "SELECT * FROM soak_check.tags_before" rebuild "SELECT * FROM soak_check.tags_after"
	else
		tap_fail "$title: customer_day equals a recompute, and customer_tag equals what refresh(rebuild => true) makes of it"
		cat "$tmp/day.out" "$tmp/rebuild.out" | head -30 | diag
	fi
	tap_check "$title: facts and days equal what refresh(rebuild => true) makes of them" \
		same_rows "$db" before "SELECT * FROM soak_check.facts_before" rebuild "SELECT * FROM soak_check.facts_after"
	echo "# $title: $((SECONDS - t0)) s (fault $((t1 - t0)) s, restart $((t2 - t1)) s, drain $((t3 - t2)) s, checks $((SECONDS - t3)) s)"
done
