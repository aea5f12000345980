package imapconn

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// saslClient returns a fresh SASL client for the account's mechanism,
// reading its secret now, or nil for the LOGIN command. go-sasl has PLAIN
// and OAUTHBEARER; XOAUTH2 is below.
func (a *Account) saslClient() (sasl.Client, error) {
	mech := strings.ToLower(a.Auth)
	if mech == AuthLogin {
		return nil, nil
	}
	if a.Secret == nil {
		return nil, fmt.Errorf("imap: no password or token for %s", a.User)
	}
	secret, err := a.Secret()
	if err != nil {
		return nil, err
	}
	switch mech {
	case "", AuthPlain:
		if a.Admin != "" {
			// The administrator authenticates, acting for the user
			// (SASL authorization identity; Dovecot master users too).
			return sasl.NewPlainClient(a.User, a.Admin, secret), nil
		}
		return sasl.NewPlainClient("", a.User, secret), nil
	case AuthXOAuth2:
		return &xoauth2{user: a.User, token: secret}, nil
	case AuthOAuthBearer:
		return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: a.User, Token: secret}), nil
	}
	return nil, fmt.Errorf("imap: unknown --auth %q (plain, login, xoauth2, oauthbearer)", a.Auth)
}

// loginName is the name the LOGIN command uses; with an administrator it
// is Dovecot's "user*admin" master-user form.
func (a *Account) loginName() string {
	if a.Admin != "" {
		return a.User + "*" + a.Admin
	}
	return a.User
}

// xoauth2 is Google's and Microsoft's pre-standard OAuth mechanism, which
// go-sasl lacks: one message "user=U^Aauth=Bearer T^A^A". On failure the
// server sends a JSON challenge, answered with an empty line.
type xoauth2 struct {
	user, token string
	failed      bool
}

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	if x.failed {
		return nil, fmt.Errorf("imap: XOAUTH2 refused: %s", challenge)
	}
	x.failed = true
	return []byte{}, nil
}

// login logs in with LOGIN or AUTHENTICATE (RFC 9051 6.2.2), using the
// initial response (SASL-IR, RFC 4959) when the server takes it. It runs
// before anything else reads the connection.
func (c *Conn) login(a *Account) error {
	client, err := a.saslClient()
	if err != nil {
		return err
	}
	if client == nil {
		secret := ""
		if a.Secret != nil {
			if secret, err = a.Secret(); err != nil {
				return err
			}
		}
		r, err := c.Command("LOGIN "+Quote(a.loginName())+" "+Quote(secret), nil)
		if r != nil && !r.OK() {
			return r.Err("login as " + a.loginName() + " refused")
		}
		return err
	}
	if _, err := c.Command("CAPABILITY", nil); err != nil {
		return err
	}
	mech, ir, err := client.Start()
	if err != nil {
		return fmt.Errorf("imap: SASL %s: %w", mech, err)
	}
	tag := c.NextTag()
	cmd := tag + " AUTHENTICATE " + mech
	if ir != nil && c.Has("SASL-IR") {
		enc := base64.StdEncoding.EncodeToString(ir)
		if enc == "" {
			enc = "="
		}
		cmd += " " + enc
		ir = nil
	}
	if err := c.send(cmd); err != nil {
		return err
	}
	for {
		line, err := c.ReadLine()
		if err != nil {
			return fmt.Errorf("imap: %s: AUTHENTICATE %s: %w", c.addr, mech, err)
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
					// Cancel the exchange as RFC 9051 says, then report.
					c.send("*")
					return fmt.Errorf("imap: SASL %s: %w", mech, err)
				}
			}
			if err := c.send(base64.StdEncoding.EncodeToString(resp)); err != nil {
				return err
			}
		case strings.HasPrefix(line, tag+" "):
			r, ok := ParseStatus(strings.TrimPrefix(line, tag+" "))
			if !ok {
				return fmt.Errorf("imap: %s: AUTHENTICATE: bad answer %q", c.addr, line)
			}
			c.noteCode(r)
			if !r.OK() {
				return r.Err("login as " + a.User + " refused")
			}
			return nil
		default:
			c.Untagged(line)
		}
	}
}
