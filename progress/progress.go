// Package progress is the one progress event every stage reports: export,
// transfer, import and restore all call a Func with an Event, and the
// command turns events into bars, log lines or JSON.
package progress

// Event is a running total of one user's stage. Totals are what the stage
// knows it has to do (0 while not yet known, e.g. before an archive's
// manifest is read); Items and Bytes only grow.
type Event struct {
	Stage  string // "export", "transfer", "import", "restore"
	User   string // the mailbox owner, when the stage knows one
	Folder string // the folder, collection or file being worked on now

	Items, ItemsTotal int64
	Bytes, BytesTotal int64
}

// Func receives events. It is called from the stage's workers, so it must
// be quick and safe for concurrent use.
type Func func(Event)

// Report calls f with e when f is set; stages call it instead of checking
// for nil themselves.
func (f Func) Report(e Event) {
	if f != nil {
		f(e)
	}
}
