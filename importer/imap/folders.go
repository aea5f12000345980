package imap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/format"
)

// FolderRule rewrites a source folder path, and every path below it, to a
// target path ("/" between levels on both sides).
type FolderRule struct{ From, To string }

// ParseFolderMap reads rules, one a line: "Source/Path = Target/Path".
// Blank lines and lines starting with # are ignored; the longest matching
// source wins.
func ParseFolderMap(r io.Reader, name string) ([]FolderRule, error) {
	var rules []FolderRule
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		from, to, ok := strings.Cut(line, "=")
		from, to = strings.Trim(strings.TrimSpace(from), "/"), strings.Trim(strings.TrimSpace(to), "/")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("imap: folder map %s line %d: want \"source = target\", got %q", name, n, line)
		}
		rules = append(rules, FolderRule{From: from, To: to})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("imap: folder map %s: %w", name, err)
	}
	return rules, nil
}

// folderMapper turns archive folder paths into target mailbox names,
// predictably: the same archive and target always give the same names,
// and every change is reported, never a silent merge or drop.
type folderMapper struct {
	delim   string // target hierarchy delimiter ("" for a flat server)
	profile Profile
	rules   []FolderRule
	special map[format.Role]string // role → existing target mailbox
	// taken maps a target name (folded when the target ignores case) to
	// the source path that took it, so two sources never merge.
	taken map[string]string
	done  map[string]mapped // source path → result, for repeated folders
}

type mapped struct {
	name string
	note string // why the name differs from the source, if it does
}

func newFolderMapper(delim string, p Profile, rules []FolderRule, special map[format.Role]string) *folderMapper {
	return &folderMapper{delim: delim, profile: p, rules: rules, special: special,
		taken: map[string]string{}, done: map[string]mapped{}}
}

func (m *folderMapper) key(name string) string {
	if m.profile.CaseInsensitive || strings.EqualFold(name, "INBOX") {
		return strings.ToLower(name)
	}
	// INBOX is case-insensitive everywhere, including as a parent.
	if len(name) > 5 && strings.EqualFold(name[:5], "INBOX") && name[5:6] == m.delim {
		return "INBOX" + name[5:]
	}
	return name
}

// Map returns the target mailbox for a source folder.
func (m *folderMapper) Map(f format.Folder) mapped {
	if r, ok := m.done[f.Path]; ok {
		return r
	}
	r := m.mapNew(f)
	m.done[f.Path] = r
	m.taken[m.key(r.name)] = f.Path
	return r
}

func (m *folderMapper) mapNew(f format.Folder) mapped {
	path, ruled := m.applyRules(f.Path)
	if !ruled {
		if f.Role == format.RoleInbox || strings.EqualFold(path, "INBOX") && f.Role == format.RoleNone {
			return mapped{name: "INBOX"}
		}
		if f.Role != format.RoleNone {
			if name, ok := m.special[f.Role]; ok {
				return roleMapped(f.Path, name, "the target's %s folder", f.Role)
			}
			if name, ok := m.profile.RoleNames[f.Role]; ok {
				return roleMapped(f.Path, m.join(strings.Split(name, "/")), "the provider's %s folder", f.Role)
			}
		}
	}
	var parts, why []string
	for i, p := range strings.Split(path, "/") {
		q := p
		if m.delim != "" && m.delim != "/" && strings.Contains(q, m.delim) {
			q = strings.ReplaceAll(q, m.delim, "_")
			why = append(why, fmt.Sprintf("%q holds the target's delimiter %q", p, m.delim))
		}
		if strings.ContainsFunc(q, unicode.IsControl) {
			// A line break would end the APPEND command inside the name
			// and turn the message that follows into commands.
			q = strings.Map(func(r rune) rune {
				if unicode.IsControl(r) {
					return '_'
				}
				return r
			}, q)
			why = append(why, fmt.Sprintf("%q holds control characters", p))
		}
		if t := strings.TrimSpace(q); t != q {
			q = t
			why = append(why, fmt.Sprintf("%q has leading or trailing spaces", p))
		}
		if m.profile.RefusesPadding && strings.Contains(q, "  ") {
			for strings.Contains(q, "  ") {
				q = strings.ReplaceAll(q, "  ", " ")
			}
			why = append(why, fmt.Sprintf("%q has doubled spaces", p))
		}
		if q == "" {
			q = "_"
			why = append(why, "an empty level")
		}
		switch {
		case i == 0 && strings.EqualFold(q, "INBOX"):
			// Folders below INBOX (Maildir++ .INBOX.x, Thunderbird's
			// Inbox.sbd) stay below it; INBOX is spelled one way.
			q = "INBOX"
		case i == 0 && m.reserved(q):
			why = append(why, fmt.Sprintf("%q is reserved on the target", q))
			q += "_"
		}
		parts = append(parts, q)
	}
	name := m.join(parts)
	// Never merge two source folders into one target mailbox.
	if prev, ok := m.taken[m.key(name)]; ok && prev != f.Path {
		base := name
		for n := 2; ; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
			if _, ok := m.taken[m.key(name)]; !ok {
				break
			}
		}
		why = append(why, fmt.Sprintf("its name would merge it with %q", prev))
	}
	r := mapped{name: name}
	if ruled {
		why = append([]string{"--folder-map"}, why...)
	}
	if len(why) > 0 {
		r.note = notef(f.Path, name, "%s", strings.Join(why, "; "))
	}
	return r
}

// roleMapped sends a folder to its role's target folder, noting it when
// the name changes.
func roleMapped(src, dst, why string, role format.Role) mapped {
	if src == dst {
		return mapped{name: dst}
	}
	return mapped{name: dst, note: notef(src, dst, why, role)}
}

func notef(src, dst, format string, args ...any) string {
	return fmt.Sprintf("folder %q imported as %q: ", src, dst) + fmt.Sprintf(format, args...)
}

func (m *folderMapper) applyRules(path string) (string, bool) {
	best := -1
	for i, r := range m.rules {
		if (path == r.From || strings.HasPrefix(path, r.From+"/")) && (best < 0 || len(r.From) > len(m.rules[best].From)) {
			best = i
		}
	}
	if best < 0 {
		return path, false
	}
	r := m.rules[best]
	return r.To + strings.TrimPrefix(path, r.From), true
}

func (m *folderMapper) reserved(top string) bool {
	if strings.EqualFold(top, "INBOX") {
		return true
	}
	for _, r := range m.profile.Reserved {
		if strings.EqualFold(top, r) {
			return true
		}
	}
	return false
}

func (m *folderMapper) join(parts []string) string {
	if m.delim == "" {
		return strings.Join(parts, "_")
	}
	return strings.Join(parts, m.delim)
}

// refusedFolderReason says why a folder's messages are not on the target
// when the server refused its mailbox, and how to get them there: a
// --folder-map rule to names of letters, digits, spaces, "-" and "_",
// which servers accept.
func refusedFolderReason(path, mailbox string, err error) string {
	answer := err.Error()
	var ie *imap.Error
	if errors.As(err, &ie) {
		answer = strings.TrimPrefix(ie.Error(), "imap: ")
	}
	reason := fmt.Sprintf("the target refused mailbox %q: %s; ", mailbox, strings.TrimRight(answer, ". "))
	from, to := safeFolderRule(path)
	if from == "" {
		return reason + "map the folder to a name it accepts with --folder-map and run the import again"
	}
	return reason + fmt.Sprintf("map it to a name the target accepts with --folder-map (for example the line %q) and run the import again",
		from+" = "+to)
}

// safeFolderRule proposes a folder map rule for path: its levels up to the
// last one with other characters, made safe ("" if there is none).
func safeFolderRule(path string) (from, to string) {
	levels := strings.Split(path, "/")
	safe := make([]string, len(levels))
	last := -1
	for i, l := range levels {
		safe[i] = strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, l)
		if safe[i] != l {
			last = i
		}
	}
	if last < 0 {
		return "", ""
	}
	return strings.Join(levels[:last+1], "/"), strings.Join(safe[:last+1], "/")
}
