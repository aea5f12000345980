package imapconn

import (
	"fmt"
	"strconv"
	"strings"
)

// Response is a command's tagged completion.
type Response struct {
	Status string // "OK", "NO" or "BAD"
	Code   string // response code atom in upper case, e.g. "APPENDUID", "TRYCREATE"; "" if none
	Args   string // the response code's arguments, as sent
	Text   string // human-readable text after the code
}

// OK reports whether the command succeeded.
func (r *Response) OK() bool { return r.Status == "OK" }

func (r *Response) String() string {
	if r.Code != "" {
		if r.Args != "" {
			return fmt.Sprintf("%s [%s %s] %s", r.Status, r.Code, r.Args, r.Text)
		}
		return fmt.Sprintf("%s [%s] %s", r.Status, r.Code, r.Text)
	}
	return r.Status + " " + r.Text
}

// AppendUID is what APPENDUID (RFC 4315) tells about appended messages.
type AppendUID struct {
	UIDValidity uint32
	UIDs        []uint32 // in the order the messages were sent
}

// AppendUID parses an APPENDUID response code, if there is one.
func (r *Response) AppendUID() (AppendUID, bool) {
	if r.Code != "APPENDUID" {
		return AppendUID{}, false
	}
	validity, set, ok := strings.Cut(r.Args, " ")
	if !ok {
		return AppendUID{}, false
	}
	v, err := strconv.ParseUint(validity, 10, 32)
	if err != nil {
		return AppendUID{}, false
	}
	uids, err := ParseUIDSet(set)
	if err != nil {
		return AppendUID{}, false
	}
	return AppendUID{UIDValidity: uint32(v), UIDs: uids}, true
}

// maxUIDSet bounds how many UIDs a set may expand to, so that a hostile
// "1:4294967295" cannot exhaust memory.
const maxUIDSet = 100000

// ParseUIDSet expands a uid-set such as "4:6,9" in the order written.
func ParseUIDSet(s string) ([]uint32, error) {
	var out []uint32
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("imap: bad uid-set %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 32); err != nil || b == 0 {
				return nil, fmt.Errorf("imap: bad uid-set %q", s)
			}
		}
		step := uint64(1)
		if b < a {
			step = ^uint64(0) // descending range: walk down
		}
		for u := a; ; u += step {
			if len(out) == maxUIDSet {
				return nil, fmt.Errorf("imap: uid-set %q too long", s)
			}
			out = append(out, uint32(u))
			if u == b {
				break
			}
		}
	}
	return out, nil
}

// ParseStatus parses "OK [CODE args] text" (the part after the tag, or
// after "* " for an untagged status).
func ParseStatus(s string) (*Response, bool) {
	status, rest, _ := strings.Cut(s, " ")
	status = strings.ToUpper(status)
	switch status {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
	default:
		return nil, false
	}
	r := &Response{Status: status, Text: rest}
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, true
		}
		code := rest[1:end]
		r.Text = strings.TrimPrefix(rest[end+1:], " ")
		name, args, _ := strings.Cut(code, " ")
		r.Code, r.Args = strings.ToUpper(name), args
	}
	return r, true
}

// ParseCaps reads a capability list ("IMAP4rev1 LITERAL+ ...").
func ParseCaps(s string) map[string]string {
	caps := map[string]string{}
	for _, c := range strings.Fields(s) {
		name, val, _ := strings.Cut(c, "=")
		name = strings.ToUpper(name)
		if val != "" && (name == "AUTH" || name == "UTF8") {
			name, val = strings.ToUpper(c), ""
		}
		caps[name] = val
	}
	return caps
}
