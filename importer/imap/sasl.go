package imap

import (
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-sasl"
)

// newSASL returns a function making a fresh SASL client per connection,
// or nil for the LOGIN command. Tokens are read from the file each time,
// so a token refreshed by another program is used on the next reconnect.
func newSASL(o *Options) (func() (sasl.Client, error), error) {
	switch strings.ToLower(o.Auth) {
	case "", "plain":
		return func() (sasl.Client, error) {
			if o.Admin != "" {
				// The administrator authenticates, acting for the user
				// (SASL authorization identity; Dovecot master users too).
				return sasl.NewPlainClient(o.User, o.Admin, o.Password), nil
			}
			return sasl.NewPlainClient("", o.User, o.Password), nil
		}, nil
	case "login":
		return nil, nil
	case "xoauth2":
		return func() (sasl.Client, error) {
			tok, err := readToken(o.TokenFile)
			if err != nil {
				return nil, err
			}
			return &xoauth2{user: o.User, token: tok}, nil
		}, nil
	case "oauthbearer":
		return func() (sasl.Client, error) {
			tok, err := readToken(o.TokenFile)
			if err != nil {
				return nil, err
			}
			return sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: o.User, Token: tok}), nil
		}, nil
	}
	return nil, fmt.Errorf("imap: unknown --auth %q (plain, login, xoauth2, oauthbearer)", o.Auth)
}

// loginName is the name the LOGIN command uses; with an administrator it
// is Dovecot's "user*admin" master-user form.
func loginName(o *Options) string {
	if o.Admin != "" {
		return o.User + "*" + o.Admin
	}
	return o.User
}

func readToken(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("imap: OAuth needs --token-file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("imap: read token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("imap: token file %s is empty", path)
	}
	return tok, nil
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
