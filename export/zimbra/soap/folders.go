package soap

import (
	"context"
	"fmt"
	"strings"
)

// Kind says what a node of the folder tree is.
type Kind int

const (
	KindFolder Kind = iota // a folder holding items
	KindLink               // a mountpoint: another account's folder, not exported with this one
	KindSearch             // a search folder: a saved query, holds nothing
)

func (k Kind) String() string {
	switch k {
	case KindLink:
		return "mountpoint"
	case KindSearch:
		return "search folder"
	}
	return "folder"
}

// Folder is one node of GetFolderRequest's tree.
type Folder struct {
	Kind   Kind
	ID     string
	UUID   string
	Name   string
	Path   string // "/Inbox/Sub"; "/" for the root
	Parent string // the parent's id
	View   string // message, contact, appointment, task, document ...
	Color  int    // Zimbra's colour index (0: none)
	RGB    string // "#rrggbb": the custom colour, or the index's
	Items  int    // n: items in the folder itself, subfolders not counted
	Size   int64  // s: bytes
	Unread int
	// Owner, OwnerID and RemoteID name a mountpoint's target.
	Owner, OwnerID, RemoteID string
	Query                    string // a search folder's query
	Sub                      []*Folder
}

// Walk calls fn for f and every node under it, parents first.
func (f *Folder) Walk(fn func(*Folder) error) error {
	if err := fn(f); err != nil {
		return err
	}
	for _, s := range f.Sub {
		if err := s.Walk(fn); err != nil {
			return err
		}
	}
	return nil
}

// colors is Zimbra's colour index (common/mailbox/Color.java).
var colors = [...]string{"#000000", "#5b9bf2", "#43eded", "#6acb9e", "#ba86e5", "#f66666", "#f8fa33", "#fe98d3", "#bebebe", "#fdbc55"}

type folderJSON struct {
	ID     value        `json:"id"`
	UUID   string       `json:"uuid"`
	Name   string       `json:"name"`
	Path   string       `json:"absFolderPath"`
	L      value        `json:"l"`
	View   string       `json:"view"`
	Color  value        `json:"color"`
	RGB    string       `json:"rgb"`
	N      value        `json:"n"`
	S      value        `json:"s"`
	U      value        `json:"u"`
	Owner  string       `json:"owner"`
	ZID    string       `json:"zid"`
	RID    value        `json:"rid"`
	Query  string       `json:"query"`
	Folder []folderJSON `json:"folder"`
	Link   []folderJSON `json:"link"`
	Search []folderJSON `json:"search"`
}

// folder builds j's node and those under it; left is what built paths
// may still take (bytes), below 0 once they took too much.
func (j folderJSON) folder(kind Kind, parentPath string, left *int64) *Folder {
	f := &Folder{Kind: kind, ID: localID(j.ID), UUID: j.UUID, Name: j.Name, Path: j.Path, Parent: localID(j.L),
		View: j.View, RGB: j.RGB, Items: int(j.N.int64()), Size: j.S.int64(), Unread: int(j.U.int64()),
		Owner: j.Owner, OwnerID: j.ZID, RemoteID: string(j.RID), Query: j.Query}
	f.Color = int(j.Color.int64())
	if f.RGB == "" && f.Color > 0 && f.Color < len(colors) {
		f.RGB = colors[f.Color]
	}
	if f.Path == "" { // before ZCS 8 there is no absFolderPath
		switch {
		case parentPath == "":
			f.Path = "/"
		case parentPath == "/":
			f.Path = "/" + f.Name
		default:
			if *left -= int64(len(parentPath) + 1 + len(f.Name)); *left < 0 {
				return f // the tree is refused: see tree
			}
			f.Path = parentPath + "/" + f.Name
		}
	}
	for _, group := range []struct {
		k    Kind
		list []folderJSON
	}{{KindFolder, j.Folder}, {KindLink, j.Link}, {KindSearch, j.Search}} {
		for _, c := range group.list {
			f.Sub = append(f.Sub, c.folder(group.k, f.Path, left))
		}
	}
	return f
}

// localID is an item id without the account qualification Zimbra adds
// when the authenticated account is not the mailbox's (an admin token
// acting on it through the admin port: "<zimbraId>:2", ItemIdFormatter),
// the form the export's folder_id has.
func localID(v value) string {
	s := string(v)
	return s[strings.LastIndexByte(s, ':')+1:]
}

// soapEndpoint is the user SOAP service for a, and the account an admin
// token acts on there ("" with a delegated token).
func (c *Client) soapEndpoint(a Account) (endpoint, target string, err error) {
	if c.cfg.ViaAdminPort {
		return c.admin.String() + "/service/soap", a.Name, nil
	}
	base, err := c.mailBase(a)
	return base + "/service/soap", "", err
}

// userCall is a SOAP call on a's own mailbox (urn:zimbraMail,
// urn:zimbraAccount) with a's token, renewed once when the server says
// it expired.
func (c *Client) userCall(ctx context.Context, a Account, name, ns string, req map[string]any, out any) error {
	endpoint, target, err := c.soapEndpoint(a)
	if err != nil {
		return err
	}
	for try := 0; ; try++ {
		tok, err := c.userToken(ctx, a.Name)
		if err != nil {
			return err
		}
		err = c.call(ctx, endpoint, tok, target, name, ns, req, out)
		if try == 0 && authFault(err) {
			c.forgetUser(a.Name, tok)
			continue
		}
		if err != nil {
			return fmt.Errorf("%w (account %s)", err, a.Name)
		}
		return nil
	}
}

// Folders is a's folder tree from its root (GetFolderRequest, with the
// account's own token on its mailbox server), with counts and sizes,
// mountpoints and search folders.
func (c *Client) Folders(ctx context.Context, a Account) (*Folder, error) {
	var r struct {
		Folder []folderJSON `json:"folder"`
	}
	if err := c.userCall(ctx, a, "GetFolderRequest", "urn:zimbraMail", map[string]any{}, &r); err != nil {
		return nil, err
	}
	if len(r.Folder) == 0 {
		return nil, fmt.Errorf("zimbra: GetFolderRequest for %s: the answer holds no folder", a.Name)
	}
	f, err := r.Folder[0].tree()
	if err != nil {
		return nil, fmt.Errorf("zimbra: GetFolderRequest for %s: %w", a.Name, err)
	}
	return f, nil
}

// tree is the folder tree of j, its root. Paths built from names
// (before ZCS 8 there is no absFolderPath) repeat each name in every
// path under it, so they are bounded in total, as the answer is: a real
// tree takes a fraction of it, a hostile one (a long name over many
// subfolders) would take gigabytes.
func (j folderJSON) tree() (*Folder, error) {
	left := int64(maxFolderAnswer)
	f := j.folder(KindFolder, "", &left)
	if left < 0 {
		return nil, fmt.Errorf("the folder paths built from its names are longer than %d MiB in all", maxFolderAnswer>>20)
	}
	return f, nil
}
