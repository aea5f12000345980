// Package metrics serves a migration's progress as Prometheus metrics, for
// long runs watched from outside: users at each status, items and bytes
// moved by stage, and users failed by the class of their error. It reads
// nothing but the engine's progress events (Metrics.Progress wraps the
// run's progress.Func) and, for a failed user, its state's error class.
//
// No metric is labelled by user: user names are personal data, and one
// series per user would grow without bound on a night of 25,000 users
// (migrate status lists users; metrics count them).
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailhaul/mailhaul/internal/loopback"
	"github.com/mailhaul/mailhaul/migrate"
	"github.com/mailhaul/mailhaul/progress"
)

// Metrics counts one run. Its methods are safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	users    *prometheus.GaugeVec   // by status
	items    *prometheus.CounterVec // by stage
	bytes    *prometheus.CounterVec // by stage
	failures *prometheus.CounterVec // by class
	finished prometheus.Gauge

	stateDir string
	mu       sync.Mutex
	status   map[string]migrate.Status // each user's last status seen
	last     map[key]progress.Event    // each user's and stage's last running totals
}

type key struct{ user, stage string }

// New returns the metrics of a run of n users, all queued at the start;
// stateDir (optional) is read for the error class of a failed user.
func New(n int, stateDir string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		users: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mailhaul_migrate_users",
			Help: "Users of the run at each status (queued, exporting, transferring, importing, done, done-with-warnings, failed-retryable, failed-permanent)."}, []string{"status"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailhaul_migrate_items_total",
			Help: "Items (messages, contacts, events) moved, by stage."}, []string{"stage"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailhaul_migrate_bytes_total",
			Help: "Bytes moved, by stage."}, []string{"stage"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailhaul_migrate_user_failures_total",
			Help: "Users whose pass failed, by the class of the error (authentication, retryable, permanent)."}, []string{"class"}),
		finished: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailhaul_migrate_users_finished",
			Help: "Users whose part of the run has ended (done, failed or skipped)."}),
		stateDir: stateDir,
		status:   map[string]migrate.Status{},
		last:     map[key]progress.Event{},
	}
	m.reg.MustRegister(m.users, m.items, m.bytes, m.failures, m.finished)
	for _, s := range migrate.StatusOrder {
		m.users.WithLabelValues(string(s)) // every status present, at 0
	}
	m.users.WithLabelValues(string(migrate.Queued)).Set(float64(n))
	return m
}

// Progress returns a progress.Func that counts each event, then passes it
// to next (nil: none), so the metrics sit beside the run's own display.
func (m *Metrics) Progress(next progress.Func) progress.Func {
	return func(ev progress.Event) {
		m.count(ev)
		next.Report(ev)
	}
}

func (m *Metrics) count(ev progress.Event) {
	if ev.User == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if ev.Stage == migrate.StageMigrate {
		s := migrate.Status(ev.Folder)
		old, seen := m.status[ev.User]
		if !seen {
			old = migrate.Queued
		}
		if s != old {
			m.users.WithLabelValues(string(old)).Dec()
			m.users.WithLabelValues(string(s)).Inc()
			m.status[ev.User] = s
		}
		if ev.ItemsTotal > 0 { // the user's part of the run ended
			m.finished.Set(float64(ev.Items))
			if s == migrate.FailedRetry || s == migrate.FailedPerm {
				m.failures.WithLabelValues(m.class(ev.User, s)).Inc()
			}
		}
		return
	}
	// Stage events carry running totals: count what is new since the
	// user's last event of the stage (a total that falls is a new run of
	// the stage, such as the next target's import).
	k := key{ev.User, ev.Stage}
	prev := m.last[k]
	if ev.Items < prev.Items || ev.Bytes < prev.Bytes {
		prev = progress.Event{}
	}
	if d := ev.Items - prev.Items; d > 0 {
		m.items.WithLabelValues(ev.Stage).Add(float64(d))
	}
	if d := ev.Bytes - prev.Bytes; d > 0 {
		m.bytes.WithLabelValues(ev.Stage).Add(float64(d))
	}
	m.last[k] = ev
}

// class is the error class a failed user's state records; the status
// when it cannot be read.
func (m *Metrics) class(user string, s migrate.Status) string {
	if m.stateDir != "" {
		if st, err := migrate.LoadState(m.stateDir, user); err == nil && st.ErrorClass != "" {
			return st.ErrorClass
		}
	}
	if s == migrate.FailedRetry {
		return string(migrate.ClassRetryable)
	}
	return string(migrate.ClassPermanent)
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ErrNotLoopback refuses a listening address off this machine.
var ErrNotLoopback = errors.New("metrics: the address is not a loopback address")

// Listen opens addr for the metrics. Only loopback addresses are taken
// unless public is set: the metrics need no login, and an address such
// as ":9090" would open them to every network the machine is on (a
// scraper elsewhere reaches them through a tunnel or a sidecar, or with
// public set on purpose).
func Listen(addr string, public bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if !public && !loopback.IsHost(host) {
		return nil, fmt.Errorf("%w: %s (use 127.0.0.1:PORT, or allow it on purpose)", ErrNotLoopback, addr)
	}
	return net.Listen("tcp", addr)
}

// Serve serves the metrics on ln at /metrics until ln is closed.
func (m *Metrics) Serve(ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	err := srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
