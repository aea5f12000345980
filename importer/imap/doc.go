// Package imap loads mailhaul archives into an IMAP server: folders with
// their roles and subscriptions, then messages with flags, keywords and
// received dates, exactly once however often the import is run, cut off
// or fed overlapping delta archives.
//
// A message stored once with labels (format.Item.Labels, Gmail's) is
// placed in its folder and in each label's, each copy an item of its own
// (labels.go).
//
// An item is identified by its target mailbox, its sourceId and its bytes
// (see itemKey): byte-identical messages in one folder are as many items,
// each sent with its own flags and received date. Journals written before
// this keyed a message by mailbox and bytes alone; such a record still
// stands for the one copy it sent, taken by the first item with those
// bytes, and is rewritten under the item's key.
//
// Exactly once rests on a per-user journal (internal/journal): an intent
// is made durable before each batch is sent and the outcome, with the UID
// the server gave, after it is confirmed. An intent without outcome, or a
// mailbox that held mail before the journal knew it, makes the importer
// look on the target (Message-ID and size, else content hash) before it
// sends anything again. Before sending, it counts only copies the mailbox
// held before the run that no journal record places (by UID) or accounts
// for (by content): k identical items and j such copies send k - j, and
// a copy with the item's received date (the target's internal date) is
// matched first. After a dropped connection it counts only copies that
// arrived during the run with the item's date, once no command with the
// same bytes is still unanswered. It looks only
// once Options.Settle has passed since the connection dropped or the
// previous run wrote its last line: a server goes on storing an APPEND it
// has fully received after its client is gone, and a check made before
// that lands would send the batch twice.
// Checks of different mailboxes take turns on the one control connection,
// so each check first makes sure its own mailbox is the one selected: a
// content comparison by UID reads whatever mailbox is selected. A batch is
// failed after its connection dropped too often only once the target was
// checked (a failure never names a message that is there). A command in
// flight when the run is stopped is no dropped connection: its answer is
// awaited for stopGrace, and without one its messages fail as in flight,
// possibly on the target, their intents left pending for the next run.
//
// Speed comes from several connections, each pipelining APPENDs through
// the appender sub-package (MULTIAPPEND and LITERAL+ where offered);
// go-imap drives the one control connection for LIST, CREATE, SELECT and
// FETCH. Every connection logs in through internal/imapconn. Throttling
// answers, dropped connections and rising latency shrink an AIMD window of
// batches in flight (internal/ratelimit), and every connection is replaced
// before it spends its provider's error budget. The window, the connection
// cap and the pacer are passed in (Options.Limits), so that the runs of
// many users on one server can share them.
//
// The files follow the seams: import.go runs the job (Target, the
// journal's place, progress); mailboxes.go provisions mailboxes through
// the control connection (control.go, which alone takes its lock, and
// index.go); presence.go says what is there already (journal, target
// index, settle); batches.go reads the archives into batches, and
// sender.go sends each one over the append connections, its attempts in
// internal/retry's one loop (queue.go alone takes the queue's lock);
// apply.go then brings what earlier runs placed to the last delta's state
// record (flags, moves, deletions with Request.ApplyDeletions), changing
// only what the journal says mailhaul placed and the target still holds
// as mailhaul left it.
package imap
