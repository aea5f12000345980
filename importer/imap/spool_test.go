package imap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/sync/semaphore"
)

// toCRLF is the plain statement of the normalisation: every LF, CR or CRLF
// becomes CRLF.
func toCRLF(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case b[i] == '\r' || b[i] == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, b[i])
		}
	}
	return out
}

func readAll(t *testing.T, sp *spool) []byte {
	t.Helper()
	r, err := sp.open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpool(t *testing.T) {
	big := strings.Repeat("a line of a large attachment\n", spoolMemMax/20)
	tests := []struct {
		name    string
		in      string
		onDisk  bool
		nul     bool
		msgID   string
		oneByte bool // read one byte at a time: line ends split across reads
	}{
		{name: "LF only", in: "Message-ID: <a@x>\nSubject: s\n\nbody\n", msgID: "<a@x>"},
		{name: "mixed and bare CR", in: "A: 1\r\nB: 2\rC: 3\n\nx\r", msgID: ""},
		{name: "split CRLF", in: "Message-ID: <b@x>\r\n\r\nbody\r\n", msgID: "<b@x>", oneByte: true},
		{name: "NUL byte", in: "A: 1\n\nhas \x00 a NUL\n", nul: true},
		{name: "empty", in: ""},
		{name: "large spills to disk", in: "Message-ID: <big@x>\n\n" + big, onDisk: true, msgID: "<big@x>"},
	}
	sr := newSpooler(t.TempDir()) // one spooler for all: buffers are reused
	for _, tt := range tests {
		var r io.Reader = strings.NewReader(tt.in)
		if tt.oneByte {
			r = iotest.OneByteReader(r)
		}
		sp, err := sr.read(r)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		want := toCRLF([]byte(tt.in))
		got := readAll(t, sp)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: spooled %q, want %q", tt.name, got, want)
		}
		if sp.size != int64(len(want)) || sp.sum != sha256.Sum256(want) {
			t.Errorf("%s: size %d and sum do not match the %d bytes", tt.name, sp.size, len(want))
		}
		if (sp.file != nil) != tt.onDisk || sp.nul != tt.nul || sp.msgID != tt.msgID {
			t.Errorf("%s: on disk %v, nul %v, Message-ID %q; want %v, %v, %q", tt.name, sp.file != nil, sp.nul, sp.msgID, tt.onDisk, tt.nul, tt.msgID)
		}
		if tt.onDisk && (len(sp.mem) != 0 || sp.charge() != spillCharge) {
			t.Errorf("%s: a spilled message holds %d bytes of memory and charges %d", tt.name, len(sp.mem), sp.charge())
		}
		// The allocator's size classes round up by at most an eighth.
		if !tt.onDisk && (sp.charge() < int64(len(want)) || sp.charge() > int64(len(want))+int64(len(want))/8+16) {
			t.Errorf("%s: charges %d bytes of memory for a %d-byte message", tt.name, sp.charge(), len(want))
		}
		// Read twice, as a retried APPEND does.
		if again := readAll(t, sp); !bytes.Equal(again, got) {
			t.Errorf("%s: a second read differs", tt.name)
		}
		sp.close()
	}
}

func FuzzSpool(f *testing.F) {
	f.Add([]byte("a\r\nb\nc\rd\r\r\n"), 3)
	f.Add([]byte("Message-ID: <x>\n\n\x00"), 1)
	f.Fuzz(func(t *testing.T, in []byte, chunk int) {
		var r io.Reader = bytes.NewReader(in)
		if chunk%4 == 1 {
			r = iotest.OneByteReader(r)
		} else if chunk%4 == 2 {
			r = iotest.HalfReader(r)
		}
		sp, err := readSpool(r, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer sp.close()
		want := toCRLF(in)
		if got := readAll(t, sp); !bytes.Equal(got, want) {
			t.Fatalf("spooled %q, want %q", got, want)
		}
		if sp.nul != (bytes.IndexByte(in, 0) >= 0) {
			t.Errorf("nul = %v for %q", sp.nul, in)
		}
	})
}

// TestReserveHandsOnBatchFirst: when the budget is spent, the reader hands
// on its open batch before it waits, or the batch's own messages would
// hold the budget forever.
func TestReserveHandsOnBatchFirst(t *testing.T) {
	im := &job{mem: semaphore.NewWeighted(spoolMemMax)}
	im.mem.Acquire(context.Background(), spoolMemMax) // all held by the open batch
	sp, err := readSpool(strings.NewReader("x"), "")
	if err != nil {
		t.Fatal(err)
	}
	flushed := false
	flush := func() {
		flushed = true
		im.mem.Release(spoolMemMax) // the batch was sent and confirmed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := im.reserve(ctx, &item{sp: sp}, flush); err != nil || !flushed {
		t.Fatalf("reserve = %v, flushed %v; want the batch handed on and the budget had", err, flushed)
	}
	// With room to spare, the batch stays open.
	flushed = false
	if err := im.reserve(ctx, &item{sp: sp}, flush); err != nil || flushed {
		t.Errorf("reserve with room = %v, flushed %v; want no flush", err, flushed)
	}
}

// TestBufClass: every size from bufPoolMin to spoolMemMax has a class in
// range whose buffers hold it, at most an eighth larger, and the sizes a
// class serves are the ones rounding to its capacity.
func TestBufClass(t *testing.T) {
	capOf := map[int]int{}
	for n := bufPoolMin; n <= spoolMemMax; n++ {
		i, c := bufClass(n)
		if i < 0 || i >= bufClasses || c < n || c > n+n/8 {
			t.Fatalf("bufClass(%d) = %d, %d; want a class below %d holding %d bytes, at most an eighth more", n, i, c, bufClasses, n)
		}
		if prev, ok := capOf[i]; ok && prev != c {
			t.Fatalf("class %d holds %d and %d bytes", i, prev, c)
		}
		capOf[i] = c
	}
	if len(capOf) != bufClasses {
		t.Errorf("%d classes used, want %d", len(capOf), bufClasses)
	}
}

// TestSpoolBuffersReused: spools closed in any order hand their buffers
// to later ones, and never one still open: every spool keeps its own
// bytes until closed, however many come and go meanwhile; a spool closed
// twice gives its buffer back once. Run with -race, from several
// goroutines, as the reader and the senders do.
func TestSpoolBuffersReused(t *testing.T) {
	msg := func(g, i int) []byte {
		// Sizes spread over a few classes, each byte telling whose it is.
		n := bufPoolMin + (i*7919)%(3*bufPoolMin)
		return bytes.Repeat([]byte{byte('a' + g), byte('0' + i%10), '\n'}, n/3)
	}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			sr := newSpooler(t.TempDir())
			type held struct {
				sp   *spool
				want []byte
			}
			var open []held
			for i := range 300 {
				in := msg(g, i)
				sp, err := sr.read(bytes.NewReader(in))
				if err != nil {
					done <- err
					return
				}
				open = append(open, held{sp, toCRLF(in)})
				if i%3 != 0 { // close some, oldest or newest first
					k := 0
					if i%2 == 0 {
						k = len(open) - 1
					}
					h := open[k]
					open = append(open[:k], open[k+1:]...)
					if got := readAll(t, h.sp); !bytes.Equal(got, h.want) {
						done <- fmt.Errorf("goroutine %d: a spool's bytes changed while it was open (%d bytes, want %d)", g, len(got), len(h.want))
						return
					}
					h.sp.close()
					h.sp.close() // again: no second give-back
				}
			}
			for _, h := range open {
				if got := readAll(t, h.sp); !bytes.Equal(got, h.want) {
					done <- fmt.Errorf("goroutine %d: a spool's bytes changed while it was open", g)
					return
				}
				h.sp.close()
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSpoolBufferGivenBackOnce: a buffer given back twice would serve two
// spools at once.
func TestSpoolBufferGivenBackOnce(t *testing.T) {
	sr := newSpooler(t.TempDir())
	in := bytes.Repeat([]byte("x"), 2*bufPoolMin)
	for range 50 {
		a, err := sr.read(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		a.close()
		a.close()
		b, _ := sr.read(bytes.NewReader(in))
		c, _ := sr.read(bytes.NewReader(in))
		if &b.mem[0] == &c.mem[0] {
			t.Fatal("two open spools share one buffer")
		}
		b.close()
		c.close()
	}
}
