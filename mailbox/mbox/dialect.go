package mbox

import (
	"context"
	"io"
	"strconv"
)

// Dialect is one of the mbox variants, which differ in how a body line
// starting with "From " is kept from looking like a separator.
type Dialect int

const (
	// Mboxo quotes "From " as ">From " and cannot tell a quoted line from a
	// body line that already started with ">From ": one '>' is removed
	// from ">From " lines only.
	Mboxo Dialect = iota
	// Mboxrd quotes any ">*From " line with one more '>', so unquoting
	// removes one '>' from every ">+From " line, exactly.
	Mboxrd
	// Mboxcl quotes like mboxo and adds a Content-Length header, which
	// counts the stored (quoted) body.
	Mboxcl
	// Mboxcl2 relies on Content-Length alone; bodies are not quoted.
	Mboxcl2
)

func (d Dialect) String() string {
	switch d {
	case Mboxo:
		return "mboxo"
	case Mboxrd:
		return "mboxrd"
	case Mboxcl:
		return "mboxcl"
	case Mboxcl2:
		return "mboxcl2"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// contentLength reports whether the dialect ends bodies by Content-Length.
func (d Dialect) contentLength() bool { return d == Mboxcl || d == Mboxcl2 }

// DetectDialect reads an mbox to its end and says which dialect wrote it:
//
//   - Mboxcl2 when a body delimited by a trustworthy Content-Length holds
//     a bare "From " line (a quoting writer would have quoted it);
//   - else Mboxrd when any ">>From " line (any depth) is seen;
//   - else Mboxcl when most messages carry a Content-Length that lands
//     exactly on the next separator or the end of input;
//   - else Mboxo.
//
// When nothing tells them apart the dialects unquote alike, so the guess
// cannot cost a byte. Memory use is bounded; the input is read once.
func DetectDialect(r io.Reader) (Dialect, error) {
	return detect(context.Background(), r)
}

func detect(ctx context.Context, r io.Reader) (Dialect, error) {
	st, err := scan(ctx, r)
	if err != nil {
		return Mboxo, err
	}
	return st.dialect(), nil
}

func (s scanStats) dialect() Dialect {
	switch {
	case s.clValid > 0 && s.bareFromInCL:
		return Mboxcl2
	case s.deepQuote:
		return Mboxrd
	case s.clValid*2 > s.messages:
		return Mboxcl
	}
	return Mboxo
}

// scanStats is what detection learns from one pass over an mbox.
type scanStats struct {
	messages     int
	clValid      int  // messages whose Content-Length landed on a separator
	deepQuote    bool // a ">>From " line, so quoting is mboxrd's
	bareFromInCL bool // a "From " line inside a Content-Length body: not quoted
}

// scan reads the whole input with Content-Length trusted where it lands
// exactly and no unquoting, and counts what it sees.
func scan(ctx context.Context, in io.Reader) (scanStats, error) {
	var st scanStats
	r := NewReader(in, Mboxo)
	r.stats = &st
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		_, err := r.Next()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		if r.inCL {
			st.clValid++
		}
	}
}

// DetectDialectContext is DetectDialect, stopping when ctx is done.
func DetectDialectContext(ctx context.Context, r io.Reader) (Dialect, error) {
	return detect(ctx, r)
}
