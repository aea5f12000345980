package mbox

import "os"

// CrashAfter makes runs stop, as a kill would, once n bytes of messages
// have been written, half way through a write; undo turns it off.
func CrashAfter(n int64) (undo func()) {
	var written int64
	testWrite = func(f *os.File, p []byte) (int, error) {
		if written+int64(len(p)) > n {
			k, _ := f.Write(p[:len(p)/2])
			return k, errCrash
		}
		written += int64(len(p))
		return f.Write(p)
	}
	return func() { testWrite = nil }
}
