package imap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/importer/imap"
	"github.com/mailhaul/mailhaul/internal/demoserver"
	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// Example imports a two-message archive into an IMAP server, then again:
// the second run finds both already there.
func Example() {
	addr, stop, err := demoserver.IMAP("127.0.0.1:0", map[string]string{"ada": "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	dir, _ := os.MkdirTemp("", "mailhaul-example")
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "ada.tgz")
	f, _ := os.Create(archive)
	w, _ := format.NewWriter(f, format.Manifest{User: "ada", Source: format.Source{Kind: "example"}}, nil)
	w.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX", Role: format.RoleInbox})
	for i, subject := range []string{"hello", "again"} {
		body := "From: bob@example.org\nSubject: " + subject + "\n\nHi Ada.\n"
		w.AddItem(format.Item{Kind: format.KindMessage, Folder: "INBOX", SourceID: fmt.Sprint(i),
			Flags: []string{`\Seen`}, Received: time.Date(2024, 5, 1, 9, i, 0, 0, time.UTC)}, strings.NewReader(body))
	}
	w.Close()
	f.Close()

	target := imap.New(imap.Options{Account: imapconn.Account{Addr: addr.String(), Secret: imapconn.Password("secret")}})
	for range 2 {
		res, err := target.Import(context.Background(), importer.Request{User: "ada", Archives: []string{archive}, StateDir: dir})
		if err != nil {
			fmt.Println(err)
			return
		}
		rep := res.Report
		fmt.Printf("imported %d, already there %d, failed %d\n", rep.Imported, rep.Present, rep.Failed)
	}
	// Output:
	// imported 2, already there 0, failed 0
	// imported 0, already there 2, failed 0
}
