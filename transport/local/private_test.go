package local

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

// modeOnBytes records the mode of a file when the first bytes of a
// transfer have crossed: the partial file, while it is being written.
type modeOnBytes struct {
	path string
	once sync.Once
	mode fs.FileMode
	err  error
}

func (m *modeOnBytes) Start(transport.Job, int64, int64) {}
func (m *modeOnBytes) Bytes(transport.Job, int64) {
	m.once.Do(func() {
		fi, err := os.Stat(m.path)
		if err != nil {
			m.err = err
			return
		}
		m.mode = fi.Mode().Perm()
	})
}
func (m *modeOnBytes) Retry(transport.Job, int, error, time.Duration) {}
func (m *modeOnBytes) Done(transport.FileResult)                      {}

func wantMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %#o, want %#o", p, got, want)
	}
}

// Archives hold private mail: the partial file while it is written, the
// archive it becomes, and every directory the copy creates are the
// owner's alone, whatever the source's mode and the umask (0022 here).
// A partial file an older version left readable is tightened on resume.
func TestCopyKeepsArchivesPrivate(t *testing.T) {
	src := t.TempDir()
	data := transporttest.WriteArchive(t, src, "a.tgz", 3<<20) // written 0644
	top := t.TempDir()
	dst := filepath.Join(top, "drive", "archives")

	obs := &modeOnBytes{path: filepath.Join(dst, "a.tgz"+transport.PartialSuffix)}
	rep := copyAll(t, src, dst, transport.Options{Observer: obs})
	if rep.Sent != 1 {
		t.Fatalf("copy: %+v", rep.Results)
	}
	if obs.err != nil || obs.mode != 0o600 {
		t.Errorf("partial file while written: mode %#o (%v), want 0600", obs.mode, obs.err)
	}
	wantMode(t, filepath.Join(dst, "a.tgz"), 0o600)
	wantMode(t, dst, 0o700)
	wantMode(t, filepath.Join(top, "drive"), 0o700)

	// Resumed from a partial file that was created 0644.
	dst2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst2, "a.tgz"+transport.PartialSuffix), data[:2<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	obs = &modeOnBytes{path: filepath.Join(dst2, "a.tgz"+transport.PartialSuffix)}
	rep = copyAll(t, src, dst2, transport.Options{Observer: obs, SegmentSize: 1 << 20})
	if rep.Sent != 1 || rep.Results[0].ResumedFrom != 2<<20 {
		t.Fatalf("resumed copy: %+v", rep.Results)
	}
	if obs.err != nil || obs.mode != 0o600 {
		t.Errorf("resumed partial file while written: mode %#o (%v), want 0600", obs.mode, obs.err)
	}
	wantMode(t, filepath.Join(dst2, "a.tgz"), 0o600)
}
