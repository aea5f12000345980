package imapconn

import "strings"

// Field is one element of a raw IMAP line read with its literals made
// quoted strings (Conn.ReadLineLiterals): an atom or a string (Text,
// Quoted telling which), or a parenthesised list (List, non-nil, empty
// for "()"). An atom keeps a bracketed section whole, spaces and all
// ("BODY[HEADER.FIELDS (Message-ID)]").
type Field struct {
	Text   string
	Quoted bool
	List   []Field
}

// Fields splits a raw line (the part after "* n FETCH ", say) into its
// fields: for data go-imap cannot parse, as Gmail's X-GM-LABELS.
func Fields(s string) []Field {
	out, _ := fields(s, 0, false)
	return out
}

func fields(s string, i int, inList bool) ([]Field, int) {
	out := []Field{}
	for i < len(s) {
		switch c := s[i]; c {
		case ' ':
			i++
		case ')':
			i++
			if inList {
				return out, i
			}
		case '(':
			l, j := fields(s, i+1, true)
			out, i = append(out, Field{List: l}), j
		case '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			out, i = append(out, Field{Text: b.String(), Quoted: true}), j+1
		default:
			j, depth := i, 0
			for ; j < len(s); j++ {
				if c := s[j]; c == '[' {
					depth++
				} else if c == ']' {
					depth--
				} else if depth <= 0 && (c == ' ' || c == '(' || c == ')') {
					break
				}
			}
			out, i = append(out, Field{Text: s[i:j]}), j
		}
	}
	return out, i
}
