package imap

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync"
)

// spool holds one message ready to send: its bytes with every line ending
// made CRLF (IMAP requires it and servers count sizes that way), their
// SHA-256, its Message-ID, and whether they hold NUL bytes. Small messages
// stay in memory, in a slice at most an eighth above their size (reused
// from message to message, see close); larger ones go to an
// unlinked temporary file, so memory stays flat whatever the message size
// and a retried APPEND can read them again (the archive is a compressed
// stream and cannot be re-read from the middle).
type spool struct {
	mem   []byte
	file  *os.File
	size  int64
	sum   [32]byte
	nul   bool
	msgID string // "" when the header has none
}

const (
	// spoolMemMax is the largest message held in memory. Most mail is far
	// smaller; the few large messages (attachments) cost a temporary
	// file each instead of a share of the in-memory budget.
	spoolMemMax = 256 << 10
	headMax     = 32 << 10 // header bytes searched for Message-ID
)

// spooler turns archive bodies into spools, reusing its buffers from one
// message to the next; one goroutine (the archive reader) owns it.
type spooler struct {
	dir     string // spill files ("" for the system's temporary directory)
	buf     []byte // read buffer
	conv    []byte // the same bytes, line endings made CRLF
	scratch []byte // message bytes until they are known to fit in memory
	head    []byte // the first bytes, for the Message-ID
}

func newSpooler(dir string) *spooler {
	return &spooler{dir: dir, buf: make([]byte, 32<<10), conv: make([]byte, 0, 64<<10+1)}
}

// readSpool reads r to its end with a spooler of its own.
func readSpool(r io.Reader, dir string) (*spool, error) { return newSpooler(dir).read(r) }

// read reads r to its end, normalising line endings.
func (sr *spooler) read(r io.Reader) (*spool, error) {
	s := &spool{}
	h := sha256.New()
	sr.scratch, sr.head = sr.scratch[:0], sr.head[:0]
	emit := func(b []byte) error {
		h.Write(b)
		s.size += int64(len(b))
		if len(sr.head) < headMax {
			sr.head = append(sr.head, b[:min(len(b), headMax-len(sr.head))]...)
		}
		if s.file == nil && len(sr.scratch)+len(b) > spoolMemMax {
			f, err := os.CreateTemp(sr.dir, "mailhaul-spool-*")
			if err != nil {
				return err
			}
			os.Remove(f.Name()) // unlinked: gone however the run ends
			if _, err := f.Write(sr.scratch); err != nil {
				f.Close()
				return err
			}
			s.file = f
			sr.scratch = sr.scratch[:0]
		}
		if s.file != nil {
			_, err := s.file.Write(b)
			return err
		}
		sr.scratch = append(sr.scratch, b...)
		return nil
	}
	prevCR := false
	for {
		n, rerr := r.Read(sr.buf)
		var conv []byte
		conv, prevCR = appendCRLF(sr.conv[:0], sr.buf[:n], prevCR)
		s.nul = s.nul || hasNUL(sr.buf[:n])
		if err := emit(conv); err != nil {
			s.close()
			return nil, fmt.Errorf("spool: %w", err)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			s.close()
			return nil, rerr
		}
	}
	if prevCR {
		if err := emit([]byte{'\n'}); err != nil {
			s.close()
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	copy(s.sum[:], h.Sum(nil))
	s.msgID = headerMessageID(sr.head)
	if s.file == nil {
		s.mem = spoolBufs.get(len(sr.scratch))
		copy(s.mem, sr.scratch)
	}
	return s, nil
}

// open returns a reader of the whole message from its start.
func (s *spool) open() (io.Reader, error) {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size), nil
	}
	return bytes.NewReader(s.mem), nil
}

// spillCharge is what a message spilled to disk counts against the
// read-ahead budget: not memory, but an open file and disk space, which
// must not pile up either while the connections catch up. It is no more
// than the largest message kept in memory, so a batch's charge stays
// within its byte limit.
const spillCharge = spoolMemMax

// charge is what the spool counts against the read-ahead budget: the
// memory it holds, or spillCharge for a file.
func (s *spool) charge() int64 {
	if s.file != nil {
		return spillCharge
	}
	return int64(cap(s.mem))
}

// close ends the spool; its memory serves a later message. Who may still
// read s.mem then: nobody. Its bytes are read only through open's
// readers, and each is done with before close: appender's Append writes
// the bodies before it returns (deliver releases after), nulAsHigh reads
// to the end, placed's copies for labels are spooled anew (or dropped)
// before its deferred close, and every release takes the item out of its
// batch, so no later attempt opens it. What stays read after
// close (sum, size, msgID, nul) is not in the buffer. close may be called
// again: it gives the buffer back once.
func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	if s.mem != nil {
		spoolBufs.put(s.mem)
	}
	s.mem = nil
}

// spoolBufs recycles in-memory spools' buffers across messages, jobs and
// goroutines: a fresh slice per message cost more CPU (allocation, and
// memory faulted in anew under the soft memory limit) than the copy
// into it. sync.Pool lets the collector free what is not used.
var spoolBufs bufPool

// bufPool holds buffers by size class. A class is at most an eighth
// above the sizes it serves, as the allocator's own classes, so a spool's
// charge (its capacity) stays close to its size. Below bufPoolMin the
// allocator does as well.
type bufPool struct{ classes [bufClasses]sync.Pool }

const (
	bufPoolMin = 4 << 10
	bufClasses = 8*(19-13) + 1 // 8 a power of two, 2^12 (bufPoolMin) to 2^18 (spoolMemMax)
)

// bufClass returns n's class and the capacity of its buffers: n rounded
// up to an eighth of the power of two below it.
func bufClass(n int) (int, int) {
	step := 1 << (bits.Len(uint(n)) - 4)
	c := (n + step - 1) &^ (step - 1)
	l := bits.Len(uint(c))
	return 8*(l-bits.Len(bufPoolMin)) + c>>(l-4) - 8, c
}

// get returns a slice of length n, from the pool when it has one.
func (p *bufPool) get(n int) []byte {
	if n < bufPoolMin || n > spoolMemMax {
		return make([]byte, n)
	}
	i, c := bufClass(n)
	if b, ok := p.classes[i].Get().(*[]byte); ok {
		return (*b)[:n]
	}
	return make([]byte, n, c)
}

// put gives b back; the caller must not use it any more.
func (p *bufPool) put(b []byte) {
	n := cap(b)
	if n < bufPoolMin || n > spoolMemMax {
		return
	}
	i, c := bufClass(n)
	if c != n {
		return // not one of ours
	}
	b = b[:0]
	p.classes[i].Put(&b)
}

// appendCRLF appends src to dst with every bare LF and bare CR made CRLF
// (a bare CR ends a line too), a line at a time: the line ends are found
// with bytes.IndexByte, which is many times faster than a loop over the
// bytes. prevCR says src follows a CR that ended the previous chunk,
// already appended; the result says the same of the next chunk.
func appendCRLF(dst, src []byte, prevCR bool) ([]byte, bool) {
	if len(src) == 0 {
		return dst, prevCR
	}
	if prevCR { // that CR ends a line, whether or not its LF comes now
		dst = append(dst, '\n')
		if src[0] == '\n' {
			src = src[1:]
		}
	}
	cr := bytes.IndexByte(src, '\r') // -1: none left in src
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		if cr >= 0 && (i < 0 || cr < i) {
			i = cr
		}
		if i < 0 {
			return append(dst, src...), false
		}
		dst = append(dst, src[:i]...)
		next := i + 1
		if src[i] == '\r' {
			if next == len(src) { // its LF, if any, is in the next chunk
				return append(dst, '\r'), true
			}
			if src[next] == '\n' {
				next++
			}
		}
		dst = append(dst, '\r', '\n')
		src = src[next:]
		if cr >= 0 {
			if cr -= next; cr < 0 {
				cr = bytes.IndexByte(src, '\r')
			}
		}
	}
	return dst, false
}

func hasNUL(b []byte) bool { return bytes.IndexByte(b, 0) >= 0 }
