package report

import (
	"errors"
	"testing"

	"github.com/mailhaul/mailhaul/format"
)

// Review of issue 9: warnings past the summary's bounded lists counted in
// Truncated made an export with nothing failed exit 3. Only items not
// exported make it partial.
func TestTruncatedWarningsAreNotPartial(t *testing.T) {
	m := format.Manifest{User: "bob@x"}
	if r := NewExport(m, "a.tgz", format.Summary{Truncated: 200_000}, 0); r.Status != "ok" || r.Failed != 0 {
		t.Errorf("warnings only: status %q, failed %d; want ok, 0", r.Status, r.Failed)
	}
	if r := NewExport(m, "a.tgz", format.Summary{Truncated: 7}, 7); r.Status != "partial" || r.Failed != 7 {
		t.Errorf("7 errors past the list: status %q, failed %d; want partial, 7", r.Status, r.Failed)
	}
}

func TestExportStop(t *testing.T) {
	r := StartExport("bob@x", format.Source{Kind: "mbox"})
	r.Stop("export", errors.New("boom"), true)
	if r.Status != "cancelled" || r.Stage != "export" || r.Error != "boom" || r.Finished.Before(r.Started) || r.Errors == nil {
		t.Errorf("stopped report %+v; want cancelled at export, the error, a finish time and an empty error list", r)
	}
}
