package pim

import "fmt"

// MaxObjectSize caps one vCard or one calendar component. A larger one is
// left out and reported, so one runaway attachment cannot exhaust memory.
const MaxObjectSize = 16 << 20

// keepLine is how much of one unfolded line the calendar indexer keeps to
// read property names, parameters and short values such as UID.
const keepLine = 64 << 10

// SplitProblem is a part of an input file the splitters left out, or saw
// something wrong with, while the rest of the file went on.
type SplitProblem struct {
	Line int    // 1-based line where the part starts
	What string // the part, e.g. "card 3", "VFREEBUSY", "text outside VCALENDAR"
	// Lost is set when data that should have been kept was not (for
	// example a card over MaxObjectSize): report it as an error. Otherwise
	// the part was dropped on purpose or kept with a caveat: a warning.
	Lost   bool
	Reason string
}

func (p SplitProblem) String() string {
	return fmt.Sprintf("%s (line %d): %s", p.What, p.Line, p.Reason)
}
