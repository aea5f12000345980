package faultserver

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// The budget spends the burst for free, delays more the deeper the
// overdraft, refuses past the cutoff with Exchange's "Suggested Backoff
// Time", and recharges with time.
func TestChargeFollowsTheBudget(t *testing.T) {
	b := Budget{MaxBurst: 10, RechargePerHour: 36, Cutoff: 20, Hour: time.Hour, CostPerAppend: 7, MaxMicroDelay: 100 * time.Millisecond}
	s := &Server{opt: Options{Budget: &b}, balance: map[string]float64{}, updated: map[string]time.Time{}, refused: map[string]bool{}}
	var delays []time.Duration
	refusedAt := -1
	for i := range 10 {
		d, refuse := s.charge("alice", s.opt.Budget.CostPerAppend)
		if refuse > 0 {
			refusedAt = i
			// From -25 back to half the cutoff at 0.01 per second: 1500 s.
			if refuse < 1400*time.Second || refuse > 1600*time.Second {
				t.Errorf("suggested backoff %v, want about 1500 s", refuse)
			}
			break
		}
		delays = append(delays, d)
	}
	// Burst 10 at 7 each: one free (3 left); then -4, -11, -18, -25, each
	// delayed more; past the cutoff of 20 the next is refused.
	if refusedAt != 5 {
		t.Fatalf("refused at APPEND %d, want 5 (delays before: %v)", refusedAt, delays)
	}
	if delays[0] != 0 {
		t.Errorf("the burst was not free: %v", delays)
	}
	for i := 2; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Errorf("delays %v do not grow with the overdraft", delays)
		}
	}
	if d, _ := s.charge("bob", s.opt.Budget.CostPerAppend); d != 0 {
		t.Errorf("another user paid alice's overdraft: delay %v", d)
	}
	// An hour later alice has recharged 36: from -25 to the burst.
	s.updated["alice"] = time.Now().Add(-time.Hour)
	if d, refuse := s.charge("alice", s.opt.Budget.CostPerAppend); d != 0 || refuse != 0 {
		t.Errorf("after recharging: delay %v, refuse %v; want neither", d, refuse)
	}
}

// With Pace, a command earns at most Pace's recharge however late it
// comes, so a slow client is throttled too; once refused, the time it
// waits counts in full.
func TestPaceCapsTheRecharge(t *testing.T) {
	b := Budget{MaxBurst: 10, RechargePerHour: 3600, Cutoff: 20, Hour: time.Hour, CostPerAppend: 7, Pace: time.Second}
	s := &Server{opt: Options{Budget: &b}, balance: map[string]float64{}, updated: map[string]time.Time{}, refused: map[string]bool{}}
	refusedAt := -1
	for i := range 10 {
		if i > 0 {
			s.updated["alice"] = time.Now().Add(-time.Hour) // an hour would recharge it all
		}
		if _, refuse := s.charge("alice", b.CostPerAppend); refuse > 0 {
			refusedAt = i
			break
		}
	}
	// 10, then 3 left; each later one earns 1 (a second's worth) and pays
	// 7: -3, -9, -15, -21 and refused at the sixth.
	if refusedAt != 5 {
		t.Fatalf("refused at APPEND %d, want 5: a late command earned more than Pace's recharge", refusedAt)
	}
	// The refused client waits as told: that time counts whole.
	s.updated["alice"] = time.Now().Add(-time.Minute)
	if d, refuse := s.charge("alice", b.CostPerAppend); refuse != 0 || d != 0 {
		t.Errorf("after waiting a minute refused: delay %v, refuse %v; want neither", d, refuse)
	}
}

func TestBestTime(t *testing.T) {
	b := Office365(time.Minute, 1000)
	if got := b.BestTime(800); got != 0 {
		t.Errorf("800 APPENDs fit the burst and overdraft (840,000 ms), BestTime = %v", got)
	}
	// 1,200,000 ms needed, 840,000 at once, 360,000 more: one scaled hour.
	if got := b.BestTime(1200); got != time.Minute {
		t.Errorf("BestTime(1200) = %v, want one scaled hour (1m)", got)
	}
}

// The ErrorLimit-th error answer on a connection closes it, as the 10th
// does on Exchange.
func TestErrorLimitCloses(t *testing.T) {
	s, err := Start(Options{Users: map[string]string{"alice": "pw"}, ErrorLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := c.Select("Missing"+string(rune('A'+i)), nil).Wait(); err == nil {
			t.Fatal("selecting a missing mailbox succeeded")
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("after 2 errors of 3 the connection should still work: %v", err)
	}
	c.Select("MissingC", nil).Wait()
	time.Sleep(50 * time.Millisecond) // the server hangs up just after its answer
	if _, err := c.Select("INBOX", nil).Wait(); err == nil {
		t.Error("the connection still answers after the third error")
	}
	if got := s.Stats().ErrorDisconnects; got != 1 {
		t.Errorf("ErrorDisconnects = %d, want 1", got)
	}
}

// A dropped APPEND never answers; half the time the message was stored
// anyway, which a client can only learn by looking.
func TestDropsBeforeOrAfterStoring(t *testing.T) {
	s, err := Start(Options{Users: map[string]string{"alice": "pw"}, DropRate: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 8 {
		c, err := imapclient.DialInsecure(s.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice", "pw").Wait(); err != nil {
			t.Fatal(err)
		}
		msg := "Subject: x\r\n\r\nbody\r\n"
		cmd := c.Append("INBOX", int64(len(msg)), nil)
		cmd.Write([]byte(msg))
		cmd.Close()
		if _, err := cmd.Wait(); err == nil {
			t.Error("an APPEND on a connection that drops every one succeeded")
		}
		c.Close()
	}
	st := s.Stats()
	if st.Drops != 8 {
		t.Errorf("Drops = %d, want 8", st.Drops)
	}
	if st.Appends == 0 || st.Appends == 8 {
		t.Errorf("%d of 8 dropped APPENDs were stored; want some before and some after the drop", st.Appends)
	}
}
