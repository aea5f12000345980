package convert

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-ical"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/internal/testservers"
)

// davDo sends one request to the test server as user u.
func davDo(t *testing.T, method, url, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("u", "pw")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestRadicaleAcceptsConvertedObjects stores what the converters make in
// a real CardDAV/CalDAV server (Radicale, which validates every upload)
// and reads it back: a full contact with a photo, a group, and a
// recurring appointment with an exception and an attachment.
func TestRadicaleAcceptsConvertedObjects(t *testing.T) {
	srv := testservers.StartRadicale(t, map[string]string{"u": "pw"})
	book, cal := srv.URL+"u/book/", srv.URL+"u/cal/"
	mkcol := `<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>` +
		`<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>`
	if code, b := davDo(t, "MKCOL", book, "application/xml", []byte(mkcol)); code != http.StatusCreated {
		t.Fatalf("MKCOL: %d %s", code, b)
	}
	if code, b := davDo(t, "MKCALENDAR", cal, "", nil); code != http.StatusCreated {
		t.Fatalf("MKCALENDAR: %d %s", code, b)
	}

	att := metadata.List{metadata.Map{"field": "image", "part": "1", "ctype": "image/jpeg"}}
	full := contactMeta(t, map[string]any{
		"firstName": "Zoë", "lastName": "Þórsdóttir", "email": "zoe@example.is", "workEmail1": "z@work.example",
		"homeStreet": "Laugavegur 1", "homeCity": "Reykjavík", "mobilePhone": "+354 4", "company": "Fyrirtæki, hf.",
		"notes": "line one\nline two; three", "birthday": "1980-02-29", "imAddress1": "xmpp://zoe@jabber.example",
		"homeURL": "https://home.example", "custom1": "kept", "My Field": "odd",
	}, att)
	group := contactMeta(t, map[string]any{"type": "group", "fileAs": "8:Team", "nickname": "Team",
		"groupMember": metadata.Encode(metadata.Map{"m": metadata.List{metadata.Map{"t": "C", "v": "257"},
			metadata.Map{"t": "I", "v": "Doe, Jane <jane@example.org>"}}}),
	}, nil)
	for i, md := range []metadata.Map{full, group} {
		var blob io.Reader
		if i == 0 {
			blob = strings.NewReader(contactBlob([3]string{"image", "me.jpg", "image/jpeg"}))
		}
		card, _, _, err := Contact(md, blob, ContactOptions{ItemID: int64(257 + i), AccountID: "acct"})
		if err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("%sc%d.vcf", book, i)
		if code, b := davDo(t, http.MethodPut, url, "text/vcard; charset=utf-8", card); code != http.StatusCreated {
			t.Fatalf("PUT card %d: %d %s\n%s", i, code, b, card)
		}
		code, got := davDo(t, http.MethodGet, url, "", nil)
		uid, err := CheckContact(bytes.NewReader(got))
		if code != http.StatusOK || err != nil || uid != fmt.Sprintf("acct:%d", 257+i) {
			t.Fatalf("GET card %d: %d uid %q %v\n%s", i, code, uid, err, got)
		}
		if i == 0 && !bytes.Contains(got, []byte("PHOTO;")) {
			t.Fatalf("the photo did not survive the server:\n%s", got)
		}
	}

	ics, _, err := CalendarFromBlob(strings.NewReader(digestBlob(
		[2]string{"301", inviteMessage(weeklyMaster("Wöchentlich", "0"), "base64", [3]string{"Agenda.pdf", "application/pdf", "%PDF-1.4 x"})},
		[2]string{"305", inviteMessage(weeklyException(), "8bit")})))
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, _, err := CalendarFromMetadata(itemMeta(t, metadata.Map{"u": "single-1", "st": "TZID=Europe/Berlin:20240708T090000",
		"et": "TZID=Europe/Berlin:20240708T100000", "n": "Einzeln", "dts": int64(1704067200000),
		"org": metadata.Map{"a": "o@example.de"}, "at0": metadata.Map{"a": "a@example.de", "ptst": "AC", "r": "REQ"}}))
	if err != nil {
		t.Fatal(err)
	}
	for name, obj := range map[string][]byte{"weekly.ics": ics, "single.ics": rebuilt} {
		if code, b := davDo(t, http.MethodPut, cal+name, "text/calendar; charset=utf-8", obj); code != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s\n%s", name, code, b, obj)
		}
		code, got := davDo(t, http.MethodGet, cal+name, "", nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", name, code)
		}
		back, err := ical.NewDecoder(bytes.NewReader(got)).Decode()
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", name, err, got)
		}
		want := 1
		if name == "weekly.ics" {
			want = 2
		}
		if n := len(children(back, ical.CompEvent)); n != want {
			t.Fatalf("%s holds %d events on the server, want %d:\n%s", name, n, want, got)
		}
	}
}
