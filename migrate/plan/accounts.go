package plan

import (
	"errors"
	"fmt"
	"os"

	"github.com/mailhaul/mailhaul/internal/davclient"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/internal/secret"
	"github.com/mailhaul/mailhaul/internal/tlsca"
)

// Read returns the secret named by s. It is read when a connection needs
// it, never kept in the plan.
func (s Secret) Read() (string, error) {
	switch {
	case s.File != "":
		b, err := secret.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("%s: %s", s.Where(), unwrapPath(err))
		}
		if len(b) == 0 {
			return "", fmt.Errorf("the %s is empty", s.Where())
		}
		return string(b), nil
	case s.Env != "":
		v := os.Getenv(s.Env)
		if v == "" {
			return "", fmt.Errorf("the %s is not set", s.Where())
		}
		return v, nil
	}
	return "", errors.New("no password named")
}

// IMAPAccount is how user u logs in to the IMAP server sv (the plan's
// source or target): the URL's address and TLS (with the plan's CAs), and
// the user's own password or token, or the admin's acting for u.
func (p *Plan) IMAPAccount(sv *Server, u User) (imapconn.Account, error) {
	if sv == nil {
		return imapconn.Account{}, errors.New("the plan has no such IMAP server")
	}
	a, err := imapconn.ParseURL(sv.URL, imapconn.URLOptions{StartTLS: sv.StartTLS, AllowPlaintext: sv.AllowPlaintext, CAFile: sv.TLSCA})
	if err != nil {
		return imapconn.Account{}, err
	}
	a.User, a.Admin, a.Auth = u.Login, sv.Admin, sv.Auth
	if a.Auth == "" {
		a.Auth = imapconn.AuthPlain
	}
	sec, tok := u.IMAPSecret, u.IMAPToken
	if sv == &p.Source.Server {
		a.User, sec, tok = u.Address, u.SourceSecret, u.SourceToken
	}
	switch {
	case a.Auth == imapconn.AuthXOAuth2 || a.Auth == imapconn.AuthOAuthBearer:
		a.Secret = imapconn.TokenFile(tok)
	case sv.Admin != "":
		a.Secret = sv.Secret.Read
	default:
		a.Secret = sec.Read
	}
	return a, a.Check()
}

// DAVConfig is how user u reaches the DAV server sv (the plan's source or
// target): the client configuration, with the user's password or token,
// and the URL discovery starts from.
func (p *Plan) DAVConfig(sv *Server, u User) (davclient.Config, davclient.Endpoints, error) {
	if sv == nil {
		return davclient.Config{}, davclient.Endpoints{}, errors.New("the plan has no such DAV server")
	}
	cfg := davclient.Config{User: u.Login, AllowPlaintext: sv.AllowPlaintext}
	sec, tok := u.DAVSecret, u.DAVToken
	if sv == &p.Source.Server {
		cfg.User, sec, tok = u.Address, u.SourceSecret, u.SourceToken
	}
	var err error
	if sv.TLSCA != "" {
		if cfg.RootCAs, err = tlsca.Load(sv.TLSCA); err != nil {
			return cfg, davclient.Endpoints{}, err
		}
	}
	if tok != "" {
		b, err := secret.ReadFile(tok)
		if err != nil {
			return cfg, davclient.Endpoints{}, fmt.Errorf("token file %s: %s", tok, unwrapPath(err))
		}
		cfg.Token = string(b)
	} else if cfg.Password, err = sec.Read(); err != nil {
		return cfg, davclient.Endpoints{}, err
	}
	e := davclient.Endpoints{URL: sv.URL}
	return cfg, e, e.Check(sv.AllowPlaintext)
}
