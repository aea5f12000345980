// Package migrate runs a whole migration of many users on one machine:
// for every user, export (export.Run), transfer (transport.Run) and
// import (importer.Target.Import for each target), UsersAtOnce users at
// once. It composes the stages and copies none of their logic; the caller
// (cmd, from a plan file) gives the per-user steps as values (Steps), so
// the engine knows nothing of plans, shards or leases: a Locker keeps two
// workers off one user, and the user's work runs under the context it
// returns, so a lease that is lost stops the work without a word written
// to a state that is no longer this worker's.
//
// Every user has a directory of its own, named by its Key (the address
// without case, escaped reversibly: two users never share one), under
// ArchiveDir for its archives and under StateDir for a small JSON state,
// status.json (written to a temporary file, synced and renamed, so a
// crash leaves the old record or the new one), and below it the import
// journals (journal.Path within the user's directory, given to the
// importers as Request.StateDir). The state says where the user stands: queued,
// exporting, transferring, importing, done, done-with-warnings (items
// failed, each listed with its reason code), failed-retryable or
// failed-permanent; with the last error and its class, counts and bytes,
// and the archives exported, in order, with their start times and
// durations. A run may be killed at any moment: the next one skips the
// users done in the same pass, restarts an export that did not finish
// (an export leaves no half archive; a killed one's temporary file is
// removed), adopts an archive finished but not yet listed when the kill
// came (named in the state before its rename, verified whole before it
// is listed; one that is not whole is moved aside) and resumes an
// import from its journal. A cancelled run puts the users it was working on back to
// queued, never done.
//
// A delta pass exports each user since the start of its newest archive
// (export's --since rule) and lets the importers apply the delta's state
// record. The export and import parts can run apart (Part), on two sites
// with a drive or SFTP between them. An authentication failure is never
// tried again (failed-permanent: every try counts towards a lockout);
// throttling and dropped connections are, with backoff, through the one
// retry loop (internal/retry). Users that failed or finished with
// warnings are left alone by a later run of the same pass unless
// RetryFailed.
//
// A user whose lock another worker holds (an index started twice, a
// run started by hand beside the night's) is not this run's failure: the
// run does its other users first, then looks at the held ones every
// HeldPoll, up to WaitHeld. One its holder finished counts as done by
// that worker (UserResult.By; never as this run's work, and the state is
// the holder's); one released unfinished, or whose lease expired (a dead
// holder), this run takes and works on; one still held at the limit
// stands Held, and a run whose users left undone are all held exits
// ExitHeld (75, sysexits' EX_TEMPFAIL): not finished, nothing failed, a
// later run (or the holder) finishes it.
//
// Servers shares one connection cap per target server among all users
// (importer/imap's Limits.Conns), so that the server's limit holds for
// the night, not for each user.
//
// The Result gives a per-user CSV and JSON, a failures file that is
// itself a users list (UserColumns, or the list's own columns) to run
// again, and a short summary whose last line says "all N users done" only
// when they are (ExitCode 3 otherwise).
package migrate
