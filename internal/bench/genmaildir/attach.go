package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// base64 body lines are 76 characters (RFC 2045 6.8) for 57 input bytes,
// 78 bytes on disk with the CRLF.
const (
	b64In   = 57
	b64Line = 78
)

// base64Lines encodes what it is given as CRLF-terminated base64 lines,
// keeping at most one partial line's input between calls.
type base64Lines struct {
	w       *bufio.Writer
	pending [b64In]byte
	n       int
	line    [b64Line]byte
}

func (b *base64Lines) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		c := copy(b.pending[b.n:], p)
		b.n += c
		p = p[c:]
		if b.n == b64In {
			b.emit()
		}
	}
	return total, nil
}

func (b *base64Lines) emit() {
	enc := base64.StdEncoding.EncodedLen(b.n)
	base64.StdEncoding.Encode(b.line[:enc], b.pending[:b.n])
	b.line[enc], b.line[enc+1] = '\r', '\n'
	b.w.Write(b.line[:enc+2])
	b.n = 0
}

// Close writes the last, short line.
func (b *base64Lines) Close() {
	if b.n > 0 {
		b.emit()
	}
}

// attachKind is one family of attachment: compressible text (CSV, logs) or
// incompressible bytes standing in for JPEG photos and ZIP files.
type attachKind struct {
	contentType string
	name        func(r *rand.Rand) string
	magic       string // leading bytes, so file(1) and sniffers agree
	text        bool   // payload is generated text, else random bytes
	fill        func(dst []byte, r *rand.Rand, day time.Time) []byte
}

var attachKinds = []attachKind{
	{contentType: "image/jpeg", magic: "\xff\xd8\xff\xe0\x00\x10JFIF\x00",
		name: func(r *rand.Rand) string { return fmt.Sprintf("IMG_%04d.jpg", r.IntN(10000)) }},
	{contentType: "application/zip", magic: "PK\x03\x04",
		name: func(r *rand.Rand) string { return fmt.Sprintf("documents-%d.zip", r.IntN(1000)) }},
	{contentType: "text/csv", text: true, fill: csvRow,
		name: func(r *rand.Rand) string { return fmt.Sprintf("export-%d.csv", r.IntN(1000)) }},
	{contentType: "text/plain", text: true, fill: logLine,
		name: func(r *rand.Rand) string { return fmt.Sprintf("server-%d.log", r.IntN(100)) }},
}

// pickAttachKind returns an incompressible kind 60% of the time: most bytes
// mailed as attachments are already compressed (photos, office files, PDFs).
func pickAttachKind(r *rand.Rand) *attachKind {
	if r.IntN(10) < 6 {
		return &attachKinds[r.IntN(2)]
	}
	return &attachKinds[2+r.IntN(2)]
}

// writeAttachment writes a MIME part whose base64 body is about encoded
// bytes long. boundary is the enclosing multipart's.
func writeAttachment(w *bufio.Writer, boundary string, k *attachKind, meta *rand.Rand, payload *rand.ChaCha8, encoded int, day time.Time) {
	name := k.name(meta)
	fmt.Fprintf(w, "--%s\r\nContent-Type: %s; name=\"%s\"\r\n"+
		"Content-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		boundary, k.contentType, name, name)
	raw := encoded / b64Line * b64In
	out := &base64Lines{w: w}
	var chunk [16 << 10]byte
	if k.text {
		writeTextPayload(out, chunk[:0], k, rand.New(payload), raw, day)
	} else {
		n, _ := out.Write([]byte(k.magic))
		for n < raw {
			c := chunk[:min(len(chunk), raw-n)]
			payload.Read(c) // ChaCha8 never fails
			out.Write(c)
			n += len(c)
		}
	}
	out.Close()
}

// writeTextPayload writes whole generated lines until raw bytes are out.
func writeTextPayload(out *base64Lines, buf []byte, k *attachKind, r *rand.Rand, raw int, day time.Time) {
	for n := 0; n < raw; {
		buf = buf[:0]
		for len(buf) < cap(buf)-256 && n+len(buf) < raw {
			buf = k.fill(buf, r, day)
		}
		out.Write(buf)
		n += len(buf)
	}
}

var csvCustomers = []string{"Acme GmbH", "Globex Ltd", "Initech", "Umbrella SA", "Hooli Inc", "Vandelay Industries"}
var csvStatus = []string{"paid", "open", "overdue", "cancelled"}

func csvRow(dst []byte, r *rand.Rand, day time.Time) []byte {
	d := day.AddDate(0, 0, -r.IntN(365))
	dst = d.AppendFormat(dst, "2006-01-02")
	dst = append(dst, ",INV-"...)
	dst = strconv.AppendInt(dst, int64(100000+r.IntN(900000)), 10)
	dst = append(dst, ',')
	dst = append(dst, csvCustomers[r.IntN(len(csvCustomers))]...)
	dst = append(dst, ',')
	dst = append(dst, vocabulary[r.IntN(len(vocabulary))]...)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(1+r.IntN(200)), 10)
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, float64(r.IntN(1_000_000))/100, 'f', 2, 64)
	dst = append(dst, ',')
	dst = append(dst, csvStatus[r.IntN(len(csvStatus))]...)
	return append(dst, '\r', '\n')
}

var logLevels = []string{"INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"}
var logStatus = []string{"200", "200", "200", "201", "304", "404", "500"}
var logPaths = []string{"/api/v1/orders", "/api/v1/users", "/login", "/healthz", "/api/v2/invoices", "/static/app.js"}

func logLine(dst []byte, r *rand.Rand, day time.Time) []byte {
	t := day.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, ' ')
	dst = append(dst, logLevels[r.IntN(len(logLevels))]...)
	dst = append(dst, " [worker-"...)
	dst = strconv.AppendInt(dst, int64(r.IntN(16)), 10)
	dst = append(dst, "] request id="...)
	dst = strconv.AppendUint(dst, r.Uint64()>>20, 16)
	dst = append(dst, " path="...)
	dst = append(dst, logPaths[r.IntN(len(logPaths))]...)
	dst = append(dst, " status="...)
	dst = append(dst, logStatus[r.IntN(len(logStatus))]...)
	dst = append(dst, " dur="...)
	dst = strconv.AppendInt(dst, int64(r.IntN(900)), 10)
	return append(dst, "ms\n"...)
}
