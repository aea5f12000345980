package mbox

import (
	"slices"
	"testing"
)

func TestSplitLabels(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Inbox,Sent,Important", []string{"Inbox", "Sent", "Important"}},
		{` Inbox , "Work, Projects" ,My/Label`, []string{"Inbox", "Work, Projects", "My/Label"}},
		{`"say ""hi""",x`, []string{`say "hi"`, "x"}},
		{`a,,b,`, []string{"a", "b"}},
		{`"unterminated, label`, []string{"unterminated, label"}},
		{`in"side`, []string{`in"side`}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := SplitLabels(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitLabels(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
