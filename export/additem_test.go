package export_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/format"
)

// failAfter returns its data, then err.
type failAfter struct {
	data string
	err  error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestAddItem(t *testing.T) {
	eio := errors.New("input/output error")
	tests := []struct {
		name      string
		body      io.Reader
		wantErr   error // nil: AddItem returns nil
		wantItems int
		wantProbs int
	}{
		{"ok", strings.NewReader("Subject: x\r\n\r\n"), nil, 1, 0},
		{"read error is the item's", &failAfter{"Subject: x\r\n", eio}, nil, 0, 1},
		{"cancelled read ends the export", &failAfter{"Subject: x\r\n", context.Canceled}, context.Canceled, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s exporttest.Sink
			s.AddFolder(format.Folder{Kind: format.FolderMail, Path: "Work"})
			err := export.AddItem(&s, format.Item{Kind: format.KindMessage, Folder: "Work", SourceID: "m1"}, "cur/m1", tt.body)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("AddItem = %v, want %v", err, tt.wantErr)
			}
			if len(s.Items) != tt.wantItems || len(s.Errors) != tt.wantProbs {
				t.Fatalf("got %d items, %d errors; want %d, %d", len(s.Items), len(s.Errors), tt.wantItems, tt.wantProbs)
			}
			if tt.wantProbs > 0 {
				want := format.Problem{Folder: "Work", Item: "cur/m1", Reason: "read: input/output error"}
				if s.Errors[0] != want {
					t.Errorf("problem %+v, want %+v", s.Errors[0], want)
				}
			}
		})
	}

	// A sink failure is fatal, whatever the body.
	boom := errors.New("disk full")
	err := export.AddItem(failingSink{boom}, format.Item{Folder: "Work"}, "cur/m1", strings.NewReader("x"))
	if !errors.Is(err, boom) {
		t.Errorf("AddItem with a failing sink = %v, want %v", err, boom)
	}
}

type failingSink struct{ err error }

func (f failingSink) AddFolder(format.Folder) error        { return f.err }
func (f failingSink) AddItem(format.Item, io.Reader) error { return f.err }
func (f failingSink) AddError(format.Problem)              {}
func (f failingSink) AddWarning(format.Problem)            {}
func (f failingSink) AddSkipped(string, int)               {}
