package report

import "time"

// Transfer is what one push, pull or copy did, written as JSON by the
// command line.
type Transfer struct {
	Event    string    `json:"event"` // "transfer"
	From     string    `json:"from"`
	To       string    `json:"to"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
	Files    int       `json:"files"`
	Sent     int       `json:"sent"`
	Skipped  int       `json:"skipped"`
	Resumed  int       `json:"resumed"` // files that continued a partial transfer
	Failed   int       `json:"failed"`
	// Bytes is the archives' total size; BytesSent what crossed the wire
	// this run (resumed bytes are not sent again); BytesResumed what an
	// earlier run had delivered and this run kept after checking it.
	Bytes        int64          `json:"bytes"`
	BytesSent    int64          `json:"bytesSent"`
	BytesResumed int64          `json:"bytesResumed"`
	Results      []TransferFile `json:"results"`
}

// A transferred archive's status.
const (
	TransferSent    = "sent"    // moved and verified
	TransferSkipped = "skipped" // already at the destination with the same checksum (checked)
	TransferFailed  = "failed"
)

// TransferFile is one archive's outcome.
type TransferFile struct {
	Name   string `json:"name"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	Status string `json:"status"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Sent is the bytes sent this run; ResumedFrom what an earlier run had
	// delivered and this one kept after checking it: the boundary it
	// continued from, or, for an archive sent in chunks, every segment
	// that matched wherever it lay (0: started from the beginning).
	Sent        int64   `json:"sent"`
	ResumedFrom int64   `json:"resumedFrom,omitempty"`
	Attempts    int     `json:"attempts"`
	Seconds     float64 `json:"seconds"`
	// Note says something the user should know about a success, such as
	// a corrupt copy at the destination that was replaced.
	Note   string `json:"note,omitempty"`
	Code   Code   `json:"code,omitempty"`   // stable cause of a failure (codes.go)
	Reason string `json:"reason,omitempty"` // short cause of a failure, in words
	Error  string `json:"error,omitempty"`  // full message of a failure
}

// OK reports whether every file arrived (sent or skipped).
func (r *Transfer) OK() bool { return r.Failed == 0 }

// Add counts one archive's outcome.
func (r *Transfer) Add(f TransferFile) {
	r.Results = append(r.Results, f)
	r.Files++
	r.Bytes += f.Size
	r.BytesSent += f.Sent
	r.BytesResumed += f.ResumedFrom
	if f.ResumedFrom > 0 {
		r.Resumed++
	}
	switch f.Status {
	case TransferSent:
		r.Sent++
	case TransferSkipped:
		r.Skipped++
	default:
		r.Failed++
	}
}
