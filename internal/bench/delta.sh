#!/usr/bin/env bash
# delta.sh: the cutover night. Users per hour and messages per hour of
# `mailhaul migrate run PLAN --stage delta` at 1, 2, 4 and 8 users at once,
# against mbsync's second (incremental) push of the same changes, one
# mbsync per user under xargs -P with the same parallelism, its SyncState
# kept from its own full push.
#
# Each run: a copy of the same generated users (internal/usergen,
# genusers), a fresh throwaway Dovecot on 127.0.0.1, the full copy by the
# tool under test (set-up, not timed), then every user changed as a user
# at work between the stages is (genusers -change: NEW messages
# delivered, FLAGS \Flagged flips and MOVES moves from INBOX to Archive),
# then the timed delta by the same tool. With mailboxes this small the
# bytes hardly count: the per-user overhead (connect, log in, list the
# folders, read the state, apply the changes) decides the rate, which is
# what a 25,000-user night is bound by. The tools take turns at each
# concurrency. Every run is checked on the target: per user, folder and
# flag set, the message count doveadm shows must be what the changed
# source holds (genusers -expect), so a message lost, doubled, left in
# INBOX after its move or missing its flag fails the run.
#
# mbsync pushes with "Sync Push" (new messages, flags, deletions) and
# "Expunge Far", so a message moved in the source ends up moved, not
# marked \Deleted, as with mailhaul; its Maildir store uses AltMap, so the
# full push does not rename the source's files and both tools see the
# same changes.
#
# Environment:
#   SMOKE      1: small numbers for a quick try (8 users of 40 messages,
#              1 and 4 at once, 5 new, 3 flags, 1 move each)
#   BENCH_DIR  directory on local disk (default /tmp/mailhaul-bench); the
#              generated users are cached there between runs
#   USERS      users (default 64)
#   MESSAGES   messages per user before the delta (default 500)
#   MSGSIZE    mean message size in bytes (default 4096)
#   NEW FLAGS MOVES  the delta of each user (default 20, 10, 2)
#   PARALLEL   the concurrencies (default "1 2 4 8")
#   TOOLS      subset of: migrate mbsync (default both)
#   RUNS       runs of each tool at each concurrency (default 1; the
#              tables show medians)
#   CONNS      the plan's connections_per_server (default 16)
#   NIGHT_USERS NIGHT_HOURS  the night to plan machines for (default
#              25000 users in 6 hours)
#   SEED       generator seed (default 1)
#   MAILHAUL   a mailhaul binary to time (default: built from this tree)
#
# "CPU s" is the tool's (with its children), "Dovecot CPU s" the server's
# and "machine CPU s" every process's over the timed delta: on a shared
# machine the first two are the steadier measure. A missed goal is
# reported as MISS, never fatal.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${SMOKE:-} == 1 ]]; then
	: "${USERS:=8}" "${MESSAGES:=40}" "${PARALLEL:=1 4}" "${NEW:=5}" "${FLAGS:=3}" "${MOVES:=1}"
fi
BENCH_DIR=${BENCH_DIR:-/tmp/mailhaul-bench}
USERS=${USERS:-64}
MESSAGES=${MESSAGES:-500}
MSGSIZE=${MSGSIZE:-4096}
NEW=${NEW:-20}
FLAGS=${FLAGS:-10}
MOVES=${MOVES:-2}
PARALLEL=${PARALLEL:-1 2 4 8}
TOOLS=${TOOLS:-migrate mbsync}
RUNS=${RUNS:-1}
CONNS=${CONNS:-16}
NIGHT_USERS=${NIGHT_USERS:-25000}
NIGHT_HOURS=${NIGHT_HOURS:-6}
SEED=${SEED:-1}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$BENCH_DIR/bin
# Never changed: each run changes a copy. Not migrate.sh's cache, whose
# files mbsync renames.
DATA=$BENCH_DIR/delta-users-$USERS-$MESSAGES-$MSGSIZE-$SEED
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/delta.XXXXXX")
OUT=$WORK/out
RUN=$WORK/run
SAMPLES=$WORK/samples
CHECKS=$WORK/checks
RESULTS=$BENCH_DIR/delta-results.md
STARTED=$(date +%s)
chmod 755 "$WORK"
trap 'stop_dovecot; rm -rf "$WORK"' EXIT

need dovecot:dovecot-imapd doveadm:dovecot-core mbsync:isync /usr/bin/time:time

migrate_tools
gen_users
LOGINS=$(seq -f 'user%03g' 1 "$USERS")
BEFORE=$(find "$DATA/src" \( -path '*/cur/*' -o -path '*/new/*' \) -type f | wc -l)
log "   $(du -sh "$DATA/src" | cut -f1), $BEFORE messages before the delta"

# The machine's and Dovecot's CPU in each sample (lib.sh).
measure_extra() { run_cpu; }

# fresh: a new, empty Dovecot and a new copy of the users in $RUN/src.
fresh() {
	stop_dovecot
	sleep 0.5
	rm -rf "$WORK/mail" "$WORK/run" "$WORK/state" "$RUN"
	mkdir -p "$RUN"
	cp -a "$DATA/src" "$RUN/src"
	PORT=$(free_port)
	# shellcheck disable=SC2086
	start_dovecot "$PORT" $LOGINS
}

# change: the users at work between the stages; sets CHANGED (the
# messages the delta carries) and writes what the target must then show.
change() {
	local line
	line=$("$BIN/genusers" -out "$RUN" -users "$USERS" -seed "$SEED" -change -new "$NEW" -flags "$FLAGS" -moves "$MOVES")
	log "   $line"
	DELTA=$(awk '{print $5 " new, " $7 " flag flips, " $9 " moves"}' <<<"$line")
	CHANGED=$(awk '{print $5 + $7 + $9}' <<<"$line")
	"$BIN/genusers" -out "$RUN" -users "$USERS" -expect | LC_ALL=C sort >"$WORK/expect"
}

# check NAME: per user, folder and flag set, doveadm shows the counts the
# changed source holds.
check() {
	local u
	for u in $LOGINS; do
		doveadm -c "$DOVECOT_CONF" -f tab fetch -u "$u" 'mailbox flags' all | awk -F'\t' -v u="$u" '
			NR > 1 {
				n = split($2, f, " "); k = 0
				for (i = 1; i <= n; i++) if (f[i] != "\\Recent") g[++k] = f[i]
				for (i = 2; i <= k; i++) for (j = i; j > 1 && g[j-1] > g[j]; j--) {t = g[j]; g[j] = g[j-1]; g[j-1] = t}
				s = k ? g[1] : "-"
				for (i = 2; i <= k; i++) s = s " " g[i]
				c[u "\t" $1 "\t" s]++
			}
			END {for (x in c) print x "\t" c[x]}'
	done | LC_ALL=C sort >"$WORK/got"
	if ! diff "$WORK/expect" "$WORK/got" >"$WORK/diff"; then
		head -n 20 "$WORK/diff" >&2
		die "$1: the target differs from the source (per user, folder, flags, count: < source, > target)"
	fi
	printf -- '- %s: %d users, %d messages, every folder and flag set as in the source\n' "$1" "$USERS" \
		"$(awk -F'\t' '{s += $4} END {print s}' "$WORK/got")" >>"$CHECKS"
}

# plan P: the plan for the users in $RUN, P at once.
plan() {
	"$BIN/genusers" -out "$RUN" -plan-only -users "$USERS" -seed "$SEED" \
		-imap "imap://127.0.0.1:$PORT" -users-at-once "$1" -conns "$CONNS" -archives "$RUN/archives" >/dev/null
}

full_migrate() {
	plan "$1"
	"$BIN/mailhaul" -q migrate run "$RUN/plan.toml" --stage full >"$WORK/full.log" 2>&1 ||
		{ cat "$WORK/full.log" >&2; die "migrate run --stage full failed"; }
}

delta_migrate() { measure "migrate-P$1" "$BIN/mailhaul" -q migrate run "$RUN/plan.toml" --stage delta; }

# mbsync_rc: one mbsyncrc per user; its SyncState stays in $RUN/mbsync
# from the full push to the delta.
mbsync_rc() {
	local u
	mkdir -p "$RUN/mbsync"
	for u in $LOGINS; do
		mkdir -p "$RUN/mbsync/$u"
		{
			mbsync_far "$PORT" "$u"
			printf 'MaildirStore near\nInbox %s/\nSubFolders Maildir++\nAltMap yes\n\nChannel push\nFar :far:\nNear :near:\nPatterns *\nCreate Far\nSync Push\nExpunge Far\nSyncState %s/\n' \
				"$RUN/src/$u/Maildir" "$RUN/mbsync/$u"
		} >"$RUN/mbsync/$u.rc"
	done
}

# mbsync_all P: every user's push, P at once, as one shell command.
mbsync_all() { echo "printf '%s\n' $(echo $LOGINS) | xargs -P $1 -I{} mbsync -q -c '$RUN/mbsync/{}.rc' push"; }

full_mbsync() {
	mbsync_rc
	sh -c "$(mbsync_all "$1")" >"$WORK/full.log" 2>&1 || { cat "$WORK/full.log" >&2; die "mbsync's full push failed"; }
}

delta_mbsync() { measure "mbsync-P$1" sh -c "$(mbsync_all "$1")"; }

for p in $PARALLEL; do
	for r in $(seq "$RUNS"); do
		for tool in $TOOLS; do
			log "== $tool, $p at once, run $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
			fresh
			"full_$tool" "$p"
			change
			BUSY0=$(busy) DOVECOT0=$(dovecot_cpu)
			"delta_$tool" "$p"
			check "$tool-P$p run $r"
		done
	done
done
stop_dovecot

{
	printf '## delta.sh: the cutover of %d users (%d messages, %s, before it); each user %s since the full copy (%d messages in all), into a fresh Dovecot each run\n\n' \
		"$USERS" "$BEFORE" "$(du -sh "$DATA/src" | cut -f1)" "$(printf '%s new, %s flag flips, %s moves' "$NEW" "$FLAGS" "$MOVES")" "$CHANGED"
	printf 'Machine: %s cores; load average at the end %s. The full copy (by the same tool) is set-up, not timed; messages/hour counts the messages the delta carried (%s).\n\n' \
		"$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$DELTA"
	printf '| at once | tool | wall s | users/hour | messages/hour | s per user | CPU s | Dovecot CPU s | machine CPU s | load |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
	for p in $PARALLEL; do
		for tool in $TOOLS; do
			awk -v p="$p" -v t="$tool" -v u="$USERS" -v m="$CHANGED" -v s="$(median "$tool-P$p" 2)" -v c="$(median "$tool-P$p" 4)" \
				-v l="$(median "$tool-P$p" 5)" -v a="$(median "$tool-P$p" 6)" -v d="$(median "$tool-P$p" 7)" \
				'BEGIN {if (s) printf "| %s | %s | %.1f | %.0f | %.0f | %.2f | %.1f | %.1f | %.1f | %s |\n", p, t, s, u * 3600 / s, m * 3600 / s, s * p / u, c, d, a, l}'
		done
	done
	printf '\n"s per user" is wall × at once / users: the time one user holds a slot.\n\n| at once | migrate / mbsync |\n|---:|---:|\n'
	best=0 bestp=
	for p in $PARALLEL; do
		printf '| %s | %s× |\n' "$p" "$(ratio "$(median "mbsync-P$p" 2)" "$(median "migrate-P$p" 2)")"
		s=$(median "migrate-P$p" 2)
		if [[ -n $s ]] && awk -v s="$s" -v b="$best" 'BEGIN {exit !(b == 0 || s < b)}'; then best=$s bestp=$p; fi
	done
	if [[ -n $bestp ]]; then
		awk -v p="$bestp" -v s="$best" -v u="$USERS" -v m="$CHANGED" -v nu="$NIGHT_USERS" -v nh="$NIGHT_HOURS" 'BEGIN {
			uh = u * 3600 / s
			printf "\nBest concurrency for the delta: %s users at once (%.0f users/hour, %.0f messages/hour). A night of %d users in %d hours at that rate needs %d machine(s) like this one (against the same kind of target).\n\n", p, uh, m * 3600 / s, nu, nh, int(nu / (uh * nh)) + (nu % (uh * nh) > 0) }'
		printf '| goal | value | target | |\n|---|---:|---|---|\n'
		goal "migrate delta / mbsync incremental push, best concurrency of each" \
			"$(ratio "$(for p in $PARALLEL; do median "mbsync-P$p" 2; done | sort -g | head -1)" "$best")" '>=' 1
	fi
} | publish "$STARTED"
