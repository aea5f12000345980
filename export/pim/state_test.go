package pim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
)

func card(uid, rev, fn string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nREV:" + rev + "\r\nFN:" + fn + "\r\nEND:VCARD\r\n"
}

func event(uid, stamp, summary string) string {
	return "BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:" + stamp + "\r\nDTSTART:20300101T100000Z\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\n"
}

func calendar(events ...string) string {
	s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
	for _, e := range events {
		s += e
	}
	return s + "END:VCALENDAR\r\n"
}

// A delta's state record gives every contact and event its UID and the
// digest of its data: an edited one (in the delta with its new data)
// differs from the full export's item, an unchanged one equals it, a
// deleted one is missing.
func TestDeltaStateEditDelete(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	vcf, ics := filepath.Join(dir, "Personal.vcf"), filepath.Join(dir, "Calendar.ics")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := "20200101T000000Z"
	write(vcf, card("c1", old, "Bob")+card("c2", old, "Carol")+card("c3", old, "Dan"))
	write(ics, calendar(event("e1", old, "Lunch"), event("e2", old, "Dinner")))
	src := export.Composite{Contacts{Path: vcf}, Calendar{Path: ics}}
	full := exporttest.Export(t, "pim", vcf, src, out, "")
	fullItems, _ := exporttest.ReadArchive(t, full)

	// c2 and e2 edited (with a new REV or DTSTAMP), c3 deleted.
	write(vcf, card("c1", old, "Bob")+card("c2", "21000101T000000Z", "Carol Smith"))
	write(ics, calendar(event("e1", old, "Lunch"), event("e2", "21000101T000000Z", "Dinner at 8")))
	delta := exporttest.Export(t, "pim", vcf, src, t.TempDir(), full)
	items, state := exporttest.ReadArchive(t, delta)
	if len(items) != 2 {
		t.Errorf("delta holds %d items, want the two edited ones", len(items))
	}
	if len(state) != 4 {
		t.Errorf("state has %d lines, want 4: %v", len(state), state)
	}
	for id, it := range fullItems {
		s, ok := state[id]
		switch it.UID {
		case "c3":
			if ok {
				t.Errorf("deleted contact in the state: %+v", s)
			}
		case "c2", "e2":
			if !ok || s.UID != it.UID || s.SHA256 == it.SHA256 || s.SHA256 != items[id].SHA256 || s.Size != items[id].Size {
				t.Errorf("edited %s: state %+v, full %s, delta %+v", it.UID, s, it.SHA256, items[id])
			}
		default:
			if !ok || s.UID != it.UID || s.SHA256 != it.SHA256 || s.Folder != it.Folder || s.Kind != it.Kind {
				t.Errorf("unchanged %s: state %+v, full item %+v", it.UID, s, it)
			}
		}
	}
}
