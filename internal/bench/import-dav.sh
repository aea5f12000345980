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
. internal/bench/lib.sh
N=${N:-2000}
CONCURRENCY=${CONCURRENCY:-"1 2 4 8"}
BULK=${BULK:-auto}
WORK=$(mktemp -d)
trap 'stop_radicale; rm -rf "$WORK"' EXIT

command -v vdirsyncer >/dev/null || { echo "vdirsyncer is not installed" >&2; exit 1; }
[ -x /usr/bin/radicale ] || { echo "radicale is not installed" >&2; exit 1; }

go build -o "$WORK/mailhaul" ./cmd/mailhaul
port=$(free_port)

pim_data "$N" "$WORK"
mkdir -p "$WORK/empty/cur" "$WORK/empty/new" "$WORK/empty/tmp" "$WORK/archive"
"$WORK/mailhaul" export maildir -q --user bench@example.org --src "$WORK/empty" --out "$WORK/archive" \
	--contacts "$WORK/contacts.vcf" --calendar "$WORK/calendar.ics" >/dev/null
archive="$WORK/archive/bench@example.org.tgz"

now() { date +%s.%N; }
load() { echo "   (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"; }
rate() { python3 -c "print(f'{$1/($3-$2):.1f}')"; }
objects=$((2 * N))

echo "== $N contacts + $N events into Radicale $(/usr/bin/radicale --version), $(nproc) CPUs"
best=0; bestc=
for c in $CONCURRENCY; do
	start_radicale "$port"
	load
	t0=$(now)
	MAILHAUL_PASSWORD=x "$WORK/mailhaul" import dav -q "$archive" --url "http://127.0.0.1:$port/" --user bench \
		--concurrency "$c" --bulk "$BULK" --report "$WORK/report-$c.json" >/dev/null
	t1=$(now)
	r=$(rate $objects "$t0" "$t1")
	imported=$(python3 -c "import json; print(json.load(open('$WORK/report-$c.json'))['imported'])")
	echo "mailhaul   concurrency $c, --bulk $BULK: $imported objects in $(python3 -c "print(f'{$t1-$t0:.1f}')") s = $r objects/s"
	if python3 -c "import sys; sys.exit(0 if $r > $best else 1)"; then best=$r; bestc=$c; fi
done

start_radicale "$port"
curl -s -o /dev/null -X MKCOL -H 'Content-Type: application/xml' --data '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>' "http://bench:x@127.0.0.1:$port/bench/contacts/"
curl -s -o /dev/null -X MKCALENDAR "http://bench:x@127.0.0.1:$port/bench/calendar/"
mkdir -p "$WORK/vds/status"
cp "$WORK/contacts.vcf" "$WORK/vds/contacts.vcf"; cp "$WORK/calendar.ics" "$WORK/vds/calendar.ics"
cat > "$WORK/vds/config" <<CONF
[general]
status_path = "$WORK/vds/status/"

[pair contacts]
a = "contacts_local"
b = "contacts_remote"
collections = null

[storage contacts_local]
type = "singlefile"
path = "$WORK/vds/contacts.vcf"

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
path = "$WORK/vds/calendar.ics"

[storage calendar_remote]
type = "caldav"
url = "http://127.0.0.1:$port/bench/calendar/"
username = "bench"
password = "x"
CONF
vdirsyncer -c "$WORK/vds/config" discover >/dev/null 2>&1 || true
load
t0=$(now)
vdirsyncer -c "$WORK/vds/config" sync >"$WORK/vds/log" 2>&1
t1=$(now)
stored=$(find "$WORK/storage" -name '*.vcf' -o -name '*.ics' | grep -v '/.Radicale' | wc -l)
vr=$(rate $objects "$t0" "$t1")
echo "vdirsyncer $(vdirsyncer --version 2>&1 | awk '{print $NF}'): $stored objects stored in $(python3 -c "print(f'{$t1-$t0:.1f}')") s = $vr objects/s"
echo "best mailhaul concurrency: $bestc ($best objects/s) = $(python3 -c "print(f'{$best/$vr:.1f}')")x vdirsyncer"
