#!/usr/bin/env bash
# The demo migration on the bundled sample data (testdata/sample): export
# Alice's Maildir with her contacts and calendar and Bob's Thunderbird mbox
# folders, inspect and verify the archives, then take an incremental
# (cutover) export of what arrived since the first one.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh

out=${DEMO_OUT:-demo-out}
rm -rf "$out"
mkdir -p "$out/archives"
echo "== building mailhaul"
go build -o "$out/mailhaul" ./cmd/mailhaul
mh="$out/mailhaul"
sample=testdata/sample

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "export Alice's Maildir, contacts and calendar" \
	"$mh" export maildir --user alice@example.org --src "$sample/alice-maildir" --out "$out/archives" \
	--contacts "$sample/alice-contacts.vcf" --calendar "$sample/alice-calendar.ics"
step "export Bob's Thunderbird mbox folders" \
	"$mh" export mbox --user bob@example.net --src "$sample/bob-mbox" --out "$out/archives"
step "inspect Alice's archive" "$mh" inspect "$out/archives/alice@example.org.tgz"
step "inspect Bob's archive" "$mh" inspect "$out/archives/bob@example.net.tgz"
step "the archive is a plain tar: list it with tar" tar tzf "$out/archives/alice@example.org.tgz"
step "verify every archive in the folder (checksums, structure, items)" "$mh" verify "$out/archives"
step "the checksum files work without mailhaul too" \
	sh -c "cd '$out/archives' && sha256sum -c ./*.sha256"

echo
echo "== cutover: a new message arrives in Alice's INBOX, then an incremental export"
cp -r "$sample/alice-maildir" "$out/alice-maildir"
now=$(date +%s)
printf 'From: Bob Durand <bob@example.net>\r\nTo: alice@example.org\r\nSubject: Cutover night\r\nDate: %s\r\nMessage-ID: <cutover-%s@example.net>\r\n\r\nArrived after the pre-migration.\r\n' \
	"$(date -R)" "$now" > "$out/alice-maildir/new/$now.M1P1.demo"
mkdir -p "$out/delta"
step "incremental export since the first archive" \
	"$mh" export maildir --user alice@example.org --src "$out/alice-maildir" --out "$out/delta" \
	--since "$out/archives/alice@example.org.tgz"
step "the delta holds only the new message" "$mh" inspect "$out"/delta/*.tgz
step "verify the delta" "$mh" verify "$out/delta"
echo
echo "Demo finished: archives and reports are in $out/."
