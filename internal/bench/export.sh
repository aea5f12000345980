#!/usr/bin/env bash
# export.sh: time `mailhaul export maildir` against tar -czf, tar+pigz and
# tar+zstd -T0 on a generated Maildir, and check the export goals (see
# README.md here).
#
# Environment:
#   BENCH_DIR  work directory on local disk (default /tmp/mailhaul-bench);
#              generated Maildirs are cached there between runs
#   SIZES      Maildir sizes to measure, e.g. "1G" or "1G 4G" (default 1G)
#   RUNS       timed runs per tool, the median is reported (default 3)
#   TOOLS      subset of: tar-gzip tar-pigz tar-zstd mh-gzip mh-zstd mh-delta
#              (default all)
#   SEED       generator seed (default 1)
#
# A missed goal is reported as MISS; it never fails the script.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_DIR=${BENCH_DIR:-/tmp/mailhaul-bench}
SIZES=${SIZES:-1G}
RUNS=${RUNS:-3}
TOOLS=${TOOLS:-tar-gzip tar-pigz tar-zstd mh-gzip mh-zstd mh-delta}
SEED=${SEED:-1}
MAILBOX=bench@example.com
BYTES_PER_MESSAGE=53687 # 1 GiB / 20000 messages, the generator's default mix
DELTA_PERCENT=1

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAILHAUL=$BENCH_DIR/bin/mailhaul
GENMAILDIR=$BENCH_DIR/bin/genmaildir
OUT=$BENCH_DIR/out       # each timed run writes here; emptied before every run
BASE=$BENCH_DIR/base     # the full archive a delta export starts from
RESULTS=$BENCH_DIR/results.md
WORK=$BENCH_DIR          # measure's scratch files

wants() { [[ " $TOOLS " == *" $1 "* ]]; }

# --- setup -------------------------------------------------------------------

install_tools() {
	local tools=(/usr/bin/time:time numfmt:coreutils)
	if wants tar-pigz; then tools+=(pigz:pigz); fi
	if wants tar-zstd; then tools+=(zstd:zstd); fi
	need "${tools[@]}"
	command -v go >/dev/null || die "go is needed to build mailhaul and genmaildir"
}

build() {
	mkdir -p "$BENCH_DIR/bin"
	log "building genmaildir and mailhaul"
	(cd "$REPO" && go build -o "$GENMAILDIR" ./internal/bench/genmaildir)
	if wants mh-gzip || wants mh-zstd || wants mh-delta; then
		(cd "$REPO" && go build -o "$MAILHAUL" ./cmd/mailhaul)
	fi
}

# maildir_for SIZE: print the cached Maildir for SIZE, generating it if missing.
maildir_for() {
	local size=$1 bytes messages dir
	bytes=$(numfmt --from=iec "$size") || die "SIZES: cannot read $size"
	messages=$((bytes / BYTES_PER_MESSAGE))
	((messages > 0)) || messages=1
	dir=$BENCH_DIR/maildir-$size-seed$SEED
	if [[ ! -f $dir.done ]]; then
		rm -rf "$dir"
		log "generating $size Maildir ($messages messages) in $dir"
		"$GENMAILDIR" -out "$dir" -messages "$messages" -size "$size" -seed "$SEED" >&2
		touch "$dir.done"
	fi
	printf '%s\n' "$dir"
}

# source_bytes DIR: bytes in the Maildir's message files.
source_bytes() {
	find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}

count_messages() {
	find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l
}

# Read everything once so each tool starts from the same warm page cache.
# A pipe, because GNU tar skips reading file data when writing to /dev/null.
warm_up() {
	log "warming the page cache for $1"
	tar -cf - -C "$1" . | cat >/dev/null
}

# --- measuring ---------------------------------------------------------------

# measure (lib.sh) adds the output's size to each sample: the fields are
# name, seconds, peak RSS KB, CPU seconds, load, output bytes.
measure_extra() { stat -c %s "$(archive_in "$OUT")"; }

# archive_in DIR: the archive a run wrote into DIR (not the .sha256 or report
# beside it).
archive_in() {
	local found
	found=$(find "$1" -maxdepth 1 -type f \( -name '*.tgz' -o -name '*.tar.zst' \) | head -n 1)
	[[ -n $found ]] || die "no archive written in $1"
	printf '%s\n' "$found"
}

# check_items ARCHIVE WANT WHAT: note in $CHECKS whether ARCHIVE holds WANT
# messages, so a fast but wrong export cannot pass unnoticed.
check_items() {
	local got
	got=$(tar -tf "$1" | grep -c '\.eml$' || true)
	if [[ $got == "$2" ]]; then
		printf -- '- %s: %s messages, as expected\n' "$3" "$got" >>"$CHECKS"
	else
		printf -- '- **%s: %s messages, expected %s** (timings are suspect)\n' "$3" "$got" "$2" >>"$CHECKS"
	fi
}

bench_size() {
	local size=$1 src delta run messages
	src=$(maildir_for "$size")
	SAMPLES=$BENCH_DIR/samples-$size
	: >"$SAMPLES"
	SRC_BYTES[$size]=$(source_bytes "$src")
	warm_up "$src"

	# Round-robin, so load from other processes on the machine hits every
	# tool alike rather than one tool's block of runs.
	for ((run = 1; run <= RUNS; run++)); do
		log "$size run $run/$RUNS"
		if wants tar-gzip; then measure tar-gzip tar -czf "$OUT/bench.tgz" -C "$src" .; fi
		if wants tar-pigz; then measure tar-pigz tar -I pigz -cf "$OUT/bench.tgz" -C "$src" .; fi
		# zstd's default level 3 on all cores, the zstd export's peer.
		if wants tar-zstd; then measure tar-zstd tar -I 'zstd -T0' -cf "$OUT/bench.tar.zst" -C "$src" .; fi
		if wants mh-zstd; then
			measure mh-zstd "$MAILHAUL" export maildir --user "$MAILBOX" --src "$src" --out "$OUT" --compress zstd
			if ((run == RUNS)); then
				check_items "$(archive_in "$OUT")" "$(count_messages "$src")" "$size full zstd archive"
			fi
		fi
		if wants mh-gzip || wants mh-delta; then
			measure mh-gzip "$MAILHAUL" export maildir --user "$MAILBOX" --src "$src" --out "$OUT"
			rm -rf "$BASE" && mv "$OUT" "$BASE" # the newest full archive, for --since
		fi
	done

	if [[ -d $BASE ]]; then
		check_items "$(archive_in "$BASE")" "$(count_messages "$src")" "$size full gzip archive"
	fi

	if wants mh-delta; then
		# A hard-linked copy takes the new mail, so the cached tree stays
		# as generated; genmaildir only adds files, never rewrites one.
		delta=$BENCH_DIR/delta-$size
		rm -rf "$delta"
		cp -al "$src" "$delta"
		messages=$(($(numfmt --from=iec "$size") / BYTES_PER_MESSAGE * DELTA_PERCENT / 100))
		((messages > 0)) || messages=1
		"$GENMAILDIR" -out "$delta" -append "$messages" -seed "$SEED" >&2
		warm_up "$delta"
		for ((run = 1; run <= RUNS; run++)); do
			measure mh-delta "$MAILHAUL" export maildir --user "$MAILBOX" --src "$delta" --out "$OUT" \
				--since "$(archive_in "$BASE")"
		done
		check_items "$(archive_in "$OUT")" "$messages" "$size delta archive ($DELTA_PERCENT% new mail)"
		rm -rf "$delta"
	fi
	rm -rf "$OUT" "$BASE"
}

# --- reporting ---------------------------------------------------------------

report_size() {
	local size=$1 mib tool t rss out load cpu SAMPLES=$BENCH_DIR/samples-$size
	mib=$(awk -v b="${SRC_BYTES[$size]}" 'BEGIN {printf "%.1f", b / 1048576}')
	printf '\n### %s Maildir (%s MiB of messages), median of %s runs\n\n' "$size" "$mib" "$RUNS"
	printf '| tool | wall s | MiB/s | CPU s | peak RSS MiB | output MiB | output / input | load (1 min) |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
	for tool in tar-gzip tar-pigz tar-zstd mh-gzip mh-zstd mh-delta; do
		t=$(median "$tool" 2)
		[[ -n $t ]] || continue
		rss=$(median "$tool" 3)
		out=$(median "$tool" 6)
		load=$(median "$tool" 5)
		cpu=$(median "$tool" 4)
		awk -v tool="$tool" -v t="$t" -v rss="$rss" -v out="$out" -v in_="${SRC_BYTES[$size]}" -v load="$load" -v cpu="$cpu" 'BEGIN {
			printf "| %s | %.2f | %.0f | %.2f | %.1f | %.1f | %.3f | %s |\n", tool, t, in_ / 1048576 / t, cpu, rss / 1024, out / 1048576, out / in_, load }'
	done

	local tg tp tz mg mz md sg stz sm sz peak
	tg=$(median tar-gzip 2) tp=$(median tar-pigz 2) tz=$(median tar-zstd 2)
	mg=$(median mh-gzip 2) mz=$(median mh-zstd 2) md=$(median mh-delta 2)
	sg=$(median tar-gzip 6) stz=$(median tar-zstd 6) sm=$(median mh-gzip 6) sz=$(median mh-zstd 6)
	peak=$(peak_rss_mib '^mh-')
	printf '\n| goal (%s) | measured | target | result |\n|---|---:|---:|---|\n' "$size"
	goal "mailhaul gzip throughput / tar -czf" "$(ratio "$tg" "$mg")" ">=" 5
	goal "mailhaul gzip throughput / tar + pigz" "$(ratio "$tp" "$mg")" ">=" 2
	goal "mailhaul gzip size / tar -czf size" "$(ratio "$sm" "$sg")" "<=" 1.05
	goal "mailhaul zstd throughput / tar -czf" "$(ratio "$tg" "$mz")" ">=" 8
	goal "mailhaul zstd size / tar -czf size" "$(ratio "$sz" "$sg")" "<" 1
	goal "mailhaul zstd throughput / tar + zstd -T0" "$(ratio "$tz" "$mz")" ">=" 1
	goal "mailhaul zstd size / tar + zstd -T0 size" "$(ratio4 "$sz" "$stz")" "<=" 1
	goal "mailhaul zstd CPU / tar + zstd -T0 CPU" "$(ratio "$(median mh-zstd 4)" "$(median tar-zstd 4)")" "<=" 1
	goal "mailhaul peak RSS, MiB (max over its runs)" "${peak:-n/a}" "<" 100
	goal "delta export time / full gzip export time" "$(ratio "$md" "$mg")" "<=" 0.05
}

main() {
	[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "RUNS must be 1-99, got $RUNS"
	mkdir -p "$BENCH_DIR"
	install_tools
	build
	declare -gA SRC_BYTES=()
	CHECKS=$BENCH_DIR/checks
	: >"$CHECKS"
	local size started
	started=$(date +%s)
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	for size in $SIZES; do
		bench_size "$size"
	done
	{
		printf '# mailhaul export benchmark\n\n'
		printf -- '- date: %s, commit %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		printf -- '- machine: %s CPUs (%s), %s RAM, Go %s\n' "$(nproc)" \
			"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
			"$(free -h | awk '/^Mem:/ {print $2}')" "$(go env GOVERSION)"
		printf -- '- load average before the run: %s, after: %s (other work on the machine skews timings; the table gives the median 1-minute load at the end of each tool'"'"'s runs)\n' \
			"$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf -- '- tar %s, gzip %s, pigz %s, zstd %s; warm page cache, outputs on %s\n' \
			"$(tar --version | awk 'NR == 1 {print $NF}')" "$(gzip --version | awk 'NR == 1 {print $NF}')" \
			"$(if command -v pigz >/dev/null; then pigz --version 2>&1 | awk '{print $NF}'; else echo none; fi)" \
			"$(if command -v zstd >/dev/null; then zstd --version | grep -o 'v[0-9.]*'; else echo none; fi)" \
			"$(df --output=source "$BENCH_DIR" | tail -n 1)"
		for size in $SIZES; do
			report_size "$size"
		done
	} | publish "$started"
}

main "$@"
