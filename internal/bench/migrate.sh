#!/usr/bin/env bash
# migrate.sh: users per hour and messages per hour of `mailhaul migrate run`
# (one process, the plan's users at once, one connection cap shared by all
# users) at 1, 2, 4 and 8 users at once, against the same users moved
#   single: the single-user commands (`export maildir` then `import imap`)
#           per user, in a shell loop with the same parallelism (xargs -P),
#   mbsync: one mbsync per user pushing its Maildir to Dovecot (as
#           import-imap.sh runs it), with the same xargs -P,
# all from the same generated users (internal/usergen, genusers) into a
# fresh throwaway Dovecot on 127.0.0.1 each time, in one run; the tools
# take turns at each concurrency. Every run is checked: every user's
# messages on the target (doveadm), else the run fails.
#
# Environment:
#   BENCH_DIR  directory on local disk (default /tmp/mailhaul-bench); the
#              generated users are cached there between runs
#   USERS      users (default 32)
#   MESSAGES   messages per user (default 600; × MSGSIZE ≈ 30 MB a user)
#   MSGSIZE    mean message size in bytes (default 51200)
#   PARALLEL   the concurrencies (default "1 2 4 8")
#   TOOLS      subset of: migrate single mbsync (default all)
#   CONNS      the plan's connections_per_server (default 16)
#   SEED       generator seed (default 1)
#   RUNS       rounds of every run; the tables give medians (default 1)
#   MAILHAUL   a mailhaul binary to time (default: built from this tree)
#
# The servers' CPU is not counted; each tool gets the same data and a
# fresh server. A missed goal is reported as MISS, never fatal.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_DIR=${BENCH_DIR:-/tmp/mailhaul-bench}
USERS=${USERS:-32}
MESSAGES=${MESSAGES:-600}
MSGSIZE=${MSGSIZE:-51200}
PARALLEL=${PARALLEL:-1 2 4 8}
TOOLS=${TOOLS:-migrate single mbsync}
CONNS=${CONNS:-16}
SEED=${SEED:-1}
RUNS=${RUNS:-1}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$BENCH_DIR/bin
DATA=$BENCH_DIR/users-$USERS-$MESSAGES-$MSGSIZE-$SEED
WORK=$(mktemp -d "$BENCH_DIR/migrate.XXXXXX")
OUT=$WORK/out
SAMPLES=$WORK/samples
RESULTS=$BENCH_DIR/migrate-results.md
STARTED=$(date +%s)
chmod 755 "$WORK"
trap 'stop_dovecot; rm -rf "$WORK"' EXIT

need dovecot:dovecot-imapd doveadm:dovecot-core mbsync:isync /usr/bin/time:time bc:bc

migrate_tools
gen_users
LOGINS=$(seq -f 'user%03g' 1 "$USERS")
TOTAL=$(find "$DATA/src" -path '*/cur/*' -type f -o -path '*/new/*' -type f | wc -l)
log "   $(du -sh "$DATA/src" | cut -f1), $TOTAL messages"

# The machine's and Dovecot's CPU in each sample (lib.sh).
measure_extra() { run_cpu; }

# fresh: a new, empty Dovecot for the next run.
fresh() {
	stop_dovecot
	sleep 0.5
	rm -rf "$WORK/mail" "$WORK/run" "$WORK/state" "$WORK/archives" "$WORK/jstate" "$WORK/mbsync"
	PORT=$(free_port)
	# shellcheck disable=SC2086
	start_dovecot "$PORT" $LOGINS
}

# check NAME: every user's messages are on the target.
check() {
	local u got=0 n
	for u in $LOGINS; do
		n=$(dovecot_count "$u")
		got=$((got + n))
	done
	[[ $got == "$TOTAL" ]] || die "$1: $got of $TOTAL messages on the target"
}

run_migrate() {
	"$BIN/genusers" -out "$DATA" -plan-only -users "$USERS" -messages "$MESSAGES" -size "$MSGSIZE" -seed "$SEED" \
		-imap "imap://127.0.0.1:$PORT" -users-at-once "$1" -conns "$CONNS" -archives "$WORK/archives" >/dev/null
	cp "$DATA/plan.toml" "$WORK/plan-$1.toml"
	measure "migrate-P$1" "$BIN/mailhaul" -q migrate run "$DATA/plan.toml" --stage full
}

# one-user.sh LOGIN PORT: the single-user commands for one user, as a
# shell loop around them runs them (zstd, as the plan).
cat >"$WORK/one-user.sh" <<SH
#!/usr/bin/env bash
set -euo pipefail
"$BIN/mailhaul" -q export maildir --compress zstd --user "\$1@example.org" --src "$DATA/src/\$1/Maildir" --out "$WORK/archives/\$1" >/dev/null
MAILHAUL_PASSWORD=pw "$BIN/mailhaul" -q import imap "$WORK/archives/\$1"/*.tar.zst --url "imap://127.0.0.1:\$2" --user "\$1" \
	--provider dovecot --state "$WORK/jstate/\$1" >/dev/null
SH
chmod +x "$WORK/one-user.sh"

run_single() {
	measure "single-P$1" sh -c "printf '%s\n' $(echo $LOGINS) | xargs -P $1 -I{} '$WORK/one-user.sh' {} $PORT"
}

run_mbsync() {
	local u
	mkdir -p "$WORK/mbsync"
	for u in $LOGINS; do
		mkdir -p "$WORK/mbsync/$u"
		{
			mbsync_far "$PORT" "$u"
			printf 'MaildirStore near\nInbox %s/\nSubFolders Maildir++\n\nChannel push\nFar :far:\nNear :near:\nPatterns *\nCreate Far\nSync Push\nSyncState %s/\n' \
				"$DATA/src/$u/Maildir" "$WORK/mbsync/$u"
		} >"$WORK/mbsync/$u.rc"
	done
	measure "mbsync-P$1" sh -c "printf '%s\n' $(echo $LOGINS) | xargs -P $1 -I{} mbsync -q -c '$WORK/mbsync/{}.rc' push"
}

for ((r = 1; r <= RUNS; r++)); do
	for p in $PARALLEL; do
		for tool in $TOOLS; do
			log "== $tool, $p at once, round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
			fresh
			BUSY0=$(busy) DOVECOT0=$(dovecot_cpu)
			"run_$tool" "$p"
			check "$tool-P$p"
		done
	done
done
stop_dovecot

# rows: per concurrency and tool, users/hour and messages/hour.
{
	printf '## migrate.sh: %d users, %d messages (%s), into a fresh Dovecot each run\n\n' "$USERS" "$TOTAL" "$(du -sh "$DATA/src" | cut -f1)"
	printf 'Machine: %s cores; load average at the end %s.\n\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '| at once | tool | wall s | users/hour | messages/hour | CPU s | Dovecot CPU s | machine CPU s | load |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n'
	for p in $PARALLEL; do
		for tool in $TOOLS; do
			awk -v p="$p" -v t="$tool" -v u="$USERS" -v m="$TOTAL" -v s="$(median "$tool-P$p" 2)" -v c="$(median "$tool-P$p" 4)" -v l="$(median "$tool-P$p" 5)" -v a="$(median "$tool-P$p" 6)" -v d="$(median "$tool-P$p" 7)" \
				'BEGIN {if (s) printf "| %s | %s | %.1f | %.0f | %.0f | %.1f | %.1f | %.1f | %s |\n", p, t, s, u * 3600 / s, m * 3600 / s, c, d, a, l}'
		done
	done
	printf '\n| at once | migrate / mbsync | migrate / single-user loop |\n|---:|---:|---:|\n'
	best=0 bestp=
	for p in $PARALLEL; do
		printf '| %s | %s× | %s× |\n' "$p" "$(ratio "$(median "mbsync-P$p" 2)" "$(median "migrate-P$p" 2)")" \
			"$(ratio "$(median "single-P$p" 2)" "$(median "migrate-P$p" 2)")"
		s=$(median "migrate-P$p" 2)
		if [[ -n $s ]] && awk -v s="$s" -v b="$best" 'BEGIN {exit !(b == 0 || s < b)}'; then best=$s bestp=$p; fi
	done
	if [[ -n $bestp ]]; then
		printf '\nBest concurrency for migrate run: %s users at once (%.0f users/hour, %.0f messages/hour).\n\n' "$bestp" \
			"$(echo "$USERS * 3600 / $best" | bc -l)" "$(echo "$TOTAL * 3600 / $best" | bc -l)"
		printf '| goal | value | target | |\n|---|---:|---|---|\n'
		mbbest=$(for p in $PARALLEL; do median "mbsync-P$p" 2; done | sort -g | head -1)
		goal "migrate run / mbsync, best concurrency of each" "$(ratio "$mbbest" "$best")" '>=' 2
		# The ceiling: Dovecot shares the machine, and its own CPU for
		# these messages (the least any tool's run made it spend) over
		# the cores is the least time any client could take.
		floor=$(for p in $PARALLEL; do for tool in $TOOLS; do median "$tool-P$p" 7; done; done | sort -g | awk 'NF {print; exit}')
		if [[ -n $floor && -n $mbbest ]]; then
			printf '
Dovecot alone spent at least %s CPU s storing these messages; on %d cores no client finishes in less than %.1f s: at most %s× mbsync'"'"'s best.
' \
				"$floor" "$(nproc)" "$(echo "$floor / $(nproc)" | bc -l)" "$(ratio "$mbbest" "$(echo "$floor / $(nproc)" | bc -l)")"
		fi
	fi
} | publish "$STARTED"
