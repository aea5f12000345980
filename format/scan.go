package format

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/mailhaul/mailhaul/internal/ctxio"
	"github.com/mailhaul/mailhaul/internal/safetar"
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
	sr, err := safetar.NewReader(ctxio.NewReader(ctx, f), &safetar.Options{Name: path}) // a scan nobody waits for stops
	if err != nil {
		return nil, tarError(err, "")
	}
	defer sr.Close()
	for {
		hdr, err := sr.Next()
		if err == io.EOF {
			return nil, &Error{Archive: path, Err: ErrIncomplete}
		}
		if err != nil {
			return nil, tarError(err, "")
		}
		if hdr.Name != summaryName {
			continue
		}
		if hdr.Size > 64<<20 {
			return nil, &Error{Archive: path, Entry: hdr.Name, Err: ErrTooLarge}
		}
		var s Summary
		if err := json.NewDecoder(io.LimitReader(sr, hdr.Size)).Decode(&s); err != nil {
			if fe := tarError(err, ""); fe != nil {
				return nil, fe
			}
			return nil, &Error{Archive: path, Entry: hdr.Name, Err: fmt.Errorf("%w: %w", ErrStructure, err)}
		}
		return &s, nil
	}
}
