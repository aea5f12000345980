package appender

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// authenticate runs AUTHENTICATE with a SASL client, using the initial
// response (SASL-IR) when the server takes it. It runs before the read
// loop.
func (c *Conn) authenticate(client sasl.Client) error {
	mech, ir, err := client.Start()
	if err != nil {
		return fmt.Errorf("appender: SASL %s: %w", mech, err)
	}
	tag := c.nextTag()
	cmd := tag + " AUTHENTICATE " + mech
	if ir != nil && c.Has("SASL-IR") {
		enc := base64.StdEncoding.EncodeToString(ir)
		if enc == "" {
			enc = "="
		}
		cmd += " " + enc
		ir = nil
	}
	if _, err := c.w.WriteString(cmd + "\r\n"); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return fmt.Errorf("appender: %s: AUTHENTICATE %s: %w", c.cfg.Addr, mech, err)
		}
		switch {
		case strings.HasPrefix(line, "+"):
			var resp []byte
			if ir != nil {
				resp, ir = ir, nil
			} else {
				chal, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(line, "+")))
				if err != nil {
					chal = nil // some servers send plain text: treat as empty
				}
				if resp, err = client.Next(chal); err != nil {
					// Cancel the exchange as RFC 3501 says, then report.
					c.w.WriteString("*\r\n")
					c.w.Flush()
					return fmt.Errorf("appender: SASL %s: %w", mech, err)
				}
			}
			c.w.WriteString(base64.StdEncoding.EncodeToString(resp) + "\r\n")
			if err := c.w.Flush(); err != nil {
				return err
			}
		case strings.HasPrefix(line, tag+" "):
			r, ok := parseStatus(strings.TrimPrefix(line, tag+" "))
			if !ok {
				return fmt.Errorf("appender: %s: AUTHENTICATE: bad answer %q", c.cfg.Addr, line)
			}
			c.noteCode(r)
			if !r.OK() {
				return fmt.Errorf("appender: %s: login refused: %s", c.cfg.Addr, r)
			}
			return nil
		default:
			c.untagged(line)
		}
	}
}
