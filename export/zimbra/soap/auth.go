package soap

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// renewBefore is how long before its end a token is renewed: a minute's
// export must not start on a token that dies during it.
func renewBefore(life time.Duration) time.Duration {
	return min(5*time.Minute, life/10)
}

// usable reports whether t is set and not about to expire.
func (c *Client) usable(t token) bool {
	return t.value != "" && c.now().Before(t.expires)
}

// adminEndpoint is the admin SOAP service.
func (c *Client) adminEndpoint() string { return c.admin.String() + "/service/admin/soap" }

// tokenAnswer is AuthResponse and DelegateAuthResponse.
type tokenAnswer struct {
	AuthToken value `json:"authToken"`
	Lifetime  value `json:"lifetime"` // ms
}

// newToken keeps a token with its renewal time.
func (c *Client) newToken(a tokenAnswer, fallback time.Duration) (token, error) {
	if a.AuthToken == "" {
		return token{}, errors.New("the answer holds no authToken")
	}
	life := time.Duration(a.Lifetime.int64()) * time.Millisecond
	if life <= 0 {
		life = fallback
	}
	return token{value: string(a.AuthToken), expires: c.now().Add(life - renewBefore(life))}, nil
}

// adminToken is the admin's token, logging in when there is none or it
// is about to expire.
func (c *Client) adminToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	t := c.adminTok
	c.mu.Unlock()
	if c.usable(t) {
		return t.value, nil
	}
	c.loginGroup.Lock() // parallel workers wait for one login
	defer c.loginGroup.Unlock()
	c.mu.Lock()
	t = c.adminTok
	c.mu.Unlock()
	if c.usable(t) {
		return t.value, nil
	}
	if c.refused != nil {
		return "", c.refused
	}
	pw, err := c.cfg.Password()
	if err != nil {
		return "", err
	}
	var a tokenAnswer
	err = c.call(ctx, c.adminEndpoint(), "", "", "AuthRequest", "urn:zimbraAdmin",
		map[string]any{"name": elem(c.cfg.Admin), "password": elem(pw)}, &a)
	var f *Fault
	if errors.As(err, &f) {
		// The server refused the login: each try would count towards
		// the admin's lockout, so later callers get this answer.
		c.refused = err
	}
	if err != nil {
		return "", err
	}
	t, err = c.newToken(a, 12*time.Hour)
	if err != nil {
		return "", errors.New("zimbra: AuthRequest: " + err.Error())
	}
	c.mu.Lock()
	c.adminTok = t
	c.mu.Unlock()
	return t.value, nil
}

// forgetAdmin drops the admin token tok (the server no longer takes it).
func (c *Client) forgetAdmin(tok string) {
	c.mu.Lock()
	if c.adminTok.value == tok {
		c.adminTok = token{}
	}
	c.mu.Unlock()
}

// adminCall is an admin SOAP call, logging in again once when the server
// says the token expired (restarted server, changed lifetime).
func (c *Client) adminCall(ctx context.Context, name string, req map[string]any, out any) error {
	for try := 0; ; try++ {
		tok, err := c.adminToken(ctx)
		if err != nil {
			return err
		}
		err = c.call(ctx, c.adminEndpoint(), tok, "", name, "urn:zimbraAdmin", req, out)
		if try > 0 || !authFault(err) {
			return err
		}
		c.forgetAdmin(tok)
	}
}

// userToken is a token for account: the admin's with ViaAdminPort, else
// a delegated one, renewed before it expires.
func (c *Client) userToken(ctx context.Context, account string) (string, error) {
	if c.cfg.ViaAdminPort {
		return c.adminToken(ctx)
	}
	key := strings.ToLower(account)
	c.mu.Lock()
	t := c.delegated[key]
	c.mu.Unlock()
	if c.usable(t) {
		return t.value, nil
	}
	var a tokenAnswer
	err := c.adminCall(ctx, "DelegateAuthRequest", map[string]any{
		"account":  byName(account),
		"duration": strconv.FormatInt(int64(c.cfg.DelegateLifetime/time.Second), 10),
	}, &a)
	if err != nil {
		return "", err
	}
	t, err = c.newToken(a, c.cfg.DelegateLifetime)
	if err != nil {
		return "", errors.New("zimbra: DelegateAuthRequest for " + account + ": " + err.Error())
	}
	c.mu.Lock()
	c.delegated[key] = t
	c.mu.Unlock()
	return t.value, nil
}

// forgetUser drops a token for account that the server refused.
func (c *Client) forgetUser(account, tok string) {
	if c.cfg.ViaAdminPort {
		c.forgetAdmin(tok)
		return
	}
	key := strings.ToLower(account)
	c.mu.Lock()
	if c.delegated[key].value == tok {
		delete(c.delegated, key)
	}
	c.mu.Unlock()
}

// Done forgets account's delegated token, when its export is over, so
// that a run over 25,000 users does not keep 25,000 tokens.
func (c *Client) Done(account string) {
	c.mu.Lock()
	delete(c.delegated, strings.ToLower(account))
	c.mu.Unlock()
}

// LoginRefused reports a refused admin login: AuthRequest's fault, or
// HTTP Basic refused on the admin port. Every later login would be
// refused too, and each counts towards the admin's lockout.
func LoginRefused(err error) bool {
	var f *Fault
	return errors.As(err, &f) && f.Request == "AuthRequest" || errors.Is(err, errBasicRefused)
}

// errBasicRefused marks HTTP Basic refused on the admin port.
var errBasicRefused = errors.New("the admin port refused HTTP Basic")

// basicRefused is the remembered Basic refusal, nil if none: once
// refused, Basic is not sent again (as a refused AuthRequest is not).
// With exports in parallel, those already under way may still each be
// refused once.
func (c *Client) basicRefused() error {
	c.loginGroup.Lock()
	defer c.loginGroup.Unlock()
	return c.refused
}

// refuseBasic remembers err, a Basic refusal, for every later login.
func (c *Client) refuseBasic(err error) {
	c.loginGroup.Lock()
	defer c.loginGroup.Unlock()
	if c.refused == nil {
		c.refused = err
	}
}
