package main

import (
	"math"
	"math/rand/v2"
	"time"
)

const (
	minMessageSize = 2 << 10
	maxMessageSize = 10 << 20
	// The writer overshoots a target by up to a paragraph and the MIME
	// framing; targets stay this far under the cap so no file exceeds it.
	maxTarget = maxMessageSize - 16<<10

	attachFraction = 0.20
	span           = 3 * 365 * 24 * time.Hour
)

// Every random choice for message i comes from PCG(seed, i<<4|stream), so a
// message is a pure function of (seed, i): workers may write messages in any
// order and the tree is still the same for a seed.
const (
	streamShape   = iota // sizes, drawn repeatedly while fitting the scale
	streamMeta           // folder, time, flags, headers, structure
	streamBody           // the prose of the text parts (HTML replays it)
	streamQuote          // the quoted text of replies
	streamPayload        // attachment bytes
)

func rngFor(seed, i, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, i<<4|stream))
}

// shape is a message's unscaled size: its text (headers and text parts)
// and its encoded attachments, zero when it has none.
type shape struct{ text, attach float64 }

// drawShape gives most messages 5-50 KB of text and a fifth of them a
// log-normal attachment load, which makes the long tail up to 10 MB.
func drawShape(seed, i uint64) shape {
	r := rngFor(seed, i, streamShape)
	s := shape{text: logNormal(r, 11_000, 0.6)}
	if r.Float64() < attachFraction {
		s.attach = logNormal(r, 120_000, 1.4)
	}
	return s
}

func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// scale maps shapes to byte targets; fitScale picks it so the targets of a
// run add up to the requested total.
type scale struct{ text, attach float64 }

// split returns the target sizes of a message's text and attachments.
func (sc scale) split(s shape) (text, attach int) {
	t := sc.text * s.text
	a := sc.attach * s.attach
	total := math.Min(math.Max(t+a, minMessageSize), maxTarget)
	if a > 0 {
		// Keep the text's share and give the clamp's effect to attachments.
		t = math.Min(t, total/2)
		return int(t), int(total - t)
	}
	return int(total), 0
}

func (sc scale) sum(seed, first, n uint64) float64 {
	var total float64
	for i := first; i < first+n; i++ {
		t, a := sc.split(drawShape(seed, i))
		total += float64(t + a)
	}
	return total
}

// fitScale finds the scale whose targets for messages [first, first+n) add
// up to total bytes: it stretches attachments (the tail) when the text
// alone is smaller than the total, else shrinks everything.
func fitScale(seed, first, n uint64, total int64) scale {
	want := float64(total)
	if (scale{text: 1}).sum(seed, first, n) > want {
		return bisect(0, 1, func(c float64) bool { return scale{c, c}.sum(seed, first, n) < want },
			func(c float64) scale { return scale{c, c} })
	}
	return bisect(0, 1e4, func(a float64) bool { return scale{1, a}.sum(seed, first, n) < want },
		func(a float64) scale { return scale{1, a} })
}

// bisect returns mk(x) for the x in [lo, hi] where below(x) turns false.
func bisect(lo, hi float64, below func(float64) bool, mk func(float64) scale) scale {
	for range 40 {
		mid := (lo + hi) / 2
		if below(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return mk((lo + hi) / 2)
}
