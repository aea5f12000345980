#!/usr/bin/env bash
# export-imap.sh: time `mailhaul export imap` (to a gzip archive, and to a
# zstd one) against mbsync (isync) pulling the same account into a local
# Maildir, and against `doveadm backup` pulling it through imapc into a
# Dovecot Maildir, all from one throwaway Dovecot on 127.0.0.1 without TLS,
# in one run, round-robin; print the medians, the throughput, CPU and peak
# RSS ratios, and check every tool got every message (see README.md here).
# Then the whole IMAP-to-IMAP migration of user src into an empty user dst
# of the same Dovecot: `mailhaul export imap` followed by `mailhaul import
# imap` (timed together, each one's peak RSS kept), against mbsync with an
# IMAP-to-IMAP channel and `doveadm backup` from imapc: into dst.
#
# Environment:
#   BENCH_DIR  directory on local disk (default /tmp/mailhaul-bench); the
#              generated Maildir is cached there between runs
#   MESSAGES   messages in the mailbox (default 20000)
#   SIZE       their total bytes (default MESSAGES × 53687: 1 GiB for
#              20,000, genmaildir's size mix)
#   RUNS       timed runs per tool, the median is reported (default 3)
#   TOOLS      subset of: mbsync doveadm mh-gzip mh-zstd (pulls to local
#              files) and mbsync-a2b doveadm-a2b mh-a2b-gzip mh-a2b-zstd
#              (migrations of src into dst) (default all)
#   SEED       generator seed (default 1)
#
# The servers' CPU is not counted; each tool is served the same data by
# the same Dovecot. A missed goal is reported as MISS, never fatal.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_DIR=${BENCH_DIR:-/tmp/mailhaul-bench}
MESSAGES=${MESSAGES:-20000}
SIZE=${SIZE:-$((MESSAGES * 53687))}
RUNS=${RUNS:-3}
PULLS="mbsync doveadm mh-gzip mh-zstd"
MIGRATIONS="mbsync-a2b doveadm-a2b mh-a2b-gzip mh-a2b-zstd"
TOOLS=${TOOLS:-$PULLS $MIGRATIONS}
SEED=${SEED:-1}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAILHAUL=$BENCH_DIR/bin/mailhaul
RESULTS=$BENCH_DIR/export-imap-results.md
SAMPLES=$BENCH_DIR/export-imap-samples
wants() { [[ " $TOOLS " == *" $1 "* ]]; }

# Dovecot runs as uid 65534 and must reach its files: a world-readable
# scratch directory, removed at the end.
WORK=$(mktemp -d /tmp/mailhaul-bench-imap.XXXXXX)
chmod 755 "$WORK"
OUT=$WORK/out
trap 'stop_dovecot; rm -rf "$WORK"' EXIT

# maildir: the cached generated Maildir for MESSAGES, SIZE and SEED.
maildir() {
	local dir=$BENCH_DIR/imap-maildir-$MESSAGES-$SIZE-seed$SEED
	if [[ ! -f $dir.done ]]; then
		rm -rf "$dir"
		log "generating a Maildir of $MESSAGES messages ($SIZE bytes) in $dir"
		(cd "$REPO" && go run ./internal/bench/genmaildir -out "$dir" -messages "$MESSAGES" -size "$SIZE" -seed "$SEED" >&2)
		touch "$dir.done"
	fi
	printf '%s\n' "$dir"
}

# maildir_messages DIR: the message files in a Maildir tree.
maildir_messages() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l; }

# archive_messages ARCHIVE: the messages in a mailhaul archive.
archive_messages() {
	case $1 in
	*.tar.zst) zstd -dc "$1" | tar -tf - ;;
	*) tar -tzf "$1" ;;
	esac | grep -c '\.eml$' || true
}

# check NAME GOT [HOW]: note in $CHECKS whether a run got every message;
# HOW, if given, is a further finding that makes the run fail the check.
check() {
	if [[ $2 == "$MESSAGES" && -z ${3:-} ]]; then
		printf -- '- %s: %s messages, as the mailbox holds\n' "$1" "$2" >>"$CHECKS"
	else
		printf -- '- **%s: %s messages, the mailbox holds %s%s** (timings are suspect)\n' "$1" "$2" "$MESSAGES" "${3:+; $3}" >>"$CHECKS"
	fi
}

# pull_channel NAME: an mbsync channel NAME copying every folder of store
# far into store near, from a fresh sync state in $OUT.
pull_channel() {
	cat <<RC
Channel $1
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull
SyncState $OUT/mbsync-state/
RC
}

# dovecot_folders USER: each of USER's folders that holds messages, and
# their count (empty folders are left out: doveadm backup makes a parent
# such as "Lists", which is only a hierarchy level in src, a mailbox).
dovecot_folders() {
	doveadm -c "$DOVECOT_CONF" -f tab mailbox status -u "$1" messages '*' | awk -F'\t' 'NR>1 && $NF > 0 {print $1 "=" $NF}' | sort
}

# check_dst NAME: check that user dst now holds every message of src, in
# the same folders.
check_dst() {
	local diff
	diff=$(diff <(dovecot_folders src) <(dovecot_folders dst) | grep '^[<>]' | paste -sd ' ' || true)
	check "$1" "$(dovecot_count dst)" "${diff:+folders of src (<) and dst (>) differ: $diff}"
}

# empty_dst: remove user dst's mail, so that a migration starts from an
# empty account (untimed; no session of dst is open between runs).
empty_dst() {
	rm -rf "$WORK/mail/dst"
	[[ $(dovecot_count dst) == 0 ]] || die "user dst is not empty"
}

# measure_extra: for a mailhaul migration, the peak RSS (KB) of the export
# and of the import, which measure appends to the sample.
measure_extra() {
	if [[ -f $OUT/rss-export && -f $OUT/rss-import ]]; then
		printf '%s %s' "$(tail -n 1 "$OUT/rss-export")" "$(tail -n 1 "$OUT/rss-import")"
	fi
}

# migrate OUT MAILHAUL PORT PASSWORD-FILE ARCHIVE [EXPORT-FLAG...]: export
# user src into OUT, then import that archive into user dst, each under its
# own /usr/bin/time for its peak RSS (OUT/rss-export, OUT/rss-import).
# Exported for measure, which runs it through bash -c.
migrate() {
	local out=$1 mh=$2 port=$3 pw=$4 archive=$5
	shift 5
	/usr/bin/time -f '%M' -o "$out/rss-export" "$mh" -q export imap --url "imap://127.0.0.1:$port" --user src \
		--password-file "$pw" --out "$out" "$@" &&
		/usr/bin/time -f '%M' -o "$out/rss-import" "$mh" -q import imap "$out/$archive" --url "imap://127.0.0.1:$port" \
			--user dst --archive-user src --password-file "$pw" --provider dovecot --state "$out/state"
}
export -f migrate

main() {
	[[ $RUNS =~ ^[1-9][0-9]?$ ]] || die "RUNS must be 1-99, got $RUNS"
	need /usr/bin/time:time python3:python3 zstd:zstd dovecot:dovecot-imapd doveadm:dovecot-core mbsync:isync
	command -v go >/dev/null || die "go is needed to build mailhaul and genmaildir"
	mkdir -p "$BENCH_DIR/bin"
	(cd "$REPO" && go build -o "$MAILHAUL" ./cmd/mailhaul)
	local src port started
	src=$(maildir)
	port=$(free_port)
	started=$(date +%s)

	# The mailbox: the generated tree placed in user src's Maildir, then
	# indexed, so that no tool pays for Dovecot's first scan.
	start_dovecot "$port" src dst
	mkdir -p "$WORK/mail/src"
	cp -a "$src" "$WORK/mail/src/Maildir"
	chown -R 65534:65534 "$WORK/mail"
	doveadm -c "$DOVECOT_CONF" index -u src '*'
	local held
	held=$(dovecot_count src)
	[[ $held == "$MESSAGES" ]] || die "Dovecot holds $held messages, not $MESSAGES"
	tar -cf - -C "$WORK/mail/src" . | cat >/dev/null # the same warm page cache for all

	printf 'pw\n' >"$WORK/pw"
	{
		mbsync_far "$port" src
		cat <<RC
MaildirStore near
Path $OUT/maildir/
Inbox $OUT/maildir/INBOX
SubFolders Verbatim

RC
		pull_channel pull
	} >"$WORK/mbsyncrc"
	{
		mbsync_far "$port" src far
		mbsync_far "$port" dst near
		pull_channel a2b
	} >"$WORK/mbsyncrc-a2b"

	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	CHECKS=$WORK/checks
	: >"$SAMPLES"
	: >"$CHECKS"
	for ((run = 1; run <= RUNS; run++)); do
		log "run $run/$RUNS"
		if wants mbsync; then
			measure mbsync sh -c 'mkdir -p "$1/maildir" "$1/mbsync-state" && exec mbsync -q -c "$2" pull' sh "$OUT" "$WORK/mbsyncrc"
			check "mbsync run $run" "$(maildir_messages "$OUT/maildir")"
		fi
		if wants doveadm; then
			# doveadm backup -R pulls from the imapc: store into dst's
			# Maildir, placed in $OUT (doveadm runs as dst's uid).
			measure doveadm sh -c 'chmod 777 "$1" && exec doveadm -c "$2" -o mail_location=maildir:"$1"/dsync \
				-o imapc_host=127.0.0.1 -o imapc_port="$3" -o imapc_user=src -o imapc_password=pw \
				-o imapc_features=rfc822.size -o mail_prefetch_count=20 backup -R -u dst imapc:' \
				sh "$OUT" "$DOVECOT_CONF" "$port"
			check "doveadm backup run $run" "$(maildir_messages "$OUT/dsync")"
		fi
		if wants mh-gzip; then
			measure mh-gzip "$MAILHAUL" -q export imap --url "imap://127.0.0.1:$port" --user src \
				--password-file "$WORK/pw" --out "$OUT"
			check "mailhaul (gzip) run $run" "$(archive_messages "$OUT/src.tgz")"
		fi
		if wants mh-zstd; then
			measure mh-zstd "$MAILHAUL" -q export imap --url "imap://127.0.0.1:$port" --user src \
				--password-file "$WORK/pw" --out "$OUT" --compress zstd
			check "mailhaul (zstd) run $run" "$(archive_messages "$OUT/src.tar.zst")"
		fi
		if wants mbsync-a2b; then
			empty_dst
			measure mbsync-a2b sh -c 'mkdir -p "$1/mbsync-state" && exec mbsync -q -c "$2" a2b' sh "$OUT" "$WORK/mbsyncrc-a2b"
			check_dst "mbsync src → dst run $run"
		fi
		if wants doveadm-a2b; then
			# As above, but into dst's own Maildir: doveadm writes it
			# directly, not through IMAP.
			empty_dst
			measure doveadm-a2b doveadm -c "$DOVECOT_CONF" \
				-o imapc_host=127.0.0.1 -o imapc_port="$port" -o imapc_user=src -o imapc_password=pw \
				-o imapc_features=rfc822.size -o mail_prefetch_count=20 backup -R -u dst imapc:
			check_dst "doveadm backup src → dst run $run"
		fi
		if wants mh-a2b-gzip; then
			empty_dst
			measure mh-a2b-gzip bash -c 'migrate "$@"' migrate "$OUT" "$MAILHAUL" "$port" "$WORK/pw" src.tgz
			check_dst "mailhaul export + import (gzip) src → dst run $run"
		fi
		if wants mh-a2b-zstd; then
			empty_dst
			measure mh-a2b-zstd bash -c 'migrate "$@"' migrate "$OUT" "$MAILHAUL" "$port" "$WORK/pw" src.tar.zst --compress zstd
			check_dst "mailhaul export + import (zstd) src → dst run $run"
		fi
	done

	local tools=() migrations=() t
	for t in $PULLS; do wants "$t" && tools+=("$t"); done
	for t in $MIGRATIONS; do wants "$t" && migrations+=("$t"); done
	{
		printf '# mailhaul export imap benchmark\n\n'
		printf -- '- date: %s, commit %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		printf -- '- machine: %s CPUs (%s), %s RAM, Go %s, Dovecot %s, %s\n' "$(nproc)" \
			"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(free -h | awk '/^Mem:/ {print $2}')" \
			"$(go env GOVERSION)" "$(dovecot --version | cut -d' ' -f1)" "$(mbsync --version)"
		printf -- '- load average before: %s, after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf -- '- mailbox: %s messages, %s MiB of messages, in one Dovecot on loopback, IMAP without TLS for every tool; median of %s runs\n\n' \
			"$MESSAGES" "$(find "$src" -type f \( -path '*/cur/*' -o -path '*/new/*' \) -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1048576}')" "$RUNS"
		if ((${#tools[@]})); then
			printf '## IMAP to local files\n\n'
			sample_table "$MESSAGES" "${tools[@]}"
			printf '\n| mailhaul against | throughput | CPU | peak RSS |\n|---|---:|---:|---:|\n'
			for t in mh-gzip mh-zstd; do
				wants "$t" || continue
				if wants mbsync; then ratio_row "$t / mbsync" "$t" mbsync; fi
				if wants doveadm; then ratio_row "$t / doveadm backup" "$t" doveadm; fi
			done
			if wants mbsync && { wants mh-gzip || wants mh-zstd; }; then
				printf '\n| goal | value | target | result |\n|---|---:|---:|---|\n'
				for t in mh-gzip mh-zstd; do
					if wants "$t"; then goal "$t throughput / mbsync" "$(ratio "$(median mbsync 2)" "$(median "$t" 2)")" ">" 1; fi
				done
				goal "mailhaul peak RSS, MiB (max over its runs)" "$(peak_rss_mib '^mh-(gzip|zstd)$')" "<" 100
			fi
			printf '\n'
		fi
		if ((${#migrations[@]})); then
			printf '## IMAP to IMAP: user src into an empty user dst (mailhaul: export imap, then import imap)\n\n'
			sample_table "$MESSAGES" "${migrations[@]}"
			local mh=()
			for t in mh-a2b-gzip mh-a2b-zstd; do wants "$t" && mh+=("$t"); done
			if ((${#mh[@]})); then
				printf '\n| mailhaul, median | export peak RSS MiB | import peak RSS MiB |\n|---|---:|---:|\n'
				for t in "${mh[@]}"; do
					awk -v t="$t" -v e="$(median "$t" 6)" -v i="$(median "$t" 7)" 'BEGIN {printf "| %s | %.1f | %.1f |\n", t, e / 1024, i / 1024}'
				done
				printf '\n| mailhaul against | throughput | CPU | peak RSS |\n|---|---:|---:|---:|\n'
				for t in "${mh[@]}"; do
					if wants mbsync-a2b; then ratio_row "$t / mbsync" "$t" mbsync-a2b; fi
					if wants doveadm-a2b; then ratio_row "$t / doveadm backup" "$t" doveadm-a2b; fi
				done
				printf '\n| goal | value | target | result |\n|---|---:|---:|---|\n'
				for t in "${mh[@]}"; do
					if wants mbsync-a2b; then goal "$t throughput / mbsync" "$(ratio "$(median mbsync-a2b 2)" "$(median "$t" 2)")" ">" 1; fi
					if wants doveadm-a2b; then goal "$t throughput / doveadm backup" "$(ratio "$(median doveadm-a2b 2)" "$(median "$t" 2)")" ">" 1; fi
				done
				goal "mailhaul peak RSS, MiB (max over its runs)" "$(peak_rss_mib '^mh-a2b-')" "<" 100
			fi
			printf '\nimapsync, the peer issue 12 names, is not in Debian 12 (`apt-cache policy imapsync` knows no such package) and is not run.\n\n'
		fi
		printf 'Throughput is the peer'"'"'s wall time over mailhaul'"'"'s; CPU and RSS are mailhaul'"'"'s over the peer'"'"'s.\n'
	} | publish "$started"
}

main "$@"
