#!/usr/bin/env bash
# Benchmark: load the same Maildir into one Dovecot three ways, each into a
# fresh user, and print messages per second and the ratios:
#   mailhaul (export to an archive, then import imap over TCP),
#   mbsync (isync) pushing the Maildir over IMAP,
#   doveadm import (local, no protocol: the upper bound).
# Usage: internal/bench/import-imap.sh [MESSAGES] [SIZE]   (default 20000 1G)
# Needs: dovecot, doveadm, mbsync, go, GNU time. Runs on 127.0.0.1 only.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
MESSAGES=${1:-20000}
SIZE=${2:-1G}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/mailhaul-bench.XXXXXX)
chmod 755 "$WORK"
PORT=$(free_port)
trap 'stop_dovecot; rm -rf "$WORK"' EXIT

echo "== generating a Maildir of $MESSAGES messages, $SIZE"
(cd "$ROOT" && go run ./internal/bench/genmaildir -out "$WORK/src" -messages "$MESSAGES" -size "$SIZE" -seed 1 >/dev/null)
(cd "$ROOT" && go build -o "$WORK/mailhaul" ./cmd/mailhaul)
du -sh "$WORK/src" | sed 's/^/   /'

start_dovecot "$PORT" mh mb da

# Client and server share the machine: say how busy it was, since other
# work on it skews the three tools unequally.
load() { echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

now() { date +%s.%N; }

echo "== mailhaul: export"
"$WORK/mailhaul" -q export maildir --user mh --src "$WORK/src" --out "$WORK/arch" >/dev/null
ARCH=$(ls "$WORK"/arch/*.tgz)
echo "== mailhaul: import imap"
load
t0=$(now)
MAILHAUL_PASSWORD=pw /usr/bin/time -f "%M" -o "$WORK/rss" "$WORK/mailhaul" -q import imap "$ARCH" \
  --url "imap://127.0.0.1:$PORT" --user mh --provider dovecot --state "$WORK/jstate" >/dev/null
t1=$(now)
MH_T=$(echo "$t1 - $t0" | bc); MH_N=$(dovecot_count mh); MH_RSS=$(( $(cat "$WORK/rss") / 1024 ))

echo "== mbsync push"
load
mkdir -p "$WORK/mbsync"
{
  mbsync_far "$PORT" mb
  cat <<RC
MaildirStore near
Inbox $WORK/src/
SubFolders Maildir++

Channel push
Far :far:
Near :near:
Patterns *
Create Far
Sync Push
SyncState $WORK/mbsync/
RC
} >"$WORK/mbsyncrc"
t0=$(now)
mbsync -q -c "$WORK/mbsyncrc" push || echo "   (mbsync exited $?)"
t1=$(now)
MB_T=$(echo "$t1 - $t0" | bc); MB_N=$(dovecot_count mb)

echo "== doveadm import"
load
cp -a "$WORK/src" "$WORK/src-da"
chown -R 65534:65534 "$WORK/src-da"
t0=$(now)
doveadm -c "$WORK/dovecot.conf" import -u da "maildir:$WORK/src-da" "" all
t1=$(now)
DA_T=$(echo "$t1 - $t0" | bc); DA_N=$(dovecot_count da)

load
rate() { echo "scale=1; $1 / $2" | bc; }
MH_R=$(rate "$MH_N" "$MH_T"); MB_R=$(rate "$MB_N" "$MB_T"); DA_R=$(rate "$DA_N" "$DA_T")
printf '\n%-16s %8s %9s %10s\n' tool messages seconds "msgs/s"
printf '%-16s %8d %9.2f %10.1f   (peak RSS %d MB)\n' mailhaul "$MH_N" "$MH_T" "$MH_R" "$MH_RSS"
printf '%-16s %8d %9.2f %10.1f\n' mbsync "$MB_N" "$MB_T" "$MB_R"
printf '%-16s %8d %9.2f %10.1f\n' "doveadm import" "$DA_N" "$DA_T" "$DA_R"
echo "mailhaul / mbsync:         $(echo "scale=2; $MH_R / $MB_R" | bc)x   (goal: >= 2)"
echo "mailhaul / doveadm import: $(echo "scale=2; $MH_R / $DA_R" | bc)x   (goal: >= 0.70)"
