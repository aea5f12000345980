package convert

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

// contactMeta builds a contact's item metadata as Zimbra writes it
// (fields under fld, attachments under att, v=10) and decodes it again,
// so every test goes through the real encoding.
func contactMeta(t *testing.T, fields map[string]any, att metadata.List) metadata.Map {
	t.Helper()
	m := metadata.Map{"fld": metadata.Map(fields), "v": 10}
	if att != nil {
		m["att"] = att
	}
	md, err := metadata.Decode(metadata.Encode(m))
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func decodeCard(t *testing.T, b []byte) vcard.Card {
	t.Helper()
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if len(strings.TrimSuffix(line, "\r\n")) > 75 {
			t.Fatalf("line longer than 75 octets: %q", line)
		}
	}
	if !bytes.HasPrefix(b, []byte("BEGIN:VCARD\r\nVERSION:3.0\r\n")) || !bytes.HasSuffix(b, []byte("END:VCARD\r\n")) {
		t.Fatalf("not a vCard 3.0:\n%s", b)
	}
	c, err := vcard.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	return c
}

type prop struct {
	Value string
	Types string
}

func props(c vcard.Card, name string) []prop {
	var out []prop
	for _, f := range c[name] {
		out = append(out, prop{f.Value, strings.Join(f.Params.Types(), ",")})
	}
	return out
}

func TestContactFields(t *testing.T) {
	md := contactMeta(t, map[string]any{
		"firstName": "Zoë", "lastName": "Þórsdóttir", "middleName": "Ása", "namePrefix": "Dr.", "nameSuffix": "二世",
		"fullName": "Dr. Zoë Ása Þórsdóttir 🎉", "nickname": "Zo",
		"email": "zoe@example.is", "email2": "z@example.org", "email3": `{"ZMVAL":["a@example.org","b@example.org"]}`,
		"workEmail1": "zoe@work.example",
		"workPhone":  "+354 1", "homePhone": "+354 2", "homePhone2": "+354 3", "mobilePhone": "+354 4",
		"pager": "+354 5", "workFax": "+354 6", "homeFax": "+354 7", "otherPhone": "+354 8", "carPhone": "+354 9",
		"assistantPhone": "+354 10",
		"homeStreet":     "Laugavegur 1\nApt 2", "homeCity": "Reykjavík", "homeState": "", "homePostalCode": "101", "homeCountry": "Ísland",
		"homeStreet2": "Second 2", "homeCity2": "Akureyri",
		"workStreet": "Work St", "workCity": "Kópavogur",
		"otherCountry": "Norge",
		"company":      "Fyrirtæki, hf.", "department": "R&D", "jobTitle": "Verkfræðingur",
		"notes":    "line one\r\nline two, with comma; and semicolon",
		"birthday": "1980-02-29", "anniversary": "2005-06-01",
		"homeURL": "https://home.example", "workURL": "https://work.example", "otherURL": "https://other.example",
		"imAddress1": "xmpp://zoe@jabber.example", "imAddress2": "other://zoe",
		"custom1": "kept", "maidenName": "Jónsdóttir", "My Field": "odd name", "fileAs": "8:Zoë explicit",
	}, nil)
	b, _, notes, err := Contact(md, nil, ContactOptions{ItemID: 257, AccountID: "acct-1", Tags: []string{"vip", "a,b"},
		Modified: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes: %q", notes)
	}
	c := decodeCard(t, b)
	checks := []struct {
		name string
		want []prop
	}{
		{"UID", []prop{{"acct-1:257", ""}}},
		{"FN", []prop{{"Dr. Zoë Ása Þórsdóttir 🎉", ""}}},
		{"N", []prop{{"Þórsdóttir;Zoë;Ása;Dr.;二世", ""}}},
		{"NICKNAME", []prop{{"Zo", ""}}},
		{"EMAIL", []prop{{"zoe@example.is", "internet"}, {"z@example.org", "internet"}, {"a@example.org", "internet"},
			{"b@example.org", "internet"}, {"zoe@work.example", "internet,work"}}},
		{"TEL", []prop{{"+354 9", "car,voice"}, {"+354 7", "home,fax"}, {"+354 2", "home,voice"}, {"+354 3", "home,voice"},
			{"+354 4", "cell,voice"}, {"+354 8", "voice"}, {"+354 5", "pager"}, {"+354 6", "work,fax"}, {"+354 1", "work,voice"},
			{"+354 10", "voice,x-assistant"}}},
		{"ADR", []prop{{";;Laugavegur 1\nApt 2;Reykjavík;;101;Ísland", "home,postal,parcel"},
			{";;Second 2;Akureyri;;;", "home,postal,parcel"},
			{";;Work St;Kópavogur;;;", "work,postal,parcel"}, {";;;;;;Norge", "postal,parcel"}}},
		{"ORG", []prop{{"Fyrirtæki, hf.;R&D", ""}}},
		{"TITLE", []prop{{"Verkfræðingur", ""}}},
		{"NOTE", []prop{{"line one\nline two, with comma; and semicolon", ""}}},
		{"BDAY", []prop{{"1980-02-29", ""}}},
		{"URL", []prop{{"https://home.example", "home"}, {"https://other.example", ""}, {"https://work.example", "work"}}},
		{"IMPP", []prop{{"xmpp://zoe@jabber.example", ""}, {"other://zoe", ""}}},
		{"X-ZIMBRA-ANNIVERSARY", []prop{{"2005-06-01", ""}}},
		{"X-ZIMBRA-CUSTOM1", []prop{{"kept", ""}}},
		{"X-ZIMBRA-MAIDENNAME", []prop{{"Jónsdóttir", ""}}},
		{"X-ZIMBRA-FILEAS", []prop{{"8:Zoë explicit", ""}}},
		{"X-ZIMBRA-MY-FIELD", []prop{{"odd name", ""}}},
		{"CATEGORIES", []prop{{"vip", ""}, {"a,b", ""}}},
		{"REV", []prop{{"20240102T030405Z", ""}}},
	}
	for _, ck := range checks {
		if got := props(c, ck.name); !reflect.DeepEqual(got, ck.want) {
			t.Errorf("%s = %q, want %q", ck.name, got, ck.want)
		}
	}
	if f := c.Get("X-ZIMBRA-MY-FIELD"); f == nil || f.Params.Get("X-ZIMBRA-FIELD") != "My Field" {
		t.Errorf("original field name not kept: %+v", f)
	}
	if !bytes.Contains(b, []byte("CATEGORIES:a\\,b\r\n")) {
		t.Errorf("a tag's comma not escaped:\n%s", b)
	}
	for _, k := range []string{"FN", "N", "NOTE"} {
		if len(c[k]) != 1 {
			t.Errorf("%s appears %d times", k, len(c[k]))
		}
	}
}

func TestContactUIDAndFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]any
		opt    ContactOptions
		uid    string
		fn     string
		n      string
	}{
		{"vcardUID wins", map[string]any{"vcardUID": "abc-123", "firstName": "A"}, ContactOptions{ItemID: 5, AccountID: "x"}, "abc-123", "A", ";A;;;"},
		{"no account id", map[string]any{"email": "only@example.org"}, ContactOptions{ItemID: 7}, "zimbra-7", "only@example.org", "only@example.org;;;;"},
		{"file as last, first", map[string]any{"firstName": "Ann", "lastName": "Lee", "company": "Co"}, ContactOptions{ItemID: 8}, "zimbra-8", "Lee, Ann", "Lee;Ann;;;"},
		{"file as company (first last)", map[string]any{"firstName": "Ann", "lastName": "Lee", "company": "Co", "fileAs": "7"}, ContactOptions{ItemID: 9}, "zimbra-9", "Co (Ann Lee)", "Lee;Ann;;;"},
		{"company only", map[string]any{"company": "Acme"}, ContactOptions{ItemID: 10}, "zimbra-10", "Acme", "Acme;;;;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _, _, err := Contact(contactMeta(t, tc.fields, nil), nil, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			c := decodeCard(t, b)
			if got := c.Value("UID"); got != tc.uid {
				t.Errorf("UID = %q, want %q", got, tc.uid)
			}
			if got := c.Value("FN"); got != tc.fn {
				t.Errorf("FN = %q, want %q", got, tc.fn)
			}
			if got := c.Value("N"); got != tc.n {
				t.Errorf("N = %q, want %q", got, tc.n)
			}
			if tc.fields["vcardUID"] != nil && c.Get("X-ZIMBRA-VCARDUID") != nil {
				t.Error("vcardUID also written as an unknown field")
			}
		})
	}
}

// In metadata of version 8 and before, the metadata is the fields themselves.
func TestContactLegacyMetadata(t *testing.T) {
	md, err := metadata.Decode("email=12:a@example.is;firstName=5:Josée;v=2:10;")
	if err != nil {
		t.Fatal(err)
	}
	b, _, notes, err := Contact(md, nil, ContactOptions{ItemID: 300})
	if err != nil || len(notes) != 0 {
		t.Fatalf("err %v notes %q", err, notes)
	}
	c := decodeCard(t, b)
	if c.Value("EMAIL") != "a@example.is" || c.Value("N") != ";Josée;;;" || c.Get("X-ZIMBRA-V") != nil {
		t.Fatalf("legacy contact:\n%s", b)
	}
}

func TestContactGroup(t *testing.T) {
	members := metadata.Encode(metadata.Map{"m": metadata.List{
		metadata.Map{"t": "C", "v": "257"},
		metadata.Map{"t": "C", "v": "258"},
		metadata.Map{"t": "C", "v": "other-acct:12"},
		metadata.Map{"t": "I", "v": "Jörg Müller <jorg@example.de>"},
		metadata.Map{"t": "I", "v": "plain@example.org"},
		metadata.Map{"t": "G", "v": "uid=x,ou=people,dc=example"},
	}, "v": 10})
	md := contactMeta(t, map[string]any{
		"type": "group", "fileAs": "8:Team Ñ", "nickname": "Team Ñ", "groupMember": members,
		"dlist": `"Doe, Jane" <jane@example.org>, bob@example.org`,
	}, nil)
	resolve := func(ref string) (string, bool) {
		if ref == "257" {
			return "vcard-uid-of-257", true
		}
		return "", false
	}
	b, _, notes, err := Contact(md, nil, ContactOptions{ItemID: 400, AccountID: "acct-1", MemberUID: resolve})
	if err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, b)
	if c.Value("X-ADDRESSBOOKSERVER-KIND") != "group" || c.Value("FN") != "Team Ñ" {
		t.Fatalf("not a named group:\n%s", b)
	}
	var got []string
	for _, f := range c["X-ADDRESSBOOKSERVER-MEMBER"] {
		got = append(got, f.Value+"|"+f.Params.Get("X-CN"))
	}
	want := []string{"urn:uuid:vcard-uid-of-257|", "urn:uuid:acct-1:258|", "urn:uuid:other-acct:12|",
		"mailto:jorg@example.de|Jörg Müller", "mailto:plain@example.org|",
		"mailto:jane@example.org|Doe  Jane", "mailto:bob@example.org|"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("members = %q, want %q", got, want)
	}
	if c.Value("X-ZIMBRA-GALMEMBER") != "uid=x,ou=people,dc=example" {
		t.Errorf("GAL member not kept:\n%s", b)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "directory (GAL)") {
		t.Errorf("notes = %q", notes)
	}
	for _, k := range []string{"X-ZIMBRA-TYPE", "X-ZIMBRA-GROUPMEMBER", "X-ZIMBRA-DLIST"} {
		if c.Get(k) != nil {
			t.Errorf("%s written though it was carried", k)
		}
	}
}

func TestContactGroupUnreadable(t *testing.T) {
	md := contactMeta(t, map[string]any{"type": "group", "fullName": "G", "groupMember": "not metadata", "dlist": "a@, <"}, nil)
	b, _, notes, err := Contact(md, nil, ContactOptions{ItemID: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, b)
	if c.Value("X-ZIMBRA-GROUPMEMBER") != "not metadata" || c.Value("X-ZIMBRA-DLIST") != "a@, <" || len(notes) != 2 {
		t.Fatalf("unreadable members not kept and noted: notes %q\n%s", notes, b)
	}
}

// contactBlob is a contact blob as Zimbra's ParsedContact writes it: a
// multipart/mixed with one part per attachment, Content-Disposition
// carrying field= and filename=.
func contactBlob(parts ...[3]string) string {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_b1\"\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--=_b1\r\nContent-Disposition: attachment; filename=" + p[1] + "; field=" + p[0] +
			"\r\nContent-Type: " + p[2] + "\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(p0data(p[0]))) + "\r\n")
	}
	b.WriteString("--=_b1--\r\n")
	return b.String()
}

func p0data(field string) string {
	return strings.Repeat("\xff\xd8\xff\xe0 JFIF "+field+" \x00\r\n", 40)
}

func TestContactPhoto(t *testing.T) {
	att := metadata.List{
		metadata.Map{"field": "image", "part": "1", "ctype": "image/jpeg", "name": "me.jpg", "size": 1000},
		metadata.Map{"field": "contract", "part": "2", "ctype": "application/pdf", "name": "c.pdf", "size": 1000},
	}
	md := contactMeta(t, map[string]any{"firstName": "Pic"}, att)
	blob := contactBlob([3]string{"image", "me.jpg", "image/jpeg"}, [3]string{"contract", "c.pdf", "application/pdf"})
	b, _, notes, err := Contact(md, strings.NewReader(blob), ContactOptions{ItemID: 2})
	if err != nil || len(notes) != 0 {
		t.Fatalf("err %v notes %q", err, notes)
	}
	c := decodeCard(t, b)
	photo := c.Get("PHOTO")
	if photo == nil || photo.Params.Get("ENCODING") != "b" || photo.Params.Get("TYPE") != "JPEG" {
		t.Fatalf("no base64 JPEG photo:\n%s", b)
	}
	if got, err := base64.StdEncoding.DecodeString(photo.Value); err != nil || string(got) != p0data("image") {
		t.Fatalf("photo bytes differ (%v)", err)
	}
	other := c.Get("X-ZIMBRA-CONTRACT")
	if other == nil || other.Params.Get("X-CONTENT-TYPE") != "application/pdf" || other.Params.Get("X-FILENAME") != "c.pdf" {
		t.Fatalf("second attachment not kept:\n%s", b)
	}
	if got, _ := base64.StdEncoding.DecodeString(other.Value); string(got) != p0data("contract") {
		t.Fatal("second attachment bytes differ")
	}
}

func TestContactAttachmentNotCarriedIsNoted(t *testing.T) {
	att := metadata.List{metadata.Map{"field": "image", "part": "1", "ctype": "image/png", "size": 10},
		metadata.Map{"field": "image", "part": "3", "ctype": "image/png", "size": 10}}
	md := contactMeta(t, map[string]any{"firstName": "NoBlob"}, att)
	_, _, notes, err := Contact(md, nil, ContactOptions{ItemID: 3})
	if err != nil || len(notes) != 2 || !strings.Contains(notes[0], "no blob") {
		t.Fatalf("err %v notes %q", err, notes)
	}
	blob := contactBlob([3]string{"image", "a.png", "image/png"})
	_, _, notes, err = Contact(md, strings.NewReader(blob), ContactOptions{ItemID: 3})
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "part 3") {
		t.Fatalf("err %v notes %q", err, notes)
	}
}

func TestContactXProps(t *testing.T) {
	md := contactMeta(t, map[string]any{
		"fullName": "X",
		"vcardXProps": `{"X-ABLABEL":"custom, label","item1.X-ABADR":"us","X-MULTI":"{\"ZMVAL\":[\"a\",\"b\"]}",` +
			`"X-P":"{\"ZMPROP\":[{\"ZMVAL\":\"v1\",\"PAR\":[\"TYPE=HOME\",\"PREF\"]}]}","BAD NAME":"x"}`,
	}, nil)
	b, _, notes, err := Contact(md, nil, ContactOptions{ItemID: 4})
	if err != nil {
		t.Fatal(err)
	}
	c := decodeCard(t, b)
	if c.Value("X-ABLABEL") != "custom, label" || !slices.Equal(c.Values("X-MULTI"), []string{"a", "b"}) {
		t.Errorf("xprops not written back:\n%s", b)
	}
	if f := c.Get("X-ABADR"); f == nil || f.Group != "item1" || f.Value != "us" {
		t.Errorf("grouped xprop: %+v", f)
	}
	if f := c.Get("X-P"); f == nil || f.Value != "v1" || !f.Params.HasType("HOME") || !f.Params.HasType("PREF") {
		t.Errorf("xprop with params: %+v", f)
	}
	if c.Value("X-ZIMBRA-VCARDXPROPS") != "BAD NAME=x" || len(notes) != 1 {
		t.Errorf("invalid xprop name not kept and noted: %q\n%s", notes, b)
	}
}

func TestContactSemicolonInNameIsNoted(t *testing.T) {
	b, _, notes, err := Contact(contactMeta(t, map[string]any{"lastName": "Smith; Jr"}, nil), nil, ContactOptions{ItemID: 6})
	if err != nil || len(notes) != 1 {
		t.Fatalf("err %v notes %q", err, notes)
	}
	if got := decodeCard(t, b).Value("N"); got != "Smith, Jr;;;;" {
		t.Fatalf("N = %q", got)
	}
}

func TestContactWithoutFields(t *testing.T) {
	if _, _, _, err := Contact(contactMeta(t, map[string]any{}, nil), nil, ContactOptions{ItemID: 1}); err == nil {
		t.Fatal("a contact without fields converted")
	}
	if _, _, _, err := Contact(metadata.Map{"fld": "x"}, nil, ContactOptions{ItemID: 1}); err == nil {
		t.Fatal("a contact whose fld is not a map converted")
	}
}

func TestCheckContact(t *testing.T) {
	b, _, _, err := Contact(contactMeta(t, map[string]any{"firstName": "Ünal"}, nil), nil, ContactOptions{ItemID: 9, AccountID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := CheckContact(bytes.NewReader(b)); err != nil || uid != "a:9" {
		t.Fatalf("CheckContact = %q, %v", uid, err)
	}
	for _, bad := range []string{"", "BEGIN:VCARD\r\nVERSION:3.0\r\n", string(b) + string(b), "hello"} {
		if uid, err := CheckContact(strings.NewReader(bad)); err == nil {
			t.Errorf("CheckContact(%q) = %q, want an error", bad, uid)
		}
	}
}

func TestContactOversizedPhotoIsNoted(t *testing.T) {
	big := strings.Repeat("x", MaxAttachment+1)
	blob := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename=big.jpg; field=image\r\n" +
		"Content-Type: image/jpeg\r\n\r\n" + big + "\r\n--b\r\nContent-Disposition: attachment; filename=s.png; field=image\r\n" +
		"Content-Type: image/png\r\n\r\nsmall\r\n--b--\r\n"
	b, _, notes, err := Contact(contactMeta(t, map[string]any{"firstName": "Big"}, nil), strings.NewReader(blob), ContactOptions{ItemID: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "part 1") || !strings.Contains(notes[0], "not carried") {
		t.Fatalf("notes = %q", notes)
	}
	if p := decodeCard(t, b).Get("PHOTO"); p == nil || p.Params.Get("TYPE") != "PNG" {
		t.Fatalf("the small photo after the big one is missing")
	}
}
