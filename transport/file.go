package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// transfer makes one attempt at moving j. It fills fr as it learns.
func (w *worker) transfer(ctx context.Context, j Job, fr *report.TransferFile) error {
	src, dst := w.sconn, w.dconn
	w.replaces = false // what was there is checked again each attempt
	// The size first: it says when the source is not a file at all.
	size, err := src.Size(ctx, j.Src)
	if err != nil {
		return err
	}
	sum, err := src.ReadChecksum(ctx, j.Src)
	if err != nil {
		if errors.Is(err, ErrConnLost) {
			return err
		}
		return retry.MarkPermanent(fmt.Errorf("transport: %s: %w: %w", j.Src, ErrNoChecksum, err))
	}
	fr.Size, fr.SHA256 = size, sum

	done, err := w.alreadyThere(ctx, j, size, sum, fr)
	if done || err != nil {
		return err
	}

	partial := j.Dst + PartialSuffix
	same, err := w.segmentsThere(ctx, j.Src, partial, size)
	if err != nil {
		return err
	}
	seg := w.opt.SegmentSize
	off := int64(prefix(same)) * seg
	kept := off
	var todo []span
	if w.chunked(size) {
		// Chunks leave holes when cut short: keep every segment that
		// matches, wherever it lies.
		todo, kept = gaps(same, seg, size)
	}
	if free, ok := dst.FreeSpace(ctx, parentDir(j.Dst)); ok && free < size-kept {
		return retry.MarkPermanent(fmt.Errorf("transport: %s: %w: %d bytes to write, %d free", j.Dst, ErrNoSpace, size-kept, free))
	}
	fr.ResumedFrom = kept
	t := w.tally(j, size, kept)
	var wr Writer
	if w.chunked(size) {
		wr, err = w.copyChunks(ctx, j, partial, int64(len(same))*seg, todo, fr, t)
	} else {
		wr, err = w.copyBytes(ctx, j, partial, off, size, fr, t)
	}
	if err != nil {
		return err
	}

	// The check reads the bytes that were stored, not the bytes that were
	// sent: what counts is what the far side will read later. Every write
	// has been acknowledged, so the hash can run while closing syncs the
	// file to the far side's disk; both must succeed.
	closed := make(chan error, 1)
	go func() { closed <- wr.Close() }()
	got, err := dst.Sum(ctx, partial)
	if cerr := <-closed; cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	if got != sum {
		return w.mismatch(ctx, j, partial, got, sum)
	}
	// An archive that appeared meanwhile (another run) was not checked.
	if !w.replaces {
		if _, err := dst.Size(ctx, j.Dst); err == nil {
			return retry.MarkPermanent(fmt.Errorf("transport: %s: %w (it appeared during the transfer); it was not replaced", j.Dst, ErrExists))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := dst.Rename(ctx, partial, j.Dst); err != nil {
		return err
	}
	if err := dst.WriteChecksum(ctx, j.Dst, sum); err != nil {
		return err
	}
	fr.Status = report.TransferSent
	return nil
}

// alreadyThere checks an archive of the same name at the destination,
// hashing its stored bytes there (its .sha256 is not taken on trust):
//   - the same bytes: nothing to send;
//   - a damaged copy of this archive (its own .sha256 says this archive's
//     SHA-256, its bytes do not): replaced, and the report says so;
//   - anything else is a different archive, such as another export of the
//     same user: refused with ErrExists unless Options.Overwrite, because
//     replacing it could destroy the only copy of someone's mail.
func (w *worker) alreadyThere(ctx context.Context, j Job, size int64, sum string, fr *report.TransferFile) (bool, error) {
	dst := w.dconn
	dsize, err := dst.Size(ctx, j.Dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	got, err := dst.Sum(ctx, j.Dst)
	if err != nil {
		return false, err
	}
	if got == sum {
		if have, err := dst.ReadChecksum(ctx, j.Dst); err != nil || have != sum {
			if err := dst.WriteChecksum(ctx, j.Dst, sum); err != nil {
				return false, err
			}
		}
		fr.Status = report.TransferSkipped
		return true, nil
	}
	have, err := dst.ReadChecksum(ctx, j.Dst)
	if errors.Is(err, ErrConnLost) {
		return false, err
	}
	switch {
	case err == nil && have == sum:
		fr.Note = fmt.Sprintf("replaced a corrupt copy at the destination (SHA-256 %s, expected %s)", got, sum)
	case w.opt.Overwrite:
		fr.Note = fmt.Sprintf("replaced a different archive of the same name, as asked (%d bytes, SHA-256 %s)", dsize, got)
	default:
		return false, retry.MarkPermanent(fmt.Errorf("transport: %s: %w (SHA-256 %s there, %s in %s); it was not replaced", j.Dst, ErrExists, got, sum, j.Src))
	}
	w.replaces = true
	return false, nil
}

// segmentsThere compares the whole segments of an earlier attempt's
// partial file (within size) with the source's, by SHA-256: an attempt
// continues after the last that matches from the start, or, in chunks,
// keeps every one that matches. Concurrent writes can leave holes, and a
// crash can leave a torn tail, so the partial file's size alone proves
// nothing.
func (w *worker) segmentsThere(ctx context.Context, src, partial string, size int64) ([]bool, error) {
	have, err := w.dconn.Size(ctx, partial)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	seg := w.opt.SegmentSize
	n := int(min(have, size) / seg)
	if n == 0 {
		return nil, nil
	}
	a, err := w.sconn.SegmentSums(ctx, src, seg, n)
	if err != nil {
		return nil, err
	}
	b, err := w.dconn.SegmentSums(ctx, partial, seg, n)
	if err != nil {
		return nil, err
	}
	same := make([]bool, n)
	for k := range same {
		same[k] = k < len(a) && k < len(b) && a[k] == b[k]
	}
	return same, nil
}

// prefix is how many segments match from the start.
func prefix(same []bool) int {
	k := 0
	for k < len(same) && same[k] {
		k++
	}
	return k
}

// span is a byte range still to send.
type span struct{ from, to int64 }

// gaps lists what is missing from a partial file whose segments of seg
// match as same says, up to size, and how many bytes it keeps.
func gaps(same []bool, seg, size int64) (todo []span, kept int64) {
	add := func(from, to int64) {
		if n := len(todo); n > 0 && todo[n-1].to == from {
			todo[n-1].to = to
			return
		}
		todo = append(todo, span{from, to})
	}
	for i, ok := range same {
		if ok {
			kept += seg
		} else {
			add(int64(i)*seg, int64(i+1)*seg)
		}
	}
	if end := int64(len(same)) * seg; end < size {
		add(end, size)
	}
	return todo, kept
}

// copyBytes sends src[off:] into the partial file at off and returns the
// file still open: closing it (a sync to disk) is left to the caller.
func (w *worker) copyBytes(ctx context.Context, j Job, partial string, off, size int64, fr *report.TransferFile, t *tally) (Writer, error) {
	r, err := w.sconn.OpenRead(ctx, j.Src, off)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	wr, err := w.dconn.OpenWrite(ctx, partial, off)
	if err != nil {
		return nil, err
	}
	m := &meter{ctx: ctx, limit: w.opt.Limit, onBytes: t.add}
	var n int64
	if s, ok := r.(Sender); ok {
		n, err = s.Send(meterWriter{wr, m})
	} else {
		n, err = wr.ReadFrom(meterReader{r, m})
	}
	fr.Sent += m.n
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err == nil && n != size-off {
		err = fmt.Errorf("transport: %s: copied %d bytes from offset %d, but it has %d: did it change during the transfer?", j.Src, n, off, size)
	}
	if err != nil {
		wr.Abort()
		return nil, err
	}
	return wr, nil
}

// mismatch explains a failed check and removes the bad partial file, so
// the next run starts clean. When the source itself no longer matches its
// .sha256, that is what the user must hear about.
func (w *worker) mismatch(ctx context.Context, j Job, partial, got, want string) error {
	w.dconn.Remove(ctx, partial)
	if srcSum, err := w.sconn.Sum(ctx, j.Src); err == nil && srcSum != want {
		return retry.MarkPermanent(fmt.Errorf("transport: %s: %w: its SHA-256 is %s, its .sha256 says %s", j.Src, ErrSourceCorrupt, srcSum, want))
	}
	return retry.MarkPermanent(fmt.Errorf("transport: %s: %w: the bytes stored there have SHA-256 %s, the .sha256 says %s", j.Dst, ErrVerify, got, want))
}

// parentDir is the directory part of a local or remote path.
func parentDir(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' || p[i] == '\\' {
			if i == 0 {
				return p[:1]
			}
			return p[:i]
		}
	}
	return "."
}
