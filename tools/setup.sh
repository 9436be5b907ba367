# tools/setup.sh: installs the Debian packages tagscrm needs (only those that
# are missing), then builds and installs the extension.  Source it and call
# setup_all; needs root for apt-get and make install.  Quiet unless something
# fails: package-manager and compiler output go to a log that is shown then.

# server and headers; pgTAP and pg_cron for the tests; gcc for the build;
# clang and its sanitizer runtime for the fuzz harness (test/fuzz); the JDK,
# PostgreSQL's JDBC driver, psqlODBC and unixODBC for the BI drivers test
# (test/drivers)
TAGSCRM_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap postgresql-15-cron
	make gcc clang libclang-rt-14-dev libroaring-dev
	openjdk-17-jdk-headless libpostgresql-jdbc-java odbc-postgresql unixodbc unixodbc-dev"

# commands and the package that brings each, installed only when the command
# is missing (a machine may have node and npm from elsewhere, such as
# NodeSource, whose nodejs conflicts with Debian's npm package): node and npm
# build the BI dashboard (examples/dashboard), chromium renders it (test/dashboard)
TAGSCRM_COMMANDS="node:nodejs npm:npm chromium:chromium"

say() { echo "tagscrm: $*"; }

install_packages() {
	local missing=() p log rc dropin=/etc/postgresql-common/createcluster.d/tagscrm-no-main-cluster.conf
	for p in $TAGSCRM_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	for p in $TAGSCRM_COMMANDS; do
		command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || { say "missing Debian packages: ${missing[*]}; run this as root to install them"; return 1; }
	log="$(mktemp /tmp/tagscrm-apt.XXXXXX)"
	say "installing ${#missing[@]} Debian packages (${missing[*]}); this takes a minute or two"
	# Debian's postgresql-15 creates and starts a cluster "15/main" on port 5432
	# when it is first installed; tagscrm runs throwaway clusters of its own, so
	# ask postgresql-common not to (only for this install: the file goes again)
	if [ ! -e /etc/postgresql/15 ]; then
		mkdir -p "$(dirname "$dropin")" && echo "create_main_cluster = false" >"$dropin"
	fi
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
		>"$log" 2>&1
	rc=$?
	rm -f "$dropin"; rmdir "$(dirname "$dropin")" 2>/dev/null
	if [ $rc != 0 ]; then
		tail -n 40 "$log"; say "package installation failed (whole log: $log)"; return 1
	fi
	rm -f "$log"
}

build_and_install() {
	local log
	log="$(mktemp /tmp/tagscrm-build.XXXXXX)"
	say "building the extension (C, about a minute)"
	make -s clean >/dev/null 2>&1
	if ! make -s -j"$(nproc)" >"$log" 2>&1; then
		cat "$log"; say "the build failed"; return 1
	fi
	if grep -q 'warning:' "$log"; then
		cat "$log"; say "the build prints compiler warnings; the bar is none"; return 1
	fi
	say "installing it into $(pg_config --sharedir)/extension and $(pg_config --pkglibdir)"
	make -s install >"$log" 2>&1 || { cat "$log"; say "make install failed"; return 1; }
	rm -f "$log"
}

setup_all() {
	install_packages && build_and_install
}
