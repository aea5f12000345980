package export

import (
	"io"

	"github.com/mailhaul/mailhaul/format"
)

// WithProgress wraps sink so that fn hears of every item that passes
// through it, with running totals. Sources stay unaware of progress: the
// bytes are counted as the sink reads them.
func WithProgress(sink Sink, fn func(Progress)) Sink {
	if fn == nil {
		return sink
	}
	return &progressSink{Sink: sink, fn: fn}
}

type progressSink struct {
	Sink
	fn   func(Progress)
	prog Progress
}

func (s *progressSink) AddItem(it format.Item, body io.Reader) error {
	cr := &countingReader{r: body}
	err := s.Sink.AddItem(it, cr)
	if err == nil {
		s.prog.Folder = it.Folder
		s.prog.Items++
		s.prog.Bytes += cr.n
		s.fn(s.prog)
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
