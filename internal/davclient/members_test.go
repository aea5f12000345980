package davclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pagedSync is a collection whose server answers sync-collection two
// members at a time (RFC 6578 §3.6: a 507 for the collection itself says
// the answer is truncated; the token it ends with is asked again for the
// rest), as Google's CardDAV and SabreDAV with a limit do. Token "n" is
// the state after n members; a delta from "5" holds a change and a
// deletion.
type pagedSync struct{ reports int }

var tokenRE = regexp.MustCompile(`<D:sync-token>([^<]*)</D:sync-token>`)

func (p *pagedSync) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.reports++
	from := 0
	if m := tokenRE.FindSubmatch(b); m != nil {
		from, _ = strconv.Atoi(strings.TrimPrefix(string(m[1]), "t"))
	}
	members := []string{"a", "b", "c", "d", "e", "f-changed", "g-gone"}
	end := len(members)
	if from < 5 {
		end = 5 // the initial state ends at e; the rest is the later delta
	}
	to := min(from+2, end)
	var out strings.Builder
	for _, m := range members[from:to] {
		if strings.HasSuffix(m, "-gone") {
			fmt.Fprintf(&out, `<d:response><d:href>/col/%s.vcf</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>`, m)
			continue
		}
		fmt.Fprintf(&out, `<d:response><d:href>/col/%s.vcf</d:href><d:propstat><d:prop><d:getetag>"%s"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`, m, m)
	}
	if to < end {
		out.WriteString(`<d:response><d:href>/col/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status></d:response>`)
	}
	w.WriteHeader(http.StatusMultiStatus)
	fmt.Fprintf(w, `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">%s<d:sync-token>t%d</d:sync-token></d:multistatus>`, out.String(), to)
}

// A truncated sync-collection answer is followed to its end: no member
// is lost, and the token is that of the whole listing.
func TestMembersFollowsTruncatedSync(t *testing.T) {
	p := &pagedSync{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	col, _ := url.Parse(srv.URL + "/col/")
	c := New(Config{})
	var got []string
	token, err := c.Members(context.Background(), col, func(u *url.URL, etag string) error {
		got = append(got, u.Path+" "+etag)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`/col/a.vcf "a"`, `/col/b.vcf "b"`, `/col/c.vcf "c"`, `/col/d.vcf "d"`, `/col/e.vcf "e"`}
	if !slices.Equal(got, want) || token != "t5" {
		t.Errorf("members %q token %q; want %q and t5", got, token, want)
	}

	got = got[:0]
	token, err = c.Changes(context.Background(), col, "t5", func(u *url.URL, etag string, gone bool) error {
		got = append(got, fmt.Sprint(u.Path, " ", gone))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/col/f-changed.vcf false", "/col/g-gone.vcf true"}; !slices.Equal(got, want) || token != "t7" {
		t.Errorf("changes %q token %q; want %q and t7", got, token, want)
	}
}

// A listing the server refuses with 401 is not asked again another way
// (the PROPFIND fallback): each request would be one more failed login.
func TestMembersStopsAtUnauthorized(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer srv.Close()
	col, _ := url.Parse(srv.URL + "/col/")
	_, err := New(Config{}).Members(context.Background(), col, func(*url.URL, string) error { return nil })
	if !errors.Is(err, ErrUnauthorized) || n != 1 {
		t.Errorf("error %v after %d requests; want ErrUnauthorized after one", err, n)
	}
}
