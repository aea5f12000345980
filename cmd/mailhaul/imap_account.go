package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/mailhaul/mailhaul/internal/imapconn"
)

// imapLogin are the flags that say how to reach and log in to an IMAP
// mailbox, the same for import imap (the target) and export imap (the
// source).
type imapLogin struct {
	url, user, admin, auth, passwordFile, tokenFile, tlsCA string
	startTLS, allowPlaintext                               bool
}

// addFlags adds the login flags but --user (each command words its own);
// role is "source" or "target".
func (l *imapLogin) addFlags(fl *pflag.FlagSet, role string) {
	fl.StringVar(&l.url, "url", "", "the "+role+": imaps://host[:port] or imap://host[:port] (required)")
	fl.BoolVar(&l.startTLS, "starttls", false, "with imap://, upgrade the connection with STARTTLS")
	fl.BoolVar(&l.allowPlaintext, "allow-plaintext", false, "allow imap:// without TLS to a host other than loopback (the password travels in clear)")
	fl.StringVar(&l.tlsCA, "tls-ca", "", "PEM file of CA certificates to trust instead of the system's")
	fl.StringVar(&l.passwordFile, "password-file", "", "file holding the password (default: $MAILHAUL_PASSWORD)")
	fl.StringVar(&l.auth, "auth", "plain", "plain, login, xoauth2 or oauthbearer")
	fl.StringVar(&l.tokenFile, "token-file", "", "OAuth access token file, re-read on every reconnect")
	fl.StringVar(&l.admin, "admin", "", "log in as this administrator on behalf of --user (SASL authorization identity)")
}

// account turns the flags into an account, reading the password from a
// file or the environment only (never an argument) and trusting --tls-ca
// instead of the system's CAs when given.
func (l *imapLogin) account() (imapconn.Account, error) {
	if strings.TrimSpace(l.user) == "" {
		return imapconn.Account{}, errEmptyUser
	}
	acct, err := imapconn.ParseURL(l.url, imapconn.URLOptions{StartTLS: l.startTLS, AllowPlaintext: l.allowPlaintext, CAFile: l.tlsCA})
	if err != nil {
		return imapconn.Account{}, err
	}
	acct.User, acct.Admin, acct.Auth = l.user, l.admin, strings.ToLower(l.auth)
	switch acct.Auth {
	case imapconn.AuthPlain, imapconn.AuthLogin:
		pw, err := password(l.passwordFile)
		if err != nil {
			return imapconn.Account{}, err
		}
		if pw == "" {
			return imapconn.Account{}, fmt.Errorf("no password: use --password-file or %s", passwordEnv)
		}
		acct.Secret = imapconn.Password(pw)
	case imapconn.AuthXOAuth2, imapconn.AuthOAuthBearer:
		acct.Secret = imapconn.TokenFile(l.tokenFile)
	default:
		return imapconn.Account{}, fmt.Errorf("unknown --auth %q (plain, login, xoauth2, oauthbearer)", l.auth)
	}
	return acct, nil
}
