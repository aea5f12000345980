package nopanic

import (
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	if err := Run(func() error { return nil }); err != nil {
		t.Errorf("nil: %v", err)
	}
	e := errors.New("bad")
	if err := Run(func() error { return e }); err != e {
		t.Errorf("error: %v", err)
	}
	var m map[string]int
	err := Run(func() error { m["x"] = 1; return nil })
	if err == nil || !strings.Contains(err.Error(), "parser panic: assignment to entry in nil map") {
		t.Errorf("panic: %v", err)
	}
}
