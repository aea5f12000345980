package tgz

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/safetar"
)

// FuzzReader feeds the reader damaged exports: it must neither panic nor
// loop, every item error is either one item's damage (and reading goes
// on) or the end of the archive, and a body ends in io.EOF or an error.
func FuzzReader(f *testing.F) {
	short := msg(1, "short")
	short.Short = 2
	lost := msg(2, "lost")
	lost.NoData = true
	f.Add(zimbratest.Build(f, zimbratest.Options{}, append(zimbratest.SystemFolders(), short, lost, msg(3, "x"))...))
	f.Add(zimbratest.Build(f, zimbratest.Options{NoMeta: true}, msg(4, "y")))
	f.Add(zimbratest.Build(f, zimbratest.Options{Style: zimbratest.ZCS5}, zimbratest.SystemFolders()[:2]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz", &safetar.Options{MaxTotal: 64 << 20})
		if err != nil {
			return
		}
		defer r.Close()
		for range 10000 {
			it, err := r.Next()
			if err == io.EOF {
				return
			}
			if errors.Is(err, ErrDamaged) {
				continue
			}
			if err != nil {
				if _, again := r.Next(); again == nil {
					t.Fatalf("Next after %v returned an item", err)
				}
				return
			}
			if it.Body != nil {
				if _, err := io.Copy(io.Discard, it.Body); err == nil {
					continue
				}
			}
		}
		t.Fatal("more than 10000 items")
	})
}
