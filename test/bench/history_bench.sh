#!/usr/bin/env bash
# test/bench/history_bench.sh: the layers over time at scale.
#
# CUSTOMERS (default 1,000,000) customers, each holding one tag of five
# exclusive layers (RFM segment 8 tags, lifecycle 4, status 3, level 5, churn
# risk 3) and about two of ten interest tags; then DAYS (default 35) daily
# recordings, before each of which a share of the customers moves in each
# layer (RFM 3 %, lifecycle 1 %, status 5 %, level 1 %, churn risk 3 %, and
# 0.5 % gain or lose an interest).  Prints the history's size after the first
# (full) recording, per day of changes, and for the full sets taken every
# snapshot_every recordings; the time of a recording, of movement() between
# the first and the last day, of a page of movement_members() and of the
# sizes per day; each with the load average.
#
# Uses the cluster in PGHOST/PGPORT when one answers there (the extension must
# be installed); otherwise starts a throwaway one on PORT (default 54329) with
# tools/cluster.sh.  Database: DB (default history_bench, dropped and recreated).
set -euo pipefail
cd "$(dirname "$0")/../.."
CUSTOMERS="${CUSTOMERS:-1000000}"
DAYS="${DAYS:-35}"
DB="${DB:-history_bench}"
. tools/cluster.sh
started=0
if ! pg_isready -q 2>/dev/null; then
	CLUSTER_DIR=
	cluster_start "${PORT:-54329}"
	started=1
fi
trap '[ "$started" = 1 ] && cluster_stop' EXIT
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
dropdb --if-exists "$DB" && createdb "$DB"

(q <<SQL
CREATE EXTENSION tagscrm;
SET tagscrm.clock_override = '2026-01-01 03:00+00';
CREATE TABLE layer (g text, exclusive boolean, tags text[], move float8);
INSERT INTO layer VALUES
	('RFM segment', true, ARRAY['rfm 1', 'rfm 2', 'rfm 3', 'rfm 4', 'rfm 5', 'rfm 6', 'rfm 7', 'rfm 8'], 0.03),
	('lifecycle', true, ARRAY['new', 'first purchase', 'repeat', 'super'], 0.01),
	('status', true, ARRAY['active', 'silent', 'lost'], 0.05),
	('level', true, ARRAY['level 1', 'level 2', 'level 3', 'level 4', 'level 5'], 0.01),
	('churn risk', true, ARRAY['risk high', 'risk medium', 'risk low'], 0.03),
	('interests', false, ARRAY['garden', 'kitchen', 'books', 'toys', 'music', 'sports', 'travel', 'beauty', 'pets', 'games'], 0.005);
SELECT tagscrm.create_tag_group(g, 'model', exclusive => exclusive) FROM layer;
SELECT tagscrm.create_tag(t, g) FROM layer, unnest(tags) t;
CREATE TABLE tag_of AS SELECT l.g, l.exclusive, t.tag_id, row_number() OVER (PARTITION BY l.g ORDER BY t.tag_id) AS i, l.move
  FROM layer l JOIN tagscrm.tag t ON t.name = ANY (l.tags);
INSERT INTO tagscrm.customer SELECT 'cust-' || i, '2025-01-01' FROM generate_series(1, $CUSTOMERS) i;
SELECT setseed(0.5);
-- the exclusive layers: one tag each, skewed shares; interests: each about 20 %
INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, exclusive_group_id, source, applied_by, applied_at)
SELECT c.customer_id, t.tag_id, tg.group_id, CASE WHEN t.exclusive THEN tg.group_id END, 'model', 'bench', '2026-01-01'
  FROM tagscrm.customer c
 CROSS JOIN (SELECT DISTINCT g, exclusive FROM tag_of) l
 CROSS JOIN LATERAL (SELECT o.tag_id, o.exclusive FROM tag_of o WHERE o.g = l.g
                      ORDER BY CASE WHEN l.exclusive THEN (o.i - 1) * 0.25 + random() + 0 * length(c.customer_id) ELSE random() END
                      LIMIT CASE WHEN l.exclusive THEN 1 ELSE 2 END) t
  JOIN tagscrm.tag x ON x.tag_id = t.tag_id JOIN tagscrm.tag_group tg ON tg.group_id = x.group_id;
SELECT tagscrm.segment_compact();
SELECT tagscrm.define_segment('engaged', \$\$tag('active') and (tag('repeat') or tag('super'))\$\$);
SQL
) >/dev/null
q -c "VACUUM ANALYZE"
echo "customers: $CUSTOMERS; assignments: $(q -c 'SELECT count(*) FROM tagscrm.customer_tag')"

size() { q -c "SELECT pg_total_relation_size('tagscrm.history_tag') + pg_total_relation_size('tagscrm.history_recording')
                      + pg_total_relation_size('tagscrm.history_segment') + pg_total_relation_size('tagscrm.history_state')"; }
keysize() { q -c "SELECT pg_total_relation_size('tagscrm.history_key')"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1048576 }'; }

day_changes() {   # day: moves a share of each layer's customers
	q <<SQL
SELECT setseed(0.5 + $1 / 1000.0);
-- exclusive layers: a random share gets another tag of the layer
UPDATE tagscrm.customer_tag ct SET tag_id = n.tag_id
  FROM (SELECT ct.customer_id, ct.tag_id AS old_tag,
               (SELECT o2.tag_id FROM tag_of o2 WHERE o2.g = o.g AND o2.tag_id <> ct.tag_id ORDER BY random() + 0 * length(ct.customer_id) LIMIT 1) AS tag_id
          FROM tagscrm.customer_tag ct JOIN tag_of o ON o.tag_id = ct.tag_id
         WHERE o.exclusive AND random() + 0 * length(ct.customer_id) < o.move) n   -- per row: not pushed down to tag_of
 WHERE ct.customer_id = n.customer_id AND ct.tag_id = n.old_tag;
-- interests: some lose one, as many gain one
DELETE FROM tagscrm.customer_tag ct USING tag_of o WHERE o.tag_id = ct.tag_id AND NOT o.exclusive AND random() + 0 * length(ct.customer_id) < o.move;
INSERT INTO tagscrm.customer_tag (customer_id, tag_id, group_id, source, applied_by, applied_at)
SELECT c.customer_id, o.tag_id, x.group_id, 'rule', 'bench', '2026-01-01'
  FROM tagscrm.customer c JOIN tag_of o ON NOT o.exclusive AND o.i = 1 + (abs(hashtext(c.customer_id || $1)) % 10)
  JOIN tagscrm.tag x ON x.tag_id = o.tag_id
 WHERE random() + 0 * length(c.customer_id) < o.move ON CONFLICT DO NOTHING;
SELECT tagscrm.segment_compact();
SQL
}

record() {   # day
	q -c "SELECT set_config('tagscrm.clock_override', ('2026-01-01 03:00+00'::timestamptz + ($1 - 1) * interval '1 day')::text, false)" \
	  -c '\timing on' -c 'SELECT tagscrm.record_history(quiet => true)' | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

t=$(record 1); full=$(size)
echo "day 1 (full sets): recording $t ms (load $(load)); history $(mb "$full"); key dictionary $(mb "$(keysize)")"
prev=$full; deltas=0; ndelta=0; snaps=0; nsnap=0; times=""
for day in $(seq 2 "$DAYS"); do
	day_changes "$day" >/dev/null
	t=$(record "$day"); now=$(size); grow=$((now - prev)); prev=$now
	kind=$(q -c "SELECT CASE WHEN bool_and(since_full = 0) THEN 'full' ELSE 'changes' END FROM tagscrm.history_tag
	             WHERE recording_id = (SELECT max(recording_id) FROM tagscrm.history_recording)")
	data=$(q -c "SELECT sum(pg_column_size(h.*)) FROM tagscrm.history_tag h
	             WHERE recording_id = (SELECT max(recording_id) FROM tagscrm.history_recording)")
	if [ "$kind" = full ]; then snaps=$((snaps + grow)); nsnap=$((nsnap + 1)); else deltas=$((deltas + grow)); ndelta=$((ndelta + 1)); fi
	times="$times $t"
	echo "day $day ($kind): recording $t ms (load $(load)); rows $(mb "$data"), on disk +$(mb "$grow")"
done
echo "on disk, per day of changes: $(mb $((deltas / (ndelta > 0 ? ndelta : 1)))); per full recording: $(mb $((snaps / (nsnap > 0 ? nsnap : 1))))"
moved=$(q -c "SELECT string_agg(format('%s %s', layer, round(100.0 * n / $CUSTOMERS, 1)), ', ') FROM (
	SELECT l.layer, sum(m.customers) FILTER (WHERE m.from_tag IS DISTINCT FROM m.to_tag) AS n
	  FROM (VALUES ('RFM segment'), ('lifecycle'), ('status'), ('level'), ('churn risk')) l(layer),
	       LATERAL tagscrm.movement(l.layer, '2026-01-01 03:00', '2026-01-02 03:00') m GROUP BY 1) x")
echo "moved on day 2, % of customers: $moved"

timed() {   # label, sql: the best of 3 runs
	local best
	best=$(for i in 1 2 3; do q -c '\timing on' -c "$2" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; done | sort -n | head -1)
	echo "$1: $best ms (load $(load))"
}
last="2026-01-01 03:00+00'::timestamptz + interval '$((DAYS - 1)) days"
timed "movement('RFM segment', day 1, day $DAYS)" "SELECT count(*) FROM tagscrm.movement('RFM segment', '2026-01-01 03:00+00', '$last')"
timed "movement('RFM segment', day $((DAYS - 1)), day $DAYS)" \
	"SELECT count(*) FROM tagscrm.movement('RFM segment', '$last' - interval '1 day', '$last')"
timed "movement_members, a page of 1000 (rfm 1 -> rfm 2)" \
	"SELECT count(*) FROM tagscrm.movement_members('RFM segment', '2026-01-01 03:00+00', '$last', 'rfm 1', 'rfm 2')"
timed "sizes per day of the RFM segments ($DAYS days)" \
	"SELECT count(*) FROM (SELECT recorded_at::date, tag, customers FROM tagscrm.tag_size_history WHERE group_name = 'RFM segment') x"
echo "history after $DAYS days: $(mb "$(size)") + key dictionary $(mb "$(keysize)")"
