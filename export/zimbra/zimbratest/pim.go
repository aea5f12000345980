package zimbratest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

// Attachment is a file attached to a contact (its photo: Field "image").
type Attachment struct {
	Field, Name, ContentType string
	Data                     []byte
}

// Contact is a contact item as a meta=1 export has it: its fields in the
// metadata ("fld", version 10, Zimbra's encoding), its attachments in a
// multipart/mixed blob (none: no blob), named by File-As.
func Contact(id int, folder string, folderID int, fileAs string, date time.Time, fields map[string]string, att ...Attachment) Item {
	fld := metadata.Map{}
	for k, v := range fields {
		fld[k] = v
	}
	md := metadata.Map{"fld": fld, "v": 10}
	it := Item{ID: id, Type: TypeContact, Folder: folder, FolderID: folderID, FileAs: fileAs, Subject: fileAs, Date: date}
	if len(att) > 0 {
		var l metadata.List
		var b strings.Builder
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_contact\"\r\n\r\n")
		for i, a := range att {
			l = append(l, metadata.Map{"field": a.Field, "part": fmt.Sprint(i + 1), "ctype": a.ContentType, "name": a.Name, "size": len(a.Data)})
			fmt.Fprintf(&b, "--=_contact\r\nContent-Disposition: attachment; filename=%q; field=%s\r\nContent-Type: %s\r\n"+
				"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n", a.Name, a.Field, a.ContentType, base64.StdEncoding.EncodeToString(a.Data))
		}
		b.WriteString("--=_contact--\r\n")
		md["att"] = l
		it.Blob = []byte(b.String())
	}
	it.Metadata = metadata.Encode(md)
	return it
}

// Invite is one invite of an appointment or task: its message id (the
// "invId" of its blob part) and the iCalendar it carried.
type Invite struct {
	ID  int
	ICS string
}

// Calendar is an appointment or task item (typ TypeAppointment or
// TypeTask) as a meta=1 export has it: with invites, a multipart/digest
// blob of the invites' messages, each with its text/calendar part, and
// metadata listing them; without, only its metadata, inv (one invite's
// fields, as Zimbra's Invite.encodeMetadata names them) and u (the UID).
func Calendar(typ byte, id int, folder string, folderID int, subject, uid string, date time.Time, inv metadata.Map, invites ...Invite) Item {
	it := Item{ID: id, Type: typ, Folder: folder, FolderID: folderID, Subject: subject, Date: date}
	md := metadata.Map{"u": uid, "v": 10}
	if len(invites) == 0 {
		md["inv"] = metadata.List{inv}
	} else {
		var l metadata.List
		var b strings.Builder
		b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/digest; boundary=\"=_digest\"\r\n\r\n")
		for _, v := range invites {
			l = append(l, metadata.Map{"mid": v.ID, "u": uid})
			fmt.Fprintf(&b, "--=_digest\r\nContent-Type: message/rfc822\r\ninvId: %d\r\n\r\n"+
				"From: organizer@example.org\r\nSubject: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n"+
				"Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", v.ID, subject, v.ICS)
		}
		b.WriteString("--=_digest--\r\n")
		md["inv"] = l
		it.Blob = []byte(b.String())
	}
	it.Metadata = metadata.Encode(md)
	return it
}
