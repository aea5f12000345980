package main

import (
	"math/rand/v2"
	"time"
)

type role int

const (
	roleInbox role = iota
	roleSent
	roleDrafts
	roleTrash
	roleJunk
	roleOther
)

// folder is one Maildir++ folder. dir is its directory under the root ("" is
// INBOX); weight and appendWeight are its share of the messages in a fresh
// tree and in an -append run.
type folder struct {
	dir          string
	role         role
	weight       int
	appendWeight int
	year         int  // when set, the folder holds mail received in that year
	getsNew      bool // whether deliveries land here, so new/ has files
}

// folders mirror a Dovecot user with a few years of mail. "&AMQ-rger" is
// "Ärger" in IMAP's modified UTF-7, as Dovecot names such directories.
var folders = []folder{
	{dir: "", role: roleInbox, weight: 40, appendWeight: 75, getsNew: true},
	{dir: ".Sent", role: roleSent, weight: 14, appendWeight: 10},
	{dir: ".Drafts", role: roleDrafts, weight: 1},
	{dir: ".Trash", role: roleTrash, weight: 3},
	{dir: ".Junk", role: roleJunk, weight: 3, appendWeight: 5, getsNew: true},
	{dir: ".Archive", role: roleOther, weight: 6},
	{dir: ".Archive.2023", role: roleOther, weight: 8, year: 2023},
	{dir: ".Archive.2024", role: roleOther, weight: 8, year: 2024},
	{dir: ".Work", role: roleOther, weight: 3},
	{dir: ".Work.Projects", role: roleOther, weight: 6},
	{dir: ".Lists.golang-nuts", role: roleOther, weight: 6, appendWeight: 10, getsNew: true},
	{dir: ".&AMQ-rger", role: roleOther, weight: 2},
}

// keywordsFile is each folder's dovecot-keywords: flag letter a is keyword 0.
const keywordsFile = "0 $Forwarded\n1 $Junk\n2 $NotJunk\n"

func pickFolder(r *rand.Rand, appending bool) *folder {
	total := 0
	for i := range folders {
		total += weightOf(&folders[i], appending)
	}
	n := r.IntN(total)
	for i := range folders {
		if n -= weightOf(&folders[i], appending); n < 0 {
			return &folders[i]
		}
	}
	return &folders[0]
}

func weightOf(f *folder, appending bool) int {
	if appending {
		return f.appendWeight
	}
	return f.weight
}

// receivedTime spreads mail, in whole seconds as Maildir names hold it,
// over the span before end with more of it recent, as mail volume grows;
// year folders get mail from their year.
func receivedTime(r *rand.Rand, f *folder, end time.Time) time.Time {
	start := end.Add(-span)
	if f.year != 0 {
		from := time.Date(f.year, 1, 1, 0, 0, 0, 0, time.UTC)
		to := from.AddDate(1, 0, 0)
		from, to = later(from, start), earlier(to, end)
		if from.Before(to) {
			return from.Add(time.Duration(r.Int64N(int64(to.Sub(from))))).Truncate(time.Second)
		}
	}
	u := r.Float64()
	return end.Add(-time.Duration(u * u * float64(span))).Truncate(time.Second)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// placement decides between new/ (delivered, not yet seen by a client) and
// cur/ with Maildir flags in their canonical (ASCII) order.
func placement(r *rand.Rand, f *folder, received, end time.Time) (inNew bool, flags string) {
	if f.getsNew && end.Sub(received) < 10*24*time.Hour && r.IntN(10) < 7 {
		return true, ""
	}
	var fl []byte
	switch f.role {
	case roleDrafts:
		fl = append(fl, 'D', 'S')
	case roleSent:
		fl = append(fl, 'S')
	case roleJunk:
		if r.IntN(3) > 0 {
			fl = append(fl, 'S')
		}
	default:
		if r.IntN(10) > 0 {
			if r.IntN(20) == 0 {
				fl = append(fl, 'F')
			}
			if r.IntN(7) == 0 {
				fl = append(fl, 'R')
			}
			fl = append(fl, 'S')
			if f.role == roleTrash && r.IntN(50) == 0 {
				fl = append(fl, 'T')
			}
		}
	}
	switch {
	case f.role == roleJunk:
		fl = append(fl, 'b') // $Junk
	case r.IntN(30) == 0:
		fl = append(fl, 'a') // $Forwarded
	}
	return false, string(fl)
}
