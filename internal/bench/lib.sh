# lib.sh: the shell helpers the benchmark scripts here share. Source it
# (". "$(dirname "${BASH_SOURCE[0]}")/lib.sh"); it only defines functions.
#
# Variables the helpers read, set by the script:
#   SAMPLES  file measure appends to and median reads
#   RESULTS  file publish writes; CHECKS, if set, what publish adds to it
#   OUT      directory measure empties before each run
#   WORK     scratch directory (server files, the rss file, cmd.log)

log() { printf '%s\n' "$*" >&2; }
die() {
	log "${0##*/}: $*"
	exit 1
}

# need CMD:PACKAGE...: install with apt-get the packages whose command is
# missing. /usr/bin/time is checked by path: bash's time keyword is no peer.
need() {
	local pair missing=() sudo=()
	for pair in "$@"; do
		if [[ ${pair%%:*} == /* ]]; then
			[[ -x ${pair%%:*} ]] || missing+=("${pair#*:}")
		else
			command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
		fi
	done
	((${#missing[@]} == 0)) && return
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	log "installing ${missing[*]}"
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "could not install ${missing[*]} with apt-get"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# measure NAME CMD...: run CMD once in an empty $OUT; append
# "NAME seconds peak-rss-KB cpu-seconds load [extra]" to $SAMPLES,
# cpu-seconds being user plus system time of CMD and its children, load the
# 1-minute load average when it ended, and extra what the script's
# measure_extra function, if it has one, prints after the run (e.g. the
# output's size). On a loaded machine CPU time is the steadier
# measure: the scheduler shares cores by thread, which favours the tool
# with more threads. The servers' CPU is not in it (the same data served
# the same way to each tool).
measure() {
	local name=$1 start end rss cpu
	shift
	rm -rf "$OUT" && mkdir -p "$OUT"
	sync # write back the previous run's output now, not during this one
	start=$(date +%s%N)
	/usr/bin/time -f '%M %U %S' -o "$WORK/rss" "$@" >"$WORK/cmd.log" 2>&1 ||
		{ cat "$WORK/cmd.log" >&2; die "$name failed: $*"; }
	end=$(date +%s%N)
	read -r rss cpu < <(tail -n 1 "$WORK/rss" | awk '{print $1, $2 + $3}')
	printf '%s %s %s %s %s%s\n' "$name" "$(awk -v ns=$((end - start)) 'BEGIN {printf "%.3f", ns / 1e9}')" "$rss" "$cpu" \
		"$(cut -d' ' -f1 /proc/loadavg)" "$(if declare -F measure_extra >/dev/null; then printf ' %s' "$(measure_extra)"; fi)" >>"$SAMPLES"
	log "  $name: $(tail -n 1 "$SAMPLES" | cut -d' ' -f2)s"
}

# migrate_tools: build genusers and mailhaul (or copy $MAILHAUL) from
# $REPO into $BIN, for the scripts that time `migrate run`.
migrate_tools() {
	mkdir -p "$BIN"
	(cd "$REPO" && go build -o "$BIN/genusers" ./internal/bench/genusers)
	if [[ -n ${MAILHAUL:-} ]]; then cp "$MAILHAUL" "$BIN/mailhaul"; else (cd "$REPO" && go build -o "$BIN/mailhaul" ./cmd/mailhaul); fi
	"$BIN/mailhaul" migrate run --help >/dev/null 2>&1 || die "this mailhaul has no 'migrate run'"
}

# gen_users: $USERS users of $MESSAGES messages of ~$MSGSIZE bytes from
# $SEED in $DATA/src (genusers), unless an earlier run left them there.
gen_users() {
	[[ -f $DATA/.done ]] && return
	log "== generating $USERS users × $MESSAGES messages of ~$MSGSIZE bytes in $DATA"
	rm -rf "$DATA"
	"$BIN/genusers" -out "$DATA" -users "$USERS" -messages "$MESSAGES" -size "$MSGSIZE" -seed "$SEED" -imap imap://127.0.0.1:1 >&2
	chmod -R a+rX "$DATA"
	touch "$DATA/.done"
}

# busy: the CPU seconds every process on the machine has used so far
# (user, nice, system, irq, softirq), so a run's share includes the
# server's: on 2 cores, Dovecot's work bounds every tool.
busy() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }

# run_cpu: for a script's measure_extra, the machine's CPU seconds since
# BUSY0=$(busy) and Dovecot's since DOVECOT0=$(dovecot_cpu) (its imap
# processes given a moment to log out and be reaped).
run_cpu() {
	sleep 1
	awk -v a="$BUSY0" -v b="$(busy)" -v c="$DOVECOT0" -v d="$(dovecot_cpu)" 'BEGIN {printf "%.1f %.1f", b - a, d - c}'
}

# median NAME FIELD: the median (lower middle) of a field over NAME's samples.
median() {
	awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$SAMPLES" | sort -g |
		awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}

# verdict OK: PASS or MISS.
verdict() { if [[ $1 == 1 ]]; then echo PASS; else echo MISS; fi; }

# ratio A B: A / B to two decimals, or "n/a"; ratio4 to four, for sizes
# that differ by less than 1%.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b}'; }
ratio4() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.4f", a / b}'; }

# goal LABEL VALUE OP TARGET: a results row with PASS/MISS; OP is >= > <= or <.
goal() {
	local label=$1 value=$2 op=$3 target=$4 ok
	if [[ $value == n/a ]]; then
		printf '| %s | n/a | %s %s | - |\n' "$label" "$op" "$target"
		return
	fi
	ok=$(awk -v v="$value" -v t="$target" -v op="$op" 'BEGIN {
		print (op == ">=" ? v >= t : op == ">" ? v > t : op == "<=" ? v <= t : v < t) ? 1 : 0 }')
	printf '| %s | %s | %s %s | %s |\n' "$label" "$value" "$op" "$target" "$(verdict "$ok")"
}

# peak_rss_mib REGEX: the highest peak RSS, in MiB, over the samples whose
# name matches REGEX (an awk regular expression), or n/a.
peak_rss_mib() { awk -v re="$1" '$1 ~ re && $3 > m {m = $3} END {if (m) printf "%.1f", m / 1024; else print "n/a"}' "$SAMPLES"; }

# publish STARTED: write stdin, then $CHECKS (if the script keeps one) and
# the time since STARTED (seconds since the epoch), to $RESULTS and show it.
publish() {
	{
		cat
		if [[ -s ${CHECKS:-} ]]; then
			printf '\n### Checks\n\n'
			cat "$CHECKS"
		fi
		printf '\nTotal benchmark time: %ss.\n' $(($(date +%s) - $1))
	} >"$RESULTS"
	cat "$RESULTS"
	log "results written to $RESULTS"
}

# sample_table ITEMS TOOL...: the Markdown table of each tool's medians:
# wall time, ITEMS per second, CPU, peak RSS, load.
sample_table() {
	local items=$1 t
	shift
	printf '| tool, median | wall s | items/s | CPU s | peak RSS MiB | load (1 min) |\n|---|---:|---:|---:|---:|---:|\n'
	for t in "$@"; do
		awk -v t="$t" -v n="$items" -v s="$(median "$t" 2)" -v r="$(median "$t" 3)" -v c="$(median "$t" 4)" -v l="$(median "$t" 5)" \
			'BEGIN {printf "| %s | %.2f | %.1f | %.2f | %.1f | %s |\n", t, s, n / s, c, r / 1024, l}'
	done
}

# ratio_row LABEL A B: a table row comparing tool A with tool B: the
# throughput ratio (B's wall time / A's), the CPU ratio (A's / B's) and the
# peak RSS ratio (A's / B's).
ratio_row() {
	awk -v l="$1" -v ta="$(median "$2" 2)" -v tb="$(median "$3" 2)" -v ca="$(median "$2" 4)" -v cb="$(median "$3" 4)" \
		-v ra="$(median "$2" 3)" -v rb="$(median "$3" 3)" \
		'BEGIN {printf "| %s | %.2f× | %.2f× | %.2f× |\n", l, tb / ta, (cb > 0 ? ca / cb : 0), ra / rb}'
}

# start_dovecot PORT USER...: a throwaway Dovecot under $WORK serving
# IMAP without TLS on 127.0.0.1:PORT, mail in $WORK/mail/USER/Maildir
# (Maildir++, owned by 65534), each USER's password "pw". Sets
# DOVECOT_CONF and DOVECOT_PID_FILE for doveadm and the cleanup.
start_dovecot() {
	local port=$1 u
	shift
	mkdir -p "$WORK/mail" "$WORK/run" "$WORK/state"
	chown 65534:65534 "$WORK/mail"
	for u in "$@"; do echo "$u:{PLAIN}pw::::::"; done >"$WORK/passwd"
	DOVECOT_CONF=$WORK/dovecot.conf
	DOVECOT_PID_FILE=$WORK/run/master.pid
	cat >"$DOVECOT_CONF" <<CONF
instance_name = mailhaul-bench-$port
base_dir = $WORK/run
state_dir = $WORK/state
log_path = $WORK/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:$WORK/mail/%u/Maildir
mail_max_userip_connections = 40
# Hard links would make doveadm import a metadata-only copy, not a load.
maildir_copy_with_hardlinks = no
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
passdb {
  driver = passwd-file
  args = $WORK/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$WORK/mail/%u
}
namespace inbox {
  inbox = yes
  separator = /
}
CONF
	dovecot -c "$DOVECOT_CONF"
	for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return; sleep 0.1; done
	die "dovecot did not start (see $WORK/dovecot.log)"
}

stop_dovecot() { [[ -f ${DOVECOT_PID_FILE:-} ]] && kill "$(cat "$DOVECOT_PID_FILE")" 2>/dev/null || true; }

# dovecot_cpu: the CPU seconds of the Dovecot start_dovecot started, with
# its processes that have ended (an imap process ends when its client logs
# out, and the master reaps it).
dovecot_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15 + $16 + $17) / hz}' "/proc/$(cat "$DOVECOT_PID_FILE")/stat"
}

# dovecot_count USER: the messages in all of USER's folders.
dovecot_count() {
	doveadm -c "$DOVECOT_CONF" -f tab mailbox status -u "$1" messages '*' | awk -F'\t' 'NR>1 {s+=$NF} END {print s+0}'
}

# mbsync_far PORT USER [STORE]: the mbsyncrc sections of USER's account on
# the Dovecot start_dovecot started (IMAP store STORE, default "far"), for a
# script to append its other store and channel to.
mbsync_far() {
	local store=${3:-far}
	cat <<RC
IMAPAccount $store
Host 127.0.0.1
Port $1
User $2
Pass pw
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore $store
Account $store

RC
}

# start_radicale PORT: a fresh Radicale (empty storage under $WORK, no
# authentication) on 127.0.0.1:PORT, replacing one this function started.
# Sets RADICALE_PID.
start_radicale() {
	local port=$1
	if [[ -n ${RADICALE_PID:-} ]]; then
		kill "$RADICALE_PID" 2>/dev/null && wait "$RADICALE_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK/storage"
	printf '[server]\nhosts = 127.0.0.1:%s\n[auth]\ntype = none\n[storage]\nfilesystem_folder = %s\n[web]\ntype = none\n[logging]\nlevel = warning\n' \
		"$port" "$WORK/storage" >"$WORK/radicale.conf"
	/usr/bin/radicale --config "$WORK/radicale.conf" >>"$WORK/radicale.log" 2>&1 &
	RADICALE_PID=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return; sleep 0.1; done
	die "radicale did not start"
}

stop_radicale() { if [[ -n ${RADICALE_PID:-} ]]; then kill "$RADICALE_PID" 2>/dev/null || true; fi; }

# pim_data N DIR: write DIR/contacts.vcf (N vCards) and DIR/calendar.ics
# (N events, a weekly recurring one every tenth).
pim_data() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) {
	printf "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-card-%d\r\nFN:Person %d\r\nN:%d;Person;;;\r\nEMAIL;TYPE=INTERNET:p%d@example.org\r\nTEL;TYPE=CELL:+33 6 00 00 %04d\r\nNOTE:Benchmark contact number %d\\, generated\r\nEND:VCARD\r\n", i, i, i, i, i % 10000, i } }' >"$2/contacts.vcf"
	awk -v n="$1" 'BEGIN { printf "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailhaul//bench//EN\r\n"
	for (i = 1; i <= n; i++) {
	d = 1 + i % 28; m = 1 + int(i / 28) % 12
	printf "BEGIN:VEVENT\r\nUID:bench-event-%d\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:2024%02d%02dT%02d0000Z\r\nDURATION:PT1H\r\nSUMMARY:Meeting %d\r\nLOCATION:Room %d\r\n", i, m, d, 8 + i % 9, i, i % 40
	if (i % 10 == 0) printf "RRULE:FREQ=WEEKLY;COUNT=10\r\n"
	printf "END:VEVENT\r\n" }
	printf "END:VCALENDAR\r\n" }' >"$2/calendar.ics"
}
