package format_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/format"
)

func ExampleNewWriter() {
	var archive bytes.Buffer
	w, err := format.NewWriter(&archive, format.Manifest{
		User:   "alice@example.com",
		Source: format.Source{Kind: "maildir"},
	}, &format.WriterOptions{Compression: format.Gzip})
	if err != nil {
		panic(err)
	}
	w.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX", Role: format.RoleInbox})
	w.AddFolder(format.Folder{Kind: format.FolderMail, Path: "Archive/2024"})
	w.AddItem(format.Item{
		Kind:     format.KindMessage,
		Folder:   "INBOX",
		Flags:    []string{`\Seen`},
		Received: time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC),
		SourceID: "1709285400.M1P1.host",
	}, strings.NewReader("Subject: hello\r\n\r\nHi Alice.\r\n"))
	w.AddError(format.Problem{Folder: "INBOX", Item: "1709285401.M2P2.host", Reason: "permission denied"})
	if err := w.Close(); err != nil {
		panic(err)
	}
	s := w.Summary()
	fmt.Printf("%d message, %d bytes, %d folders, %d error\n", s.Counts.Messages, s.Counts.Bytes, len(s.Folders), len(s.Errors))
	// Output: 1 message, 29 bytes, 2 folders, 1 error
}

func ExampleNewReader() {
	// An archive to read: one folder, one message.
	var archive bytes.Buffer
	w, _ := format.NewWriter(&archive, format.Manifest{User: "alice@example.com"}, nil)
	w.AddFolder(format.Folder{Kind: format.FolderMail, Path: "INBOX", Role: format.RoleInbox})
	w.AddItem(format.Item{Kind: format.KindMessage, Folder: "INBOX", Flags: []string{`\Seen`}},
		strings.NewReader("Subject: hello\r\n\r\nHi Alice.\r\n"))
	w.Close()

	r, err := format.NewReader(&archive, &format.ReaderOptions{Name: "alice@example.com.tgz"})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	fmt.Println("archive of", r.Manifest().User, "compressed with", r.Compression())
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err) // names the archive and the entry
		}
		switch {
		case e.Folder != nil:
			fmt.Println("folder", e.Folder.Path, e.Folder.Role)
		case e.Item != nil:
			body, err := io.ReadAll(e.Body) // checked against the item's SHA-256
			if err != nil {
				panic(err)
			}
			fmt.Printf("%s %s %v %q\n", e.Name, e.Item.Kind, e.Item.Flags, body)
		case e.Summary != nil:
			fmt.Println("summary:", e.Summary.Counts.Items(), "item")
		}
	}
	// Output:
	// archive of alice@example.com compressed with gzip
	// folder INBOX inbox
	// mail/INBOX/00000001.eml message [\Seen] "Subject: hello\r\n\r\nHi Alice.\r\n"
	// summary: 1 item
}
