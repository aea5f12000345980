package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
	"github.com/mailhaul/mailhaul/transport"
	"github.com/mailhaul/mailhaul/transport/local"
	"github.com/mailhaul/mailhaul/transport/transporttest"
)

func copyDir(t *testing.T, ctx context.Context, src, dst string, opt transport.Options) *report.Transfer {
	t.Helper()
	c := local.Conn{}
	jobs, err := transport.Plan(ctx, c, []string{src}, c, dst)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := transport.Run(ctx, local.Endpoint{}, local.Endpoint{}, jobs, opt)
	return rep
}

// cancelAt cancels the run once n bytes of an archive are at the
// destination.
func cancelAt(n int64, cancel func()) progress.Func {
	return func(e progress.Event) {
		if e.Bytes >= n {
			cancel()
		}
	}
}

func TestCopyResumeSkipReplace(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "drive")
	const size = 5<<20 + 123
	want := transporttest.WriteArchive(t, src, "alice.tgz", size)
	seg := int64(512 << 10)

	// Interrupted half-way: a partial file, no final name.
	ctx, cancel := context.WithCancel(context.Background())
	rep := copyDir(t, ctx, src, dst, transport.Options{SegmentSize: seg, Progress: cancelAt(size/2, cancel)})
	if rep.Failed != 1 {
		t.Fatalf("interrupted copy: %+v", rep.Results)
	}
	partial, err := os.Stat(filepath.Join(dst, "alice.tgz"+transport.PartialSuffix))
	if err != nil {
		t.Fatalf("no partial file: %v", err)
	}
	// Damage the partial file inside its second segment: resume must start
	// there, not at its end.
	f, _ := os.OpenFile(filepath.Join(dst, "alice.tgz"+transport.PartialSuffix), os.O_RDWR, 0)
	f.WriteAt([]byte{^want[seg+5]}, seg+5)
	f.Close()

	rep = copyDir(t, context.Background(), src, dst, transport.Options{SegmentSize: seg})
	r := rep.Results[0]
	if r.Status != report.TransferSent || r.ResumedFrom != seg || r.Sent != size-seg {
		t.Errorf("resume: status %s from %d sent %d (partial was %d bytes); want sent, from %d, %d bytes sent",
			r.Status, r.ResumedFrom, r.Sent, partial.Size(), seg, size-seg)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "alice.tgz"))
	if !bytes.Equal(got, want) {
		t.Fatalf("copied archive differs")
	}

	rep = copyDir(t, context.Background(), src, dst, transport.Options{})
	if rep.Skipped != 1 || rep.BytesSent != 0 {
		t.Errorf("second copy: skipped %d sent %d bytes, want 1 and 0", rep.Skipped, rep.BytesSent)
	}

	// A damaged copy at the destination is found and replaced.
	f, _ = os.OpenFile(filepath.Join(dst, "alice.tgz"), os.O_RDWR, 0)
	f.WriteAt([]byte{^want[100]}, 100)
	f.Close()
	rep = copyDir(t, context.Background(), src, dst, transport.Options{})
	if rep.Sent != 1 || rep.Results[0].Note == "" {
		t.Errorf("copy over a damaged copy: %+v, want sent with a note", rep.Results)
	}
	got, _ = os.ReadFile(filepath.Join(dst, "alice.tgz"))
	if !bytes.Equal(got, want) {
		t.Errorf("damaged copy was not replaced")
	}
}

func TestCopyFailures(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	transporttest.WriteArchive(t, src, "good.tgz", 1000)
	bad := transporttest.WriteArchive(t, src, "bad.tgz", 1000)
	bad[0] ^= 1
	os.WriteFile(filepath.Join(src, "bad.tgz"), bad, 0o644) // no longer matches its .sha256
	os.WriteFile(filepath.Join(src, "nosum.tgz"), []byte("x"), 0o644)

	rep := copyDir(t, context.Background(), src, dst, transport.Options{})
	reasons := map[string]string{}
	for _, r := range rep.Results {
		reasons[r.Name] = r.Status + "/" + string(r.Code) + "/" + r.Reason
	}
	// The stable code beside the prose (issue 10).
	want := map[string]string{
		"good.tgz":  "sent//",
		"bad.tgz":   "failed/source-corrupt/" + transport.ErrSourceCorrupt.Error(),
		"nosum.tgz": "failed/no-checksum/" + transport.ErrNoChecksum.Error(),
	}
	for n, w := range want {
		if reasons[n] != w {
			t.Errorf("%s: got %q, want %q", n, reasons[n], w)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "bad.tgz")); err == nil {
		t.Errorf("a corrupt source arrived under its final name")
	}
}

func TestPlanRefusesDuplicateNames(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	transporttest.WriteArchive(t, a, "alice.tgz", 10)
	transporttest.WriteArchive(t, b, "alice.tgz", 20)
	_, err := transport.Plan(context.Background(), local.Conn{}, []string{a, b}, local.Conn{}, t.TempDir())
	if err == nil {
		t.Errorf("two archives named alice.tgz were planned into one folder")
	}
}

// The kinds are internal/retry's marks: a lost connection is transient,
// a refusal permanent even around a lost connection.
func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{transport.ConnLost(errors.New("EOF")), true},
		{fmt.Errorf("x: %w", transport.ConnLost(errors.New("reset"))), true},
		{fmt.Errorf("write: %w", fs.ErrPermission), false},
		{retry.MarkPermanent(fmt.Errorf("%w: %w", transport.ErrNoSpace, transport.ConnLost(errors.New("x")))), false},
		{transport.ErrVerify, false},
		{context.Canceled, false},
		{errors.New("something else"), false},
	} {
		if got := retry.IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// SegmentWriter (push-style, used when reading back over SFTP) and
// HashSegments (pull-style) must agree whatever the write sizes.
func TestSegmentWriterMatchesHashSegments(t *testing.T) {
	data := make([]byte, 10_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	want, err := transport.HashSegments(context.Background(), bytes.NewReader(data), 999, 9)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 17, 999, 1000, 4096, 10_000} {
		sw := &transport.SegmentWriter{Seg: 999, N: 9}
		for off := 0; off < len(data); off += chunk {
			if _, err := sw.Write(data[off:min(off+chunk, len(data))]); err != nil && !transport.IsSegmentsDone(err) {
				t.Fatal(err)
			}
		}
		if len(sw.Sums) != 9 {
			t.Fatalf("chunk %d: %d sums, want 9", chunk, len(sw.Sums))
		}
		for i := range want {
			if sw.Sums[i] != want[i] {
				t.Errorf("chunk %d: segment %d differs", chunk, i)
			}
		}
	}
}

// syncFails is a local destination whose files fail to close, as a sync
// that finds a bad disk or a full one (delayed allocation) does.
type syncFails struct{ local.Endpoint }

func (syncFails) Connect(context.Context) (transport.Conn, error) { return syncFailsConn{}, nil }

type syncFailsConn struct{ local.Conn }

func (c syncFailsConn) OpenWrite(ctx context.Context, p string, off int64) (transport.Writer, error) {
	w, err := c.Conn.OpenWrite(ctx, p, off)
	return syncFailsWriter{w}, err
}

type syncFailsWriter struct{ transport.Writer }

func (w syncFailsWriter) Close() error {
	w.Writer.Close()
	return errors.New("sync: input/output error")
}

// The hash runs while the file is closed; a close that fails still fails
// the transfer, even though the stored bytes hash right.
func TestCloseFailureFailsTheTransfer(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	transporttest.WriteArchive(t, src, "alice.tgz", 100_000)
	jobs, err := transport.Plan(context.Background(), local.Conn{}, []string{src}, local.Conn{}, dst)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := transport.Run(context.Background(), local.Endpoint{}, syncFails{}, jobs, transport.Options{Retries: transport.NoRetries})
	if rep.Failed != 1 || !strings.Contains(rep.Results[0].Error, "input/output error") {
		t.Errorf("close failed: %+v, want failed naming the cause", rep.Results)
	}
	if _, err := os.Stat(filepath.Join(dst, "alice.tgz")); err == nil {
		t.Errorf("an archive whose close failed was renamed to its final name")
	}
}

// One archive in chunks over several streams between local folders (the
// engine's side of it; transport/sftp tests it against sshd): whole, and
// after an interruption resumed keeping every whole segment that arrived,
// sending exactly the rest.
func TestCopyInChunks(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	const size = 9<<20 + 77
	const seg = 512 << 10
	want := transporttest.WriteArchive(t, src, "big.tgz", size)
	ctx, cancel := context.WithCancel(context.Background())
	opt := transport.Options{Streams: 4, SegmentSize: seg, Retries: transport.NoRetries, Progress: cancelAt(size/2, cancel)}
	if rep := copyDir(t, ctx, src, dst, opt); rep.Failed != 1 {
		t.Fatalf("interrupted copy: %+v", rep.Results)
	}
	opt.Progress = nil
	rep := copyDir(t, context.Background(), src, dst, opt)
	r := rep.Results[0]
	if r.Status != report.TransferSent || r.ResumedFrom%seg != 0 || r.Sent != size-r.ResumedFrom {
		t.Errorf("resumed: %s keeping %d, sent %d; want sent keeping whole segments, sending exactly the rest", r.Status, r.ResumedFrom, r.Sent)
	}
	// Half had arrived, in four chunks under way at once: the segments
	// beyond the first hole are kept too, not only the first chunk's.
	if r.ResumedFrom < size/4 {
		t.Errorf("resumed keeping %d bytes of the %d that had arrived; want the whole segments of every chunk", r.ResumedFrom, size/2)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "big.tgz")); !bytes.Equal(got, want) {
		t.Errorf("the archive copied in chunks differs")
	}
}
