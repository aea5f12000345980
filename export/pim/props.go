package pim

import (
	"strings"

	"github.com/mailhaul/mailhaul/internal/contentline"
)

// bom is the byte-order mark, as bytes to compare lines with.
var bom = []byte(contentline.BOM)

// unescapeText undoes TEXT escaping (RFC 5545 §3.3.11) for display names
// and descriptions.
func unescapeText(v []byte) string {
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			sb.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 'n', 'N':
			sb.WriteByte('\n')
		default:
			sb.WriteByte(v[i])
		}
	}
	return strings.TrimSpace(sb.String())
}
