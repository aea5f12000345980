package export

import (
	"context"
	"errors"
	"io"

	"github.com/mailhaul/mailhaul/format"
)

// AddItem hands one item to sink, naming it item in any problem, and sorts
// out what an error means. When reading body fails (format.ErrItemBody)
// nothing of the item was written: the failure is recorded with AddError,
// naming the folder, the item and the read error, and AddItem returns nil
// so the source goes on with its next item. Any other error is the sink's,
// fatal to the export, and returned; so is a read that failed because ctx
// was cancelled.
func AddItem(sink Sink, it format.Item, item string, body io.Reader) error {
	rr := &readRecorder{r: body}
	err := sink.AddItem(it, rr)
	if err == nil || !errors.Is(err, format.ErrItemBody) || rr.err == nil ||
		errors.Is(rr.err, context.Canceled) || errors.Is(rr.err, context.DeadlineExceeded) {
		return err
	}
	sink.AddError(format.Problem{Folder: it.Folder, Item: item, Reason: "read: " + rr.err.Error()})
	return nil
}

// readRecorder remembers the first error its reader returned, to report
// the item's own cause rather than the sink's wrapping of it.
type readRecorder struct {
	r   io.Reader
	err error
}

func (r *readRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
