package imap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/report"
)

// buildMailhaul compiles the command into the test's directory, so the
// test can kill a real import process.
func buildMailhaul(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mailhaul")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mailhaul/mailhaul/cmd/mailhaul").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// smallMessages makes n distinct small messages. Every seventh has no
// Message-ID (found again by content) and every tenth shares its
// Message-ID with the one before (found again by ID and size, or
// content), as real mailboxes have both.
func smallMessages(n int, seed int64) []testMsg {
	rnd := rand.New(rand.NewSource(seed))
	out := make([]testMsg, n)
	for i := range out {
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: a@example.org\nSubject: message %d of seed %d\n", i, seed)
		switch {
		case i%7 == 0:
		case i%10 == 9:
			fmt.Fprintf(&b, "Message-ID: <%d.%d@example.org>\n", seed, i-1)
		default:
			fmt.Fprintf(&b, "Message-ID: <%d.%d@example.org>\n", seed, i)
		}
		b.WriteString("\n")
		for range 2 + rnd.Intn(30) {
			fmt.Fprintf(&b, "line %d of a body in need of a few words\n", rnd.Int())
		}
		out[i] = testMsg{body: b.Bytes(), flags: []string{`\Seen`}, received: time.Unix(1600000000+int64(i)*60, 0)}
	}
	return out
}

// importProcess is one run of "mailhaul import imap" as a subprocess.
type importProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

func startImport(t *testing.T, bin, addr, state, reportPath string, archives ...string) *importProcess {
	t.Helper()
	args := append([]string{"-q", "import", "imap"}, archives...)
	args = append(args, "--url", "imap://"+addr, "--user", "alice", "--provider", "dovecot",
		"--state", state, "--report", reportPath, "--settle", "1500ms")
	p := &importProcess{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "MAILHAUL_PASSWORD=alice-secret")
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// journalSize is the size of the run's journal file, 0 before it exists.
func journalSize(state string) int64 {
	m, _ := filepath.Glob(filepath.Join(state, "*", "imap-*.journal")) // journal.Path
	if len(m) == 0 {
		return 0
	}
	fi, err := os.Stat(m[0])
	if err != nil {
		return 0
	}
	return fi.Size()
}

func readReport(t *testing.T, path string) *report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return &r
}

// TestSIGKILLNeverDuplicates kills the import process at several moments
// (while it logs in, before and after journal lines, mid-batch), runs it
// to completion, then imports an overlapping delta: every message must be
// on the target exactly once, and the report must say all are there.
func TestSIGKILLNeverDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and runs a real Dovecot")
	}
	d := testservers.StartDovecot(t, map[string]string{"alice": "alice-secret"})
	bin := buildMailhaul(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")

	msgs := smallMessages(3000, 1)
	full := []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: msgs[:1800]},
		{folder: format.Folder{Path: "Projects/2024"}, msgs: msgs[1800:2600]},
		{folder: format.Folder{Path: "Notes"}, msgs: msgs[2600:]},
	}
	fullPath := filepath.Join(dir, "full.tgz")
	writeArchive(t, fullPath, full)
	// The delta repeats 300 messages of the full archive (with their
	// sourceIds, as an exporter gives them) and brings 200 new.
	fresh := smallMessages(200, 2)
	repeated := append([]testMsg{}, msgs[1500:1800]...)
	for i := range repeated {
		repeated[i].id = fmt.Sprintf("INBOX#%d", 1500+i)
	}
	for i := range fresh {
		fresh[i].id = fmt.Sprintf("new#%d", i)
	}
	delta := []testFolder{
		{folder: format.Folder{Path: "INBOX", Role: format.RoleInbox}, msgs: append(repeated, fresh[:100]...)},
		{folder: format.Folder{Path: "Notes"}, msgs: fresh[100:]},
	}
	deltaPath := filepath.Join(dir, "delta.tgz")
	writeArchive(t, deltaPath, delta)

	// Kill points: a moment after start (login, folder creation), then
	// when the journal has grown past a share of its final size (about
	// 150 bytes a line, two lines a message).
	seed := time.Now().UnixNano()
	t.Logf("kill points from seed %d", seed)
	rnd := rand.New(rand.NewSource(seed))
	final := int64(len(msgs) * 2 * 150)
	kills := []struct {
		after   time.Duration
		journal int64
	}{
		{after: time.Duration(rnd.Intn(150)) * time.Millisecond},
		{journal: final / 10},
		{journal: final / 4},
		{journal: final/4 + 1 + rnd.Int63n(final/4)},
		{journal: final / 2},
		{journal: final*3/4 + rnd.Int63n(final/8)},
	}
	reportPath := filepath.Join(dir, "report.json")
	killed := 0
	for i, k := range kills {
		p := startImport(t, bin, d.Addr, state, reportPath, fullPath)
		deadline := time.After(30 * time.Second)
		var exited error
		finished := false
	wait:
		for start := time.Now(); ; {
			select {
			case exited = <-p.done:
				finished = true
				break wait
			case <-deadline:
				p.cmd.Process.Kill()
				t.Fatalf("kill %d: the import neither finished nor reached its kill point in 30s\n%s", i, p.stderr.String())
			case <-time.After(time.Millisecond):
			}
			if (k.journal > 0 && journalSize(state) >= k.journal) || (k.journal == 0 && time.Since(start) >= k.after) {
				break
			}
		}
		if finished {
			t.Logf("kill %d: the import finished first (%v)", i, exited)
			break
		}
		at := journalSize(state)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		killed++
		t.Logf("kill %d: SIGKILL with the journal at %d bytes", i, at)
	}
	if killed < 3 {
		t.Errorf("only %d kills landed before the import finished; the test proves little", killed)
	}

	p := startImport(t, bin, d.Addr, state, reportPath, fullPath)
	if err := <-p.done; err != nil {
		t.Fatalf("run to completion: %v\n%s", err, p.stderr.String())
	}
	rep := readReport(t, reportPath)
	t.Logf("completing run: %s; %s", rep.Line(), rep.Statement)
	if rep.Failed != 0 || rep.Imported+rep.Present != len(msgs) {
		t.Errorf("completing run: imported %d + present %d, failed %d (%v); want %d in all, none failed",
			rep.Imported, rep.Present, rep.Failed, rep.Failures, len(msgs))
	}
	if want := fmt.Sprintf("all %d items of the archives are on the target", len(msgs)); !strings.HasPrefix(rep.Statement, want) {
		t.Errorf("statement %q, want it to start %q", rep.Statement, want)
	}
	checkExactlyOnce(t, d.Addr, map[string][]testMsg{"INBOX": msgs[:1800], "Projects.2024": msgs[1800:2600], "Notes": msgs[2600:]})

	p = startImport(t, bin, d.Addr, state, reportPath, deltaPath)
	if err := <-p.done; err != nil {
		t.Fatalf("delta run: %v\n%s", err, p.stderr.String())
	}
	rep = readReport(t, reportPath)
	if rep.Imported != len(fresh) || rep.Present != 300 || rep.Failed != 0 {
		t.Errorf("delta run: imported %d, present %d, failed %d; want %d, 300, 0", rep.Imported, rep.Present, rep.Failed, len(fresh))
	}
	checkExactlyOnce(t, d.Addr, map[string][]testMsg{
		"INBOX":         append(append([]testMsg{}, msgs[:1800]...), fresh[:100]...),
		"Projects.2024": msgs[1800:2600],
		"Notes":         append(append([]testMsg{}, msgs[2600:]...), fresh[100:]...),
	})
}

// checkExactlyOnce reads every mailbox back and compares content hashes
// with the messages each must hold, once each and nothing else.
func checkExactlyOnce(t *testing.T, addr string, want map[string][]testMsg) {
	t.Helper()
	got := readBack(t, addr, "alice", "alice-secret")
	for box, msgs := range want {
		need := map[[32]byte]int{}
		for _, m := range msgs {
			need[sumOf(crlf(m.body))]++
		}
		have := map[[32]byte]int{}
		for _, m := range got[box] {
			have[m.sum]++
		}
		bad := 0
		for sum, n := range need {
			if have[sum] != n {
				bad++
				if bad <= 5 {
					t.Errorf("%s: message %x is on the target %d times, want %d", box, sum[:6], have[sum], n)
				}
			}
		}
		for sum := range have {
			if need[sum] == 0 {
				t.Errorf("%s: holds a message %x that is not in the archives", box, sum[:6])
			}
		}
		if len(got[box]) != len(msgs) {
			t.Errorf("%s: %d messages on the target, want %d (%d wrong)", box, len(got[box]), len(msgs), bad)
		}
	}
}
