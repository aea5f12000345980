package pim

import (
	"context"

	"github.com/mailhaul/mailhaul/export"
)

// Contacts is a vCard file as an export Source: one address book named
// Name (the file's base name without extension when ""). See AddContacts.
type Contacts struct{ Path, Name string }

// Calendar is an iCalendar or vCalendar file as an export Source: one
// calendar named Name (the file's base name without extension when "").
// See AddCalendar.
type Calendar struct{ Path, Name string }

var (
	_ export.Source = Contacts{}
	_ export.Source = Calendar{}
)

func (c Contacts) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	return AddContacts(ctx, sink, c.Name, c.Path, opt)
}

func (c Calendar) Export(ctx context.Context, sink export.Sink, opt export.Options) error {
	return AddCalendar(ctx, sink, c.Name, c.Path, opt)
}
