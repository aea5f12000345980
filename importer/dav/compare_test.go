package dav

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Property-by-property comparison of what was sent with what a server
// returns. Servers may refold lines, reorder properties and parameters,
// change the case of parameter names and re-escape values; none of that
// changes a property, so each side is reduced to a sorted list of
// "NAME;param=values:value" strings. Differences are returned as text.

func cardProps(b []byte) ([]string, error) { return contentProps(b) }

func calProps(b []byte) ([]string, error) { return contentProps(b) }

// contentProps parses content lines (RFC 5545 §3.1, RFC 6350 §3.3) into
// normalised "PATH/NAME;PARAMS:VALUE" strings, where PATH is the chain of
// components (with UID and RECURRENCE-ID for identity). VTIMEZONEs are
// left out (servers add the ones a TZID references).
func contentProps(b []byte) ([]string, error) {
	if !utf8.Valid(b) {
		b = []byte(strings.ToValidUTF8(string(b), "?"))
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\n ", "")
	text = strings.ReplaceAll(text, "\n\t", "")
	type comp struct {
		name  string
		props []string
		id    string
	}
	var stack []*comp
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		name, params, value, ok := splitContentLine(l)
		if !ok {
			return nil, fmt.Errorf("not a content line: %.60q", l)
		}
		switch name {
		case "BEGIN":
			stack = append(stack, &comp{name: strings.ToUpper(value)})
			continue
		case "END":
			if len(stack) == 0 {
				return nil, fmt.Errorf("END without BEGIN")
			}
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if c.name == "VTIMEZONE" || slices.ContainsFunc(stack, func(p *comp) bool { return p.name == "VTIMEZONE" }) {
				continue
			}
			var path string
			for _, p := range stack {
				path += "/" + p.name + p.id
			}
			path += "/" + c.name + c.id
			for _, p := range c.props {
				out = append(out, path+" "+p)
			}
			continue
		}
		if len(stack) == 0 {
			return nil, fmt.Errorf("property outside a component")
		}
		c := stack[len(stack)-1]
		switch name {
		case "UID":
			c.id = "[" + value + "]" + c.id
		case "RECURRENCE-ID":
			c.id += "[" + value + "]"
		case "VERSION", "PRODID", "DTSTAMP", "CALSCALE":
			// Servers add these when missing (Radicale adds DTSTAMP and
			// VERSION); they say nothing about the object.
			continue
		}
		c.props = append(c.props, normProp(name, params, value))
	}
	sort.Strings(out)
	return out, nil
}

// splitContentLine splits NAME;PARAMS:VALUE, honouring quoted parameters.
func splitContentLine(l string) (name string, params []string, value string, ok bool) {
	quoted := false
	start := 0
	var parts []string
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '"':
			quoted = !quoted
		case ';', ':':
			if quoted {
				continue
			}
			parts = append(parts, l[start:i])
			start = i + 1
			if l[i] == ':' {
				name = strings.ToUpper(parts[0])
				if g := strings.LastIndexByte(name, '.'); g >= 0 {
					name = name[g+1:]
				}
				return name, parts[1:], l[i+1:], name != ""
			}
		}
	}
	return "", nil, "", false
}

// normProp reduces a property to what it means: parameter names, TYPE and
// ENCODING values upper-cased and sorted; quotes and empty parameters
// dropped; VALUE=DATE dropped on a date (implied); text escapes undone,
// trailing empty components of structured values dropped (Radicale pads
// N and ADR) and base64 whitespace removed.
func normProp(name string, params []string, value string) string {
	byKey := map[string][]string{}
	binary := false
	for _, p := range params {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, found := strings.Cut(p, "=")
		k = strings.ToUpper(k)
		if !found {
			k, v = "TYPE", p
		}
		for _, x := range strings.Split(v, ",") {
			x = strings.Trim(x, `"`)
			if k == "TYPE" || k == "ENCODING" || k == "VALUE" {
				x = strings.ToUpper(x)
			}
			if k == "ENCODING" && (x == "B" || x == "BASE64") {
				x, binary = "B", true
			}
			if k == "VALUE" && x == "DATE" && len(value) == 8 {
				continue
			}
			byKey[k] = append(byKey[k], x)
		}
	}
	var ps []string
	for k, vals := range byKey {
		sort.Strings(vals)
		ps = append(ps, k+"="+strings.Join(vals, ","))
	}
	sort.Strings(ps)
	if name == "RRULE" {
		// Rule parts are unordered (RFC 5545 §3.3.10); servers reorder them.
		parts := strings.Split(value, ";")
		sort.Strings(parts)
		value = strings.Join(parts, ";")
	}
	if binary {
		value = strings.Join(strings.Fields(value), "")
	} else {
		r := strings.NewReplacer(`\\`, `\`, `\,`, ",", `\;`, ";", `\n`, "\n", `\N`, "\n", `\:`, ":")
		value = strings.TrimRight(r.Replace(value), "; \r")
	}
	return name + ";" + strings.Join(ps, ";") + ":" + value
}

// diffProps lists properties missing from got and extra in got.
func diffProps(want, got []string) string {
	var b strings.Builder
	for _, w := range want {
		if i := slices.Index(got, w); i >= 0 {
			got = slices.Delete(got, i, i+1)
			continue
		}
		fmt.Fprintf(&b, "  lost:  %.200s\n", w)
	}
	for _, g := range got {
		fmt.Fprintf(&b, "  added: %.200s\n", g)
	}
	return b.String()
}
