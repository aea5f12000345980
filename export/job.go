package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailhaul/mailhaul/format"
	"github.com/mailhaul/mailhaul/progress"
	"github.com/mailhaul/mailhaul/report"
)

// Job is one user's export into one archive: what the command line's
// export and a migration's export step both run, through Run.
type Job struct {
	User string
	// Kind names the source in the manifest and the report ("maildir",
	// "mbox"); Path is the source's own path, which must exist and is
	// recorded, absolute, in the manifest. PathIsDir refuses a Path that
	// is not a directory as a wrong argument (a Maildir).
	Kind      string
	Path      string
	PathIsDir bool
	// PathIsURL: Path is a server's URL (no credentials), not a file.
	PathIsURL bool
	// Account, when set, goes into the manifest.
	Account *format.Account
	// Source is what is exported: one source, or a Composite of several
	// (a Maildir plus .vcf and .ics files) into the one archive.
	Source Source

	// Out is the directory the archive and its .sha256 file go to,
	// created if missing.
	Out string
	// After is a cutoff as ParseCutoff reads it (local time for a date);
	// Since is an earlier archive of the same user, whose start time less
	// Overlap is the cutoff. At most one of them is given.
	After   string
	Since   string
	Overlap time.Duration
	// Compress is the archive's codec ("gzip" when empty, "zstd"),
	// Level its level (0: the codec's default). Overwrite replaces an
	// existing archive of the same name.
	Compress  string
	Level     int
	Overwrite bool
	// ReportPath is where the JSON report goes; "" puts it beside the
	// archive (<archive>.report.json), or where the archive would have
	// been for a run that stopped before writing it.
	ReportPath string
	// Tool is recorded in the manifest ("mailhaul 1.2.0").
	Tool     string
	Progress progress.Func
	// Explain, when set, words an error in the caller's terms before the
	// report records it: a command line names its flags (ArgError.Name,
	// "did you mean --src ...").
	Explain func(error) error
	// Finishing, when set, is called once the source is exported and
	// before the archive is completed under its final name, with that
	// path and the manifest's start time (which names this run's archive
	// and no other): a caller that records them (a migration's state)
	// can recognise the archive after a crash between its rename and the
	// caller's own record. An error stops the run; no archive is left.
	Finishing func(path string, started time.Time) error
}

// ErrNoUser refuses a Job without a user: the archive would be called
// "_.tgz", and no importer could tell whose it is.
var ErrNoUser = errors.New("user is missing or empty")

// ArgError is a Job setting that cannot be used, named as the Job names it
// in lower case ("since", "overlap"), so a caller can name its own flag.
type ArgError struct {
	Name string
	Err  error
}

func (e *ArgError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *ArgError) Unwrap() error { return e.Err }

// Run exports job.Source into a new archive in job.Out and writes the
// report file, however the run ends: the returned report is never nil,
// and says how far the run came. The error is set when the run stopped
// early (the report's Stage says where: "arguments", "export", "write") or
// the report file could not be written; items that failed do not make an
// error, they make the report's Status "partial". A run that fails leaves
// no archive behind.
func Run(ctx context.Context, job Job) (*report.Export, error) {
	r := &run{ctx: ctx, job: job, rep: report.StartExport(job.User, format.Source{Kind: job.Kind})}
	if strings.TrimSpace(job.User) == "" {
		return r.fail("arguments", fmt.Errorf("export %s: %w", job.Kind, r.explain(ErrNoUser)))
	}
	comp, err := format.ParseCompression(job.Compress)
	if err != nil {
		return r.fail("arguments", r.explain(err))
	}
	after, err := job.cutoff()
	if err != nil {
		return r.fail("arguments", r.explain(err))
	}
	r.name = format.ArchiveName(job.User, after, comp)
	if fi, err := os.Stat(job.Path); job.PathIsURL {
		// a server: nothing on disk to look for
	} else if err != nil {
		return r.fail("arguments", fmt.Errorf("export %s for %s: %w", job.Kind, job.User, err))
	} else if job.PathIsDir && !fi.IsDir() {
		return r.fail("arguments", fmt.Errorf("export %s for %s: %s is not a directory", job.Kind, job.User, job.Path))
	}
	if err := os.MkdirAll(job.Out, format.PrivateDir); err != nil {
		return r.fail("arguments", err)
	}
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(job.Path)
	if job.PathIsURL {
		abs = job.Path
	}
	m := format.Manifest{
		User:    job.User,
		Source:  format.Source{Kind: job.Kind, Host: host, Path: abs},
		Started: r.rep.Started,
		After:   after,
		Tool:    job.Tool,
		Account: job.Account,
	}
	r.rep.Source, r.rep.After = m.Source, after
	arch, err := format.Create(job.Out, m, &format.CreateOptions{
		WriterOptions: format.WriterOptions{Compression: comp, Level: job.Level},
		Overwrite:     job.Overwrite,
	})
	if err != nil {
		return r.fail("write", err)
	}
	counted := &errorCount{Sink: WithProgress(arch, job.User, job.Progress)}
	err = ctx.Err() // a run cancelled already is not started, whatever the source checks
	if err == nil {
		err = job.Source.Export(ctx, counted, Options{After: after, State: !after.IsZero()})
	}
	if err != nil {
		arch.Abort()
		return r.fail("export", fmt.Errorf("export %s for %s: %w", job.Kind, job.User, r.explain(err)))
	}
	if job.Finishing != nil {
		if err := job.Finishing(arch.Path(), m.Started); err != nil {
			arch.Abort()
			return r.fail("write", err)
		}
	}
	if err := arch.Close(); err != nil {
		return r.fail("write", err)
	}
	rep := report.NewExport(m, arch.Path(), arch.Summary(), counted.n)
	rep.File = job.ReportPath
	if rep.File == "" {
		rep.File = arch.Path() + ".report.json"
	}
	return rep, report.WriteFile(rep.File, rep)
}

// run is an export under way, for the record of a run that stops early.
type run struct {
	ctx  context.Context
	job  Job
	name string // the archive's file name, once known
	rep  *report.Export
}

func (r *run) explain(err error) error {
	if r.job.Explain == nil {
		return err
	}
	return r.job.Explain(err)
}

// fail ends an export that stopped at stage with err: the report file
// (ReportPath, or beside the archive it would have been) says so, as the
// importers' do.
func (r *run) fail(stage string, err error) (*report.Export, error) {
	r.rep.Stop(stage, err, r.ctx.Err() != nil)
	r.rep.File = r.job.ReportPath
	if fi, serr := os.Stat(r.job.Out); r.rep.File == "" && r.name != "" && serr == nil && fi.IsDir() {
		r.rep.File = filepath.Join(r.job.Out, r.name+".report.json")
	}
	if r.rep.File != "" {
		if werr := report.WriteFile(r.rep.File, r.rep); werr != nil {
			return r.rep, errors.Join(err, werr)
		}
	}
	return r.rep, err
}

// cutoff works out the incremental cutoff from After or Since.
func (job *Job) cutoff() (time.Time, error) {
	switch {
	case job.After != "" && job.Since != "":
		return time.Time{}, &ArgError{"since", errors.New("give a cutoff or an earlier archive, not both")}
	case job.After != "":
		return ParseCutoff(job.After, time.Local)
	case job.Since != "":
		prev, err := format.Open(job.Since, nil)
		if err != nil {
			return time.Time{}, &ArgError{"since", err}
		}
		defer prev.Close()
		m := prev.Manifest()
		if m.User != job.User {
			return time.Time{}, &ArgError{"since", fmt.Errorf("%s is %s's archive, not %s's", job.Since, m.User, job.User)}
		}
		if job.Overlap < 0 {
			return time.Time{}, &ArgError{"overlap", errors.New("must not be negative")}
		}
		return m.Started.Add(-job.Overlap), nil
	}
	return time.Time{}, nil
}

// errorCount counts the items reported as not exported (see
// report.NewExport): partial when there is one, never for warnings alone.
type errorCount struct {
	Sink
	n int
}

func (c *errorCount) AddError(p format.Problem) { c.n++; c.Sink.AddError(p) }

func (c *errorCount) AddState(s format.StateItem) error { return AddState(c.Sink, s) }
