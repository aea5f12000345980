package soap

import (
	"strings"
	"testing"
)

// Paths built from names (a server without absFolderPath) are bounded
// in total: a hostile tree of a long name over many subfolders would
// otherwise cost its length once per subfolder (gigabytes from a
// megabyte's answer). The tree is refused instead.
func TestFolderTreePathsBounded(t *testing.T) {
	top := folderJSON{ID: "257", Name: strings.Repeat("x", 1<<20)}
	for range 80 {
		top.Folder = append(top.Folder, folderJSON{ID: "258", Name: "y"})
	}
	root := folderJSON{ID: "1", Folder: []folderJSON{top}}
	if _, err := root.tree(); err == nil || !strings.Contains(err.Error(), "paths") {
		t.Errorf("err %v; want the tree refused for its paths' size", err)
	}
	// A real tree, with Zimbra's own paths or built ones, is taken.
	small := folderJSON{ID: "1", Folder: []folderJSON{{ID: "2", Name: "Inbox", Folder: []folderJSON{{ID: "257", Name: "Sub"}}}}}
	f, err := small.tree()
	if err != nil || f.Sub[0].Sub[0].Path != "/Inbox/Sub" {
		t.Errorf("tree %+v, err %v", f, err)
	}
}
