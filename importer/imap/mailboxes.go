package imap

import (
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
	"github.com/mailhaul/mailhaul/internal/imapconn"
	"github.com/mailhaul/mailhaul/report"
)

// box is one target mailbox as this run knows it.
type box struct {
	name    string
	source  string // the first source folder mapped here
	created bool   // created by this run (or to be, in a dry run)
	// state and hadMail are what the mailbox's SELECT said, once opened
	// (mailboxes.open): only a mailbox with work is selected.
	opened  bool
	state   mailboxState
	hadMail bool // held messages before this run: check before sending
	index   mailboxIndex
	plan    *importer.PlanFolder
	// refused is why the target would not create or open the mailbox:
	// the reason each of its messages fails with, while the other folders
	// go on.
	refused string
	// claims counts, by content, copies the journal says earlier runs
	// put here: a check on the target skips that many matching copies,
	// which belong to those items, not to another one with the same bytes.
	claims map[uint64]int32
	// flying counts, by content, messages of this run in commands not yet
	// answered; their UIDs are unknown until the answer.
	flying map[[32]byte]int
}

// mailboxes provisions the target's mailboxes for the archives' folders:
// maps each folder to a name (folderMapper), creates or reuses the mailbox
// and subscribes it, through the control connection. Only the archive
// reader calls it.
type mailboxes struct {
	ctl    *control
	rep    *report.Report
	mapper *folderMapper
	dryRun bool                   // create nothing; plan instead
	byName map[string]*box        // target name → box
	byPath map[string]*box        // source folder path → box
	plan   []*importer.PlanFolder // a dry run's, in the order met
}

func newMailboxes(ctl *control, rep *report.Report, mapper *folderMapper, dryRun bool) *mailboxes {
	return &mailboxes{ctl: ctl, rep: rep, mapper: mapper, dryRun: dryRun, byName: map[string]*box{}, byPath: map[string]*box{}}
}

// folder maps and prepares the target mailbox for a source folder, of
// archive.
func (m *mailboxes) folder(archive string, f format.Folder) (*box, error) {
	if b, ok := m.byPath[f.Path]; ok {
		return b, nil
	}
	mp := m.mapper.Map(f)
	if mp.note != "" {
		m.rep.Note("%s", mp.note)
	}
	b, ok := m.byName[mp.name]
	if !ok {
		b = &box{name: mp.name, source: f.Path}
		exists := m.ctl.exists(mp.name)
		var err error
		switch {
		case exists:
		case m.dryRun:
			b.created, b.opened = true, true
			b.state.perm = permanentFlags{unknown: true}
		default:
			if err = m.ctl.create(mp.name, false); err == nil {
				b.created = true
			}
		}
		if err != nil {
			if err := m.refuse(b, archive, f.Path, err); err != nil {
				return nil, err
			}
		}
		if m.dryRun {
			b.plan = &importer.PlanFolder{Source: f.Path, Target: mp.name, Kind: "mail", Create: b.created, Note: mp.note}
			m.plan = append(m.plan, b.plan)
		}
		m.byName[mp.name] = b
	}
	if f.Subscribed && !m.dryRun && b.refused == "" {
		if err := m.ctl.create(mp.name, true); err != nil {
			if !imapconn.Refused(err) {
				return nil, err
			}
			m.rep.Note("folder %q imported into %q but not subscribed: %v", f.Path, mp.name, err)
		}
	}
	m.byPath[f.Path] = b
	return b, nil
}

// open selects b once, before its first message or change, for what
// its SELECT tells (permanent flags, whether it held mail): a folder
// with no work in a delta costs no command. With index (a message is to
// be looked for there), the same SELECT fills its index. A mailbox the
// target refuses to open fails as one it refuses to create.
func (m *mailboxes) open(b *box, archive, folder string, index bool) error {
	if b.opened || b.refused != "" {
		return nil
	}
	examine := m.ctl.examine
	if index && !b.created {
		examine = func(string) (mailboxState, error) { return m.ctl.examineIndexed(b) }
	}
	st, err := examine(b.name)
	if err != nil {
		return m.refuse(b, archive, folder, err)
	}
	b.opened, b.state = true, st
	b.hadMail = !b.created && st.messages > 0
	return nil
}

// refuse fails b's folder when err is the server's no to that one name
// (Dovecot over Maildir++ with "/" refuses "."): the folder fails, and
// so do its messages, if it has any; the rest goes on. Any other error
// is returned.
func (m *mailboxes) refuse(b *box, archive, folder string, err error) error {
	if !imapconn.Refused(err) {
		return err
	}
	b.refused = refusedFolderReason(folder, b.name, err)
	m.rep.AddFolderFailure(report.Failure{Archive: archive, Folder: folder, Reason: b.refused})
	return nil
}

// planValue is the dry run's plan, folder by folder.
func (m *mailboxes) planValue() *importer.Plan {
	p := &importer.Plan{Folders: []importer.PlanFolder{}}
	for _, f := range m.plan {
		p.Folders = append(p.Folders, *f)
	}
	return p
}

// planCount counts a message in a dry run's plan: present, or to send.
func planCount(b *box, size int64, present bool) {
	if b.plan == nil {
		return
	}
	if present {
		b.plan.Present++
		return
	}
	b.plan.Items++
	b.plan.Bytes += size
}
