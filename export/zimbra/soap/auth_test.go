package soap_test

import (
	"context"
	"errors"
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
