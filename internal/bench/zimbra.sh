#!/usr/bin/env bash
# zimbra.sh: time `mailhaul export zimbra --url` (a live export: SOAP,
# delegated token, the REST tgz streamed in, read, checked against its
# digests and written as a mailhaul archive, gzip and zstd) against
# `curl` downloading the same tgz from the same fake Zimbra (the floor:
# the bytes moved and nothing done with them), in one run, and print the
# ratios and the peak RSS of each (see README.md here).
#
# Environment:
#   BENCH_DIR  work directory on local disk (default /tmp/mailhaul-bench);
#              the generated export is cached there between runs
#   SIZE       message bytes of the generated mailbox (default 1G)
#   RUNS       timed runs per tool, the median is reported (default 3)
#   SEED       generator seed (default 1)
#
# A missed goal is reported as MISS; it never fails the script.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_DIR=${BENCH_DIR:-/tmp/mailhaul-bench}
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
SEED=${SEED:-1}
MAILBOX=bench@example.com
ADMIN=admin@example.test

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAILHAUL=$BENCH_DIR/bin/mailhaul
FAKE=$BENCH_DIR/bin/fakezimbra
OUT=$BENCH_DIR/zimbra-out # each timed run writes here; emptied before every run
RESULTS=$BENCH_DIR/zimbra-results.md
SAMPLES=$BENCH_DIR/zimbra-samples
WORK=$BENCH_DIR # measure's scratch files
SERVER_PID=

cleanup() { if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

install_tools() {
	need /usr/bin/time:time curl:curl python3:python3 numfmt:coreutils
	command -v go >/dev/null || die "go is needed to build mailhaul and fakezimbra"
}

build() {
	mkdir -p "$BENCH_DIR/bin"
	log "building fakezimbra and mailhaul"
	(cd "$REPO" && go build -o "$FAKE" ./internal/bench/fakezimbra && go build -o "$MAILHAUL" ./cmd/mailhaul)
}

# export_for SIZE: the cached generated Zimbra export for SIZE.
export_for() {
	local bytes tgz
	bytes=$(numfmt --from=iec "$1") || die "SIZE: cannot read $1"
	tgz=$BENCH_DIR/zimbra-$1-seed$SEED.tgz
	if [[ ! -f $tgz.done ]]; then
		log "generating a $1 Zimbra export in $tgz"
		"$FAKE" -gen -out "$tgz" -size "$bytes" -seed "$SEED"
		touch "$tgz.done"
	fi
	printf '%s\n' "$tgz"
}

start_server() {
	rm -f "$BENCH_DIR/zimbra-url"
	"$FAKE" -serve -tgz "$1" -user "$MAILBOX" -ca "$BENCH_DIR/zimbra-ca.pem" -url "$BENCH_DIR/zimbra-url" &
	SERVER_PID=$!
	for _ in $(seq 100); do
		[[ -s $BENCH_DIR/zimbra-url ]] && break
		sleep 0.1
	done
	[[ -s $BENCH_DIR/zimbra-url ]] || die "the fake Zimbra did not start"
	URL=$(cat "$BENCH_DIR/zimbra-url")
	printf 'admin-secret\n' >"$BENCH_DIR/zimbra-admin.pw"
	# curl's token, fetched outside the timed part as a script would.
	TOKEN=$(curl -sS --cacert "$BENCH_DIR/zimbra-ca.pem" -H 'Content-Type: application/json' \
		-d '{"Body":{"AuthRequest":{"_jsns":"urn:zimbraAdmin","name":{"_content":"'$ADMIN'"},"password":{"_content":"admin-secret"}}}}' \
		"$URL/service/admin/soap" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Body"]["AuthResponse"]["authToken"][0]["_content"])')
}

main() {
	[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "RUNS must be 1-99, got $RUNS"
	mkdir -p "$BENCH_DIR"
	install_tools
	build
	local tgz started messages got tc mh
	tgz=$(export_for "$SIZE")
	messages=$(python3 -c 'import json, sys; print(sum(json.load(open(sys.argv[1])).values()))' "$tgz.counts.json")
	start_server "$tgz"
	started=$(date +%s)
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	: >"$SAMPLES"
	cat "$tgz" >/dev/null # the same warm page cache for both
	for ((run = 1; run <= RUNS; run++)); do
		log "run $run/$RUNS"
		measure curl curl -sS --fail --cacert "$BENCH_DIR/zimbra-ca.pem" -b "ZM_ADMIN_AUTH_TOKEN=$TOKEN" \
			-o "$OUT/curl.tgz" "$URL/service/home/$MAILBOX/?fmt=tgz&meta=1"
		cmp -s "$OUT/curl.tgz" "$tgz" || die "curl did not fetch the export whole"
		measure mailhaul "$MAILHAUL" -q export zimbra --url "$URL" --admin "$ADMIN" \
			--password-file "$BENCH_DIR/zimbra-admin.pw" --tls-ca "$BENCH_DIR/zimbra-ca.pem" --mail-url "$URL" \
			--user "$MAILBOX" --out "$OUT"
		got=$(tar -tzf "$OUT/$MAILBOX.tgz" | grep -c '\.eml$' || true)
		measure mailhaul-zstd "$MAILHAUL" -q export zimbra --url "$URL" --admin "$ADMIN" \
			--password-file "$BENCH_DIR/zimbra-admin.pw" --tls-ca "$BENCH_DIR/zimbra-ca.pem" --mail-url "$URL" \
			--user "$MAILBOX" --out "$OUT" --compress zstd
	done
	tc=$(median curl 2) mh=$(median mailhaul 2)
	{
		printf '# mailhaul live Zimbra export benchmark\n\n'
		printf -- '- date: %s, commit %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		printf -- '- machine: %s CPUs (%s), %s RAM, Go %s, %s\n' "$(nproc)" \
			"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(free -h | awk '/^Mem:/ {print $2}')" \
			"$(go env GOVERSION)" "$(curl --version | head -n 1 | cut -d' ' -f1-2)"
		printf -- '- load average before: %s, after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf -- '- mailbox: %s of messages, %s messages; export %s MiB (gzip); fake Zimbra on loopback over TLS\n\n' \
			"$SIZE" "$messages" "$(awk -v b="$(stat -c %s "$tgz")" 'BEGIN {printf "%.1f", b / 1048576}')"
		printf '| tool, median of %s | wall s | CPU s | peak RSS MiB | load (1 min) |\n|---|---:|---:|---:|---:|\n' "$RUNS"
		for t in curl mailhaul mailhaul-zstd; do
			awk -v t="$t" -v s="$(median "$t" 2)" -v r="$(median "$t" 3)" -v c="$(median "$t" 4)" -v l="$(median "$t" 5)" \
				'BEGIN {printf "| %s | %.2f | %.2f | %.1f | %s |\n", t, s, c, r / 1024, l}'
		done
		printf '\n| measure | value | target | result |\n|---|---:|---:|---|\n'
		awk -v a="$mh" -v b="$tc" 'BEGIN {printf "| mailhaul (gzip) wall time / curl wall time | %.2f | - | - |\n", a / b}'
		awk -v a="$(median mailhaul-zstd 2)" -v b="$tc" 'BEGIN {printf "| mailhaul (zstd) wall time / curl wall time | %.2f | - | - |\n", a / b}'
		goal "mailhaul peak RSS, MiB (max over its runs)" "$(peak_rss_mib '^mailhaul')" "<" 100
		if [[ $got == "$messages" ]]; then
			printf '\nChecks: the archive holds %s messages, as the mailbox does.\n' "$got"
		else
			printf '\n**Checks: the archive holds %s messages, the mailbox %s** (timings are suspect).\n' "$got" "$messages"
		fi
	} | publish "$started"
}

main "$@"
