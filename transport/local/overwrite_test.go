package local

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// A different archive of the same name at the destination (another
// export of the same user, e.g. from mbox instead of Maildir) is never
// replaced unless asked: the archive fails, naming the file and both
// checksums, and the archive that was there is untouched (issue 9,
// item 8). This holds whether or not it has a .sha256 of its own, and
// whatever its size.
func TestCopyRefusesToReplaceADifferentArchive(t *testing.T) {
	const size = 2<<20 + 3
	for _, tc := range []struct {
		name    string
		other   []byte
		withSum bool
	}{
		{"different size, with its .sha256", bytes.Repeat([]byte("other export "), 1000), true},
		{"same size, with its .sha256", bytes.Repeat([]byte{7}, size), true},
		{"same size, without .sha256", bytes.Repeat([]byte{7}, size), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), t.TempDir()
			transporttest.WriteArchive(t, src, "bob.tgz", size)
			there := filepath.Join(dst, "bob.tgz")
			os.WriteFile(there, tc.other, 0o600)
			otherSum := sha256.Sum256(tc.other)
			if tc.withSum {
				format.WriteChecksumFile(there, hex.EncodeToString(otherSum[:]))
			}
			ourSum, _ := format.ReadChecksumFile(filepath.Join(src, "bob.tgz"))

			rep := copyAll(t, src, dst, transport.Options{})
			r := rep.Results[0]
			if r.Status != report.TransferFailed || r.Reason != transport.ErrExists.Error() || rep.Failed != 1 {
				t.Fatalf("copy over a different archive: %s, reason %q (%s); want failed, %q", r.Status, r.Reason, r.Error, transport.ErrExists)
			}
			for _, want := range []string{there, hex.EncodeToString(otherSum[:]), ourSum} {
				if !strings.Contains(r.Error, want) {
					t.Errorf("refusal %q does not name %s", r.Error, want)
				}
			}
			if got := mustRead(t, there); !bytes.Equal(got, tc.other) {
				t.Errorf("the archive that was there was changed")
			}
			if _, err := os.Stat(there + transport.PartialSuffix); err == nil {
				t.Errorf("a partial file was written although nothing was to be replaced")
			}
		})
	}
}

// A hidden archive (an older mailhaul named the archive of a user ".bob"
// ".bob@x.tgz") is moved like any other, and an entry named like an
// archive that is not a file fails, named, instead of being passed over
// (issue 9, item 9).
func TestCopySkipsNoArchiveSilently(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	transporttest.WriteArchive(t, src, ".bob@x.tgz", 5000)
	transporttest.WriteArchive(t, src, "alice@x.tgz", 5000)
	os.Mkdir(filepath.Join(src, "carol@x.tgz"), 0o700)
	rep := copyAll(t, src, dst, transport.Options{})
	if rep.Files != 3 || rep.Sent != 2 || rep.Failed != 1 {
		t.Fatalf("copy: %d files, %d sent, %d failed; want 3, 2, 1: %+v", rep.Files, rep.Sent, rep.Failed, rep.Results)
	}
	if got, want := mustRead(t, filepath.Join(dst, ".bob@x.tgz")), mustRead(t, filepath.Join(src, ".bob@x.tgz")); !bytes.Equal(got, want) {
		t.Errorf("the hidden archive did not arrive intact")
	}
	for _, r := range rep.Results {
		if r.Name == "carol@x.tgz" && (r.Status != report.TransferFailed || !strings.Contains(r.Error, "not a regular file")) {
			t.Errorf("a directory named like an archive: %s (%s), want failed as not a regular file", r.Status, r.Error)
		}
	}
}
