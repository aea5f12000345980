package soap_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/export/zimbra/zimbratest"
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
