#!/usr/bin/env bash
# The online backfill: orders and events tables watched with backfill =>
# false, then refresh(rebuild => true) builds their facts while writers go
# on (single-row inserts, updates and deletes of test/soak/bench, 2 clients,
# pgbench logging every transaction).  Checks: the rebuild succeeds; the
# writers fail nothing, commit during it, and none waits as long as the
# rebuild takes (a writer blocked by it would); once the queue is applied,
# the facts equal a plain-SQL recompute (test/soak/checks.sql) and the tags
# and facts equal what a rebuild under the lock makes of them.  TAP output;
# needs PGHOST/PGPORT of a cluster where tagscrm is installed, as a
# superuser.  BACKFILL_ROWS (default 300,000) rows in each table.
set -u
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
chmod 755 "$tmp"
writer=
cleanup() {
	touch "$tmp/stop"
	[ -n "$writer" ] && wait "$writer" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. test/soak/lib.sh
db=tagscrm_backfill_test
rows="${BACKFILL_ROWS:-300000}"
pgbench="$(pg_config --bindir)/pgbench"
echo "1..7"

dropdb --if-exists "$db" 2>/dev/null
createdb "$db" || exit 1
q -d "$db" >"$tmp/setup.out" 2>&1 <<SQL || { echo "# setup failed"; diag <"$tmp/setup.out"; exit 1; }
SET client_min_messages = warning;
CREATE TABLE orders (order_id bigserial PRIMARY KEY, customer bigint, paid_at timestamptz, amount numeric);
CREATE TABLE events (event_id bigserial PRIMARY KEY, customer bigint, at timestamptz, kind text);
SELECT setseed(0.31);
INSERT INTO orders (customer, paid_at, amount)
SELECT 1 + floor(random() * 20000), now() - random() * interval '180 days', round((5 + random() * 300)::numeric, 2)
  FROM generate_series(1, $rows);
INSERT INTO events (customer, at, kind)
SELECT 1 + floor(random() * 20000), now() - random() * interval '180 days',
       (ARRAY['view', 'consult', 'review', 'register'])[1 + floor(random() * 4)]
  FROM generate_series(1, $rows);
CREATE INDEX ON orders (customer);
CREATE INDEX ON events (customer);
ANALYZE orders, events;
CREATE EXTENSION tagscrm;
UPDATE tagscrm.settings SET bulk_rows = 200;
SELECT tagscrm.create_tag_group('spend', 'interest');
SELECT tagscrm.create_tag('high spender', 'spend', method => 'rule');
SELECT tagscrm.set_tag_rule('high spender', \$\$sum(order.amount, last 30 days) >= 600\$\$);
SELECT tagscrm.enable_tag_rule('high spender');
SELECT tagscrm.watch_orders('orders', customer => 'customer', at => 'paid_at', amount => 'amount', backfill => false);
SELECT tagscrm.watch_events('events', customer => 'customer', at => 'at', kind => 'kind', backfill => false);
SQL

# the writers: one-second pgbench runs, every transaction logged, until told to stop
(
	i=0
	while [ ! -e "$tmp/stop" ]; do
		i=$((i + 1))
		"$pgbench" -n -c 2 -j 2 -T 1 -l --log-prefix="$tmp/lat.$i" \
			-f test/soak/bench/ins_order.sql -f test/soak/bench/ins_event.sql \
			-f test/soak/bench/upd_amount.sql -f test/soak/bench/del_order.sql "$db" >>"$tmp/writers.out" 2>&1 ||
			echo "pgbench run $i exited with $?" >>"$tmp/writers.failed"
	done
) &
writer=$!
sleep 2
t0=$(date +%s.%N)
q -d "$db" -c "SELECT tagscrm.refresh(rebuild => true, quiet => true)" >"$tmp/rebuild.out" 2>&1
rebuild_status=$?
t1=$(date +%s.%N)
sleep 2
touch "$tmp/stop"
wait "$writer"
writer=

if [ $rebuild_status = 0 ]; then tap_ok "refresh(rebuild => true) backfills while the writers go on"
else tap_fail "refresh(rebuild => true) backfills while the writers go on"; diag <"$tmp/rebuild.out"; fi
if [ ! -e "$tmp/writers.failed" ] && ! grep -q "number of failed transactions: [1-9]" "$tmp/writers.out"; then
	tap_ok "no writer's transaction failed"
else
	tap_fail "no writer's transaction failed"; { cat "$tmp/writers.failed" 2>/dev/null; grep -iE "error|failed|aborted" "$tmp/writers.out" | head; } | diag
fi
# pgbench's log: client, transaction, latency (us), script, epoch s, us
cat "$tmp"/lat.* 2>/dev/null >"$tmp/lat.all"
during=$(awk -v a="$t0" -v b="$t1" '{ at = $5 + $6 / 1e6 } at > a && at < b { n++ } END { print n + 0 }' "$tmp/lat.all")
longest=$(awk '$3 > m { m = $3 } END { printf "%.3f", m / 1e6 }' "$tmp/lat.all")
took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
echo "# the rebuild took $took s; $during writer transactions committed during it; the longest took $longest s"
if [ "$during" -gt 0 ]; then tap_ok "writers committed during the rebuild ($during transactions)"
else tap_fail "writers committed during the rebuild"; fi
if awk -v l="$longest" -v t="$took" 'BEGIN { exit !(l < 1.5 && l < t / 2) }'; then
	tap_ok "no writer waited for the rebuild (longest transaction $longest s, the rebuild $took s)"
else
	tap_fail "no writer waited for the rebuild (longest transaction $longest s, the rebuild $took s: at most 1.5 s and half the rebuild)"
	echo "the longest transactions: seconds, script (0 insert order, 1 insert event, 2 update, 3 delete), ended at s after the rebuild began" | diag
	sort -k3,3nr "$tmp/lat.all" | head -8 | awk -v a="$t0" '{ printf "%.3f s, script %d, at %.1f s\n", $3 / 1e6, $4, $5 + $6 / 1e6 - a }' | diag
fi

# the queue applied, then the facts against plain SQL and a locked rebuild
q -d "$db" -c "SELECT tagscrm.apply_pending()" >/dev/null 2>"$tmp/apply.err"
q -d "$db" -v with_events=on -f test/soak/checks.sql >/dev/null 2>>"$tmp/apply.err" || diag <"$tmp/apply.err"
tap_check "no table waits for its backfill any more" \
	test "$(qv -d "$db" -c "SELECT count(*) FROM tagscrm.watched_table WHERE backfill_pending")" = 0
tap_check "customer_fact, customer_event_fact and customer_day equal a plain-SQL recompute" bash -c "
	$(declare -f same_rows q qv); set -e
	same_rows '$db' recompute 'SELECT * FROM soak_check.truth_fact' tagscrm 'SELECT * FROM soak_check.have_fact'
	same_rows '$db' recompute 'SELECT * FROM soak_check.truth_event_fact' tagscrm 'SELECT * FROM soak_check.have_event_fact'
	same_rows '$db' recompute 'SELECT * FROM soak_check.truth_day' tagscrm 'SELECT * FROM soak_check.have_day'"
if pinned_rebuild "$db" >"$tmp/pinned.out" 2>&1; then
	tap_check "the tags, and the facts, equal what a rebuild under the lock makes of them" bash -c "
		$(declare -f same_rows q qv); set -e
		same_rows '$db' before 'SELECT * FROM soak_check.tags_before' rebuild 'SELECT * FROM soak_check.tags_after'
		same_rows '$db' before 'SELECT * FROM soak_check.facts_before' rebuild 'SELECT * FROM soak_check.facts_after'"
else
	tap_fail "the tags, and the facts, equal what a rebuild under the lock makes of them"; diag <"$tmp/pinned.out"
fi
dropdb "$db" 2>/dev/null
