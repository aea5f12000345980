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

// envelope is what a message's headers and its text share.
type envelope struct {
	from, to person
	date     time.Time // the Date header, a little before delivery
	outgoing bool      // Sent or Drafts: no delivery headers
	reply    bool
}

func (wr *writer) envelope(m *message) envelope {
	r := m.meta
	e := envelope{from: randomPerson(r), to: wr.user, reply: r.IntN(10) < 3}
	e.outgoing = m.folder.role == roleSent || m.folder.role == roleDrafts
	if e.outgoing {
		e.from, e.to = wr.user, randomPerson(r)
	}
	zone := zones[r.IntN(len(zones))]
	e.date = m.received.Add(-time.Duration(r.IntN(300)) * time.Second).In(time.FixedZone(zone, zoneOffset(zone)))
	return e
}

// writeMessage writes m as an RFC 5322 message with CRLF line ends.
func (wr *writer) writeMessage(w *bufio.Writer, m *message) {
	e := wr.envelope(m)
	wr.hdr = wr.appendHeaders(wr.hdr[:0], m, &e)
	w.Write(wr.hdr)
	wr.writeBody(w, m, &e, max(m.text-len(wr.hdr), 300))
}

// appendHeaders appends the header fields up to MIME-Version; the body
// writer adds Content-Type.
func (wr *writer) appendHeaders(h []byte, m *message, e *envelope) []byte {
	r := m.meta
	if !e.outgoing {
		h = fmt.Appendf(h, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", e.from.addr, wr.user.addr)
		h = fmt.Appendf(h, "Received: from mx1.bench.example\r\n\tby imap.bench.example with LMTP\r\n\tid %x\r\n\t(envelope-from <%s>)\r\n\tfor <%s>; %s\r\n",
			r.Uint64(), e.from.addr, wr.user.addr, m.received.UTC().Format(time.RFC1123Z))
		h = fmt.Appendf(h, "Received: from mail.%s (mail.%s [198.51.100.%d])\r\n\tby mx1.bench.example (Postfix) with ESMTPS id %X\r\n\tfor <%s>; %s\r\n",
			domainOf(e.from.addr), domainOf(e.from.addr), 1+r.IntN(254), r.Uint32(), wr.user.addr, e.date.Format(time.RFC1123Z))
		if r.IntN(2) == 0 {
			h = appendDKIM(h, r, domainOf(e.from.addr))
		}
	}
	h = fmt.Appendf(h, "Message-ID: <%016x.%d@%s>\r\nDate: %s\r\nFrom: %s\r\nTo: %s\r\n",
		r.Uint64(), m.index, domainOf(e.from.addr), e.date.Format(time.RFC1123Z), e.from, e.to)
	if r.IntN(4) == 0 {
		h = fmt.Appendf(h, "Cc: %s, %s\r\n", randomPerson(r), randomPerson(r))
	}
	subj := subject(r)
	if e.reply {
		parent := fmt.Sprintf("<%016x@%s>", r.Uint64(), domains[r.IntN(len(domains))])
		h = fmt.Appendf(h, "Subject: Re: %s\r\nIn-Reply-To: %s\r\nReferences: %s\r\n", subj, parent, parent)
	} else {
		h = fmt.Appendf(h, "Subject: %s\r\n", subj)
	}
	if r.IntN(2) == 0 {
		h = fmt.Appendf(h, "User-Agent: %s\r\n", mailers[r.IntN(len(mailers))])
	}
	return append(h, "MIME-Version: 1.0\r\n"...)
}

// writeBody writes the Content-Type and the body: text/plain, or
// multipart/alternative with HTML, either wrapped in multipart/mixed with
// attachments when m has them. textBudget is for the text parts.
func (wr *writer) writeBody(w *bufio.Writer, m *message, e *envelope, textBudget int) {
	r := m.meta
	html := r.IntN(100) < 35
	t := textPart{
		body: newProse(wr.seed, m.index<<4|streamBody), seed: wr.seed, index: m.index,
		greeting: "Hi " + strings.Fields(e.to.name + " there")[0] + ",",
		closing:  []string{"Best regards,", "Thanks,", "Cheers,", "Kind regards,"}[r.IntN(4)],
		signer:   strings.Fields(e.from.name + " Bench")[0],
	}
	if e.reply {
		earlier := e.date.Add(-time.Duration(1+r.IntN(72)) * time.Hour)
		t.quoteHeader = fmt.Sprintf("On %s, %s wrote:", earlier.Format("Mon, Jan 2, 2006 at 15:04"), e.to.name)
	}
	writeText := func() {
		if html {
			t.writeAlternative(w, boundary(r), textBudget)
		} else {
			t.writePlain(w, textBudget)
		}
	}
	if m.attach == 0 {
		writeText()
		return
	}
	mixed := boundary(r)
	fmt.Fprintf(w, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--%s\r\n", mixed, mixed)
	writeText()
	payload := rand.NewChaCha8(chachaSeed(wr.seed, m.index))
	n := 1 + attachExtra(r)
	for _, share := range splitBytes(r, m.attach, n) {
		w.WriteString("\r\n")
		writeAttachment(w, mixed, pickAttachKind(r), r, payload, share, m.received)
	}
	fmt.Fprintf(w, "\r\n--%s--\r\n", mixed)
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
