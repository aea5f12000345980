package maildir

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/format"
)

// discardSink drains bodies like a real sink, and keeps nothing.
type discardSink struct{ items, bytes int64 }

func (d *discardSink) AddFolder(format.Folder) error { return nil }
func (d *discardSink) AddItem(_ format.Item, body io.Reader) error {
	n, err := io.Copy(io.Discard, body)
	d.items++
	d.bytes += n
	return err
}
func (d *discardSink) AddError(format.Problem)   {}
func (d *discardSink) AddWarning(format.Problem) {}
func (d *discardSink) AddSkipped(string, int)    {}

// BenchmarkExport exports a generated Maildir++ of 400 messages (about
// 20 KB each, a few larger than the prefix buffer) in four folders.
func BenchmarkExport(b *testing.B) {
	root := b.TempDir()
	var files []file
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n", 350)
	for i := range 400 {
		folder := []string{"", ".Sent/", ".Work/", ".Work.2024/"}[i%4]
		sub := []string{"cur", "new"}[i%2]
		text := body
		if i%50 == 0 {
			text = strings.Repeat(body, 16) // ~320 KB
		}
		files = append(files, file{
			path: fmt.Sprintf("%s%s/%d.M%dP1.host,S=%d:2,S", folder, sub, 1700000000+i, i, len(text)),
			body: msg(fmt.Sprintf("<%d@bench>", i), "m\n"+text),
		})
	}
	writeTree(b, root, files...)
	src := &Source{Root: root}
	b.ReportAllocs()
	b.ResetTimer()
	var total int64
	for b.Loop() {
		var sink discardSink
		if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
			b.Fatal(err)
		}
		if sink.items != 400 {
			b.Fatalf("%d items; want 400", sink.items)
		}
		total = sink.bytes
	}
	b.SetBytes(total)
}
