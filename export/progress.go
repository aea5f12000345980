package export

import (
	"io"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/progress"
)

// WithProgress wraps sink so that fn hears of every item that passes
// through it, as a progress.Event of stage "export" for user with running
// totals (ItemsTotal and BytesTotal stay 0: a source is read in one pass
// and knows no total). Sources stay unaware of progress: the bytes are
// counted as the sink reads them.
func WithProgress(sink Sink, user string, fn progress.Func) Sink {
	if fn == nil {
		return sink
	}
	return &progressSink{Sink: sink, fn: fn, ev: progress.Event{Stage: "export", User: user}}
}

type progressSink struct {
	Sink
	fn progress.Func
	ev progress.Event
}

func (s *progressSink) AddItem(it format.Item, body io.Reader) error {
	cr := &countingReader{r: body}
	err := s.Sink.AddItem(it, cr)
	if err == nil {
		s.ev.Folder = it.Folder
		s.ev.Items++
		s.ev.Bytes += cr.n
		s.fn.Report(s.ev)
	}
	return err
}

func (s *progressSink) AddState(st format.StateItem) error { return AddState(s.Sink, st) }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
