package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

// The reasons the sources and targets write today, each with the code a
// script reads for it: a change of wording that loses its code fails here.
func TestClassifyTheReasonsInUse(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   Code
	}{
		{"read: input/output error", CodeUnreadable},
		{"read stopped: unexpected EOF", CodeUnreadable},
		{"open: permission denied", CodeUnreadable},
		{"stat: no such file or directory", CodeUnreadable},
		{"list folder: permission denied", CodeUnreadable},
		{"not read: permission denied", CodeUnreadable},
		{"directory not read: permission denied", CodeUnreadable},
		{"open: symbolic link, not followed", CodeNotRegular},
		{"symbolic link, not followed: nothing outside the source is exported", CodeNotRegular},
		{"not a regular file", CodeNotRegular},
		{"empty file", CodeEmpty},
		{"empty message", CodeEmpty},
		{`ignored: not an mbox file (does not start with "From ")`, CodeNotMail},
		{"contact, not mail (import it with import dav)", CodeNotMail},
		{"received before the cutoff", CodeBeforeCutoff},
		{"expunged while the export ran", CodeExpunged},
		{"expunged", CodeExpunged},
		{"identical copy of an earlier item with the same UID", CodeDuplicate},
		{"mbox folder internal data", CodeInternalData},
		{`uid replaced: UID "x" is already used by a.vcf card 1 with different content; this item now has UID y`, CodeUIDChanged},
		{"no date in the From line, Date or Received fields: received time unknown", CodeNoDate},
		{"larger than 64 MiB, not exported", CodeTooLarge},
		{"vcard: bad line; exported unchanged", CodeUnparsed},
		{"free/busy data is not migrated; dropped", CodeDropped},
		{"3 non-blank line(s) outside BEGIN/END ignored", CodeDropped},
		{`the target refused mailbox "Work": NO [CANNOT] bad name; `, CodeRefused},
		{"read: archive a.tgz: damaged item: checksum mismatch", CodeDamaged},
		{"could not record the intent in the journal: disk full", CodeJournal},
		{"not sent: the run stopped first", CodeNotSent},
		{"in flight when the run stopped: may be on the target; the next run checks", CodeUncertain},
		{"gave up after 5 attempts: NO [SERVERBUG] oops", CodeGaveUp},
		{"something new", CodeOther},
	} {
		if got := Classify(tc.reason); got != tc.want {
			t.Errorf("Classify(%q) = %q, want %q", tc.reason, got, tc.want)
		}
	}
}

func TestCodeOfErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Code
	}{
		{fmt.Errorf("body: %w", format.ErrDamagedItem), CodeDamaged},
		{fmt.Errorf("x: %w", format.ErrChecksum), CodeDamaged},
		{context.Canceled, CodeNotSent},
		{fmt.Errorf("append: %w", io.ErrUnexpectedEOF), CodeConnLost},
		{errors.New("empty message"), CodeEmpty},
	} {
		if got := CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// The JSON reports carry the codes beside the prose: per failure, per
// export problem, and per skip.
func TestReportsCarryCodes(t *testing.T) {
	r := New("bob", "imap", "imap://x", nil)
	r.AddFailure(Failure{Item: "1", Reason: "read: archive a.tgz: damaged item"})
	r.AddFailure(Failure{Item: "2", Reason: "whatever the server said", Code: CodeRefused})
	r.AddNotAttempted(Failure{Item: "3", Reason: "stopped"})
	r.AddSkipped("contact, not mail (import it with import dav)")
	r.Finish()
	b, _ := json.Marshal(r)
	for _, want := range []string{`"code":"damaged"`, `"code":"refused"`, `"code":"not-sent"`, `"skipCodes":{"not-mail":1}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("import report lacks %s:\n%s", want, b)
		}
	}
	e := NewExport(format.Manifest{User: "bob"}, "a.tgz", format.Summary{
		Errors:   []format.Problem{{Folder: "INBOX", Item: "1", Reason: "empty file"}},
		Warnings: []format.Problem{{Item: "x", Reason: "ignored: not an mbox file"}},
		Skipped:  map[string]int{"received before the cutoff": 4, "expunged": 1},
	}, 1)
	b, _ = json.Marshal(e)
	for _, want := range []string{`{"folder":"INBOX","item":"1","reason":"empty file","code":"empty"}`, `"code":"not-mail"`,
		`"skipCodes":{"before-cutoff":4,"expunged":1}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("export report lacks %s:\n%s", want, b)
		}
	}
}
