package format

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Entry names of the fixed records.
const (
	manifestName = "manifest.json"
	summaryName  = "summary.json"
	folderFile   = "_folder.json"
	metaExt      = ".meta"
)

// kindDir is the top-level directory of each folder kind.
var kindDir = map[FolderKind]string{
	FolderMail:     "mail",
	FolderContacts: "contacts",
	FolderCalendar: "calendars",
}

// maxSegment bounds one path segment, in bytes, well below the 255 that
// most file systems allow, leaving room for a uniqueness suffix.
const maxSegment = 100

// itemLike matches names the Writer uses for its own files, so that a
// folder called "00000001.eml" cannot collide with an item.
var itemLike = regexp.MustCompile(`(?i)^(\d+\.(meta|eml|vcf|ics)|_folder\.json)$`)

// windowsReserved are device names Windows refuses as a file's base name,
// with or without an extension.
var windowsReserved = func() map[string]bool {
	m := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true}
	for _, d := range "123456789¹²³" {
		m["COM"+string(d)] = true
		m["LPT"+string(d)] = true
	}
	return m
}()

// safeSegment turns one folder name into a name every common file system
// accepts: no separators or characters Windows forbids, no control
// characters, no trailing dot or space, no device names, bounded length.
// The result is not unique; nameTree makes it so.
func safeSegment(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r < 0x20, r == 0x7f:
			b.WriteByte('_')
		case strings.ContainsRune(`<>:"/\|?*`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if len(out) > maxSegment {
		cut := maxSegment
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut]
	}
	out = strings.TrimLeft(out, " ")
	if trimmed := strings.TrimRight(out, ". "); trimmed != out {
		out = trimmed + "_"
	}
	base, _, _ := strings.Cut(out, ".")
	if out == "" || windowsReserved[strings.ToUpper(strings.TrimRight(base, " "))] || itemLike.MatchString(out) || strings.HasPrefix(out, "_") {
		out = "_" + out
	}
	return out
}

// nameTree assigns each folder a directory inside the archive that is safe
// and unique among its siblings even on case-insensitive file systems.
type nameTree struct {
	dirs  map[string]string          // kind + "\x00" + folder path → directory
	taken map[string]map[string]bool // parent directory → lower-cased names in use
}

func newNameTree() *nameTree {
	return &nameTree{dirs: map[string]string{}, taken: map[string]map[string]bool{}}
}

// dir returns the directory for the folder path p of kind k, creating the
// names of p's ancestors on the way.
func (t *nameTree) dir(k FolderKind, p string) string {
	key := string(k) + "\x00" + p
	if d, ok := t.dirs[key]; ok {
		return d
	}
	parent := kindDir[k]
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		parent = t.dir(k, p[:i])
		p = p[i+1:]
	}
	name := safeSegment(p)
	taken := t.taken[parent]
	if taken == nil {
		taken = map[string]bool{}
		t.taken[parent] = taken
	}
	unique := name
	for n := 2; taken[strings.ToLower(unique)]; n++ {
		unique = fmt.Sprintf("%s~%d", name, n)
	}
	taken[strings.ToLower(unique)] = true
	d := path.Join(parent, unique)
	t.dirs[key] = d
	return d
}
