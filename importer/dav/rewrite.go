package dav

import (
	"bytes"
	"strings"

	"github.com/mailhaul/mailhaul/internal/contentline"
)

// radicaleSafe escapes the commas Radicale would cut a card's values at.
// Radicale 3.1.8 (vobject) reads an unescaped comma in these values as
// the end of the value and drops the rest: a data: URI photo
// ("data:image/jpeg;base64,/9j/...") keeps only "data:image/jpeg;base64".
// It keeps "\," and gives it back as "\,", which every vCard parser reads
// as a comma, so escaping is lossless. Only properties whose value is one
// URI or one text are touched, where a comma cannot be a list separator
// (NICKNAME and CATEGORIES are lists, so Radicale's loss there is reported,
// not avoided). It returns card unchanged, and false, when nothing needed
// escaping.
func radicaleSafe(card []byte) ([]byte, bool) {
	if !bytes.Contains(card, []byte(",")) {
		return card, false
	}
	return contentline.Rewrite(card, func(f contentline.Folded) ([]byte, bool) {
		p := contentline.Split(f.Unfold())
		if !p.HasValue || !singleValued[strings.ToUpper(string(p.Name))] {
			return nil, false
		}
		v, ok := escapeCommas(string(p.Value))
		if !ok {
			return nil, false
		}
		return f.Refold(string(p.Head) + ":" + v), true
	})
}

// singleValued are the vCard properties whose value is one URI or one
// text (RFC 6350 §6, RFC 2426 §3).
var singleValued = map[string]bool{
	"PHOTO": true, "LOGO": true, "SOUND": true, "KEY": true, "URL": true, "GEO": true, "SOURCE": true,
	"IMPP": true, "MEMBER": true, "FBURL": true, "CALURI": true, "CALADRURI": true, "RELATED": true,
	"FN": true, "NOTE": true, "TITLE": true, "ROLE": true,
}

// escapeCommas escapes every comma of v that is not escaped yet.
func escapeCommas(v string) (string, bool) {
	if !strings.Contains(v, ",") {
		return v, false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v):
			b.WriteString(v[i : i+2])
			i++
		case v[i] == ',':
			b.WriteString(`\,`)
			changed = true
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String(), changed
}
