package transporttest

import (
	"io/fs"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/transport"
)

// ModeOnBytes is a transport.Observer that records the mode of the file at
// Path when the first bytes of a transfer have crossed: the partial file,
// while it is being written.
type ModeOnBytes struct {
	Path string
	Mode fs.FileMode
	Err  error
	once sync.Once
}

func (m *ModeOnBytes) Start(transport.Job, int64, int64) {}
func (m *ModeOnBytes) Bytes(transport.Job, int64) {
	m.once.Do(func() {
		fi, err := os.Stat(m.Path)
		if err != nil {
			m.Err = err
			return
		}
		m.Mode = fi.Mode().Perm()
	})
}
func (m *ModeOnBytes) Retry(transport.Job, int, error, time.Duration) {}
func (m *ModeOnBytes) Done(transport.FileResult)                      {}

// WantMode fails the test unless the file or directory p has mode want.
func WantMode(t testing.TB, p string, want fs.FileMode) {
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
