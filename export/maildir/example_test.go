package maildir_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mailhaul/mailhaul/export"
	"github.com/mailhaul/mailhaul/export/exporttest"
	"github.com/mailhaul/mailhaul/export/maildir"
)

func Example() {
	root, err := os.MkdirTemp("", "maildir-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	// A Maildir++ with one seen message in INBOX and an empty "Ärger".
	for _, dir := range []string{"cur", "new", "tmp", ".&AMQ-rger/cur"} {
		os.MkdirAll(filepath.Join(root, dir), 0o755)
	}
	os.WriteFile(filepath.Join(root, "cur", "1700000000.M1P1.host:2,S"),
		[]byte("Message-ID: <hello@example.com>\n\nHello\n"), 0o644)

	var sink exporttest.Sink // any export.Sink, usually a *format.Writer
	src := &maildir.Source{Root: root}
	if err := src.Export(context.Background(), &sink, export.Options{}); err != nil {
		log.Fatal(err)
	}
	for _, f := range sink.Folders {
		fmt.Printf("folder %s (role %q)\n", f.Path, f.Role)
	}
	for _, it := range sink.Items {
		fmt.Println(it.SourceID, it.Flags, it.MessageID, it.Received.Unix())
	}
	// Output:
	// folder INBOX (role "inbox")
	// folder Ärger (role "")
	// INBOX/1700000000.M1P1.host [\Seen] hello@example.com 1700000000
}
