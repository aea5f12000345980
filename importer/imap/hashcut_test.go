package imap

import (
	"context"
	"testing"

	"github.com/mailhaul/mailhaul/internal/faultproxy"
)

// TestContentHashCutInsideBody cuts the control connection inside the
// message the content comparison fetches from the real Dovecot. The check
// must fail, never take the bytes that came for the whole message, and
// must not read the cut body again: go-imap's reader goes on parsing the
// connection once the body's reader has failed, and reading the body
// again raced with it (seen by -race under load, through a cancelled
// run's check).
func TestContentHashCutInsideBody(t *testing.T) {
	d := aliceWith(t, crlf(uniqueMessages(2)[1].body))

	for i := range 5 {
		// Each time a different share of the body comes before the cut.
		px, err := faultproxy.Start(faultproxy.Options{Upstream: d.Addr, Verbs: []string{"UID"}, Rate: 1,
			Points: []faultproxy.Point{faultproxy.InsideAnswer}, Seed: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		_, _, ctl := testControl(t, context.Background(), px.Addr)
		if _, err := ctl.examine("INBOX"); err != nil {
			t.Fatal(err)
		}
		sum, err := ctl.contentHash(1)
		if err == nil {
			t.Errorf("cut %d: the FETCH was cut inside the body, yet it hashed as %x with no error", i, sum)
		}
		if st := px.Stats(); st.AnswerCuts != 1 {
			t.Errorf("cut %d: the proxy cut %d answers, want the FETCH's", i, st.AnswerCuts)
		}
		px.Close()
	}
}
