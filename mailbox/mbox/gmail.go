package mbox

import (
	"strings"

	"github.com/mailhaul/mailhaul/format"
)

// SplitLabels splits an X-Gmail-Labels value: comma-separated, a label
// holding a comma or quote is double-quoted with quotes doubled, as in
// CSV. It never fails: an unterminated quote runs to the end.
func SplitLabels(v string) []string {
	var labels []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted && c == '"' && i+1 < len(v) && v[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"' && (quoted || strings.TrimSpace(cur.String()) == ""):
			if !quoted {
				cur.Reset() // drop blanks before the opening quote
			}
			quoted = !quoted
		case c == ',' && !quoted:
			labels = appendLabel(labels, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return appendLabel(labels, cur.String())
}

func appendLabel(labels []string, l string) []string {
	if l = strings.TrimSpace(l); l != "" {
		labels = append(labels, l)
	}
	return labels
}

// gmailFolder is a folder that a Gmail system label stands for.
type gmailFolder struct {
	label string
	path  string
	role  format.Role
}

// gmailFolders in routing priority: a message in Trash is in Trash,
// whatever else it is labelled.
var gmailFolders = []gmailFolder{
	{"Trash", "Trash", format.RoleTrash},
	{"Spam", "Spam", format.RoleJunk},
	{"Drafts", "Drafts", format.RoleDrafts},
	{"Draft", "Drafts", format.RoleDrafts},
	{"Sent", "Sent", format.RoleSent},
	{"Inbox", "INBOX", format.RoleInbox},
}

// gmailArchive takes messages with no folder label: Gmail's "All Mail".
var gmailArchive = gmailFolder{"", "Archive", format.RoleArchive}

// RouteGmail picks the one folder a Takeout message goes to and adjusts
// its flags from its labels, as the package comment describes.
func RouteGmail(labels []string, flags *Flags) (path string, role format.Role) {
	var user []string
	best := -1
	for _, l := range labels {
		if i := gmailFolderIndex(l); i >= 0 {
			if best < 0 || i < best {
				best = i
			}
			if gmailFolders[i].role == format.RoleDrafts {
				flags.Add(`\Draft`)
			}
			continue
		}
		switch low := strings.ToLower(l); {
		case low == "opened":
			flags.Add(`\Seen`)
		case low == "unread":
			flags.Remove(`\Seen`)
		case low == "starred":
			flags.Add(`\Flagged`)
		case low == "important":
			flags.Add("$Important")
		case low == "archived":
			// Takeout's mark for "not in the inbox": All Mail, nothing more.
		case strings.HasPrefix(low, "category "):
			flags.Add("$Category_" + strings.ReplaceAll(strings.TrimSpace(l[len("category "):]), " ", "_"))
		default:
			user = append(user, l)
		}
	}
	switch {
	case best >= 0:
		path, role = gmailFolders[best].path, gmailFolders[best].role
	case len(user) > 0 && labelPath(user[0]) != "":
		path, user = labelPath(user[0]), user[1:]
	default:
		path, role = gmailArchive.path, gmailArchive.role
	}
	for _, l := range user {
		flags.Add(l)
	}
	return path, role
}

func gmailFolderIndex(label string) int {
	for i, f := range gmailFolders {
		if strings.EqualFold(label, f.label) {
			return i
		}
	}
	return -1
}

// labelPath turns a user label into a folder path: Gmail nests labels
// with "/", as the archive does; empty levels are dropped.
func labelPath(label string) string {
	var parts []string
	for _, p := range strings.Split(label, "/") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}
