package format

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// benchMails are distinct mail-like messages of about 30 KB.
func benchMails() [][]byte {
	mails := make([][]byte, 64)
	for i := range mails {
		mails[i] = makeMail(30000 + i*37)
	}
	return mails
}

// BenchmarkWriter measures the Writer's throughput in item bytes.
func BenchmarkWriter(b *testing.B) {
	mails := benchMails()
	for _, c := range []Compression{Gzip, Zstd, None} {
		b.Run(string(c), func(b *testing.B) {
			w, err := NewWriter(io.Discard, testManifest(), &WriterOptions{Compression: c})
			if err != nil {
				b.Fatal(err)
			}
			w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
			b.SetBytes(int64(len(mails[0])))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m := mails[i%len(mails)]
				if err := w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: fmt.Sprint(i)}, bytes.NewReader(m)); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkReader measures reading and checking an archive of 512 items.
func BenchmarkReader(b *testing.B) {
	mails := benchMails()
	for _, c := range []Compression{Gzip, Zstd, None} {
		b.Run(string(c), func(b *testing.B) {
			var buf bytes.Buffer
			w, _ := NewWriter(&buf, testManifest(), &WriterOptions{Compression: c})
			w.AddFolder(Folder{Kind: FolderMail, Path: "INBOX"})
			var total int64
			for i := range 512 {
				m := mails[i%len(mails)]
				w.AddItem(Item{Kind: KindMessage, Folder: "INBOX", SourceID: fmt.Sprint(i)}, bytes.NewReader(m))
				total += int64(len(m))
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				if err := drain(buf.Bytes(), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
