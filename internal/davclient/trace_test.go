package davclient

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailhaul/mailhaul/internal/testservers"
	"github.com/mailhaul/mailhaul/internal/trace"
)

// TestTraceRadicale: with the trace on, a PROPFIND with Basic auth to a
// real Radicale shows the request and the answer's status, and neither
// the password nor the Basic credentials.
func TestTraceRadicale(t *testing.T) {
	const pw = "Tr4ce-r4dic-Pw"
	r := testservers.StartRadicale(t, map[string]string{"alice": pw})
	var buf strings.Builder // RoundTrip writes the trace in the caller's goroutine
	defer trace.SetOutput(&buf)()
	c := New(Config{User: "alice", Password: pw})
	home, err := url.Parse(r.URL + "alice/")
	if err != nil {
		t.Fatal(err)
	}
	c.Trust(home)
	ans, err := c.Send(context.Background(), "PROPFIND", home.String(), http.Header{"Depth": {"0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Status != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: status %d, want 207", ans.Status)
	}
	got := buf.String()
	basic := base64.StdEncoding.EncodeToString([]byte("alice:" + pw))
	if strings.Contains(got, pw) || strings.Contains(got, basic) {
		t.Errorf("the trace shows the password:\n%s", got)
	}
	for _, w := range []string{"C: PROPFIND " + home.String(), "C: Authorization: [redacted]", "C: Depth: 0", " 207 Multi-Status", "not shown)"} {
		if !strings.Contains(got, w) {
			t.Errorf("trace lacks %q:\n%s", w, got)
		}
	}
}
