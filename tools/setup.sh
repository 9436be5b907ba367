# tools/setup.sh: installs the Debian packages tagscrm needs (only those that
# are missing), then builds and installs the extension.  Source it and call
# setup_all; needs root for apt-get and make install.

TAGSCRM_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap postgresql-15-cron make gcc clang-14 libclang-rt-14-dev"

install_packages() {
	local missing=()
	for p in $TAGSCRM_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_and_install() {
	local log
	log="$(mktemp)"
	make -s clean >/dev/null
	make -s >"$log" 2>&1 || { cat "$log"; return 1; }
	if grep -q 'warning:' "$log"; then
		cat "$log"; echo "the build prints compiler warnings; the bar is none" >&2; return 1
	fi
	rm -f "$log"
	make -s install >/dev/null
}

setup_all() {
	install_packages && build_and_install
}
