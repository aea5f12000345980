#!/usr/bin/env bash
# The demo migration on the bundled sample data (testdata/sample), against a
# target site of embedded servers (IMAP, CardDAV/CalDAV, SFTP, all in memory
# on 127.0.0.1):
#
#   1. pre-migration: export Alice (Maildir, contacts, calendar) and Bob
#      (Thunderbird mbox folders), inspect and verify the archives, push
#      them over SFTP, pull them at the far end, verify, import;
#   2. cutover: a new message arrives; an incremental export carries only
#      it, on a "drive" (a local copy), and its import adds it alone;
#   3. a re-run of the whole import adds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps.sh

out=${DEMO_OUT:-demo-out}
rm -rf "$out"
mkdir -p "$out"/{site-a,site-b,drive,servers}
echo "== building mailhaul and the demo servers"
go build -o "$out/mailhaul" ./cmd/mailhaul
go build -o "$out/demoservers" ./internal/demoserver/demoservers
mh="$out/mailhaul"
sample=testdata/sample
srv="$out/servers"

"$out/demoservers" -dir "$srv" 2>"$out/servers.log" &
servers=$!
trap 'kill $servers 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -f "$srv/servers.env" ] && break; sleep 0.1; done
[ -f "$srv/servers.env" ] || { cat "$out/servers.log"; echo "demo servers did not start"; exit 1; }
# shellcheck source=/dev/null
. "$srv/servers.env"
sftp_url="sftp://transfer@$SFTP_ADDR/incoming"
ssh_opts=(--identity "$srv/id_ed25519" --known-hosts "$srv/known_hosts" --no-agent --no-remote-commands)

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

echo
echo "#### 1. Pre-migration"
step "export Alice's Maildir, contacts and calendar" \
	"$mh" export maildir --user alice@example.org --src "$sample/alice-maildir" --out "$out/site-a" \
	--contacts "$sample/alice-contacts.vcf" --calendar "$sample/alice-calendar.ics"
step "export Bob's Thunderbird mbox folders" \
	"$mh" export mbox --user bob@example.net --src "$sample/bob-mbox" --out "$out/site-a"
step "inspect Alice's archive" "$mh" inspect "$out/site-a/alice@example.org.tgz"
step "the archive is a plain tar: list it with tar" tar tzf "$out/site-a/alice@example.org.tgz"
step "verify every archive (checksums, structure, items)" "$mh" verify "$out/site-a"
step "push the archives over SFTP (host key checked against known_hosts)" \
	"$mh" push "$out/site-a" "$sftp_url" "${ssh_opts[@]}"
step "push again: archives already there with the same checksum are skipped" \
	"$mh" push "$out/site-a" "$sftp_url" "${ssh_opts[@]}"
step "pull them at the target site" "$mh" pull "$sftp_url" "$out/site-b" "${ssh_opts[@]}"
step "verify what arrived" "$mh" verify "$out/site-b"
step "import Alice's mail over IMAP" \
	"$mh" import imap "$out/site-b/alice@example.org.tgz" --url "imap://$IMAP_ADDR" \
	--user alice@example.org --password-file "$srv/alice@example.org.password"
step "import Alice's contacts and calendar over CardDAV/CalDAV" \
	"$mh" import dav "$out/site-b/alice@example.org.tgz" --url "http://$DAV_ADDR/" \
	--user alice@example.org --password-file "$srv/alice@example.org.password"
step "import Bob's mail over IMAP" \
	"$mh" import imap "$out/site-b/bob@example.net.tgz" --url "imap://$IMAP_ADDR" \
	--user bob@example.net --password-file "$srv/bob@example.net.password"

echo
echo "#### 2. Cutover night"
cp -r "$sample/alice-maildir" "$out/alice-maildir"
now=$(date +%s)
printf 'From: Bob Durand <bob@example.net>\r\nTo: alice@example.org\r\nSubject: Cutover night\r\nDate: %s\r\nMessage-ID: <cutover-%s@example.net>\r\n\r\nArrived after the pre-migration.\r\n' \
	"$(date -R)" "$now" >"$out/alice-maildir/new/$now.M1P1.demo"
echo "(a new message arrived in Alice's INBOX)"
mkdir -p "$out/site-a/delta"
step "incremental export since the pre-migration archive" \
	"$mh" export maildir --user alice@example.org --src "$out/alice-maildir" --out "$out/site-a/delta" \
	--since "$out/site-a/alice@example.org.tgz"
step "carry the delta on a drive: copy with verification" "$mh" copy "$out/site-a/delta" "$out/drive"
step "check the drive at the far end" "$mh" verify "$out/drive"
step "import the delta: only the new message is added" \
	"$mh" import imap "$out"/drive/alice@example.org.after-*.tgz --url "imap://$IMAP_ADDR" \
	--user alice@example.org --password-file "$srv/alice@example.org.password" --state "$out/site-b"

echo
echo "#### 3. A re-run changes nothing"
step "import Alice's full archive and delta again" \
	"$mh" import imap "$out/site-b/alice@example.org.tgz" "$out"/drive/alice@example.org.after-*.tgz \
	--url "imap://$IMAP_ADDR" --user alice@example.org --password-file "$srv/alice@example.org.password" \
	--state "$out/site-b"
step "import the contacts and calendar again" \
	"$mh" import dav "$out/site-b/alice@example.org.tgz" --url "http://$DAV_ADDR/" \
	--user alice@example.org --password-file "$srv/alice@example.org.password"

echo
echo "#### 4. The archives are backups too"
step "restore Alice's full archive and delta into a Maildir" \
	"$mh" restore "$out/site-b/alice@example.org.tgz" "$out"/drive/alice@example.org.after-*.tgz \
	--to maildir "$out/restored/alice-maildir"
step "and her contacts and calendar as .vcf and .ics files (with each message as .eml)" \
	"$mh" restore "$out/site-b/alice@example.org.tgz" --to eml "$out/restored/alice-eml"

echo
echo "Demo finished: archives, reports, journals and restored files are in $out/."
