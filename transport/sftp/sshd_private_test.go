package sftp

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// Private mail stays private on the far side of a push: sftp-server
// creates files 0644 under its usual umask, so the partial file (checked
// while it is written), the archive and the directories push creates must
// be made the owner's alone. The server's directory is on this machine.
// A pull writes 0600 here, partial file included.
func TestSSHDTransfersKeepArchivesPrivate(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	src, top, back := t.TempDir(), t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{"alice.tgz": 3 << 20})
	remote := filepath.Join(top, "incoming", "site")
	ep := sshdEndpoint(t, s, remote, nil)

	obs := &transporttest.ModeOnBytes{Path: filepath.Join(remote, "alice.tgz"+transport.PartialSuffix)}
	rep := run(t, ctx, ep, true, src, remote, transport.Options{Progress: obs.Progress})
	if rep.Sent != 1 {
		t.Fatalf("push: %+v", rep.Results)
	}
	obs.WantPrivate(t, "push")
	transporttest.WantMode(t, filepath.Join(remote, "alice.tgz"), 0o600)
	transporttest.WantMode(t, remote, 0o700)
	transporttest.WantMode(t, filepath.Join(top, "incoming"), 0o700)

	// A partial file left 0644 on the server is tightened when resumed.
	remote2 := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(src, "alice.tgz"))
	os.WriteFile(filepath.Join(remote2, "alice.tgz"+transport.PartialSuffix), data[:2<<20], 0o644)
	obs = &transporttest.ModeOnBytes{Path: filepath.Join(remote2, "alice.tgz"+transport.PartialSuffix)}
	rep = run(t, ctx, ep, true, src, remote2, transport.Options{Progress: obs.Progress, SegmentSize: 1 << 20})
	if rep.Sent != 1 || rep.Results[0].ResumedFrom != 2<<20 {
		t.Fatalf("resumed push: %+v", rep.Results)
	}
	obs.WantPrivate(t, "resumed push")
	transporttest.WantMode(t, filepath.Join(remote2, "alice.tgz"), 0o600)

	obs = &transporttest.ModeOnBytes{Path: filepath.Join(back, "new", "alice.tgz"+transport.PartialSuffix)}
	rep = run(t, ctx, ep, false, remote, filepath.Join(back, "new"), transport.Options{Progress: obs.Progress})
	if rep.Sent != 1 {
		t.Fatalf("pull: %+v", rep.Results)
	}
	obs.WantPrivate(t, "pull")
	transporttest.WantMode(t, filepath.Join(back, "new", "alice.tgz"), 0o600)
	transporttest.WantMode(t, filepath.Join(back, "new"), 0o700)
}

// A different archive of the same name at the far end of a push, or
// here for a pull, is not replaced unless asked; the refusal names the
// archive and both checksums (issue 9, item 8). Asked, it is replaced and
// the report says so.
func TestSSHDRefusesToReplaceADifferentArchive(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	src, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{"bob.tgz": 1 << 20})
	ourSum, _ := format.ReadChecksumFile(filepath.Join(src, "bob.tgz"))
	other := t.TempDir()
	makeArchives(t, other, map[string]int{"bob.tgz": 300 << 10}) // another export of bob
	otherSum, _ := format.ReadChecksumFile(filepath.Join(other, "bob.tgz"))
	otherData, _ := os.ReadFile(filepath.Join(other, "bob.tgz"))
	for _, dir := range []string{remote, back} {
		for _, f := range []string{"bob.tgz", "bob.tgz" + format.ChecksumSuffix} {
			b, _ := os.ReadFile(filepath.Join(other, f))
			os.WriteFile(filepath.Join(dir, f), b, 0o600)
		}
	}
	ep := sshdEndpoint(t, s, remote, nil)

	check := func(what string, rep *report.Transfer, dir string) {
		t.Helper()
		r := rep.Results[0]
		if r.Status != report.TransferFailed || r.Reason != transport.ErrExists.Error() {
			t.Errorf("%s over a different archive: %s, reason %q (%s); want failed, %q", what, r.Status, r.Reason, r.Error, transport.ErrExists)
		}
		for _, want := range []string{"bob.tgz", ourSum, otherSum} {
			if !strings.Contains(r.Error, want) {
				t.Errorf("%s: refusal %q does not name %s", what, r.Error, want)
			}
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "bob.tgz")); !bytes.Equal(got, otherData) {
			t.Errorf("%s: the archive that was there was changed", what)
		}
	}
	check("push", run(t, ctx, ep, true, src, remote, transport.Options{}), remote)

	// Pull bob.tgz from a server directory that holds our export.
	remote2 := t.TempDir()
	makeArchives(t, remote2, map[string]int{"bob.tgz": 1 << 20})
	ep2 := sshdEndpoint(t, s, remote2, nil)
	check("pull", run(t, ctx, ep2, false, remote2, back, transport.Options{}), back)

	rep := run(t, ctx, ep, true, src, remote, transport.Options{Overwrite: true})
	if r := rep.Results[0]; r.Status != report.TransferSent || !strings.Contains(r.Note, "replaced a different archive") || !strings.Contains(r.Note, otherSum) {
		t.Errorf("push with Overwrite: %s, note %q (%s); want sent, noting the archive it replaced", r.Status, r.Note, r.Error)
	}
	sameFiles(t, src, remote, "bob.tgz")
}

// A hidden archive is pushed and pulled like any other; a directory on
// the server named like an archive fails, named, rather than being passed
// over (issue 9, item 9).
func TestSSHDSkipsNoArchiveSilently(t *testing.T) {
	s := testservers.StartSSHD(t, testservers.SSHDOptions{})
	ctx := context.Background()
	src, remote, back := t.TempDir(), t.TempDir(), t.TempDir()
	makeArchives(t, src, map[string]int{".bob@x.tgz": 4000, "alice@x.tgz": 3000})
	ep := sshdEndpoint(t, s, remote, nil)
	if rep := run(t, ctx, ep, true, src, remote, transport.Options{}); rep.Files != 2 || rep.Sent != 2 {
		t.Fatalf("push: %d files, %d sent; want 2 and 2: %+v", rep.Files, rep.Sent, rep.Results)
	}
	sameFiles(t, src, remote, ".bob@x.tgz", "alice@x.tgz")
	os.Mkdir(filepath.Join(remote, "carol@x.tgz"), 0o700)
	rep := run(t, ctx, ep, false, remote, back, transport.Options{})
	if rep.Files != 3 || rep.Sent != 2 || rep.Failed != 1 {
		t.Fatalf("pull: %d files, %d sent, %d failed; want 3, 2, 1: %+v", rep.Files, rep.Sent, rep.Failed, rep.Results)
	}
	sameFiles(t, src, back, ".bob@x.tgz", "alice@x.tgz")
	for _, r := range rep.Results {
		if r.Name == "carol@x.tgz" && !strings.Contains(r.Error, "not a regular file") {
			t.Errorf("a directory named like an archive: %s (%s), want failed as not a regular file", r.Status, r.Error)
		}
	}
}
