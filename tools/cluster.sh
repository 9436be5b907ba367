# tools/cluster.sh: a throwaway PostgreSQL 15 cluster on a Unix socket in a
# temporary directory, run as the postgres OS user (initdb refuses root).
# Source it, then: cluster_start [port] [extra postgres -c options...];
# psql goes to it through PGHOST/PGPORT; cluster_stop removes it.

# Runs a command as the postgres OS user when we are root, else as ourselves.
# It starts in /, since the caller's directory may be one the postgres user
# cannot enter (a clone in root's home): pass absolute paths, or use stdin.
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		local vars=(PATH="$PATH") v
		for v in PGHOST PGPORT PGUSER PGDATABASE PGOPTIONS; do
			[ -n "${!v:-}" ] && vars+=("$v=${!v}")
		done
		(cd / && su postgres -s /bin/bash -c "$(printf '%q ' env "${vars[@]}" "$@")")
	else
		"$@"
	fi
}

cluster_start() {
	local port="${1:-54329}"; shift || true
	PG_BINDIR="$(pg_config --bindir)"
	CLUSTER_DIR="$(mktemp -d /tmp/tagscrm-cluster.XXXXXX)"
	chmod 755 "$CLUSTER_DIR"
	[ "$(id -u)" = 0 ] && chown postgres "$CLUSTER_DIR"
	as_postgres "$PG_BINDIR/initdb" -D "$CLUSTER_DIR/data" -A trust -U postgres --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$CLUSTER_DIR/initdb.log"; return 1; }
	local opts="-k $CLUSTER_DIR -p $port -c listen_addresses= -c fsync=off $*"
	as_postgres "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -o "$opts" -l "$CLUSTER_DIR/server.log" -w start >/dev/null ||
		{ cat "$CLUSTER_DIR/server.log"; return 1; }
	export PGHOST="$CLUSTER_DIR" PGPORT="$port" PGUSER=postgres
	trap cluster_stop EXIT
}

cluster_stop() {
	[ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
	as_postgres "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w stop >/dev/null 2>&1
	rm -rf "$CLUSTER_DIR"
	CLUSTER_DIR=
}
