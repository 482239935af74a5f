#!/usr/bin/env bash
# Usage: .ci/with-postgres.sh CMD [ARGS...]
#
# Runs CMD with TEST_DATABASE_URL pointing at a database `messenger_test` on a throwaway PostgreSQL
# cluster started from the local binaries, then stops the cluster and deletes it, whatever CMD did.
# Exits with CMD's status. When TEST_DATABASE_URL is already set, CMD simply runs against it.
#
# The cluster trades durability for speed (fsync, synchronous_commit and full_page_writes off): its
# data is thrown away anyway. Diagnostics go to stderr so CMD's stdout stays its own.
set -euo pipefail

log() { printf 'with-postgres: %s\n' "$*" >&2; }

if [[ $# -eq 0 ]]; then
	log "usage: $0 CMD [ARGS...]"
	exit 2
fi

if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
	exec "$@"
fi

find_bindir() {
	local dir
	if command -v pg_config >/dev/null 2>&1; then
		dir=$(pg_config --bindir 2>/dev/null || true)
		if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
			printf '%s\n' "$dir"
			return 0
		fi
	fi
	dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -V | tail -n 1)
	if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
		printf '%s\n' "$dir"
		return 0
	fi
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dir=$(dirname "$(readlink -f "$(command -v initdb)")")
		if [[ -x "$dir/pg_ctl" ]]; then
			printf '%s\n' "$dir"
			return 0
		fi
	fi
	return 1
}

if ! bindir=$(find_bindir); then
	log "no PostgreSQL server binaries found (looked at pg_config --bindir, /usr/lib/postgresql/*/bin and PATH)."
	log "install them (Debian: apt-get install postgresql) or set TEST_DATABASE_URL to an existing database."
	exit 1
fi

# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user.
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
	if ! id -u postgres >/dev/null 2>&1; then
		useradd --system --user-group --home-dir /nonexistent --no-create-home \
			--shell /usr/sbin/nologin postgres
	fi
	as_owner=(runuser -u postgres --)
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/messenger-pg.XXXXXX")
datadir="$workdir/data"
logfile="$workdir/postgres.log"
cleanup() {
	local status=$?
	trap - EXIT INT TERM HUP
	# postmaster.pid exists from the moment the server starts until it has stopped.
	if [[ -f "$datadir/postmaster.pid" ]]; then
		"${as_owner[@]}" "$bindir/pg_ctl" stop -D "$datadir" -m fast -w >/dev/null 2>&1 ||
			"${as_owner[@]}" "$bindir/pg_ctl" stop -D "$datadir" -m immediate -w >/dev/null 2>&1 ||
			log "could not stop the cluster in $datadir"
	fi
	rm -rf "$workdir"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ ${#as_owner[@]} -gt 0 ]]; then
	chown postgres: "$workdir"
	if ! "${as_owner[@]}" test -w "$workdir"; then
		log "the postgres user cannot write to $workdir; set TMPDIR to a directory it can reach (e.g. /tmp)."
		exit 1
	fi
fi

if ! "${as_owner[@]}" "$bindir/initdb" -D "$datadir" -U postgres -A trust -E UTF8 --no-locale \
	--no-sync >"$workdir/initdb.log" 2>&1; then
	log "initdb failed:"
	cat "$workdir/initdb.log" >&2
	exit 1
fi

cat >>"$datadir/postgresql.conf" <<EOF

# with-postgres.sh: a throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$workdir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

port_in_use() {
	if command -v ss >/dev/null 2>&1; then
		[[ -n $(ss -Htln "sport = :$1" 2>/dev/null) ]]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# Another run may take the same free port between the check and the start, so a failed start moves on
# to the next port.
port=
for candidate in $(seq 54329 54428); do
	port_in_use "$candidate" && continue
	if "${as_owner[@]}" "$bindir/pg_ctl" start -D "$datadir" -l "$logfile" -o "-p $candidate" -w -t 60 \
		>/dev/null 2>&1; then
		port=$candidate
		break
	fi
	if ! grep -qi 'could not bind\|address already in use\|could not create any TCP/IP sockets' "$logfile" 2>/dev/null; then
		log "PostgreSQL failed to start:"
		cat "$logfile" >&2 2>/dev/null || true
		exit 1
	fi
	rm -f "$logfile"
done
if [[ -z "$port" ]]; then
	log "no free port for PostgreSQL in 54329-54428"
	exit 1
fi

for _ in $(seq 100); do
	"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && break
	sleep 0.1
done

if ! "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres messenger_test; then
	log "could not create the database messenger_test"
	exit 1
fi

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/messenger_test?sslmode=disable"
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (TEST_DATABASE_URL=$TEST_DATABASE_URL)"

set +e
"$@"
status=$?
set -e
exit "$status"
