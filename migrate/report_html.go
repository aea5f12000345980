package migrate

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// ReportHTML is the summary page WriteFiles writes beside the CSV.
const ReportHTML = "summary.html"

// summaryPage is a page a help desk can open: the summary's last line,
// the users at each status, and a row per user, those not done first.
// html/template escapes every value by its context, so a user name or a
// server's answer holding markup shows as text and runs nothing.
var summaryPage = template.Must(template.New("summary").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>mailhaul migrate {{.Stage}}: {{.Last}}</title>
<style>
body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
td.n{text-align:right}.done{background:#e8f5e9}.warn{background:#fff8e1}.fail{background:#ffebee}
</style></head><body>
<h1>mailhaul migrate {{.Stage}}{{if .Part}} ({{.Part}} only){{end}}</h1>
<p><strong>{{.Last}}</strong> ({{.Users}} users in {{.Took}})</p>
<ul>{{range .Counts}}<li>{{.N}} {{.Status}}</li>{{end}}</ul>
<table><thead><tr><th>user</th><th>status</th><th>messages</th><th>contacts</th><th>events</th><th>bytes</th><th>seconds</th><th>error or failed items</th></tr></thead>
<tbody>{{range .Rows}}<tr class="{{.Class}}"><td>{{.User}}</td><td>{{.Status}}</td><td class="n">{{.Messages}}</td><td class="n">{{.Contacts}}</td><td class="n">{{.Events}}</td><td class="n">{{.Bytes}}</td><td class="n">{{.Seconds}}</td><td>{{.Detail}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))

type htmlRow struct {
	User, Status, Class, Detail, Seconds string
	Messages, Contacts, Events           int
	Bytes                                int64
}

// WriteHTML writes the summary page.
func (r *Result) WriteHTML(w io.Writer) error {
	lines := strings.Split(strings.TrimSpace(r.Summary()), "\n")
	data := struct {
		Stage  Stage
		Part   Part
		Last   string
		Users  int
		Took   time.Duration
		Counts []struct {
			N      int
			Status Status
		}
		Rows []htmlRow
	}{Stage: r.Job.Stage, Part: r.Job.Part, Last: lines[len(lines)-1], Users: len(r.Users),
		Took: time.Duration(r.Seconds * float64(time.Second)).Round(time.Second)}
	for _, s := range StatusOrder {
		if n := r.Count(s); n > 0 {
			data.Counts = append(data.Counts, struct {
				N      int
				Status Status
			}{n, s})
		}
	}
	var done []htmlRow
	for _, u := range r.Users {
		st := u.State
		row := htmlRow{User: u.User.Name, Status: string(u.Status), Messages: st.Counts.Messages, Contacts: st.Counts.Contacts,
			Events: st.Counts.Events, Bytes: st.MovedBytes(), Seconds: fmt.Sprintf("%.1f", st.Seconds), Detail: u.Note}
		switch {
		case st.Error != "":
			row.Detail = st.ErrorClass + ": " + st.Error
		case len(st.Failures) > 0:
			var items []string
			for i, f := range st.Failures {
				if i == 20 {
					items = append(items, fmt.Sprintf("... and %d more (users.json)", len(st.Failures)-20))
					break
				}
				items = append(items, f.Item+" ("+f.Code+"): "+f.Reason)
			}
			row.Detail = strings.Join(items, "; ")
		}
		switch u.Status {
		case Done:
			row.Class = "done"
			done = append(done, row)
			continue
		case DoneWarnings, Held:
			row.Class = "warn"
		default:
			row.Class = "fail"
		}
		data.Rows = append(data.Rows, row)
	}
	data.Rows = append(data.Rows, done...)
	return summaryPage.Execute(w, data)
}
