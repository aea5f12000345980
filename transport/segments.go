package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/mailhaul/mailhaul/internal/ctxio"
)

// HashReader returns the hex SHA-256 of everything r yields.
func HashReader(ctx context.Context, r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxio.NewReader(ctx, r), make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HashSegments returns the SHA-256 of each of the first n segments of size
// seg that r yields.
func HashSegments(ctx context.Context, r io.Reader, seg int64, n int) ([][32]byte, error) {
	sums := make([][32]byte, 0, n)
	buf := make([]byte, 1<<20)
	for range n {
		h := sha256.New()
		got, err := io.CopyBuffer(h, io.LimitReader(ctxio.NewReader(ctx, r), seg), buf)
		if err != nil {
			return nil, err
		}
		if got < seg {
			return nil, fmt.Errorf("transport: segment %d: %w after %d bytes", len(sums), io.ErrUnexpectedEOF, got)
		}
		var s [32]byte
		h.Sum(s[:0])
		sums = append(sums, s)
	}
	return sums, nil
}

// SegmentWriter hashes what is written to it in segments of size Seg,
// keeping the first N; for places that can only read a file by having it
// pushed to them (pkg/sftp's WriteTo).
type SegmentWriter struct {
	Seg  int64
	N    int
	Sums [][32]byte
	cur  hashState
}

type hashState struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (s *SegmentWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 && len(s.Sums) < s.N {
		if s.cur.h == nil {
			s.cur = hashState{h: sha256.New()}
		}
		k := int(min(int64(len(p)), s.Seg-s.cur.n))
		s.cur.h.Write(p[:k])
		s.cur.n += int64(k)
		p = p[k:]
		if s.cur.n == s.Seg {
			var sum [32]byte
			s.cur.h.Sum(sum[:0])
			s.Sums = append(s.Sums, sum)
			s.cur = hashState{}
		}
	}
	if len(s.Sums) >= s.N && len(p) > 0 {
		return total, errSegmentsDone
	}
	return total, nil
}

// errSegmentsDone stops a push-style read once the wanted segments are in.
var errSegmentsDone = fmt.Errorf("transport: segments complete")

// IsSegmentsDone reports whether err is SegmentWriter's "enough" signal.
func IsSegmentsDone(err error) bool { return err == errSegmentsDone }
