package pim

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addCorpusSeeds adds every corpus file under dir as a fuzz seed.
func addCorpusSeeds(f *testing.F, dir string) {
	filepath.WalkDir(filepath.Join(corpus, dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
		return nil
	})
}

// FuzzSplitVCards checks that cards are exact, ordered, non-overlapping
// slices of the input starting at a line start, and that no line reading
// BEGIN:VCARD is left outside them.
func FuzzSplitVCards(f *testing.F) {
	addCorpusSeeds(f, "vcard")
	f.Add([]byte("BEGIN:VCARD\nAGENT:BEGIN:VCARD\nEND:VCARD\nEND:VCARD\nBEGIN:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var next int64
		outside := &bytes.Buffer{}
		err := SplitVCards(context.Background(), bytes.NewReader(in), func(c VCard) error {
			end := c.Offset + int64(len(c.Raw))
			if c.Offset < next || end > int64(len(in)) || !bytes.Equal(in[c.Offset:end], c.Raw) {
				t.Fatalf("card %d at %d is not the input's bytes there", c.Index, c.Offset)
			}
			if c.Offset > 0 && in[c.Offset-1] != '\n' && !bytes.Equal(in[:c.Offset], bom) {
				t.Fatalf("card %d starts mid-line at %d", c.Index, c.Offset)
			}
			if !isBeginVCard(firstLine(c.Raw)) {
				t.Fatalf("card %d starts with %q", c.Index, firstLine(c.Raw))
			}
			outside.Write(in[next:c.Offset])
			next = end
			return nil
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		outside.Write(in[next:])
		for _, l := range bytes.Split(outside.Bytes(), []byte("\n")) {
			if isBeginVCard(l) && len(in) < MaxObjectSize {
				t.Fatalf("a BEGIN:VCARD line was left outside every card")
			}
		}
	})
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// FuzzIndexCalendar checks that every event, task and journal component
// lands in exactly one object, that objects are well framed and their
// Size is their length, and that go-ical's panics are contained.
func FuzzIndexCalendar(f *testing.F) {
	addCorpusSeeds(f, "ical")
	f.Add([]byte(lfCalendar))
	f.Add([]byte("BEGIN:VEVENT\nDTSTART;TZID=\"a\nBEGIN:VCALENDAR\nEND:VEVENT\nEND:VCALENDAR"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ix, err := IndexCalendar(context.Background(), bytes.NewReader(in), int64(len(in)), nil)
		if err != nil {
			t.Fatal(err)
		}
		placed := map[int32]int{}
		for _, g := range ix.groups {
			for _, c := range g.comps {
				placed[c]++
			}
		}
		for i, c := range ix.comps {
			want := 1
			if c.name == "VTIMEZONE" {
				want = 0
			}
			if placed[int32(i)] != want {
				t.Fatalf("%s at line %d is in %d objects, want %d", c.name, c.line, placed[int32(i)], want)
			}
		}
		err = ix.Objects(context.Background(), "c", func(o *CalendarObject) error {
			b, err := io.ReadAll(o.Open())
			if err != nil {
				return err
			}
			if int64(len(b)) != o.Size || o.UID == "" {
				t.Fatalf("object %d: %d bytes, Size %d, UID %q", o.Index, len(b), o.Size, o.UID)
			}
			if !strings.HasPrefix(strings.ToUpper(string(b)), "BEGIN:VCALENDAR") {
				t.Fatalf("object %d starts %q", o.Index, firstLine(b))
			}
			if !bytes.HasSuffix(b, []byte("END:VCALENDAR"+o.eol)) {
				t.Fatalf("object %d ends %q", o.Index, b[max(0, len(b)-20):])
			}
			validateCalendar(o) // must not panic
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
