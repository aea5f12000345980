#!/usr/bin/env bash
# Benchmark: upload the same 2,000 contacts and 2,000 events to Radicale
# with `mailhaul import dav` (at several concurrencies) and with vdirsyncer
# (singlefile storages paired with carddav/caldav), each into fresh
# collections of a fresh Radicale, and print objects per second.
#
#   internal/bench/import-dav.sh            # N=2000, CONCURRENCY="1 2 4 8"
#   N=500 CONCURRENCY="1 2" internal/bench/import-dav.sh
#   BULK=never internal/bench/import-dav.sh # one PUT per object only
#
# mailhaul fills the new address book with one whole-collection PUT
# (--bulk auto, importer/dav/README.md) and sends events one by one;
# vdirsyncer sends everything one by one. Both check every answer. The
# load average is printed before each tool: other jobs on the machine
# skew the numbers.
#
# Needs radicale and vdirsyncer (.ci/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-2000}
CONCURRENCY=${CONCURRENCY:-"1 2 4 8"}
BULK=${BULK:-auto}
work=$(mktemp -d)
radicale_pid=
cleanup() { [ -n "$radicale_pid" ] && kill "$radicale_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

command -v vdirsyncer >/dev/null || { echo "vdirsyncer is not installed" >&2; exit 1; }
[ -x /usr/bin/radicale ] || { echo "radicale is not installed" >&2; exit 1; }

go build -o "$work/mailhaul" ./cmd/mailhaul
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# The data: N vCards and N events (a weekly recurring one every tenth).
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) {
	printf "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-card-%d\r\nFN:Person %d\r\nN:%d;Person;;;\r\nEMAIL;TYPE=INTERNET:p%d@example.org\r\nTEL;TYPE=CELL:+33 6 00 00 %04d\r\nNOTE:Benchmark contact number %d\\, generated\r\nEND:VCARD\r\n", i, i, i, i, i % 10000, i } }' > "$work/contacts.vcf"
awk -v n="$N" 'BEGIN { printf "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailhaul//bench//EN\r\n"
	for (i = 1; i <= n; i++) {
	d = 1 + i % 28; m = 1 + int(i / 28) % 12
	printf "BEGIN:VEVENT\r\nUID:bench-event-%d\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:2024%02d%02dT%02d0000Z\r\nDURATION:PT1H\r\nSUMMARY:Meeting %d\r\nLOCATION:Room %d\r\n", i, m, d, 8 + i % 9, i, i % 40
	if (i % 10 == 0) printf "RRULE:FREQ=WEEKLY;COUNT=10\r\n"
	printf "END:VEVENT\r\n" }
	printf "END:VCALENDAR\r\n" }' > "$work/calendar.ics"
mkdir -p "$work/empty/cur" "$work/empty/new" "$work/empty/tmp" "$work/archive"
"$work/mailhaul" export maildir -q --user bench@example.org --src "$work/empty" --out "$work/archive" \
	--contacts "$work/contacts.vcf" --calendar "$work/calendar.ics" >/dev/null
archive="$work/archive/bench@example.org.tgz"

start_radicale() {
	[ -n "$radicale_pid" ] && kill "$radicale_pid" 2>/dev/null && wait "$radicale_pid" 2>/dev/null || true
	rm -rf "$work/storage"
	printf '[server]\nhosts = 127.0.0.1:%s\n[auth]\ntype = none\n[storage]\nfilesystem_folder = %s\n[web]\ntype = none\n[logging]\nlevel = warning\n' \
		"$port" "$work/storage" > "$work/radicale.conf"
	/usr/bin/radicale --config "$work/radicale.conf" >>"$work/radicale.log" 2>&1 &
	radicale_pid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && return; sleep 0.1; done
	echo "radicale did not start" >&2; exit 1
}
now() { date +%s.%N; }
load() { echo "   (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"; }
rate() { python3 -c "print(f'{$1/($3-$2):.1f}')"; }
objects=$((2 * N))

echo "== $N contacts + $N events into Radicale $(/usr/bin/radicale --version), $(nproc) CPUs"
best=0; bestc=
for c in $CONCURRENCY; do
	start_radicale
	load
	t0=$(now)
	MAILHAUL_PASSWORD=x "$work/mailhaul" import dav -q "$archive" --url "http://127.0.0.1:$port/" --user bench \
		--concurrency "$c" --bulk "$BULK" --report "$work/report-$c.json" >/dev/null
	t1=$(now)
	r=$(rate $objects "$t0" "$t1")
	imported=$(python3 -c "import json; print(json.load(open('$work/report-$c.json'))['imported'])")
	echo "mailhaul   concurrency $c, --bulk $BULK: $imported objects in $(python3 -c "print(f'{$t1-$t0:.1f}')") s = $r objects/s"
	if python3 -c "import sys; sys.exit(0 if $r > $best else 1)"; then best=$r; bestc=$c; fi
done

start_radicale
curl -s -o /dev/null -X MKCOL -H 'Content-Type: application/xml' --data '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>' "http://bench:x@127.0.0.1:$port/bench/contacts/"
curl -s -o /dev/null -X MKCALENDAR "http://bench:x@127.0.0.1:$port/bench/calendar/"
mkdir -p "$work/vds/status"
cp "$work/contacts.vcf" "$work/vds/contacts.vcf"; cp "$work/calendar.ics" "$work/vds/calendar.ics"
cat > "$work/vds/config" <<CONF
[general]
status_path = "$work/vds/status/"

[pair contacts]
a = "contacts_local"
b = "contacts_remote"
collections = null

[storage contacts_local]
type = "singlefile"
path = "$work/vds/contacts.vcf"

[storage contacts_remote]
type = "carddav"
url = "http://127.0.0.1:$port/bench/contacts/"
username = "bench"
password = "x"

[pair calendar]
a = "calendar_local"
b = "calendar_remote"
collections = null

[storage calendar_local]
type = "singlefile"
path = "$work/vds/calendar.ics"

[storage calendar_remote]
type = "caldav"
url = "http://127.0.0.1:$port/bench/calendar/"
username = "bench"
password = "x"
CONF
vdirsyncer -c "$work/vds/config" discover >/dev/null 2>&1 || true
load
t0=$(now)
vdirsyncer -c "$work/vds/config" sync >"$work/vds/log" 2>&1
t1=$(now)
stored=$(find "$work/storage" -name '*.vcf' -o -name '*.ics' | grep -v '/.Radicale' | wc -l)
vr=$(rate $objects "$t0" "$t1")
echo "vdirsyncer $(vdirsyncer --version 2>&1 | awk '{print $NF}'): $stored objects stored in $(python3 -c "print(f'{$t1-$t0:.1f}')") s = $vr objects/s"
echo "best mailhaul concurrency: $bestc ($best objects/s) = $(python3 -c "print(f'{$best/$vr:.1f}')")x vdirsyncer"
