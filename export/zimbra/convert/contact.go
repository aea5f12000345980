package convert

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-vcard"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
	"github.com/mailhaul/mailhaul/internal/contentline"
	"github.com/mailhaul/mailhaul/internal/nopanic"
)

// ContactOptions are the facts about a contact that live outside its
// metadata: in the tgz .meta entry, or known only to the caller.
type ContactOptions struct {
	ItemID    int64  // the item id (.meta "id")
	AccountID string // the account's zimbraId, when known
	Tags      []string
	Modified  time.Time // written as REV when set
	// MemberUID maps a contact group's member reference (an item id,
	// "<accountId>:<id>" for another account's) to that contact's vCard
	// UID. When nil or when it answers false, the reference gets the UID
	// rule of ContactUID.
	MemberUID func(ref string) (uid string, ok bool)
}

// ContactUID is the UID of a contact that has no vcardUID field, as
// Zimbra's own vCard export writes it: "<accountId>:<itemId>". Without the
// account id it is "zimbra-<itemId>", stable across exports of one account.
func ContactUID(accountID string, itemID int64) string {
	if accountID != "" {
		return accountID + ":" + strconv.FormatInt(itemID, 10)
	}
	return "zimbra-" + strconv.FormatInt(itemID, 10)
}

// Contact builds a vCard 3.0 from a contact's decoded item metadata
// (whose "fld" map holds the fields and "att" list the attachments; in
// metadata of version 8 and before it is the fields themselves) and its blob, which holds
// the attachments (nil when the item has none). notes name what the card
// could not carry exactly; an error means no card could be made.
func Contact(md metadata.Map, blob io.Reader, opt ContactOptions) (card []byte, notes []string, err error) {
	c := &contactBuilder{card: vcard.Card{}, used: map[string]bool{}, opt: opt}
	fields, ok := md.Map("fld")
	if !ok {
		if _, has := md["fld"]; has {
			return nil, nil, errors.New("contact: metadata fld is not a map")
		}
		fields = metadata.Map{}
		for k, v := range md {
			if k != "v" {
				fields[k] = v
			}
		}
	}
	c.fields = map[string]string{}
	for _, k := range fields.Keys() {
		s, ok := fields.Str(k)
		if !ok {
			c.note("field %s holds a map or list, not text; not carried", k)
			continue
		}
		c.fields[k] = s
	}
	if len(c.fields) == 0 && blob == nil {
		return nil, c.notes, errors.New("contact: no fields")
	}
	c.build()
	if err := c.attachments(md, blob); err != nil {
		return nil, c.notes, err
	}
	c.unknown()
	var buf bytes.Buffer
	if err := vcard.NewEncoder(&buf).Encode(c.card); err != nil {
		return nil, c.notes, fmt.Errorf("contact: %w", err)
	}
	return fold(buf.Bytes()), c.notes, nil
}

type contactBuilder struct {
	card   vcard.Card
	fields map[string]string
	used   map[string]bool
	notes  []string
	opt    ContactOptions
}

func (c *contactBuilder) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// get returns a field and marks it carried.
func (c *contactBuilder) get(name string) string {
	v, ok := c.fields[name]
	if ok {
		c.used[name] = true
	}
	return v
}

// add adds one property per value of a (possibly multi-valued) field.
func (c *contactBuilder) add(prop, value string, params vcard.Params, group string) {
	for _, v := range c.values(value) {
		c.card.Add(prop, &vcard.Field{Value: c.text(v), Params: params, Group: group})
	}
}

// values splits Zimbra's multi-valued form {"ZMVAL":["a","b"]}.
func (c *contactBuilder) values(v string) []string {
	if !strings.HasPrefix(v, `{"ZMVAL":`) {
		return []string{v}
	}
	var mv struct{ ZMVAL []string }
	if err := json.Unmarshal([]byte(v), &mv); err != nil {
		c.note("multi-valued field %q unreadable (%v); kept as text", clip(v), err)
		return []string{v}
	}
	return mv.ZMVAL
}

// text makes a value safe for a content line: line breaks become the \n
// the encoder escapes, other control characters are dropped as Zimbra's
// own export drops them.
func (c *contactBuilder) text(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "\n")
	dropped := false
	v = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7F {
			dropped = true
			return -1
		}
		return r
	}, v)
	if dropped {
		c.note("control characters dropped from %q", clip(v))
	}
	return v
}

// component is one part of a structured value (N, ADR, ORG). go-vcard
// joins the parts with ';' without escaping it, so a ';' inside a part
// is written as ','.
func (c *contactBuilder) component(v string) string {
	v = c.text(v)
	if strings.Contains(v, ";") {
		c.note("';' in %q written as ',' (a structured vCard value cannot hold it here)", clip(v))
		v = strings.ReplaceAll(v, ";", ",")
	}
	return v
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func types(t ...string) vcard.Params {
	return vcard.Params{vcard.ParamType: t}
}

// numbered returns the keys base, base2, base3… (or base1, base2… ) that
// the fields hold, in order of their number; Zimbra numbers the second
// and later values of a kind this way.
func (c *contactBuilder) numbered(base string) []string {
	type key struct {
		n    int
		name string
	}
	var keys []key
	for k := range c.fields {
		if !strings.HasPrefix(k, base) {
			continue
		}
		rest := k[len(base):]
		n := 1
		if rest != "" {
			var err error
			if n, err = strconv.Atoi(rest); err != nil || rest[0] == '0' || rest[0] == '+' || rest[0] == '-' {
				continue
			}
		}
		keys = append(keys, key{n, k})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].n < keys[j].n })
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.name
	}
	return out
}

func (c *contactBuilder) build() {
	c.card.SetValue(vcard.FieldVersion, "3.0")

	uid := c.get("vcardUID")
	if uid == "" {
		uid = ContactUID(c.opt.AccountID, c.opt.ItemID)
	}
	c.card.SetValue(vcard.FieldUID, uid)

	name := &vcard.Name{
		FamilyName:      c.component(c.get("lastName")),
		GivenName:       c.component(c.get("firstName")),
		AdditionalName:  c.component(c.get("middleName")),
		HonorificPrefix: c.component(c.get("namePrefix")),
		HonorificSuffix: c.component(c.get("nameSuffix")),
	}
	fn := c.get("fullName")
	if strings.TrimSpace(fn) == "" {
		fn = fileAs(c.fields)
	}
	if strings.TrimSpace(fn) == "" {
		for _, k := range append(c.numbered("email"), c.numbered("workEmail")...) {
			if fn = c.fields[k]; strings.TrimSpace(fn) != "" {
				break
			}
		}
	}
	if strings.TrimSpace(fn) == "" {
		fn = c.fields["company"]
	}
	c.card.SetValue(vcard.FieldFormattedName, c.text(fn))
	if *name == (vcard.Name{}) {
		name.FamilyName = c.component(fn) // clients show a blank name otherwise, as Zimbra notes
	}
	c.card.SetName(name)

	for _, k := range c.numbered("nickname") {
		c.add(vcard.FieldNickname, c.get(k), nil, "")
	}
	if v := c.get("birthday"); v != "" {
		c.add(vcard.FieldBirthday, v, nil, "")
	}
	for _, k := range c.numbered("anniversary") {
		c.add("X-ZIMBRA-ANNIVERSARY", c.get(k), nil, "")
	}
	if v := c.get("image"); v != "" { // a URL; an uploaded photo is an attachment
		c.add(vcard.FieldPhoto, v, vcard.Params{"VALUE": {"uri"}}, "")
	}

	c.addresses("home", types("home", "postal", "parcel"))
	c.addresses("work", types("work", "postal", "parcel"))
	c.addresses("other", types("postal", "parcel"))

	for _, p := range []struct {
		base  string
		types []string
	}{
		{"carPhone", []string{"car", "voice"}},
		{"homeFax", []string{"home", "fax"}},
		{"homePhone", []string{"home", "voice"}},
		{"mobilePhone", []string{"cell", "voice"}},
		{"otherFax", []string{"fax"}},
		{"otherPhone", []string{"voice"}},
		{"pager", []string{"pager"}},
		{"workFax", []string{"work", "fax"}},
		{"workPhone", []string{"work", "voice"}},
		// Zimbra's export leaves these out; they are phones all the same.
		{"workMobile", []string{"work", "cell", "voice"}},
		{"workAltPhone", []string{"work", "voice"}},
		{"companyPhone", []string{"work", "voice", "x-company"}},
		{"assistantPhone", []string{"voice", "x-assistant"}},
		{"callbackPhone", []string{"voice", "x-callback"}},
		{"tollFree", []string{"voice", "x-tollfree"}},
	} {
		for _, k := range c.numbered(p.base) {
			if v := c.get(k); v != "" {
				c.add(vcard.FieldTelephone, v, types(p.types...), "")
			}
		}
	}

	for _, k := range c.numbered("email") {
		if v := c.get(k); v != "" {
			c.add(vcard.FieldEmail, v, types("internet"), "")
		}
	}
	for _, k := range c.numbered("workEmail") {
		if v := c.get(k); v != "" {
			c.add(vcard.FieldEmail, v, types("internet", "work"), "")
		}
	}
	for _, u := range []struct {
		base   string
		params vcard.Params
	}{{"homeURL", types("home")}, {"otherURL", nil}, {"workURL", types("work")}} {
		for _, k := range c.numbered(u.base) {
			if v := c.get(k); v != "" {
				c.add(vcard.FieldURL, v, u.params, "")
			}
		}
	}
	for _, base := range []string{"imAddress", "workIM"} {
		for _, k := range c.numbered(base) {
			if v := c.get(k); v != "" {
				c.add(vcard.FieldIMPP, v, nil, "") // Zimbra stores a URI: xmpp://user@host
			}
		}
	}

	company, dept := c.get("company"), c.get("department")
	if company != "" || dept != "" {
		org := c.component(company)
		if dept != "" {
			org += ";" + c.component(dept)
		}
		c.card.Add(vcard.FieldOrganization, &vcard.Field{Value: org})
	}
	if v := c.get("jobTitle"); v != "" {
		c.add(vcard.FieldTitle, v, nil, "")
	}
	if v := c.get("notes"); v != "" {
		c.add(vcard.FieldNote, v, nil, "")
	}
	cert := c.get("userSMIMECertificate")
	if other := c.get("userCertificate"); cert == "" {
		cert = other
	} else if other != "" && other != cert {
		c.add("X-ZIMBRA-USERCERTIFICATE", other, nil, "")
	}
	if cert != "" {
		c.card.Add(vcard.FieldKey, &vcard.Field{Value: strings.Join(strings.Fields(cert), ""), Params: vcard.Params{"ENCODING": {"b"}}})
	}
	// One CATEGORIES per tag: go-vcard escapes every comma, so a joined
	// list would read back as a single category.
	for _, t := range c.opt.Tags {
		c.card.Add(vcard.FieldCategories, &vcard.Field{Value: c.text(t)})
	}
	if !c.opt.Modified.IsZero() {
		c.card.SetRevision(c.opt.Modified.UTC())
	}
	c.group()
	c.xprops()
}

// addresses writes the ADR of one kind: home, work or other, and their
// numbered repeats (homeStreet2, homeCity2…).
func (c *contactBuilder) addresses(kind string, params vcard.Params) {
	parts := []string{"Street", "City", "State", "PostalCode", "Country"}
	suffixes := map[string]bool{}
	for _, p := range parts {
		for _, k := range c.numbered(kind + p) {
			suffixes[strings.TrimPrefix(k, kind+p)] = true
		}
	}
	order := slices.SortedFunc(maps.Keys(suffixes), func(x, y string) int {
		a, _ := strconv.Atoi("0" + x)
		b, _ := strconv.Atoi("0" + y)
		return a - b
	})
	for _, s := range order {
		v := make([]string, len(parts))
		for i, p := range parts {
			v[i] = c.component(c.get(kind + p + s))
		}
		if strings.Join(v, "") == "" {
			continue
		}
		c.card.AddAddress(&vcard.Address{
			Field:         &vcard.Field{Params: params},
			StreetAddress: v[0], Locality: v[1], Region: v[2], PostalCode: v[3], Country: v[4],
		})
	}
}

// fileAs is Zimbra's "file as" text (Contact.getFileAsString), the name
// its own export falls back to when fullName is empty.
func fileAs(f map[string]string) string {
	first, last, company := f["firstName"], f["lastName"], f["company"]
	code, explicit, _ := strings.Cut(f["fileAs"], ":")
	lastFirst := last
	if first != "" && last != "" {
		lastFirst += ", "
	}
	lastFirst += first
	firstLast := first
	if first != "" && last != "" {
		firstLast += " "
	}
	firstLast += last
	withCompany := func(s string) string {
		if company != "" {
			s += " (" + company + ")"
		}
		return s
	}
	companyWith := func(s string) string {
		if first != "" || last != "" {
			return company + " (" + s + ")"
		}
		return company
	}
	var s string
	switch code {
	case "2":
		s = firstLast
	case "3":
		s = company
	case "4":
		s = withCompany(lastFirst)
	case "5":
		s = withCompany(firstLast)
	case "6":
		s = companyWith(lastFirst)
	case "7":
		s = companyWith(firstLast)
	case "8":
		s = explicit
	default:
		s = lastFirst
	}
	return strings.TrimSpace(s)
}

// group writes a contact group the way Zimbra's CardDAV does (Apple's
// X-ADDRESSBOOKSERVER-KIND and -MEMBER with urn:uuid: of the member's
// UID) and keeps what Zimbra's CardDAV drops: inline members as mailto:
// members, directory (GAL) members as X-ZIMBRA-GALMEMBER.
func (c *contactBuilder) group() {
	if c.fields["type"] == "group" {
		c.used["type"] = true
		c.card.Add("X-ADDRESSBOOKSERVER-KIND", &vcard.Field{Value: "group"})
	}
	if enc, ok := c.fields["groupMember"]; ok {
		c.used["groupMember"] = true
		gm, err := metadata.Decode(enc)
		var members []metadata.Map
		if err == nil {
			l, _ := gm.List("m")
			var all bool
			if members, all = l.Maps(); !all {
				err = errors.New("a member is not a map")
			}
		}
		if err != nil {
			c.note("group members unreadable (%v); kept as X-ZIMBRA-GROUPMEMBER", err)
			c.add("X-ZIMBRA-GROUPMEMBER", enc, nil, "")
		}
		for _, m := range members {
			t, _ := m.Str("t")
			v, _ := m.Str("v")
			switch t {
			case "C":
				uid, ok := "", false
				if c.opt.MemberUID != nil {
					uid, ok = c.opt.MemberUID(v)
				}
				if !ok {
					uid = memberUID(c.opt.AccountID, v)
				}
				c.card.Add("X-ADDRESSBOOKSERVER-MEMBER", &vcard.Field{Value: "urn:uuid:" + c.text(uid)})
			case "I":
				c.inlineMember(v)
			case "G":
				c.add("X-ZIMBRA-GALMEMBER", v, nil, "")
				c.note("group member %q is a directory (GAL) entry; kept as X-ZIMBRA-GALMEMBER", clip(v))
			default:
				c.add("X-ZIMBRA-GROUPMEMBER", v, vcard.Params{"X-TYPE": {t}}, "")
				c.note("group member %q of unknown type %q kept as X-ZIMBRA-GROUPMEMBER", clip(v), t)
			}
		}
	}
	// dlist is the group form before ZCS 7: addresses separated by commas.
	if dl, ok := c.fields["dlist"]; ok {
		c.used["dlist"] = true
		addrs, err := mail.ParseAddressList(dl)
		if err != nil {
			c.note("group list %q unreadable (%v); kept as X-ZIMBRA-DLIST", clip(dl), err)
			c.add("X-ZIMBRA-DLIST", dl, nil, "")
		}
		for _, a := range addrs {
			c.member(a)
		}
	}
}

func (c *contactBuilder) inlineMember(v string) {
	a, err := mail.ParseAddress(v)
	if err != nil {
		c.note("group member %q is not an address; kept as X-ZIMBRA-GROUPMEMBER", clip(v))
		c.add("X-ZIMBRA-GROUPMEMBER", v, nil, "")
		return
	}
	c.member(a)
}

func (c *contactBuilder) member(a *mail.Address) {
	f := &vcard.Field{Value: "mailto:" + a.Address}
	if a.Name != "" {
		f.Params = vcard.Params{"X-CN": {paramValue(a.Name)}}
	}
	c.card.Add("X-ADDRESSBOOKSERVER-MEMBER", f)
}

// memberUID is the default UID of a member reference: Zimbra's rule for
// a contact without vcardUID. A reference to another account's contact
// already reads "<accountId>:<id>".
func memberUID(accountID, ref string) string {
	if strings.Contains(ref, ":") {
		return ref
	}
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return ContactUID(accountID, id)
	}
	return ref
}

// xprops writes back the properties of an imported vCard that Zimbra kept
// in vcardXProps (a JSON object: name -> value, {"ZMVAL":[…]} or
// {"ZMPROP":[{"ZMVAL":v,"PAR":[…]}]}).
func (c *contactBuilder) xprops() {
	raw, ok := c.fields["vcardXProps"]
	if !ok {
		return
	}
	c.used["vcardXProps"] = true
	var props map[string]string
	if err := json.Unmarshal([]byte(raw), &props); err != nil {
		c.note("vcardXProps unreadable (%v); kept as X-ZIMBRA-VCARDXPROPS", err)
		c.add("X-ZIMBRA-VCARDXPROPS", raw, nil, "")
		return
	}
	for _, key := range slices.Sorted(maps.Keys(props)) {
		group, name := "", key
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			group, name = key[:i], key[i+1:]
		}
		if !contentline.ValidName(name) || group != "" && !contentline.ValidName(group) {
			c.note("vCard property %q from vcardXProps has an invalid name; kept as X-ZIMBRA-VCARDXPROPS", clip(key))
			c.add("X-ZIMBRA-VCARDXPROPS", key+"="+props[key], nil, "")
			continue
		}
		val := props[key]
		var wrapped struct {
			ZMPROP []struct {
				ZMVAL string
				PAR   []string
			}
		}
		if strings.HasPrefix(val, `{"ZMPROP":`) && json.Unmarshal([]byte(val), &wrapped) == nil {
			for _, p := range wrapped.ZMPROP {
				params := vcard.Params{}
				for _, par := range p.PAR {
					if k, v, ok := strings.Cut(par, "="); ok {
						params.Add(strings.ToUpper(k), v)
					} else {
						params.Add(vcard.ParamType, par)
					}
				}
				c.xvalue(name, group, p.ZMVAL, params)
			}
			continue
		}
		for _, v := range c.values(val) {
			c.xvalue(name, group, v, nil)
		}
	}
}

func (c *contactBuilder) xvalue(name, group, v string, params vcard.Params) {
	if params.Get("ENCODING") != "" { // raw base64, whatever line breaks it was stored with
		c.card.Add(strings.ToUpper(name), &vcard.Field{Value: strings.Join(strings.Fields(v), ""), Params: params, Group: group})
		return
	}
	c.card.Add(strings.ToUpper(name), &vcard.Field{Value: c.text(v), Params: params, Group: group})
}

// attachments writes the contact's attached files from its blob: the
// "image" field as PHOTO (as Zimbra does), any other as X-ZIMBRA-<FIELD>.
func (c *contactBuilder) attachments(md metadata.Map, blob io.Reader) error {
	byPart := map[string]metadata.Map{}
	if l, ok := md.List("att"); ok {
		atts, _ := l.Maps()
		for _, a := range atts {
			p, _ := a.Str("part")
			byPart[p] = a
		}
	}
	if blob == nil {
		for _, p := range slices.Sorted(maps.Keys(byPart)) {
			f, _ := byPart[p].Str("field")
			c.note("attachment %s (part %s) not carried: the contact has no blob", f, p)
		}
		return nil
	}
	seen := map[string]bool{}
	var room budget
	err := eachPart(blob, func(part string, p attachedPart) error {
		seen[part] = true
		field := p.field
		if a, ok := byPart[part]; ok {
			if f, ok := a.Str("field"); ok {
				field = f
			}
		}
		if field == "" {
			field = "attachment"
		}
		data, tooLarge, err := room.read(p.body)
		if err != nil {
			return fmt.Errorf("contact: blob part %s: %w", part, err)
		}
		if tooLarge {
			c.note("attachment %s (part %s) not carried: larger than %d bytes, or the contact's attachments larger than %d",
				field, part, MaxAttachment, MaxItemAttachments)
			return nil
		}
		enc := base64.StdEncoding.EncodeToString(data)
		if strings.EqualFold(field, "image") {
			params := vcard.Params{"ENCODING": {"b"}}
			if sub, ok := strings.CutPrefix(p.contentType, "image/"); ok && sub != "" {
				params.Set(vcard.ParamType, strings.ToUpper(sub))
			}
			c.card.Add(vcard.FieldPhoto, &vcard.Field{Value: enc, Params: params})
			return nil
		}
		params := vcard.Params{"ENCODING": {"b"}}
		if p.contentType != "" {
			params.Set("X-CONTENT-TYPE", paramValue(p.contentType))
		}
		if p.filename != "" {
			params.Set("X-FILENAME", paramValue(p.filename))
		}
		name, named := xName(field)
		if !named {
			params.Set("X-ZIMBRA-FIELD", paramValue(field))
		}
		c.card.Add(name, &vcard.Field{Value: enc, Params: params})
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		if !seen[p] {
			f, _ := byPart[p].Str("field")
			c.note("attachment %s (part %s) missing from the blob", f, p)
		}
	}
	return nil
}

// paramValue makes text a parameter value go-vcard writes intact: it
// escapes a comma as in a property value (wrong in a parameter), so
// commas become spaces; quotes and control characters cannot be in a
// parameter at all.
func paramValue(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == ',':
			return ' '
		case r == '"' || r < 0x20 || r == 0x7F:
			return -1
		}
		return r
	}, s)
	return contentline.QuoteParam(s)
}

// xName is the X-ZIMBRA- property name of a field; named is false when
// the field name had characters a property name cannot hold (they become
// '-', and the caller keeps the original in a parameter).
func xName(field string) (name string, named bool) {
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && contentline.ValidName(string(r)) && r != '_' {
			return r
		}
		return '-'
	}, field)
	return "X-ZIMBRA-" + strings.ToUpper(clean), clean == field
}

// unknown keeps every field no property above carried as X-ZIMBRA-<NAME>.
func (c *contactBuilder) unknown() {
	keys := make([]string, 0, len(c.fields))
	for k := range c.fields {
		if !c.used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, named := xName(k)
		var params vcard.Params
		if !named {
			params = vcard.Params{"X-ZIMBRA-FIELD": {paramValue(k)}}
			if strings.Contains(k, ",") {
				c.note("field name %q written with ' ' for ','", clip(k))
			}
		}
		c.add(name, c.fields[k], params, "")
	}
}

// fold refolds the encoder's lines at 75 octets (RFC 2426 §2.6); go-vcard
// writes each property on one line, a photo included.
func fold(b []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if line == "" {
			continue
		}
		out.WriteString(contentline.Fold(strings.TrimSuffix(line, "\r\n"), "\r\n"))
	}
	return out.Bytes()
}

// MaxCard bounds one .vcf entry checked by CheckContact.
const MaxCard = 16 << 20

// CheckContact checks a vCard entry that needs no conversion (a meta=0
// .vcf): it must hold exactly one card. It returns the card's UID, empty
// when it has none; the caller keeps the bytes as they are.
func CheckContact(r io.Reader) (uid string, err error) {
	b, err := readBounded(r, MaxCard, "contact")
	if err != nil {
		return "", err
	}
	dec := vcard.NewDecoder(bytes.NewReader(b))
	var card vcard.Card
	err = nopanic.Run(func() (err error) { card, err = dec.Decode(); return err })
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", errors.New("contact: no vCard")
		}
		return "", fmt.Errorf("contact: %w", err)
	}
	if err := nopanic.Run(func() error { _, err := dec.Decode(); return err }); !errors.Is(err, io.EOF) {
		if err == nil {
			return "", errors.New("contact: more than one vCard")
		}
		return "", fmt.Errorf("contact: after the first vCard: %w", err)
	}
	return card.Value(vcard.FieldUID), nil
}
