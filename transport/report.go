package transport

import "time"

// File statuses in a Report.
const (
	StatusSent    = "sent"    // moved and verified
	StatusSkipped = "skipped" // already at the destination with the same checksum (checked)
	StatusFailed  = "failed"
)

// Report is what one run did, written as JSON by the CLI.
type Report struct {
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
	Bytes        int64        `json:"bytes"`
	BytesSent    int64        `json:"bytesSent"`
	BytesResumed int64        `json:"bytesResumed"`
	Results      []FileResult `json:"results"`
}

// FileResult is one archive's outcome.
type FileResult struct {
	Job
	Status string `json:"status"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Sent is the bytes sent this run; ResumedFrom the verified boundary a
	// partial transfer continued from (0: started from the beginning).
	Sent        int64   `json:"sent"`
	ResumedFrom int64   `json:"resumedFrom,omitempty"`
	Attempts    int     `json:"attempts"`
	Seconds     float64 `json:"seconds"`
	// Note says something the user should know about a success, such as
	// a corrupt copy at the destination that was replaced.
	Note   string `json:"note,omitempty"`
	Reason string `json:"reason,omitempty"` // short cause of a failure
	Error  string `json:"error,omitempty"`  // full message of a failure

	// replaces: what is at the destination was checked and may be replaced.
	replaces bool
}

// OK reports whether every file arrived (sent or skipped).
func (r *Report) OK() bool { return r.Failed == 0 }

func (r *Report) add(fr FileResult) {
	r.Results = append(r.Results, fr)
	r.Files++
	r.Bytes += fr.Size
	r.BytesSent += fr.Sent
	r.BytesResumed += fr.ResumedFrom
	if fr.ResumedFrom > 0 {
		r.Resumed++
	}
	switch fr.Status {
	case StatusSent:
		r.Sent++
	case StatusSkipped:
		r.Skipped++
	default:
		r.Failed++
	}
}
