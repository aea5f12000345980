package soap

import "context"

// What zmprov shows with gsig, gid and gam: the signatures, the sending
// identities and the distribution lists of an account, for account.json
// (the target is provisioned from them; they are not mail).

// Signature is one of the account's signatures, its text by MIME type
// (text/plain, text/html).
type Signature struct {
	ID, Name string
	Content  map[string]string
}

// Signatures lists a's signatures (GetSignaturesRequest).
func (c *Client) Signatures(ctx context.Context, a Account) ([]Signature, error) {
	var r struct {
		Signature []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Content []struct {
				Type    string `json:"type"`
				Content value  `json:"_content"`
			} `json:"content"`
		} `json:"signature"`
	}
	if err := c.userCall(ctx, a, "GetSignaturesRequest", "urn:zimbraAccount", map[string]any{}, &r); err != nil {
		return nil, err
	}
	var out []Signature
	for _, s := range r.Signature {
		sig := Signature{ID: s.ID, Name: s.Name, Content: map[string]string{}}
		for _, c := range s.Content {
			sig.Content[c.Type] = string(c.Content)
		}
		out = append(out, sig)
	}
	return out, nil
}

// Identity is one of the account's sending identities: the DEFAULT one
// and those the user added (from address and name, reply-to, signature).
type Identity struct {
	ID, Name string
	Attrs    map[string][]string
}

// Identities lists a's identities (GetIdentitiesRequest).
func (c *Client) Identities(ctx context.Context, a Account) ([]Identity, error) {
	var r struct {
		Identity []struct {
			ID    string              `json:"id"`
			Name  string              `json:"name"`
			Pairs map[string]multiple `json:"_attrs"`
		} `json:"identity"`
	}
	if err := c.userCall(ctx, a, "GetIdentitiesRequest", "urn:zimbraAccount", map[string]any{}, &r); err != nil {
		return nil, err
	}
	var out []Identity
	for _, id := range r.Identity {
		i := Identity{ID: id.ID, Name: id.Name, Attrs: map[string][]string{}}
		for k, v := range id.Pairs {
			i.Attrs[k] = v
		}
		out = append(out, i)
	}
	return out, nil
}

// Membership is a distribution list the account belongs to; Via names
// the list it belongs to through, when not directly.
type Membership struct {
	Name, ID, Via string
}

// Memberships lists the distribution lists of the account name
// (GetAccountMembershipRequest).
func (c *Client) Memberships(ctx context.Context, name string) ([]Membership, error) {
	var r struct {
		DL []Membership `json:"dl"`
	}
	if err := c.adminCall(ctx, "GetAccountMembershipRequest", map[string]any{"account": byName(name)}, &r); err != nil {
		return nil, err
	}
	return r.DL, nil
}
