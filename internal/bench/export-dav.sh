#!/usr/bin/env bash
# export-dav.sh: time `mailhaul export dav` (discovery, every address book
# and calendar read through multiget REPORTs, written as an archive)
# against vdirsyncer pulling the same collections into a local filesystem
# storage (`vdirsyncer discover` then `vdirsyncer sync`, from nothing), from
# one Radicale on 127.0.0.1 over plain HTTP, in one run, round-robin; print
# the medians, the throughput, CPU and peak RSS ratios, and check every tool
# got every object (see README.md here).
#
# Environment:
#   BENCH_DIR  directory for the results (default /tmp/mailhaul-bench)
#   N          contacts, and events, in the account (default 2000 each)
#   RUNS       timed runs per tool, the median is reported (default 3)
#
# The data are import-dav.sh's, put into Radicale with `mailhaul import dav`
# before the timing. The server's CPU is not counted. A missed goal is
# reported as MISS, never fatal.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_DIR=${BENCH_DIR:-/tmp/mailhaul-bench}
N=${N:-2000}
RUNS=${RUNS:-3}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAILHAUL=$BENCH_DIR/bin/mailhaul
RESULTS=$BENCH_DIR/export-dav-results.md
SAMPLES=$BENCH_DIR/export-dav-samples
WORK=$(mktemp -d /tmp/mailhaul-bench-dav.XXXXXX)
OUT=$WORK/out
trap 'stop_radicale; rm -rf "$WORK"' EXIT

# check NAME CONTACTS EVENTS: note in $CHECKS whether a run got every object.
check() {
	if [[ $2 == "$N" && $3 == "$N" ]]; then
		printf -- '- %s: %s contacts and %s events, as the server holds\n' "$1" "$2" "$3" >>"$CHECKS"
	else
		printf -- '- **%s: %s contacts and %s events, the server holds %s of each** (timings are suspect)\n' "$1" "$2" "$3" "$N" >>"$CHECKS"
	fi
}

main() {
	[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "RUNS must be 1-99, got $RUNS"
	need /usr/bin/time:time python3:python3 curl:curl /usr/bin/radicale:radicale vdirsyncer:vdirsyncer
	command -v go >/dev/null || die "go is needed to build mailhaul"
	mkdir -p "$BENCH_DIR/bin" "$WORK/data" "$WORK/empty/cur" "$WORK/empty/new" "$WORK/empty/tmp"
	(cd "$REPO" && go build -o "$MAILHAUL" ./cmd/mailhaul)
	local port started url
	port=$(free_port)
	url=http://127.0.0.1:$port/
	started=$(date +%s)

	log "filling Radicale with $N contacts and $N events"
	pim_data "$N" "$WORK/data"
	"$MAILHAUL" export maildir -q --user bench --src "$WORK/empty" --out "$WORK/data" \
		--contacts "$WORK/data/contacts.vcf" --calendar "$WORK/data/calendar.ics" >/dev/null
	start_radicale "$port"
	MAILHAUL_PASSWORD=x "$MAILHAUL" import dav -q "$WORK/data/bench.tgz" --url "$url" --user bench \
		--report "$WORK/import.json" >/dev/null
	printf 'x\n' >"$WORK/pw"

	cat >"$WORK/vdirsyncer.conf" <<CONF
[general]
status_path = "$OUT/status/"

[pair contacts]
a = "contacts_local"
b = "contacts_remote"
collections = ["from b"]

[storage contacts_local]
type = "filesystem"
path = "$OUT/contacts/"
fileext = ".vcf"

[storage contacts_remote]
type = "carddav"
url = "$url"
username = "bench"
password = "x"

[pair calendars]
a = "calendars_local"
b = "calendars_remote"
collections = ["from b"]

[storage calendars_local]
type = "filesystem"
path = "$OUT/calendars/"
fileext = ".ics"

[storage calendars_remote]
type = "caldav"
url = "$url"
username = "bench"
password = "x"
CONF

	# One untimed read first: Radicale builds its item cache on the first
	# read, which neither tool should pay.
	"$MAILHAUL" -q export dav --url "$url" --user bench --password-file "$WORK/pw" --out "$WORK/warm" >/dev/null

	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	CHECKS=$WORK/checks
	: >"$SAMPLES"
	: >"$CHECKS"
	local run got
	for ((run = 1; run <= RUNS; run++)); do
		log "run $run/$RUNS"
		# discover asks before creating each local collection: yes.
		measure vdirsyncer sh -c 'yes | vdirsyncer -c "$1" discover >/dev/null && exec vdirsyncer -c "$1" sync' sh "$WORK/vdirsyncer.conf"
		check "vdirsyncer run $run" "$(find "$OUT/contacts" -name '*.vcf' | wc -l)" "$(find "$OUT/calendars" -name '*.ics' | wc -l)"
		measure mailhaul "$MAILHAUL" -q export dav --url "$url" --user bench --password-file "$WORK/pw" --out "$OUT"
		got=$(tar -tzf "$OUT/bench.tgz")
		check "mailhaul run $run" "$(grep -c '\.vcf$' <<<"$got" || true)" "$(grep -c '\.ics$' <<<"$got" || true)"
	done

	{
		printf '# mailhaul export dav benchmark\n\n'
		printf -- '- date: %s, commit %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		printf -- '- machine: %s CPUs (%s), %s RAM, Go %s, Radicale %s, vdirsyncer %s\n' "$(nproc)" \
			"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(free -h | awk '/^Mem:/ {print $2}')" \
			"$(go env GOVERSION)" "$(/usr/bin/radicale --version)" "$(vdirsyncer --version 2>&1 | awk '{print $NF}')"
		printf -- '- load average before: %s, after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf -- '- account: one address book of %s contacts, one calendar of %s events, Radicale on loopback over plain HTTP; median of %s runs\n\n' \
			"$N" "$N" "$RUNS"
		sample_table $((2 * N)) vdirsyncer mailhaul
		printf '\n| mailhaul against | throughput | CPU | peak RSS |\n|---|---:|---:|---:|\n'
		ratio_row "mailhaul / vdirsyncer" mailhaul vdirsyncer
		printf '\n| goal | value | target | result |\n|---|---:|---:|---|\n'
		goal "throughput / vdirsyncer" "$(ratio "$(median vdirsyncer 2)" "$(median mailhaul 2)")" ">" 1
		goal "mailhaul peak RSS, MiB (max over its runs)" "$(peak_rss_mib '^mailhaul$')" "<" 100
		printf '\nThroughput is vdirsyncer'"'"'s wall time over mailhaul'"'"'s; CPU and RSS are mailhaul'"'"'s over vdirsyncer'"'"'s.\n'
	} | publish "$started"
}

main "$@"
