package zimbra

import (
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
)

// A -race -count=3 run once timed out with some sixty compressors of
// ended tests still waiting for blocks: every archive an export opens
// must be finished or thrown away, the tests' own included.
func TestExportLeavesNoCompressorRunning(t *testing.T) {
	before := exporttest.Compressors()
	for i := range 3 {
		run(t, export.Options{}, write(t, t.TempDir(), "l.tgz", zimbratest.Options{}, msg(300+i, "/Inbox", 2, "leak")))
	}
	exporttest.NoCompressorLeft(t, before)
}
