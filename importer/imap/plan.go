package imap

import (
	"fmt"
	"io"
)

// Plan is what an import would do, from a dry run.
type Plan struct {
	Folders []*PlanFolder `json:"folders"`
}

// PlanFolder is one target mailbox in the plan.
type PlanFolder struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	Create   bool   `json:"create"`         // false: reuse an existing mailbox
	Messages int    `json:"messages"`       // to send
	Bytes    int64  `json:"bytes"`          // to send
	Present  int    `json:"present"`        // already on the target
	Note     string `json:"note,omitempty"` // why the name differs
}

func (im *importer) planCount(b *box, size int64, present bool) {
	if b.plan == nil {
		return
	}
	if present {
		b.plan.Present++
		return
	}
	b.plan.Messages++
	b.plan.Bytes += size
}

// Print writes the plan as a table.
func (p *Plan) Print(w io.Writer) {
	for _, f := range p.Folders {
		action := "reuse "
		if f.Create {
			action = "create"
		}
		fmt.Fprintf(w, "%s %-30q <- %-30q %6d messages %10d bytes to send, %6d already there\n",
			action, f.Target, f.Source, f.Messages, f.Bytes, f.Present)
		if f.Note != "" {
			fmt.Fprintf(w, "       %s\n", f.Note)
		}
	}
}
