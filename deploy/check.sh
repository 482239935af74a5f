#!/usr/bin/env bash
# Checks the files in deploy/ with their own tools: systemd-analyze verify (the unit), nginx -t
# (nginx.conf), caddy validate (Caddyfile). Each check runs on a copy whose paths point at what exists
# here: a freshly built binary and a self-signed certificate. A tool that is missing is reported; with
# CI set, a missing tool fails the run (.ci/run installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0 missing=()

go build -o "$work/messenger" ./cmd/messenger

if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s#/usr/local/bin/messenger#$work/messenger#" deploy/messenger.service >"$work/messenger.service"
	# verify warns about unknown or misspelt keys without failing: any output is a finding.
	if out=$(systemd-analyze verify "$work/messenger.service" 2>&1) && [[ -z "$out" ]]; then
		echo "ok: systemd-analyze verify deploy/messenger.service"
	else
		printf 'FAIL: systemd-analyze verify deploy/messenger.service\n%s\n' "$out" >&2
		failed=1
	fi
else
	missing+=(systemd-analyze)
fi

if command -v nginx >/dev/null 2>&1; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=chat.example.org \
		-keyout "$work/privkey.pem" -out "$work/fullchain.pem" 2>/dev/null
	sed "s#/etc/letsencrypt/live/chat.example.org#$work#" deploy/nginx.conf >"$work/nginx.conf"
	if nginx -t -q -c "$work/nginx.conf" -g "pid $work/nginx.pid;"; then
		echo "ok: nginx -t deploy/nginx.conf"
	else
		echo "FAIL: nginx -t deploy/nginx.conf" >&2
		failed=1
	fi
else
	missing+=(nginx)
fi

if command -v caddy >/dev/null 2>&1; then
	if out=$(caddy validate --config deploy/Caddyfile --adapter caddyfile 2>&1); then
		echo "ok: caddy validate deploy/Caddyfile"
	else
		printf 'FAIL: caddy validate deploy/Caddyfile\n%s\n' "$out" >&2
		failed=1
	fi
else
	missing+=(caddy)
fi

if [[ ${#missing[@]} -gt 0 ]]; then
	echo "not checked (tool missing): ${missing[*]}" >&2
	[[ -z "${CI:-}" ]] || failed=1
fi
exit "$failed"
