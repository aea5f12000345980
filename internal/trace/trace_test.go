package trace

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// capture turns tracing on into a buffer for the test.
func capture(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	t.Cleanup(SetOutput(&buf))
	return &buf
}

// feed writes a client stream to the IMAP redactor in small pieces, as a
// connection may, and returns the trace.
func feed(t *testing.T, client bool, stream string) string {
	buf := capture(t)
	dir := "S:"
	if client {
		dir = "C:"
	}
	l := &imapLines{label: "imap#1 test", dir: dir, client: client}
	for i := 0; i < len(stream); i += 3 {
		l.Write([]byte(stream[i:min(i+3, len(stream))]))
	}
	return buf.String()
}

// TestIMAPRedaction: LOGIN with quoted and literal passwords, AUTHENTICATE
// with an initial response and with continuation lines, and appended
// messages: none of the secrets or the message reach the trace, the
// commands around them do.
func TestIMAPRedaction(t *testing.T) {
	const pw = "Zq9-hunter2-Pw"
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + pw))
	for _, tc := range []struct {
		name, stream string
		want         []string
	}{
		{"quoted LOGIN", "a1 LOGIN \"alice\" \"" + pw + "\"\r\na2 LIST \"\" \"*\"\r\n",
			[]string{"C: a1 LOGIN [redacted]\n", "C: a2 LIST \"\" \"*\"\n"}},
		{"literal LOGIN", "a1 LOGIN {5}\r\nalice {" + "14" + "}\r\n" + pw + "\r\na2 NOOP\r\n",
			[]string{"C: a1 LOGIN [redacted]\n", "C: [redacted]\n", "C: a2 NOOP\n"}},
		{"literal+ LOGIN", "a1 login alice {14+}\r\n" + pw + "\r\na2 NOOP\r\n",
			[]string{"C: a1 LOGIN [redacted]\n", "C: a2 NOOP\n"}},
		{"AUTHENTICATE with SASL-IR", "a1 AUTHENTICATE PLAIN " + plain + "\r\na2 NOOP\r\n",
			[]string{"C: a1 AUTHENTICATE PLAIN [redacted]\n", "C: a2 NOOP\n"}},
		{"AUTHENTICATE continued", "a1 AUTHENTICATE XOAUTH2\r\n" + plain + "\r\n*\r\na2 IDLE\r\nDONE\r\n",
			[]string{"C: a1 AUTHENTICATE XOAUTH2\n", "C: [redacted]\n", "C: *\n", "C: a2 IDLE\n", "C: DONE\n"}},
		{"APPEND", "a3 APPEND INBOX {31}\r\nSubject: x\r\n\r\n" + pw + "-body\r\n\r\na4 NOOP\r\n",
			[]string{"C: a3 APPEND INBOX {31} (literal of 31 bytes not shown)\n", "C: \n", "C: a4 NOOP\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := feed(t, true, tc.stream)
			if strings.Contains(got, pw) || strings.Contains(got, plain) || strings.Contains(got, "alice\x00") {
				t.Errorf("the trace shows the secret:\n%s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("trace lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestIMAPServerLiterals: a fetched message is named by size, and an
// endless line is cut, not held whole.
func TestIMAPServerLiterals(t *testing.T) {
	got := feed(t, false, "* 1 FETCH (BODY[] {12}\r\nsecret-mail!)\r\n* "+strings.Repeat("x", 5000)+"\r\na1 OK done\r\n")
	if strings.Contains(got, "secret-mail") {
		t.Errorf("the trace shows the message:\n%s", got)
	}
	for _, w := range []string{"(literal of 12 bytes not shown)", "S: )\n", "... (5002 bytes)", "S: a1 OK done\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
}

// TestHTTPRedaction: Authorization, Cookie and Set-Cookie values, URL
// passwords and token parameters are hidden; bodies are named by size.
func TestHTTPRedaction(t *testing.T) {
	const pw = "Zq9-hunter2-Pw"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "ZM_AUTH_TOKEN", Value: pw})
		io.WriteString(w, "<authToken>"+pw+"</authToken>")
	}))
	defer srv.Close()
	buf := capture(t)
	hc := &http.Client{Transport: HTTP(http.DefaultTransport)}
	req, _ := http.NewRequest("POST", srv.URL+"/service/soap?auth="+pw+"&fmt=tgz", strings.NewReader("<password>"+pw+"</password>"))
	req.SetBasicAuth("alice", pw)
	req.Header.Set("Cookie", "ZM_AUTH_TOKEN="+pw)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), pw) {
		t.Fatal("the traced transport changed the answer")
	}
	got := buf.String()
	if strings.Contains(got, pw) || strings.Contains(got, base64.StdEncoding.EncodeToString([]byte("alice:"+pw))) {
		t.Errorf("the trace shows the secret:\n%s", got)
	}
	for _, w := range []string{"C: POST http://", "fmt=tgz", "C: Authorization: [redacted]", "C: Cookie: [redacted]",
		"(body of 35 bytes not shown)", "S: HTTP/1.1 200 OK", "S: Set-Cookie: [redacted]"} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
}

// TestConversationLabels: every line starts with the date and time, names
// the user its context carries (as a migrate run's users share the
// trace), and keeps its conversation's number across STARTTLS; an HTTP
// exchange shows what its caller named it and the connection it went
// over.
func TestConversationLabels(t *testing.T) {
	buf := capture(t)
	ctx := WithUser(context.Background(), "alice@example.org")
	client, server := net.Pipe()
	defer server.Close()
	go io.Copy(io.Discard, server)
	c := Conn(ctx, client, "imap.example.org:143")
	c.Write([]byte("a1 STARTTLS\r\n"))
	client2, server2 := net.Pipe() // stands for the TLS connection over client
	defer server2.Close()
	go io.Copy(io.Discard, server2)
	up := Upgrade(Unwrap(c), client2) // not traced: nothing to keep
	if up != client2 {
		t.Error("Upgrade of an untraced connection traced it")
	}
	Upgrade(c, client2).Write([]byte("a2 NOOP\r\n"))
	Conn(context.Background(), client2, "other:143").Write([]byte("b1 NOOP\r\n"))

	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	hc := &http.Client{Transport: HTTP(http.DefaultTransport)}
	req, _ := http.NewRequestWithContext(WithRequest(ctx, "AuthRequest"), "POST", srv.URL+"/service/admin/soap", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z `)
	conv := map[string]string{} // first words of a line by its text
	for _, l := range lines {
		if !stamp.MatchString(l) {
			t.Errorf("line without its date and time: %q", l)
			continue
		}
		l = l[len("2006-01-02T15:04:05.000Z "):]
		label, text, _ := strings.Cut(l, " C: ")
		conv[text] = label
	}
	first := conv["a1 STARTTLS"]
	if !strings.HasPrefix(first, "[alice@example.org] imap#") || !strings.HasSuffix(first, " imap.example.org:143") {
		t.Errorf("the IMAP line's label %q lacks the user, protocol and server:\n%s", first, buf)
	}
	if got := conv["a2 NOOP"]; got != first {
		t.Errorf("after STARTTLS the conversation is %q, before %q", got, first)
	}
	if got := conv["b1 NOOP"]; strings.Contains(got, "alice") || got == first {
		t.Errorf("another connection, without a user, is labelled %q", got)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	post := conv["POST "+srv.URL+"/service/admin/soap HTTP/1.1 (AuthRequest)"]
	if !strings.HasPrefix(post, "[alice@example.org] http#") || !strings.HasSuffix(post, " "+host) {
		t.Errorf("the request line lacks its name or label (%q):\n%s", post, buf)
	}
	var via string
	for text, label := range conv {
		if strings.HasPrefix(text, "(connection from 127.0.0.1:") && strings.HasSuffix(text, ", new)") {
			via = label
		}
	}
	if via != post {
		t.Errorf("no line names the exchange's connection under %q:\n%s", post, buf)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestTee: a second output gets every line the first does, a failing
// output does not stop the others, and a Tee while tracing is off turns
// nothing on.
func TestTee(t *testing.T) {
	SetOutput(nil)
	var off bytes.Buffer
	Tee(&off)()
	if Enabled() {
		t.Fatal("Tee turned the trace on")
	}
	first := capture(t)
	var second bytes.Buffer
	restore := Tee(failingWriter{})
	restore2 := Tee(&second)
	emit("imap#1 x", "C:", "a1 NOOP")
	restore2()
	restore()
	emit("imap#1 x", "C:", "a2 NOOP")
	if first.String() == "" || !strings.HasPrefix(first.String(), second.String()) || !strings.HasSuffix(second.String(), "imap#1 x C: a1 NOOP\n") {
		t.Errorf("first output:\n%s\nsecond:\n%s", first, &second)
	}
	if strings.Contains(second.String(), "a2") || !strings.Contains(first.String(), "a2 NOOP") {
		t.Errorf("after the Tee's restore: first\n%s\nsecond\n%s", first, &second)
	}
}
