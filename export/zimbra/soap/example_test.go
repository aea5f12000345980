package soap_test

import (
	"context"
	"io"
	"log"
	"os"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/soap"
	"github.com/mailhaul/mailhaul/internal/retry"
)

// A whole run: every account, its folder tree and its three exports. A
// stream that breaks restarts that user's export from the start, into a
// fresh temporary file; only a complete one would be renamed into place.
func Example() {
	c, err := soap.New(soap.Config{
		URL:      "https://zimbra.example.com:7071",
		Admin:    "admin@example.com",
		Password: soap.PasswordFile("/etc/mailhaul/zimbra-admin.pw"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	err = c.Accounts(ctx, soap.Search{}, func(listed soap.Account) error {
		defer c.Done(listed.Name)
		a, err := c.GetAccount(ctx, listed.Name, false)
		if err != nil {
			return err
		}
		if _, err := c.Folders(ctx, a); err != nil { // counts to reconcile against
			return err
		}
		return retry.Do(ctx, retry.Loop{Attempts: 3}, func(ctx context.Context, _ int) error {
			tmp, err := os.CreateTemp("", "zimbra-*.part")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name()) // a half archive is never kept
			defer tmp.Close()
			for _, e := range soap.Plan(time.Time{}) {
				st, err := c.Export(ctx, a, e)
				if err != nil {
					return err
				}
				_, err = io.Copy(tmp, st) // a broken stream is retryable: start again
				st.Close()
				if err != nil {
					return err
				}
			}
			return nil // here: convert tmp into the user's archive
		})
	})
	if err != nil {
		log.Fatal(err)
	}
}
