package mbox

import (
	"testing"

	"github.com/mailhaul/mailhaul/export"

	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

func FuzzSplitLabels(f *testing.F) {
	f.Add(`Inbox,"Work, ""Projects""",My/Label,Opened,Category Social`)
	f.Fuzz(func(t *testing.T, v string) {
		var raw mbox.Flags
		for _, l := range mbox.SplitLabels(v) {
			if l == "" {
				t.Fatalf("splitLabels(%q) returned an empty label", v)
			}
		}
		folder, _ := mbox.RouteGmail(mbox.SplitLabels(v), &raw)
		flags := itemFlags(raw)
		if folder == "" {
			t.Fatalf("routeGmail(%q) chose no folder", v)
		}
		for _, k := range flags.list {
			if k[0] != '\\' && k != export.KeywordAtom(k) {
				t.Fatalf("flag %q is not an atom", k)
			}
		}
	})
}
