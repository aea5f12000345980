// Command fakezimbra is the Zimbra of the export benchmark (zimbra.sh):
// it generates a Zimbra-style tgz export of one mailbox once, with
// export/zimbra/zimbratest's writer, and serves that file through
// zimbratest's fake server (admin SOAP, delegated tokens, the REST
// export, GetFolderRequest with the counts), so that generation stays
// out of the timed part.
//
//	fakezimbra -gen -out bench.tgz -size 1G -seed 1
//	fakezimbra -serve -tgz bench.tgz -user bench@example.com -ca ca.pem -url url.txt
//
// The export holds messages only (Inbox, Sent, Archive, Work), so the
// root export is the whole mailbox and /Trash and /Junk answer 204: one
// curl of the root export is the floor a live export is measured
// against. Sizes run from 1 KB to a few MB (median about 14 KB), 30% of
// messages carrying a random (incompressible) attachment.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
)

func main() {
	gen := flag.Bool("gen", false, "generate the export")
	serve := flag.Bool("serve", false, "serve an export")
	out := flag.String("out", "", "-gen: the tgz to write (its folder counts go to OUT.counts.json)")
	size := flag.Int64("size", 1<<30, "-gen: total message bytes")
	seed := flag.Uint64("seed", 1, "-gen: generator seed")
	tgz := flag.String("tgz", "", "-serve: the tgz to serve")
	user := flag.String("user", "bench@example.com", "-serve: the account")
	ca := flag.String("ca", "", "-serve: write the server's certificate here (PEM)")
	urlFile := flag.String("url", "", "-serve: write the server's URL here, once it listens")
	flag.Parse()
	switch {
	case *gen && *out != "":
		if err := generate(*out, *size, *seed); err != nil {
			log.Fatal(err)
		}
	case *serve && *tgz != "" && *ca != "" && *urlFile != "":
		run(*tgz, *user, *ca, *urlFile)
	default:
		flag.Usage()
		os.Exit(2)
	}
}

// folders the messages go to: Zimbra path, id.
var folders = []struct {
	path string
	id   int
}{{"/Inbox", 2}, {"/Inbox", 2}, {"/Inbox", 2}, {"/Sent", 5}, {"/Archive", 257}, {"/Work", 258}}

var words = strings.Fields(`the of and to a in is it you that he was for on are with as his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how said an each she which do
their time if will way about many then them write would like so these her long make thing see him two has look more
day could go come did number sound no most people my over know water than call first who may down side been now find
meeting budget report project deadline invoice customer review schedule contract shipment quarterly`)

func generate(out string, total int64, seed uint64) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := zimbratest.NewWriter(bw, zimbratest.Options{})
	for _, it := range append(zimbratest.SystemFolders(),
		zimbratest.Item{ID: 257, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Archive", Date: time.Unix(1.6e9, 0).UTC()},
		zimbratest.Item{ID: 258, Type: zimbratest.TypeFolder, Folder: "/", FolderID: 1, Name: "Work", Date: time.Unix(1.6e9, 0).UTC()}) {
		if err := w.Add(it); err != nil {
			return err
		}
	}
	r := rand.New(rand.NewPCG(seed, 7))
	counts := map[int]int{}
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	var sum int64
	for id := 300; sum < total; id++ {
		fo := folders[r.IntN(len(folders))]
		date := start.Add(time.Duration(id) * 5 * time.Minute)
		it := zimbratest.Item{ID: id, Type: zimbratest.TypeMessage, Folder: fo.path, FolderID: fo.id,
			Subject: fmt.Sprintf("%s %s %d", words[r.IntN(len(words))], words[r.IntN(len(words))], id), Date: date,
			Blob: message(r, id, date)}
		if r.IntN(4) == 0 {
			it.Unread = 1
		}
		if r.IntN(10) == 0 {
			it.Flags, it.Tags = zimbratest.FlagFlagged, []string{"Important"}
		}
		if err := w.Add(it); err != nil {
			return err
		}
		counts[fo.id]++
		sum += int64(len(it.Blob))
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	b, _ := json.Marshal(counts)
	return os.WriteFile(out+".counts.json", b, 0o644)
}

// message is one MIME message of a log-normal size: prose, and for 30%
// an attachment of random bytes.
func message(r *rand.Rand, id int, date time.Time) []byte {
	size := int(math.Exp(r.NormFloat64()*1.1 + math.Log(14000)))
	size = min(max(size, 1000), 8<<20)
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from mx.example.com by mbox1.example.com; %s\r\nMessage-ID: <%d@bench.example.com>\r\n"+
		"Date: %s\r\nFrom: Sender %d <s%d@example.org>\r\nTo: bench@example.com\r\nSubject: message %d\r\nMIME-Version: 1.0\r\n",
		date.Format(time.RFC1123Z), id, date.Format(time.RFC1123Z), id%97, id%97, id)
	attach := r.IntN(10) < 3
	text := size
	if attach {
		text = size / 5
		b.WriteString("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	}
	line := 0
	for b.Len() < text {
		b.WriteString(words[int(math.Abs(r.NormFloat64())*20)%len(words)])
		line++
		if line%12 == 0 {
			b.WriteString("\r\n")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\r\n")
	if attach {
		b.WriteString("--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n" +
			"Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n")
		raw := make([]byte, (size-text)*3/4)
		for i := range raw {
			raw[i] = byte(r.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n--b--\r\n")
	}
	return []byte(b.String())
}

// tb stands in for the testing.TB zimbratest's server takes: it only
// registers cleanups and reports failures, outside a test.
type tb struct{ testing.TB }

func (tb) Helper()                   {}
func (tb) Cleanup(func())            {}
func (tb) Fatal(args ...any)         { log.Fatal(args...) }
func (tb) Fatalf(f string, a ...any) { log.Fatalf(f, a...) }

func run(path, user, caFile, urlFile string) {
	var counts map[int]int
	if b, err := os.ReadFile(path + ".counts.json"); err == nil {
		json.Unmarshal(b, &counts)
	}
	s := zimbratest.NewServer(tb{}, zimbratest.ServerOptions{Content: func(e zimbratest.Export, w io.Writer) error {
		if e.Folder != "/" || !e.After.IsZero() {
			return nil // everything is in the root export: 204
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}})
	var tree []*zimbratest.Folder
	for _, f := range zimbratest.DefaultFolders() {
		f.N = counts[f.ID]
		tree = append(tree, f)
	}
	tree = append(tree, &zimbratest.Folder{ID: 257, Name: "Archive", View: "message", N: counts[257]},
		&zimbratest.Folder{ID: 258, Name: "Work", View: "message", N: counts[258]})
	s.AddAccount(zimbratest.Account{Name: user, Folders: tree})
	if err := os.WriteFile(caFile, s.CertificatePEM(), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(urlFile, []byte(s.URL+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
