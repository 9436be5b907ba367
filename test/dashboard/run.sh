#!/usr/bin/env bash
# The BI dashboard (examples/dashboard, an Evidence project) built against the
# demo shop (demo/sample.sql and demo/weeks.sql), read as a login role in
# tagscrm_reader, and rendered page by page in headless Chromium to PNG
# screenshots; the figures each page shows (the text of the rendered page)
# are checked against psql computing them: in plain SQL over the views and
# the shop's tables where one can (segment sizes now, churn risk per
# segment, tags held, idle tags, the campaign's conversion from the orders
# table), else from the same tagscrm function (the first recording's sizes,
# the movement matrix, the campaign's per-segment rows).
# The screenshots stay in $TAGSCRM_DASHBOARD_SHOTS (default
# /tmp/tagscrm-dashboard-PORT, PORT the cluster's).  Needs node, npm,
# chromium (tools/setup.sh installs them) and the npm registry for `npm ci`
# (or npm's cache): without them every check is skipped.  TAP output; needs PGHOST/PGPORT (and PGUSER)
# of a cluster with tagscrm, as a superuser.
set -u
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
chmod 755 "$tmp"
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
db=bi_dashboard
reader=bi_dashboard_reader
shots="${TAGSCRM_DASHBOARD_SHOTS:-/tmp/tagscrm-dashboard-${PGPORT:-5432}}"
pages=(segment-sizes movement churn-risk housekeeping campaign)
export PGTZ=UTC

# the checks: 6 for the build, 2 per page (a screenshot, its text), then the figures
figures=10
plan=$((6 + 2 * ${#pages[@]} + figures))
echo "1..$plan"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; [ -s "$tmp/out" ] && sed 's/^/# /' "$tmp/out" | tail -20; }
check() {   # description, command...
	local what="$1"; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$what"; else not_ok "$what"; return 1; fi
}
skip_rest() { while [ "$n" -lt "$plan" ]; do n=$((n + 1)); echo "ok $n # SKIP $1"; done; exit 0; }
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

for c in node npm chromium; do
	command -v "$c" >/dev/null || skip_rest "$c is not installed (tools/setup.sh installs it)"
done

# the project, without what a previous build left
mkdir "$tmp/dashboard"
(cd examples/dashboard && cp -r package.json package-lock.json evidence.plugins.yaml pages sources "$tmp/dashboard/")
if ! (cd "$tmp/dashboard" && timeout 600 npm ci --prefer-offline --no-audit --no-fund) >"$tmp/out" 2>&1; then
	timeout 30 npm ping >/dev/null 2>&1 || skip_rest "npm ci failed and the npm registry does not answer"
	not_ok "npm ci (examples/dashboard/package-lock.json)"; skip_rest "npm ci failed"
fi
ok "npm ci (examples/dashboard/package-lock.json)"

dropdb --if-exists "$db" >/dev/null 2>&1
q -c "DROP ROLE IF EXISTS $reader" >/dev/null 2>&1
createdb "$db"
check "load the demo shop (demo/sample.sql, demo/weeks.sql) and a login role in tagscrm_reader" \
	bash -c "psql -X -q -v ON_ERROR_STOP=1 -d $db <demo/sample.sql >/dev/null && psql -X -q -v ON_ERROR_STOP=1 -d $db <demo/weeks.sql &&
	         psql -X -q -v ON_ERROR_STOP=1 -d $db -c 'CREATE ROLE $reader LOGIN IN ROLE tagscrm_reader'"

export EVIDENCE_SOURCE__tagscrm__host="$PGHOST" EVIDENCE_SOURCE__tagscrm__port="${PGPORT:-5432}" \
	EVIDENCE_SOURCE__tagscrm__database="$db" EVIDENCE_SOURCE__tagscrm__user="$reader" EVIDENCE_DISABLE_TELEMETRY=1
check "evidence sources: the views read into the dashboard" bash -c "cd '$tmp/dashboard' && timeout 300 npx evidence sources" ||
	skip_rest "the sources did not load"
check "evidence build" bash -c "cd '$tmp/dashboard' && timeout 600 npx evidence build" || skip_rest "the build failed"

node test/dashboard/serve.mjs "$tmp/dashboard/build" >"$tmp/port" 2>&1 &
server=$!
for i in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
check "serve the built site on 127.0.0.1:$port" \
	test "$(node -e "fetch('http://127.0.0.1:$port/').then(r => console.log(r.status), () => console.log('no answer'))")" = 200

rm -rf "$shots" && mkdir -p "$shots"
browse() { timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,"$2" \
	--virtual-time-budget=15000 "${@:3}" "http://127.0.0.1:$port/$1" 2>>"$tmp/chromium.log"; }
# the page's text after its scripts ran: tags dropped, entities decoded, blanks collapsed
page_text() {   # path, file
	browse "$1" 1600 --dump-dom | tr '\n\t' '  ' | sed -e 's/<[^>]*>/ /g' -e 's/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g; s/&nbsp;/ /g; s/&#39;/'"'"'/g; s/&quot;/"/g' |
		tr -s ' ' >"$2"
}
browse "" 800 --screenshot="$shots/index.png" >/dev/null
page_text "" "$shots/index.txt"
check "chromium renders the front page (headless): $shots/index.png" test -s "$shots/index.png"
for p in "${pages[@]}"; do
	browse "$p/" 1600 --screenshot="$shots/$p.png" >/dev/null
	check "$p: screenshot $shots/$p.png" test "$(stat -c %s "$shots/$p.png" 2>/dev/null || echo 0)" -gt 30000
	page_text "$p/" "$shots/$p.txt"
	check "$p: rendered text ($(wc -c <"$shots/$p.txt") characters)" test "$(wc -c <"$shots/$p.txt")" -gt 500
done

# every line the SQL prints must appear in the page's text
shows() {   # page, description, SQL printing one expected string a line
	local page="$1" what="$2" missing
	q -At -d "$db" -c "$3" >"$tmp/expected" 2>"$tmp/out" || { not_ok "$page: $what (the SQL failed)"; return; }
	missing=$(while IFS= read -r line; do grep -qF -- " $line " "$shots/$page.txt" || echo "missing: $line"; done <"$tmp/expected")
	if [ -s "$tmp/expected" ] && [ -z "$missing" ]; then ok "$page: $what ($(wc -l <"$tmp/expected") figures)"
	else printf '%s\n' "$missing" >"$tmp/out"; [ -s "$tmp/expected" ] || echo "the SQL printed nothing" >"$tmp/out"; not_ok "$page: $what"; fi
}
int() { echo "pg_catalog.to_char($1, 'FM999,999,990')"; }

shows index "buyers, active ones, at high churn risk (plain SQL over customer_overview)" "
	SELECT 'Customers with an order ' || $(int 'count(*)') || ' Active (an order in 30 days) ' ||
	       $(int "count(*) FILTER (WHERE status = 'active')") || ' At high churn risk ' ||
	       $(int "count(*) FILTER (WHERE churn_risk = 'churn risk high')")
	  FROM tagscrm.customer_overview WHERE orders > 0"
shows segment-sizes "each RFM segment at the first recording, now (plain SQL), and the change" "
	WITH now AS (SELECT segment, count(*) AS n FROM tagscrm.customer_rfm_segment GROUP BY 1),
	first AS (SELECT tag AS segment, customers AS n FROM tagscrm.tag_size_history
	           WHERE group_name = 'RFM segment' AND recorded_at = (SELECT min(recorded_at) FROM tagscrm.tag_size_history))
	SELECT segment || ' ' || $(int first.n) || ' ' || $(int now.n) || ' ' ||
	       CASE WHEN now.n > first.n THEN '+' ELSE '' END || $(int 'now.n - first.n')
	  FROM now JOIN first USING (segment)"
shows movement "every cell of the movement matrix" "
	SELECT coalesce(from_tag, '(none)') || ' ' || coalesce(to_tag, '(none)') || ' ' || $(int customers)
	  FROM tagscrm.movement('rfm', (SELECT min(recorded_at) FROM tagscrm.tag_size_history), (SELECT max(recorded_at) FROM tagscrm.tag_size_history))"
shows movement "who stayed and who moved" "
	SELECT 'stayed in their segment ' || $(int 'sum(customers) FILTER (WHERE from_tag = to_tag)') || ' moved to another ' ||
	       $(int 'sum(customers) FILTER (WHERE from_tag <> to_tag)')
	  FROM tagscrm.movement('rfm', (SELECT min(recorded_at) FROM tagscrm.tag_size_history), (SELECT max(recorded_at) FROM tagscrm.tag_size_history))"
shows churn-risk "buyers per segment and churn risk, mean churn probability (plain SQL over customer_overview)" "
	SELECT rfm_segment || ' ' || $(int 'count(*)') || ' ' || $(int "count(*) FILTER (WHERE churn_risk = 'churn risk high')") || ' ' ||
	       $(int "count(*) FILTER (WHERE churn_risk = 'churn risk medium')") || ' ' ||
	       $(int "count(*) FILTER (WHERE churn_risk = 'churn risk low')") || ' ' ||
	       pg_catalog.to_char(avg(churn_probability), 'FM0.000')
	  FROM tagscrm.customer_overview WHERE orders > 0 GROUP BY rfm_segment"
shows housekeeping "active tags, tags held by nobody, idle tags (plain SQL over tags and customer_tags)" "
	WITH t AS (SELECT t.name, t.created_at, (SELECT count(*) FROM tagscrm.customer_tags c WHERE c.tag = t.name) AS holders,
	                  (SELECT max(h.changed_at) FROM tagscrm.customer_tag_history h WHERE h.tag = t.name) AS changed_at
	             FROM tagscrm.tags t WHERE t.status = 'active')
	SELECT 'active tags ' || count(*) || ' held by nobody ' || count(*) FILTER (WHERE holders = 0) ||
	       ' retirement candidates ' || count(*) FILTER (WHERE holders = 0 AND name NOT IN (SELECT tag FROM tagscrm.model_groups)
	                                                   AND greatest(created_at, changed_at) <= tagscrm.now() - interval '30 days')
	  FROM t"
shows housekeeping "each idle tag with its last application, removal and activity (plain SQL over the history)" "
	SELECT t.name || ' ' || t.group_name || ' manual ' ||
	       coalesce(pg_catalog.to_char(max(h.changed_at) FILTER (WHERE h.action = 'add'), 'YYYY-MM-DD'), '-') || ' ' ||
	       coalesce(pg_catalog.to_char(max(h.changed_at) FILTER (WHERE h.action = 'remove'), 'YYYY-MM-DD'), '-') || ' ' ||
	       pg_catalog.to_char(greatest(t.created_at, max(h.changed_at)), 'YYYY-MM-DD')
	  FROM tagscrm.tags t LEFT JOIN tagscrm.customer_tag_history h ON h.tag = t.name
	 WHERE t.status = 'active' AND t.customers = 0 AND t.name NOT IN (SELECT tag FROM tagscrm.model_groups)
	 GROUP BY t.name, t.group_name, t.created_at HAVING greatest(t.created_at, max(h.changed_at)) <= tagscrm.now() - interval '30 days'"
shows housekeeping "every active tag's holders (plain SQL over customer_tags)" "
	SELECT t.group_name || ' ' || t.name || ' ' || t.method || ' ' || $(int '(SELECT count(*) FROM tagscrm.customer_tags c WHERE c.tag = t.name)')
	  FROM tagscrm.tags t WHERE t.status = 'active'"
# the contacts are the campaign's input; who bought in the 28 days from the
# day reached (in settings.time_zone) comes from the orders table
shows campaign "reached, bought within the window, control group, uplift (plain SQL over the orders table)" "
	WITH c AS (SELECT x.control, x.customer_id, (x.reached_at AT TIME ZONE s.time_zone)::date AS day
	             FROM tagscrm.campaign_contact x JOIN tagscrm.campaign k USING (campaign_id), tagscrm.settings s WHERE k.name = 'win-back'),
	b AS (SELECT c.control, EXISTS (SELECT FROM public.orders o, tagscrm.settings s
	                                 WHERE o.customer_id::text = c.customer_id AND o.status = 'paid'
	                                   AND (o.paid_at AT TIME ZONE s.time_zone)::date BETWEEN c.day AND c.day + 27) AS bought FROM c),
	r AS (SELECT count(*) FILTER (WHERE NOT control) AS reached,
	             avg(bought::int) FILTER (WHERE NOT control) AS rate, avg(bought::int) FILTER (WHERE control) AS control_rate FROM b)
	SELECT 'reached ' || $(int reached) || ' bought within the window ' || pg_catalog.to_char(100 * rate, 'FM990.0') || '% control group bought ' ||
	       pg_catalog.to_char(100 * control_rate, 'FM990.0') || '% uplift +' || pg_catalog.to_char(100 * (rate - control_rate), 'FM990.0') || '%'
	  FROM r"
shows campaign "each segment's row of campaign_effect" "
	SELECT 'win-back ' || name || ' ' || $(int reached) || ' ' || $(int converted) || ' ' || pg_catalog.to_char(100 * conversion_rate, 'FM990.0') || '% ' ||
	       baseline || ' ' || $(int baseline_customers) || ' ' || pg_catalog.to_char(100 * baseline_rate, 'FM990.0') || '% ' ||
	       CASE WHEN uplift >= 0 THEN '+' ELSE '' END || pg_catalog.to_char(100 * uplift, 'FM990.0') || '%'
	  FROM tagscrm.campaign_effect('win-back', 'segment')"
cp "$tmp/chromium.log" "$shots/"
echo "# screenshots and page texts: $shots"
q -c "DROP DATABASE $db" -c "DROP ROLE $reader" >/dev/null 2>&1
