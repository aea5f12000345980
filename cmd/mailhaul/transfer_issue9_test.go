package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

// Private mail stays private at every step run from the command line:
// the --out directory export creates, the archive, and what extract and
// copy write (issue 9, item 12).
func TestCommandsKeepMailPrivate(t *testing.T) {
	top := t.TempDir()
	out := filepath.Join(top, "exports", "site")
	mustRun(t, "export", "maildir", "--user", "alice", "--src", sample+"/alice-maildir", "--out", out)
	mustRun(t, "extract", filepath.Join(out, "alice.tgz"), filepath.Join(top, "x", "alice"))
	mustRun(t, "copy", out, filepath.Join(top, "drive", "archives"))
	for p, want := range map[string]os.FileMode{
		filepath.Join(top, "exports"):    0o700,
		out:                              0o700,
		filepath.Join(out, "alice.tgz"):  0o600,
		filepath.Join(top, "x"):          0o700,
		filepath.Join(top, "x", "alice"): 0o700,
		filepath.Join(top, "x", "alice", "manifest.json"):    0o600,
		filepath.Join(top, "x", "alice", "mail"):             0o700,
		filepath.Join(top, "drive"):                          0o700,
		filepath.Join(top, "drive", "archives"):              0o700,
		filepath.Join(top, "drive", "archives", "alice.tgz"): 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %#o, want %#o", p, fi.Mode().Perm(), want)
		}
	}
}

// A Maildir and an mbox export of one user are both <user>.tgz. Copying
// the second where the first is kept must not replace it (issue 9,
// item 8): exit 1, the refusal names the archive and both checksums and
// says how to keep both; --overwrite replaces it and says so.
func TestCopyRefusesToReplaceAnotherExport(t *testing.T) {
	maildir, mbox := t.TempDir(), t.TempDir()
	mustRun(t, "export", "maildir", "--user", "bob@example.net", "--src", sample+"/alice-maildir", "--out", maildir)
	mustRun(t, "export", "mbox", "--user", "bob@example.net", "--src", sample+"/bob-mbox", "--out", mbox)
	drive := filepath.Join(t.TempDir(), "drive")
	mustRun(t, "copy", maildir, drive)
	kept, _ := os.ReadFile(filepath.Join(drive, "bob@example.net.tgz"))
	sumMaildir, _ := format.ReadChecksumFile(filepath.Join(maildir, "bob@example.net.tgz"))
	sumMbox, _ := format.ReadChecksumFile(filepath.Join(mbox, "bob@example.net.tgz"))

	code, out, errOut := mailhaul(t, "copy", mbox, drive)
	if code != exitFailed {
		t.Errorf("copy of the mbox export over the Maildir one: exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
	}
	for _, want := range []string{"bob@example.net.tgz", sumMaildir, sumMbox, "--overwrite", "own directory"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal lacks %q:\n%s", want, errOut)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(drive, "bob@example.net.tgz")); !bytes.Equal(got, kept) {
		t.Errorf("the Maildir export on the drive was replaced")
	}

	code, out, errOut = mailhaul(t, "copy", "--overwrite", mbox, drive)
	if code != exitOK || !strings.Contains(out, "replaced a different archive") {
		t.Errorf("copy --overwrite: exit %d, want 0 and a note\n%s%s", code, out, errOut)
	}
	if got, _ := format.ReadChecksumFile(filepath.Join(drive, "bob@example.net.tgz")); got != sumMbox {
		t.Errorf("after copy --overwrite the drive holds %s, want the mbox export %s", got, sumMbox)
	}
}

// A user name starting with "." no longer makes a hidden archive, and
// verify DIR checks a hidden archive (one an older version made) rather
// than passing over it and reporting success (issue 9, item 9).
func TestHiddenArchivesAreNotSkipped(t *testing.T) {
	out := t.TempDir()
	mustRun(t, "export", "maildir", "--user", ".bob@x", "--src", sample+"/alice-maildir", "--out", out)
	if _, err := os.Stat(filepath.Join(out, "_.bob@x.tgz")); err != nil {
		t.Fatalf("export for .bob@x: %v; want _.bob@x.tgz", err)
	}
	// As an older version named it; its .sha256 line names the file.
	sum, _ := format.ReadChecksumFile(filepath.Join(out, "_.bob@x.tgz"))
	os.Rename(filepath.Join(out, "_.bob@x.tgz"), filepath.Join(out, ".bob@x.tgz"))
	os.Remove(filepath.Join(out, "_.bob@x.tgz"+format.ChecksumSuffix))
	format.WriteChecksumFile(filepath.Join(out, ".bob@x.tgz"), sum)
	mustRun(t, "export", "maildir", "--user", "alice@x", "--src", sample+"/alice-maildir", "--out", out)

	code, stdout, _ := mailhaul(t, "verify", out)
	if code != exitOK || !strings.Contains(stdout, ".bob@x.tgz") || !strings.Contains(stdout, "alice@x.tgz") {
		t.Errorf("verify: exit %d, want 0 naming both archives:\n%s", code, stdout)
	}
	// A damaged hidden archive fails verify.
	f, _ := os.OpenFile(filepath.Join(out, ".bob@x.tgz"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("junk"))
	f.Close()
	if code, stdout, _ := mailhaul(t, "verify", out); code != exitFailed || !strings.Contains(stdout, "FAIL  "+filepath.Join(out, ".bob@x.tgz")) {
		t.Errorf("verify with a damaged hidden archive: exit %d, want %d naming it:\n%s", code, exitFailed, stdout)
	}
}

// Item 13: file names reach the terminal escaped in verify and in the
// transfer commands too: an archive named with ESC must not colour, move
// the cursor or forge a line.
func TestVerifyAndCopyEscapeFileNames(t *testing.T) {
	out := t.TempDir()
	mustRun(t, "export", "maildir", "--user", "alice@x", "--src", sample+"/alice-maildir", "--out", out)
	evil := filepath.Join(out, "al\x1b[31mice\r.tgz")
	sum, _ := format.ReadChecksumFile(filepath.Join(out, "alice@x.tgz"))
	os.Rename(filepath.Join(out, "alice@x.tgz"), evil)
	os.Remove(filepath.Join(out, "alice@x.tgz"+format.ChecksumSuffix))
	format.WriteChecksumFile(evil, sum)
	check := func(what, text string) {
		t.Helper()
		if strings.ContainsAny(text, "\x1b\r") || !strings.Contains(text, `al\x1b[31mice\r.tgz`) {
			t.Errorf("%s: %q; want the name shown escaped, no raw control characters", what, text)
		}
	}
	code, stdout, stderr := mailhaul(t, "verify", out)
	check("verify OK", stdout+stderr)
	if code != exitOK {
		t.Errorf("verify: exit %d", code)
	}
	code, stdout, stderr = mailhaul(t, "-q", "copy", out, filepath.Join(t.TempDir(), "drive"))
	check("copy", stdout+stderr)
	if code != exitOK {
		t.Errorf("copy: exit %d", code)
	}
	f, _ := os.OpenFile(evil, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("junk"))
	f.Close()
	_, stdout, stderr = mailhaul(t, "verify", out)
	check("verify FAIL", stdout+stderr)
}
