#!/usr/bin/env bash
# Runs pg_regress tests against a server under valgrind (memcheck) and counts
# error blocks, leaving out the known harmless "Syscall param" padding writes
# of Debian's stripped server.  Slow (20-50x): not part
# of test/run; run it before resolving a C-heavy change:
#   test/valgrind/run-valgrind.sh [test names...]   (default: the quick C-heavy ones)
#   test/valgrind/run-valgrind.sh all               (every regression test and isolation spec)
# Needs valgrind; run as root (it uses the postgres OS user) after make install.
set -u
cd "$(dirname "$0")/../.."
. tools/cluster.sh
tests=("$@")
specs=()
[ ${#tests[@]} -gt 0 ] || tests=(library tagging rfm rule rule_eval watch)
if [ "${tests[0]}" = all ]; then
	tests=($(ls sql/*.sql | sed 's|sql/||; s|\.sql$||'))
	specs=($(ls test/isolation/specs/*.spec | sed 's|.*/||; s|\.spec$||'))
fi
command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
bindir="$(pg_config --bindir)"
dir="$(mktemp -d /tmp/tagscrm-valgrind.XXXXXX)"; chmod 755 "$dir"; chown postgres "$dir"
as_postgres "$bindir/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
port=54391
as_postgres bash -c "valgrind --quiet --trace-children=yes --track-origins=yes --read-var-info=no --leak-check=no \
	--error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END --max-stackframe=16000000 \
	--log-file=$dir/vg.%p.log $bindir/postgres -D $dir/data -k $dir -p $port -c listen_addresses= \
	-c shared_preload_libraries=pg_cron -c cron.database_name=contrib_regression -c max_prepared_transactions=10 \
	>$dir/server.log 2>&1 &"
for i in $(seq 1 120); do as_postgres "$bindir/pg_isready" -h "$dir" -p $port -q && break; sleep 1; done
work="$(mktemp -d /tmp/tagscrm-vgtest.XXXXXX)"
cp -r Makefile tagscrm.control src sql expected test "$work"/; chown -R postgres "$work"
# from the copy of the tree: the tests \copy their fixtures by relative paths
PGHOST="$dir" PGPORT=$port as_postgres bash -c 'cd "$1" && shift && exec "$@"' - "$work" \
	"$(dirname "$(pg_config --pgxs)")/../../src/test/regress/pg_regress" \
	--inputdir="$work" --outputdir="$work" --bindir="$bindir" --load-extension=tagscrm \
	--dbname=contrib_regression "${tests[@]}" | grep -E '\.\.\.|tests'
if [ ${#specs[@]} -gt 0 ]; then
	PGHOST="$dir" PGPORT=$port as_postgres "$(dirname "$(pg_config --pgxs)")/../../src/test/isolation/pg_isolation_regress" \
		--inputdir="$work/test/isolation" --outputdir="$work/output_iso" --bindir="$bindir" --load-extension=tagscrm \
		--dbname=isolation_regression "${specs[@]}" | grep -E '\.\.\.|tests'
fi
as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
# Debian's stripped server also shows reports inside PostgreSQL itself (syscall
# padding, shared invalidation messages); the gate is reports with a frame in
# tagscrm.so.
count() { awk -v want="$1" '/VALGRINDERROR-BEGIN/{b=1;t="";next}
	/VALGRINDERROR-END/{if ((want == "ours" && t ~ /tagscrm\.so/) || (want == "all" && t !~ /Syscall param/)) n++; b=0}
	b{t=t $0} END{print n+0}' "$dir"/vg.*.log; }
ours=$(count ours)
echo "valgrind: $ours error block(s) with a tagscrm.so frame; $(count all) in all besides syscall padding (logs in $dir)"
[ "$ours" = 0 ]
