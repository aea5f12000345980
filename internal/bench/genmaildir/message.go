package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
	"time"
	"unicode"
)

// message is everything decided about one message before it is written.
type message struct {
	index    uint64
	folder   *folder
	received time.Time
	inNew    bool
	flags    string
	text     int        // target bytes for headers and text parts
	attach   int        // target bytes for encoded attachments, 0 for none
	meta     *rand.Rand // continues to drive the headers and structure
}

// planMessage decides message i of a run whose mail ends at end.
func planMessage(seed, i uint64, sc scale, end time.Time, appending bool) message {
	m := message{index: i, meta: rngFor(seed, i, streamMeta)}
	m.text, m.attach = sc.split(drawShape(seed, i))
	m.folder = pickFolder(m.meta, appending)
	if appending {
		m.received = end
	} else {
		m.received = receivedTime(m.meta, m.folder, end)
	}
	m.inNew, m.flags = placement(m.meta, m.folder, m.received, end)
	return m
}

type person struct{ name, addr string }

func (p person) String() string {
	if p.name == "" {
		return "<" + p.addr + ">"
	}
	name := p.name
	if isASCII(name) {
		name = `"` + name + `"`
	} else {
		name = mime.QEncoding.Encode("utf-8", name)
	}
	return name + " <" + p.addr + ">"
}

func randomPerson(r *rand.Rand) person {
	first := firstNames[r.IntN(len(firstNames))]
	last := lastNames[r.IntN(len(lastNames))]
	return person{
		name: first + " " + last,
		addr: asciiLower(first) + "." + asciiLower(last) + "@" + domains[r.IntN(len(domains))],
	}
}

func asciiLower(s string) string {
	return strings.Map(func(c rune) rune {
		if c > unicode.MaxASCII || !unicode.IsLetter(c) {
			return -1
		}
		return unicode.ToLower(c)
	}, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// subject draws from r, not from the body's prose, so the HTML part can
// replay the body's words exactly.
func subject(r *rand.Rand) string {
	var b []byte
	for i := range 2 + r.IntN(6) {
		u := r.Float64()
		w := vocabulary[int(u*u*u*float64(len(vocabulary)))]
		if r.IntN(25) == 0 {
			w = subjectExtras[r.IntN(len(subjectExtras))]
		}
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
	s := string(b)
	if !isASCII(s) {
		return mime.QEncoding.Encode("utf-8", s)
	}
	return s
}

// writer holds one worker's reusable buffers.
type writer struct {
	seed uint64
	user person
	hdr  []byte
}

// writeMessage writes m as an RFC 5322 message with CRLF line ends.
func (wr *writer) writeMessage(w *bufio.Writer, m *message) {
	r := m.meta
	outgoing := m.folder.role == roleSent || m.folder.role == roleDrafts
	from, to := randomPerson(r), wr.user
	if outgoing {
		from, to = wr.user, randomPerson(r)
	}
	zone := zones[r.IntN(len(zones))]
	loc := time.FixedZone(zone, zoneOffset(zone))
	date := m.received.Add(-time.Duration(r.IntN(300)) * time.Second).In(loc)
	reply := r.IntN(10) < 3
	html := r.IntN(100) < 35
	msgID := fmt.Sprintf("<%016x.%d@%s>", r.Uint64(), m.index, from.addr[strings.IndexByte(from.addr, '@')+1:])
	body := newProse(wr.seed, m.index<<4|streamBody)

	h := wr.hdr[:0]
	if !outgoing {
		h = fmt.Appendf(h, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", from.addr, wr.user.addr)
		h = fmt.Appendf(h, "Received: from mx1.bench.example\r\n\tby imap.bench.example with LMTP\r\n\tid %x\r\n\t(envelope-from <%s>)\r\n\tfor <%s>; %s\r\n",
			r.Uint64(), from.addr, wr.user.addr, m.received.UTC().Format(time.RFC1123Z))
		h = fmt.Appendf(h, "Received: from mail.%s (mail.%s [198.51.100.%d])\r\n\tby mx1.bench.example (Postfix) with ESMTPS id %X\r\n\tfor <%s>; %s\r\n",
			domainOf(from.addr), domainOf(from.addr), 1+r.IntN(254), r.Uint32(), wr.user.addr, date.Format(time.RFC1123Z))
		if r.IntN(2) == 0 {
			h = appendDKIM(h, r, domainOf(from.addr))
		}
	}
	subj := subject(r)
	if reply {
		subj = "Re: " + subj
	}
	h = fmt.Appendf(h, "Message-ID: %s\r\nDate: %s\r\nFrom: %s\r\nTo: %s\r\n", msgID, date.Format(time.RFC1123Z), from, to)
	if r.IntN(4) == 0 {
		h = fmt.Appendf(h, "Cc: %s, %s\r\n", randomPerson(r), randomPerson(r))
	}
	h = fmt.Appendf(h, "Subject: %s\r\n", subj)
	if reply {
		parent := fmt.Sprintf("<%016x@%s>", r.Uint64(), domains[r.IntN(len(domains))])
		h = fmt.Appendf(h, "In-Reply-To: %s\r\nReferences: %s\r\n", parent, parent)
	}
	if r.IntN(2) == 0 {
		h = fmt.Appendf(h, "User-Agent: %s\r\n", mailers[r.IntN(len(mailers))])
	}
	h = append(h, "MIME-Version: 1.0\r\n"...)
	wr.hdr = h

	textBudget := max(m.text-len(h), 300)
	t := textPart{
		body: body, seed: wr.seed, index: m.index,
		greeting: "Hi " + strings.Fields(to.name + " there")[0] + ",",
		closing:  []string{"Best regards,", "Thanks,", "Cheers,", "Kind regards,"}[r.IntN(4)],
		signer:   strings.Fields(from.name + " Bench")[0],
	}
	if reply {
		t.quoteHeader = fmt.Sprintf("On %s, %s wrote:", date.Add(-time.Duration(1+r.IntN(72))*time.Hour).Format("Mon, Jan 2, 2006 at 15:04"), to.name)
	}
	var atts []*attachKind
	if m.attach > 0 {
		for range 1 + attachExtra(r) {
			atts = append(atts, pickAttachKind(r))
		}
	}

	w.Write(h)
	switch {
	case len(atts) > 0:
		mixed := boundary(r)
		fmt.Fprintf(w, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--%s\r\n", mixed, mixed)
		if html {
			t.writeAlternative(w, boundary(r), textBudget)
		} else {
			t.writePlain(w, textBudget)
		}
		payload := rand.NewChaCha8(chachaSeed(wr.seed, m.index))
		shares := splitBytes(r, m.attach, len(atts))
		for k, kind := range atts {
			w.WriteString("\r\n")
			writeAttachment(w, mixed, kind, r, payload, shares[k], m.received)
		}
		fmt.Fprintf(w, "\r\n--%s--\r\n", mixed)
	case html:
		t.writeAlternative(w, boundary(r), textBudget)
	default:
		t.writePlain(w, textBudget)
	}
}

// attachExtra gives most attachment messages one attachment, some two or three.
func attachExtra(r *rand.Rand) int {
	switch n := r.IntN(100); {
	case n < 75:
		return 0
	case n < 93:
		return 1
	}
	return 2
}

// splitBytes splits total into n random shares of at least 1 KB each.
func splitBytes(r *rand.Rand, total, n int) []int {
	shares := make([]int, n)
	rest := total
	for k := range n - 1 {
		shares[k] = max(1024, int(float64(rest)*(0.2+0.6*r.Float64())))
		rest = max(1024, rest-shares[k])
	}
	shares[n-1] = max(1024, rest)
	return shares
}

func boundary(r *rand.Rand) string {
	return fmt.Sprintf("----=_Part_%d_%08x.%d", r.IntN(100000), r.Uint32(), r.IntN(1e9))
}

func domainOf(addr string) string { return addr[strings.IndexByte(addr, '@')+1:] }

func zoneOffset(z string) int {
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	h := int(z[1]-'0')*10 + int(z[2]-'0')
	m := int(z[3]-'0')*10 + int(z[4]-'0')
	return sign * (h*3600 + m*60)
}

// appendDKIM adds a DKIM-Signature of realistic length: it is part of what
// makes real headers a kilobyte or two.
func appendDKIM(h []byte, r *rand.Rand, domain string) []byte {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	h = fmt.Appendf(h, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s;\r\n\ts=mail; t=%d;\r\n\th=from:to:subject:date:message-id;\r\n\tbh=", domain, r.Int64N(2e9))
	for range 44 {
		h = append(h, b64[r.IntN(64)])
	}
	h = append(h, ";\r\n\tb="...)
	for line := range 5 {
		if line > 0 {
			h = append(h, "\r\n\t "...)
		}
		for range 70 {
			h = append(h, b64[r.IntN(64)])
		}
	}
	return append(h, "\r\n"...)
}

func chachaSeed(seed, i uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[0:], seed)
	binary.LittleEndian.PutUint64(s[8:], i)
	binary.LittleEndian.PutUint64(s[16:], streamPayload)
	return s
}
