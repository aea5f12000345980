package dav

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/internal/retry"
	"github.com/mailhaul/mailhaul/report"
)

// connCountingServer is an unstarted server that answers every request
// with an empty 207 and counts the connections made to it.
func connCountingServer() (*httptest.Server, *atomic.Int32) {
	conns := new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMultiStatus)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	return srv, conns
}

// importSixTries imports a small archive to url with up to six fast
// attempts: enough for a needless retry to show in the connection count.
func importSixTries(t *testing.T, url string) (*report.Report, error) {
	t.Helper()
	return importArchives(context.Background(), []string{smallArchive(t, 3)}, testRun{Options: Options{URL: url,
		User: "alice", Password: "s3cret", Retry: retry.Loop{Attempts: 6, Backoff: retry.Policy{First: 20 * time.Millisecond}}}})
}

// An untrusted certificate cannot become trusted by asking again: the
// import fails on the first connection, naming the URL and --tls-ca,
// instead of retrying for half a minute (issue 9, item 20).
func TestUntrustedCertificateFailsAtOnce(t *testing.T) {
	srv, conns := connCountingServer()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are expected
	srv.StartTLS()
	defer srv.Close()

	start := time.Now()
	// No Transport: the system's roots, which do not hold httptest's CA.
	_, err := importSixTries(t, srv.URL+"/")
	if err == nil {
		t.Fatal("import against an untrusted certificate succeeded")
	}
	t.Log(err)
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1: a certificate error is permanent (error: %v)", n, err)
	}
	for _, want := range []string{srv.URL, "--tls-ca", "certificate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// https:// to a plain-HTTP server is a wrong scheme or port, which asking
// again cannot change: the import fails on the first connection, and
// the statement does not say a re-run can finish it.
func TestHTTPSToPlainServerFailsAtOnce(t *testing.T) {
	srv, conns := connCountingServer()
	srv.Start()
	defer srv.Close()

	rep, err := importSixTries(t, "https://"+srv.Listener.Addr().String()+"/")
	if err == nil {
		t.Fatal("import with https:// against a plain-HTTP server succeeded")
	}
	t.Log(err)
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1: a server that does not speak TLS will not start to (error: %v)", n, err)
	}
	if rep != nil {
		rep.Finish()
		if !strings.Contains(rep.Statement, "scheme and port") || strings.Contains(rep.Statement, "run the import again to finish") {
			t.Errorf("statement %q; want it to say to check the scheme and port, not to run again", rep.Statement)
		}
	}
}

// countingServer answers every request with an empty 207 and counts the
// requests, and those that carried credentials.
func countingServer() (srv *httptest.Server, all, creds *atomic.Int32) {
	all, creds = new(atomic.Int32), new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		all.Add(1)
		if r.Header.Get("Authorization") != "" {
			creds.Add(1)
		}
		w.WriteHeader(http.StatusMultiStatus)
	}))
	return srv, all, creds
}

// http:// to a host other than loopback would carry the password in
// clear: refused before any request unless AllowPlaintext, as import imap
// refuses imap:// (issue 9, item 11).
func TestPlainHTTPOffLoopbackRefused(t *testing.T) {
	srv, all, creds := countingServer()
	defer srv.Close()
	// Every host name reaches the test server.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	archive := smallArchive(t, 2)
	for _, o := range []Options{
		{URL: "http://dav.example.org/"},
		{CardDAV: "http://dav.example.org/book/"},
		{URL: "https://dav.example.org/", CalDAV: "http://dav.example.org/cal/"},
	} {
		opt := testRun{Options: o}
		opt.User, opt.Password, opt.Transport = "alice", "s3cret", tr
		opt.Retry = retry.Loop{Attempts: 1}
		_, err := importArchives(context.Background(), []string{archive}, opt)
		if err == nil || !strings.Contains(err.Error(), "--allow-plaintext") || !strings.Contains(err.Error(), "in clear") {
			t.Errorf("%+v: error %v, want a refusal naming --allow-plaintext", opt.URL+opt.CardDAV+opt.CalDAV, err)
		}
	}
	if n := all.Load(); n != 0 {
		t.Errorf("%d requests reached the server; want none", n)
	}

	// Allowed on purpose: the requests go, with the credentials.
	_, err := importArchives(context.Background(), []string{archive}, testRun{Options: Options{CardDAV: "http://dav.example.org/book/",
		User: "alice", Password: "s3cret", Transport: tr, AllowPlaintext: true, Retry: retry.Loop{Attempts: 1}}})
	if err != nil && strings.Contains(err.Error(), "--allow-plaintext") {
		t.Fatalf("refused despite AllowPlaintext: %v", err)
	}
	if creds.Load() == 0 {
		t.Errorf("with AllowPlaintext no request carried the credentials")
	}
}
