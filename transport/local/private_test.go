package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// Archives hold private mail: the partial file while it is written, the
// archive it becomes, and every directory the copy creates are the
// owner's alone, whatever the source's mode and the umask (0022 here).
// A partial file an older version left readable is tightened on resume.
func TestCopyKeepsArchivesPrivate(t *testing.T) {
	src := t.TempDir()
	data := transporttest.WriteArchive(t, src, "a.tgz", 3<<20) // written 0644
	top := t.TempDir()
	dst := filepath.Join(top, "drive", "archives")

	obs := &transporttest.ModeOnBytes{Path: filepath.Join(dst, "a.tgz"+transport.PartialSuffix)}
	rep := copyAll(t, src, dst, transport.Options{Progress: obs.Progress})
	if rep.Sent != 1 {
		t.Fatalf("copy: %+v", rep.Results)
	}
	obs.WantPrivate(t, "copy")
	transporttest.WantMode(t, filepath.Join(dst, "a.tgz"), 0o600)
	transporttest.WantMode(t, dst, 0o700)
	transporttest.WantMode(t, filepath.Join(top, "drive"), 0o700)

	// Resumed from a partial file that was created 0644.
	dst2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst2, "a.tgz"+transport.PartialSuffix), data[:2<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	obs = &transporttest.ModeOnBytes{Path: filepath.Join(dst2, "a.tgz"+transport.PartialSuffix)}
	rep = copyAll(t, src, dst2, transport.Options{Progress: obs.Progress, SegmentSize: 1 << 20})
	if rep.Sent != 1 || rep.Results[0].ResumedFrom != 2<<20 {
		t.Fatalf("resumed copy: %+v", rep.Results)
	}
	obs.WantPrivate(t, "resumed copy")
	transporttest.WantMode(t, filepath.Join(dst2, "a.tgz"), 0o600)
}
