package export

import "context"

// Composite runs several sources, in order, into one archive: a Maildir
// or mbox tree plus the .vcf and .ics files that hold the same user's
// contacts and calendars. The first source that fails ends the export,
// and so does a cancelled ctx between two sources.
type Composite []Source

var _ Source = Composite(nil)

func (c Composite) Export(ctx context.Context, sink Sink, opt Options) error {
	for _, src := range c {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := src.Export(ctx, sink, opt); err != nil {
			return err
		}
	}
	return nil
}
