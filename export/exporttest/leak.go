package exporttest

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Compressors counts the archive compressors' writer goroutines now
// running. Each holds its compression buffers until its archive is
// closed or aborted, so one left behind is a leak.
func Compressors() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "format.(*blockWriter).writeBlocks(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// NoCompressorLeft fails the test unless, within a few seconds, no more
// compressors run than before (a Compressors count taken at its start).
func NoCompressorLeft(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for Compressors() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := Compressors(); n > before {
		t.Errorf("%d archive compressors still running, %d before: an archive was neither closed nor aborted", n, before)
	}
}
