package soap_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// A wrong admin password is a fault Zimbra labels text/javascript (as the
// fake does); it is an answer, sent once, never retried into a lockout.
func TestWrongPasswordSentOnce(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{Password: func() (string, error) { return "wrong", nil }})
	_, err := c.GetAccount(context.Background(), "ann@example.test", false)
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != "account.AUTH_FAILED" {
		t.Fatalf("got %v, want the account.AUTH_FAILED fault", err)
	}
	if n := s.Stats().SOAP["AuthRequest"]; n != 1 {
		t.Errorf("the refused login was sent %d times, want 1", n)
	}
}

// A refused login is remembered: parallel and later callers get the
// fault without a second AuthRequest.
func TestRefusedLoginRemembered(t *testing.T) {
	s, c := pair(t, zimbratest.ServerOptions{}, soap.Config{Password: func() (string, error) { return "wrong", nil }})
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.GetAccount(context.Background(), "ann@example.test", false) })
	}
	wg.Wait()
	for i, err := range errs {
		var f *soap.Fault
		if !errors.As(err, &f) || f.Code != "account.AUTH_FAILED" {
			t.Errorf("caller %d: got %v, want the account.AUTH_FAILED fault", i, err)
		}
	}
	if n := s.Stats().SOAP["AuthRequest"]; n != 1 {
		t.Errorf("%d AuthRequests, want 1", n)
	}
}

// A fault relabelled by a proxy (text/plain) is still an answer: its body
// is peeked at, sent once and read whole by the caller; a 500 that holds
// no fault is retried.
func TestFaultFoundInBody(t *testing.T) {
	var n atomic.Int32
	var fault atomic.Bool
	fault.Store(true)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		if !fault.Load() {
			io.WriteString(w, "Internal Server Error")
			return
		}
		io.WriteString(w, `{"Body":{"Fault":{"Code":{"Value":"soap:Sender"},"Reason":{"Text":"authentication failed"},"Detail":{"Error":{"Code":"account.AUTH_FAILED","_jsns":"urn:zimbra"}}}},"_jsns":"urn:zimbraSoap"}`)
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c, err := soap.New(soap.Config{URL: srv.URL, Admin: "admin@example.test", RootCAs: roots,
		Password: func() (string, error) { return "wrong", nil }, RequestsPerSecond: -1,
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond, Max: 2 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetAccount(context.Background(), "ann@example.test", false)
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != "account.AUTH_FAILED" || n.Load() != 1 {
		t.Errorf("%d requests, %v; want 1 and the account.AUTH_FAILED fault", n.Load(), err)
	}
	fault.Store(false)
	n.Store(0)
	c, _ = soap.New(soap.Config{URL: srv.URL, Admin: "admin@example.test", RootCAs: roots,
		Password: func() (string, error) { return "wrong", nil }, RequestsPerSecond: -1,
		Retry: retry.Loop{Attempts: 3, Backoff: retry.Policy{First: time.Millisecond, Max: 2 * time.Millisecond}}})
	if _, err = c.GetAccount(context.Background(), "ann@example.test", false); err == nil || n.Load() != 3 {
		t.Errorf("a 500 without a fault: %d requests (want 3), %v", n.Load(), err)
	}
}
