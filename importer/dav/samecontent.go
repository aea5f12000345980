package dav

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/mailhaul/mailhaul/internal/contentline"
	"github.com/mailhaul/mailhaul/internal/nopanic"
)

// sameContent reports whether two vCards or iCalendar objects mean the
// same, and if not, which properties differ ("FN", "VEVENT SUMMARY"; nil
// when the objects could not be compared property by property). Both are
// parsed (go-vcard, go-ical) and reduced to their meaning, so that what a
// server changes in re-serialising an object does not count:
//   - folding, line endings, the order of properties, of parameters, of
//     parameter values and of sibling components;
//   - the case of property and parameter names, and of TYPE, ENCODING and
//     VALUE values; quotes around parameter values;
//   - escaping: \, \; \: and \N in values that are not lists or
//     structured, trailing empty parts of structured values (Radicale pads
//     N and ADR), whitespace in base64, equivalent durations;
//   - what servers add or replace: PRODID, DTSTAMP, the iCalendar VERSION,
//     CALSCALE:GREGORIAN, VALUE=DATE on a date, and VTIMEZONE definitions
//     (the TZID each property references is compared).
//
// An object that does not parse on either side is compared by its
// content lines (allowing for folding, line endings and order only).
func sameContent(a, b []byte) (bool, []string) {
	if bytes.Equal(a, b) {
		return true, nil
	}
	ma, okA := meaning(a)
	mb, okB := meaning(b)
	if !okA || !okB {
		ca, okA := canonical(a)
		cb, okB := canonical(b)
		return okA && okB && ca == cb, nil
	}
	if slices.Equal(ma, mb) {
		return true, nil
	}
	return false, differing(ma, mb)
}

// sameAsSent compares what a server holds with what was (or would be)
// sent. Bytes that are not UTF-8 (a vCard 3.0 in another charset, which
// 3.0 cannot declare) are also compared read as Latin-1, as Radicale
// reads them; latin1 says they matched only that way, which is right
// only if Latin-1 was their charset, so the caller notes it.
func sameAsSent(held, sent []byte) (same bool, diff []string, latin1 bool) {
	same, diff = sameContent(held, sent)
	if same || utf8.Valid(sent) || !utf8.Valid(held) {
		return same, diff, false
	}
	if ok, _ := sameContent(held, fromLatin1(sent)); ok {
		return true, nil, true
	}
	return false, diff, false
}

// differing names the properties found on one side only, sorted.
func differing(a, b []string) []string {
	count := map[string]int{}
	for _, l := range a {
		count[l]++
	}
	for _, l := range b {
		count[l]--
	}
	names := map[string]bool{}
	for l, n := range count {
		if n != 0 {
			names[l[:strings.IndexByte(l, '\x1f')]] = true
		}
	}
	// Named without the top component and without UIDs and
	// RECURRENCE-IDs: "FN", "VEVENT SUMMARY", "VEVENT/VALARM TRIGGER".
	seen := map[string]bool{}
	out := make([]string, 0, len(names))
	for n := range names {
		n = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(n, "VCARD "), "VCALENDAR "), "VCALENDAR/")
		var b strings.Builder
		depth := 0
		for _, r := range n {
			switch {
			case r == '[':
				depth++
			case r == ']' && depth > 0:
				depth--
			case depth == 0:
				b.WriteRune(r)
			}
		}
		if !seen[b.String()] {
			seen[b.String()] = true
			out = append(out, b.String())
		}
	}
	sort.Strings(out)
	return out
}

// describeDiff says which properties differ, for a report.
func describeDiff(props []string) string {
	if len(props) == 0 {
		return "content differs"
	}
	if len(props) > 8 {
		props = append(props[:8:8], fmt.Sprintf("and %d more", len(props)-8))
	}
	return "different " + strings.Join(props, ", ")
}

// meaning parses a vCard or iCalendar object into sorted lines, one per
// property: "COMPONENT... NAME\x1fPARAMS\x1fVALUE". false when it does
// not parse.
func meaning(b []byte) (out []string, ok bool) {
	head := bytes.ToUpper(contentline.Trim(b))
	// go-ical panics on some malformed lines; such an object is compared
	// by its lines instead.
	err := nopanic.Run(func() error {
		switch {
		case bytes.HasPrefix(head, []byte("BEGIN:VCARD")):
			out, ok = cardMeaning(b)
		case bytes.HasPrefix(head, []byte("BEGIN:VCALENDAR")):
			out, ok = calMeaning(b)
		}
		return nil
	})
	if err != nil {
		return nil, false
	}
	return out, ok
}

func cardMeaning(b []byte) ([]string, bool) {
	dec := vcard.NewDecoder(bytes.NewReader(b))
	var out []string
	for {
		card, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		for name, fields := range card {
			for _, f := range fields {
				group := ""
				if f.Group != "" {
					group = strings.ToLower(f.Group) + "."
				}
				// go-vcard has undone \\ \n and \, already.
				out = append(out, "VCARD "+group+normProp(name, f.Params, f.Value, true, cardStructured(name)))
			}
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	sort.Strings(out)
	return out, true
}

func cardStructured(name string) bool {
	switch name {
	case "N", "ADR", "ORG", "GENDER", "CLIENTPIDMAP":
		// GEO's "lat;lon" is left out: numbers need no escaping, and
		// Radicale stores it as "lat\;lon".
		return true
	}
	return false
}

func calMeaning(b []byte) ([]string, bool) {
	cal, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		return nil, false
	}
	var out []string
	var walk func(path string, c *ical.Component)
	walk = func(path string, c *ical.Component) {
		if c.Name == ical.CompTimezone {
			return
		}
		id := ""
		if p := c.Props.Get(ical.PropUID); p != nil {
			id += "[" + p.Value + "]"
		}
		if p := c.Props.Get(ical.PropRecurrenceID); p != nil {
			id += "[" + p.Value + "]"
		}
		path += c.Name + id
		for name, props := range c.Props {
			for _, p := range props {
				switch {
				case name == ical.PropProductID || name == ical.PropDateTimeStamp || (name == ical.PropVersion && c.Name == ical.CompCalendar):
					continue
				case name == ical.PropCalendarScale && strings.EqualFold(p.Value, "GREGORIAN"):
					continue
				}
				out = append(out, path+" "+normProp(name, p.Params, p.Value, false, calStructured(name)))
			}
		}
		for _, child := range c.Children {
			walk(path+"/", child)
		}
	}
	walk("", cal.Component)
	sort.Strings(out)
	return out, true
}

func calStructured(name string) bool {
	switch name {
	case "RRULE", "EXRULE", "REQUEST-STATUS":
		return true
	}
	return false
}

var (
	// cardUnescape finishes what go-vcard's parser leaves escaped.
	// \: and \" are no escapes in RFC 6350/5545, but writers use them
	// and Radicale stores ":" and '"' for them.
	cardUnescape = strings.NewReplacer(`\;`, ";", `\:`, ":", `\N`, "\n", `\"`, `"`)
	calUnescape  = strings.NewReplacer(`\\`, `\`, `\;`, ";", `\,`, ",", `\:`, ":", `\n`, "\n", `\N`, "\n", `\"`, `"`)
)

// normProp renders one property as "NAME\x1fPARAMS\x1fVALUE" in the
// normal form sameContent describes. card says go-vcard parsed it.
func normProp(name string, params map[string][]string, value string, card, structured bool) string {
	keys := make([]string, 0, len(params))
	binary := false
	var ps []string
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var vals []string
		// Split at commas whether or not the value was quoted: parsers
		// split unquoted values, servers re-quote (Radicale).
		for _, v := range strings.Split(strings.Join(params[k], ","), ",") {
			v = strings.Trim(v, `"`)
			switch k {
			case "TYPE", "ENCODING", "VALUE":
				v = strings.ToUpper(v)
			}
			switch {
			case v == "":
				continue
			case k == "ENCODING" && (v == "B" || v == "BASE64"):
				v, binary = "B", true
			case k == "VALUE" && v == "DATE" && len(value) == 8:
				continue
			}
			vals = append(vals, v)
		}
		if len(vals) > 0 {
			sort.Strings(vals)
			// An empty parameter before it (";;VALUE=") sticks to the name.
			ps = append(ps, strings.ToUpper(strings.Trim(k, "; "))+"="+strings.Join(vals, ","))
		}
	}
	value = strings.TrimRight(value, "\r")
	unescape := calUnescape
	if card {
		unescape = cardUnescape
	}
	switch {
	case binary:
		// Compared decoded: servers re-encode base64 (line breaks,
		// padding) without changing the bytes.
		value = strings.Join(strings.Fields(value), "")
		if raw, err := base64.StdEncoding.DecodeString(value); err == nil {
			value = string(raw)
		} else if raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(value, "=")); err == nil {
			value = string(raw)
		}
	case name == "RRULE" || name == "EXRULE":
		// Rule parts are unordered (RFC 5545 §3.3.10); servers reorder them.
		parts := strings.Split(strings.ToUpper(value), ";")
		sort.Strings(parts)
		value = strings.Join(parts, ";")
	case structured:
		parts := contentline.SplitValue(value, ';')
		for i, p := range parts {
			parts[i] = unescape.Replace(p)
		}
		for len(parts) > 1 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		value = strings.Join(parts, "\x00")
	case name == "DURATION" || name == "TRIGGER":
		value = normDuration(value)
	default:
		value = unescape.Replace(value)
	}
	return name + "\x1f" + strings.Join(ps, ";") + "\x1f" + value
}

// normDuration writes an RFC 5545 duration as signed seconds, so that
// -P0DT0H10M0S and -PT10M compare equal; other values stay as they are.
func normDuration(v string) string {
	s := strings.ToUpper(strings.TrimSpace(v))
	sign := int64(1)
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return v
	}
	var total, n int64
	digits := false
	for _, c := range s[1:] {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits = true
			if n > 1<<40 {
				return v
			}
			continue
		case c == 'T':
			if digits {
				return v
			}
			continue
		case !digits:
			return v
		}
		switch c {
		case 'W':
			total += n * 7 * 86400
		case 'D':
			total += n * 86400
		case 'H':
			total += n * 3600
		case 'M':
			total += n * 60
		case 'S':
			total += n
		default:
			return v
		}
		n, digits = 0, false
	}
	if digits {
		return v
	}
	return strconv.FormatInt(sign*total, 10) + "s"
}

// canonical renders an object with each component's property lines and
// sub-components sorted; false when BEGIN and END lines do not nest. It
// is the comparison of last resort, for objects that do not parse.
func canonical(b []byte) (string, bool) {
	type comp struct {
		name  string
		lines []string
	}
	stack := []*comp{{}}
	for _, line := range contentline.Unfold(b) {
		upper := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(upper, "BEGIN:"):
			stack = append(stack, &comp{name: upper})
		case strings.HasPrefix(upper, "END:"):
			top := stack[len(stack)-1]
			if len(stack) == 1 || "END:"+strings.TrimPrefix(top.name, "BEGIN:") != upper {
				return "", false
			}
			stack = stack[:len(stack)-1]
			slices.Sort(top.lines)
			// A sub-component sorts among its parent's lines as one block.
			parent := stack[len(stack)-1]
			parent.lines = append(parent.lines, top.name+"\n"+strings.Join(top.lines, "\n")+"\n"+upper)
		default:
			stack[len(stack)-1].lines = append(stack[len(stack)-1].lines, line)
		}
	}
	if len(stack) != 1 {
		return "", false
	}
	slices.Sort(stack[0].lines)
	return strings.Join(stack[0].lines, "\n"), true
}
