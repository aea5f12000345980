package mbox_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/mailhaul/mailhaul/mailbox/mbox"
)

func ExampleReader() {
	const in = "From alice@example.com Wed Nov 28 12:00:00 2026\n" +
		"Subject: one\n\n>>From the quoted past\n\n" +
		"From bob@example.com Wed Nov 28 12:05:00 2026\n" +
		"Subject: two\n\nbye\n"
	d, _ := mbox.DetectDialect(strings.NewReader(in))
	r := mbox.NewReader(strings.NewReader(in), d)
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(m.Body)
		fmt.Printf("%v at %d: %q\n", d, m.Offset, string(m.Header)+string(body))
	}
	// Output:
	// mboxrd at 0: "Subject: one\n\n>From the quoted past\n"
	// mboxrd at 86: "Subject: two\n\nbye\n"
}
