package compare

import (
	"slices"
	"testing"
)

func msg(ref, id string, size int64, flags ...string) Message {
	return Message{Ref: ref, MessageID: id, Size: size, Flags: flags}
}

func TestMail(t *testing.T) {
	source := []Message{
		msg("s1", "<a>", 100, `\Seen`),
		msg("s2", "<b>", 200),
		msg("s3", "<b>", 200, `\Seen`), // two copies of b, one read
		msg("s4", "<c>", 300, `\Flagged`),
		msg("s5", "", 50), // no Message-ID: matched by size
		msg("s6", "<d>", 400),
	}
	target := []Message{
		msg("UID 1", "<a>", 100, `\seen`, `\Recent`), // same flags: case and \Recent do not count
		msg("UID 2", "<b>", 200, `\Seen`),
		msg("UID 3", "<b>", 200),
		msg("UID 4", "<c>", 300, `\Seen`), // flag difference
		msg("UID 5", "", 50),
		msg("UID 6", "", 50),              // a duplicate without Message-ID
		msg("UID 7", "<d>", 401),          // another size: not d
		msg("UID 8", "<mine>", 10),        // the user's own
		msg("UID 9", "<a>", 100, `\Seen`), // a duplicate of a
	}
	var f Folder
	Mail(&f, source, target)
	if f.SourceCount != 6 || f.TargetCount != 9 || f.SourceBytes != 1250 || f.TargetBytes != 1411 {
		t.Errorf("counts %d %d bytes %d %d", f.SourceCount, f.TargetCount, f.SourceBytes, f.TargetBytes)
	}
	refs := func(ds []Difference) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Ref)
		}
		return out
	}
	if got := refs(f.Missing); !slices.Equal(got, []string{"s6"}) {
		t.Errorf("missing %v; want s6", got)
	}
	if got := refs(f.Extra); !slices.Equal(got, []string{"UID 7", "UID 8"}) {
		t.Errorf("extra %v; want UID 7, UID 8", got)
	}
	if len(f.Duplicates) != 2 || f.Duplicates[0].MessageID != "<a>" || f.Duplicates[0].Copies != 1 || f.Duplicates[1].Size != 50 || f.Duplicates[1].Copies != 1 {
		t.Errorf("duplicates %+v; want one more a and one more 50-byte message", f.Duplicates)
	}
	if len(f.Flags) != 1 || f.Flags[0].Ref != "s4" || !slices.Equal(f.Flags[0].Source, []string{`\flagged`}) || !slices.Equal(f.Flags[0].Target, []string{`\seen`}) {
		t.Errorf("flags %+v; want s4: \\flagged against \\seen", f.Flags)
	}
	if !f.Differs() {
		t.Error("Differs is false")
	}
	r := Result{Folders: []Folder{f}}
	r.Finish()
	if r.Status != "differs" || r.Missing != 1 || r.Duplicates != 2 || r.Extra != 2 || r.FlagDiffs != 1 {
		t.Errorf("totals %+v", r)
	}
}

// TestMailExtraOnlyIsEqual: the user's own mail on the target is listed
// but is no difference mailhaul should have carried.
func TestMailExtraOnlyIsEqual(t *testing.T) {
	var f Folder
	Mail(&f, []Message{msg("s1", "<a>", 1)}, []Message{msg("UID 1", "<a>", 1), msg("UID 2", "<new>", 5)})
	r := Result{Folders: []Folder{f}}
	r.Finish()
	if r.Differs() || r.Status != "equal" || r.Extra != 1 {
		t.Errorf("%+v; want equal with one extra", r)
	}
}

// TestMailPairsEqualFlagsFirst: two copies of one key with different
// flags on both sides, in the opposite order, are no flag difference.
func TestMailPairsEqualFlagsFirst(t *testing.T) {
	var f Folder
	Mail(&f, []Message{msg("s1", "<a>", 1, `\Seen`), msg("s2", "<a>", 1)},
		[]Message{msg("UID 1", "<a>", 1), msg("UID 2", "<a>", 1, `\Seen`)})
	if f.Differs() {
		t.Errorf("%+v; want no difference", f)
	}
	// An empty target folder: everything missing.
	f = Folder{}
	Mail(&f, []Message{msg("s1", "<a>", 1), msg("s2", "<a>", 1)}, nil)
	if len(f.Missing) != 2 || f.TargetCount != 0 {
		t.Errorf("%+v; want both missing", f)
	}
}
