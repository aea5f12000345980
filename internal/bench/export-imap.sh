#!/usr/bin/env bash
# export-imap.sh: time `mailhaul export imap` (to a gzip archive, and to a
# zstd one) against mbsync (isync) pulling the same account into a local
# Maildir, and against `doveadm backup` pulling it through imapc into a
# Dovecot Maildir, all from one throwaway Dovecot on 127.0.0.1 without TLS,
# in one run, round-robin; print the medians, the throughput, CPU and peak
# RSS ratios, and check every tool got every message (see README.md here).
#
# Environment:
#   BENCH_DIR  directory on local disk (default /tmp/mailhaul-bench); the
#              generated Maildir is cached there between runs
#   MESSAGES   messages in the mailbox (default 20000)
#   SIZE       their total bytes (default MESSAGES × 53687: 1 GiB for
#              20,000, genmaildir's size mix)
#   RUNS       timed runs per tool, the median is reported (default 3)
#   TOOLS      subset of: mbsync doveadm mh-gzip mh-zstd (default all)
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
TOOLS=${TOOLS:-mbsync doveadm mh-gzip mh-zstd}
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

# check NAME GOT: note in $CHECKS whether a run got every message.
check() {
	if [[ $2 == "$MESSAGES" ]]; then
		printf -- '- %s: %s messages, as the mailbox holds\n' "$1" "$2" >>"$CHECKS"
	else
		printf -- '- **%s: %s messages, the mailbox holds %s** (timings are suspect)\n' "$1" "$2" "$MESSAGES" >>"$CHECKS"
	fi
}

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

Channel pull
Far :far:
Near :near:
Patterns *
Create Near
Sync Pull
SyncState $OUT/mbsync-state/
RC
	} >"$WORK/mbsyncrc"

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
	done

	local tools=() t
	for t in mbsync doveadm mh-gzip mh-zstd; do wants "$t" && tools+=("$t"); done
	{
		printf '# mailhaul export imap benchmark\n\n'
		printf -- '- date: %s, commit %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		printf -- '- machine: %s CPUs (%s), %s RAM, Go %s, Dovecot %s, %s\n' "$(nproc)" \
			"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$(free -h | awk '/^Mem:/ {print $2}')" \
			"$(go env GOVERSION)" "$(dovecot --version | cut -d' ' -f1)" "$(mbsync --version)"
		printf -- '- load average before: %s, after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf -- '- mailbox: %s messages, %s MiB of messages, in one Dovecot on loopback, IMAP without TLS for every tool; median of %s runs\n\n' \
			"$MESSAGES" "$(find "$src" -type f \( -path '*/cur/*' -o -path '*/new/*' \) -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1048576}')" "$RUNS"
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
			goal "mailhaul peak RSS, MiB (max over its runs)" "$(peak_rss_mib '^mh-')" "<" 100
		fi
		printf '\nThroughput is the peer'"'"'s wall time over mailhaul'"'"'s; CPU and RSS are mailhaul'"'"'s over the peer'"'"'s.\n'
	} | publish "$started"
}

main "$@"
