package imap

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"

	"github.com/mailhaul/mailhaul/compare"
	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/importer"
)

// listChunk is how many messages one FETCH of a listing asks for: the
// answers are read one at a time, and the next range is asked for only
// then (a variable for tests).
var listChunk = 2000

// Compare compares the target with the archives' expected state (see
// package compare): each archive folder is mapped to the mailbox the
// import would put it in, by the import's own folder mapper, and each
// mailbox is listed (RFC822.SIZE, Message-ID, FLAGS) in ranges. It changes
// nothing on the target. An error means the comparison could not be made.
func (t *Target) Compare(ctx context.Context, req importer.Request) (*compare.Result, error) {
	o := t.opt
	if o.Account.User == "" {
		o.Account.User = req.User
	}
	if req.User == "" {
		req.User = o.Account.User
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	if len(req.Archives) == 0 {
		return nil, errors.New("imap: no archive given")
	}
	prof, err := LookupProfile(o.Provider)
	if err != nil {
		return nil, err
	}
	o.defaults(prof)
	ex, err := compare.Read(ctx, req.Archives, compare.Options{Kinds: []format.Kind{format.KindMessage}, Key: messageKey, Select: req.Select})
	if err != nil {
		return nil, err
	}
	ctl, err := dialControl(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer ctl.close()
	if err := ctl.discover(); err != nil {
		return nil, err
	}
	res := &compare.Result{Kind: "imap", User: req.User, Target: "imap://" + o.Account.Addr, Archives: req.Archives,
		State: ex.State, Notes: ex.Notes}
	// Map in the import's order, so that names taken to avoid a merge
	// come out the same.
	mapper := newFolderMapper(ctl.delim, prof, o.FolderMap, ctl.special)
	byName := map[string]int{}
	var sources [][]compare.Message
	for _, f := range ex.Folders {
		name := mapper.Map(f).name
		i, ok := byName[name]
		if !ok {
			i = len(res.Folders)
			byName[name] = i
			res.Folders = append(res.Folders, compare.Folder{Target: name})
			sources = append(sources, nil)
		}
		res.Folders[i].Source = append(res.Folders[i].Source, f.Path)
		for _, it := range ex.Items[f.Path] {
			sources[i] = append(sources[i], it.Message)
		}
	}
	for i := range res.Folders {
		f := &res.Folders[i]
		var target []compare.Message
		perm := permanentFlags{unknown: true}
		if ctl.exists(f.Target) {
			st, err := ctl.examine(f.Target)
			if err != nil {
				return nil, err
			}
			perm = st.perm
			if target, err = ctl.list(ctx, f.Target, st.messages); err != nil {
				return nil, err
			}
		} else {
			f.Absent = true
		}
		// The flags the import could set there: the rest never went.
		for j := range sources[i] {
			sources[i][j].Flags, _ = cleanFlags(sources[i][j].Flags, perm)
		}
		compare.Mail(f, sources[i], target)
	}
	res.Finish()
	return res, ctx.Err()
}

// messageKey reads a message as the import sends it (line endings made
// CRLF) for its Message-ID and size.
func messageKey(body io.Reader) (string, int64, error) {
	sp, err := readSpool(body, "")
	if err != nil {
		return "", 0, err
	}
	defer sp.close()
	return sp.msgID, sp.size, nil
}

// list reads the selected mailbox's messages: UID, size, Message-ID and
// flags, in UID ranges of listChunk messages (UIDs stay put while another
// client expunges; sequence numbers would shift).
func (t *control) list(ctx context.Context, name string, n uint32) ([]compare.Message, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.selected != name {
		return nil, fmt.Errorf("imap: internal error: listing %q while %q is selected", name, t.selected)
	}
	if n == 0 {
		return nil, nil
	}
	found, err := t.c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap: list %q: %w", name, t.cause(err))
	}
	uids := found.AllUIDs()
	var out []compare.Message
	opts := &imap.FetchOptions{UID: true, RFC822Size: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader,
			HeaderFields: []string{"Message-ID"}, Peek: true}}}
	for lo := 0; lo < len(uids); lo += listChunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		set := imap.UIDSetNum(uids[lo:min(lo+listChunk, len(uids))]...)
		cmd := t.c.Fetch(set, opts)
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			buf, err := msg.Collect()
			if err != nil {
				cmd.Close()
				return nil, fmt.Errorf("imap: list %q: %w", name, t.cause(err))
			}
			m := compare.Message{Size: buf.RFC822Size, Ref: fmt.Sprintf("UID %d", buf.UID)}
			if len(buf.BodySection) > 0 {
				m.MessageID = headerMessageID(buf.BodySection[0].Bytes)
			}
			for _, fl := range buf.Flags {
				m.Flags = append(m.Flags, string(fl))
			}
			out = append(out, m)
		}
		if err := cmd.Close(); err != nil {
			return nil, fmt.Errorf("imap: list %q: %w", name, t.cause(err))
		}
	}
	return out, nil
}
