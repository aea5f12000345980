package format

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ScanSummary returns the summary of the archive at path, reading only
// tar headers and skipping every item's data unchecked: quick totals for
// a progress display, not a verification (the archive still has to be
// read with a Reader, which checks everything).
func ScanSummary(ctx context.Context, path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	defer f.Close()
	zr, _, _, err := decompressor(ctxReader{ctx, f})
	if err != nil {
		return nil, &Error{Archive: path, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, &Error{Archive: path, Err: ErrIncomplete}
		}
		if err != nil {
			return nil, &Error{Archive: path, Err: fmt.Errorf("%w: %w", ErrStructure, err)}
		}
		if hdr.Name != summaryName {
			continue
		}
		if hdr.Size > 64<<20 {
			return nil, &Error{Archive: path, Entry: hdr.Name, Err: ErrTooLarge}
		}
		var s Summary
		if err := json.NewDecoder(io.LimitReader(tr, hdr.Size)).Decode(&s); err != nil {
			return nil, &Error{Archive: path, Entry: hdr.Name, Err: fmt.Errorf("%w: %w", ErrStructure, err)}
		}
		return &s, nil
	}
}

// ctxReader stops reading when its context ends, so that a scan nobody
// waits for any more does not run on.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
