package dav

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
)

// isRadicale reports whether the server is Radicale, which bulk.go's
// whole-collection upload needs. Radicale names itself nowhere in its
// headers, but its root serves /.web: "Radicale works!" when the web
// interface is off, the interface's page (titled Radicale) when on. The
// root is the parent of the address book home (/<user>/ on Radicale), so
// a Radicale behind a path prefix is found too. Probed once per run; any
// other answer, or an error, means "not Radicale".
func (im *session) isRadicale(ctx context.Context) bool {
	if im.radicale != nil {
		return *im.radicale
	}
	v := false
	if home := im.cols.homes.AddressBooks; home != nil {
		v = im.c.servesRadicaleWeb(ctx, home.ResolveReference(&url.URL{Path: "../.web"}))
	}
	im.radicale = &v
	return v
}

func (c *client) servesRadicaleWeb(ctx context.Context, target *url.URL) bool {
	// /.web redirects to /.web/ (and back) depending on the web backend;
	// follow a few, on the same host only.
	for range 3 {
		a, err := c.Send(ctx, http.MethodGet, target.String(), nil, nil)
		if err != nil {
			return false
		}
		switch {
		case a.Status == http.StatusOK:
			return bytes.Contains(a.Body, []byte("Radicale"))
		case a.Status >= 300 && a.Status < 400:
			next, err := target.Parse(a.Header.Get("Location"))
			if err != nil || next.Host != target.Host {
				return false
			}
			target = next
		default:
			return false
		}
	}
	return false
}
