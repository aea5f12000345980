package dav

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Property-by-property comparison of what was sent with what a server
// returns, for the end-to-end tests: both sides are reduced to their
// meaning by the importer's own comparison (samecontent.go), and the
// differences are listed as text.

func cardProps(b []byte) ([]string, error) { return contentProps(b) }

func calProps(b []byte) ([]string, error) { return contentProps(b) }

func contentProps(b []byte) ([]string, error) {
	m, ok := meaning(b)
	if !ok {
		return nil, errors.New("does not parse")
	}
	return m, nil
}

// diffProps lists properties missing from got and extra in got.
func diffProps(want, got []string) string {
	got = slices.Clone(got)
	var b strings.Builder
	for _, w := range want {
		if i := slices.Index(got, w); i >= 0 {
			got = slices.Delete(got, i, i+1)
			continue
		}
		fmt.Fprintf(&b, "  lost:  %.300q\n", w)
	}
	for _, g := range got {
		fmt.Fprintf(&b, "  added: %.300q\n", g)
	}
	return b.String()
}
