package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// oldArchive writes, as an older mailhaul did, an archive of user whose
// Maildir++ directory "..." became folder ".." (stored safely as mail/__/
// entries) beside INBOX, one message in each, with its .sha256. The
// current writer refuses such a path, so the tar is built by hand.
func oldArchive(t *testing.T, user string) string {
	t.Helper()
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	tw := tar.NewWriter(zw)
	put := func(name string, v any) {
		b, ok := v.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: started, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	put("manifest.json", format.Manifest{Format: 1, User: user, Source: format.Source{Kind: "maildir"}, Started: started})
	var counts format.Counts
	var folders []format.FolderCounts
	for i, f := range []struct{ dir, path, subject string }{{"INBOX", "INBOX", "in the inbox"}, {"__", "..", "in the dot-dot folder"}} {
		body := []byte("From: a@example.org\r\nTo: " + user + "\r\nSubject: " + f.subject + "\r\nMessage-ID: <" + f.dir + "@x>\r\n\r\nbody\r\n")
		sum := sha256.Sum256(body)
		put("mail/"+f.dir+"/_folder.json", format.Folder{Kind: format.FolderMail, Path: f.path})
		base := "mail/" + f.dir + "/0000000" + string(rune('1'+i))
		put(base+".meta", format.Item{Kind: format.KindMessage, Folder: f.path, Received: started, Size: int64(len(body)),
			SHA256: hex.EncodeToString(sum[:]), SourceID: f.dir + "-1"})
		put(base+".eml", body)
		var c format.Counts
		c.Add(format.KindMessage, int64(len(body)))
		counts.Add(format.KindMessage, int64(len(body)))
		folders = append(folders, format.FolderCounts{Path: f.path, Kind: format.FolderMail, Counts: c})
	}
	put("summary.json", format.Summary{Finished: started, Counts: counts, Folders: folders})
	tw.Close()
	zw.Close()
	path := filepath.Join(t.TempDir(), user+".tgz")
	if err := os.WriteFile(path, raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw.Bytes())
	if err := format.WriteChecksumFile(path, hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	return path
}

// An archive an older release wrote with folder ".." is still read:
// verify passes it, inspect and import see the folder as "_.." with a
// note, and every message is imported (FORMAT.md, "Folder paths").
func TestOldArchiveWithUnsafeFolderIsRead(t *testing.T) {
	archive := oldArchive(t, "alice")
	code, stdout, stderr := mailhaul(t, "verify", archive)
	if code != exitOK || !strings.Contains(stdout, `"_.."`) || !strings.Contains(stdout, "note") {
		t.Errorf("verify of an old archive with folder \"..\": exit %d\n%s%s; want OK with a note on the folder read as \"_..\"", code, stdout, stderr)
	}
	ins := inspectJSON(t, archive)
	if len(ins.Folders) != 2 || ins.Folders[1].Path != "_.." || ins.Folders[1].Messages != 1 || !ins.Complete || len(ins.Notes) != 1 {
		t.Errorf("inspect: folders %+v, complete %v, notes %q; want INBOX and \"_..\" with one message each, and a note", ins.Folders, ins.Complete, ins.Notes)
	}

	d := testservers.StartDovecot(t, map[string]string{"alice": "pa"})
	reportPath := filepath.Join(t.TempDir(), "report.json")
	code, stdout, stderr = mailhaul(t, "-q", "import", "imap", archive, "--url", "imap://"+d.Addr, "--user", "alice",
		"--password-file", writePassword(t, "pa"), "--state", t.TempDir(), "--report", reportPath)
	rep := readReport(t, reportPath)
	if code != exitOK || rep.Imported != 2 || mailCount(t, d, "alice") != 2 || !strings.Contains(strings.Join(rep.Notes, "\n"), `".."`) {
		t.Errorf("import imap: exit %d, %s, notes %q, %d messages on the target; want both imported with a note\n%s%s",
			code, rep.Line(), rep.Notes, mailCount(t, d, "alice"), stdout, stderr)
	}
}
