// Package metricsview is what mljob metrics and mljob show print of a
// job's progress lines: the points of an attempt's curves (step, series,
// name, value, time) as a table, CSV or JSON, and per attempt how many
// lines were taken and how many were not, and why. It reads the queue
// (db.Metrics, db.ProgressSummaries) and builds rows; cmd/mljob parses
// flags and writes them.
package metricsview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/render"
)

// ErrNotStarted is returned by Read for an order with no attempt yet.
var ErrNotStarted = errors.New("order has not started yet")

// ErrNoAttempt is returned by Read for an attempt the order never had.
var ErrNoAttempt = errors.New("no such attempt")

// Query selects the points mljob metrics lists.
type Query struct {
	JobID   int64 // the job's last order, unless OrderID is set
	OrderID int64
	Attempt int     // 0: the order's current attempt
	Name    string  // "" = every metric
	Series  *string // nil = every series
}

// Check says what is wrong with q as the command line gave it: a job and
// an order both or neither, or a negative order or attempt.
func (q Query) Check() error {
	switch {
	case q.JobID != 0 && q.OrderID != 0:
		return errors.New("give a job id or --order, not both")
	case q.JobID == 0 && q.OrderID == 0:
		return errors.New("give a job id, or --order N")
	case q.OrderID < 0:
		return errors.New("--order must be an order id (a positive integer)")
	case q.Attempt < 0:
		return errors.New("--attempt must be positive")
	}
	return nil
}

// Point is one stored point, as mljob metrics prints it.
type Point struct {
	Step   float64 `json:"step"`
	Series string  `json:"series"`
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Time   string  `json:"time"`
}

// timeFormat is RFC 3339 to the millisecond: points come faster than one
// a second.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// Read resolves q's order and attempt and returns them with their points,
// by series, step and name. Errors: db.ErrJobNotFound, db.ErrOrderNotFound,
// ErrNotStarted, ErrNoAttempt, or the queue's.
func Read(ctx context.Context, store *db.DB, q Query) (orderID int64, attempt int, pts []Point, err error) {
	orderID = q.OrderID
	if orderID == 0 {
		if _, err := store.Job(ctx, q.JobID); err != nil {
			return 0, 0, nil, err
		}
		orders, err := store.OrdersForJob(ctx, q.JobID)
		if err != nil {
			return 0, 0, nil, err
		}
		if len(orders) == 0 {
			return 0, 0, nil, fmt.Errorf("job %d: %w", q.JobID, db.ErrOrderNotFound)
		}
		orderID = orders[len(orders)-1].ID
	}
	states, err := store.OrderStates(ctx, []int64{orderID})
	if err != nil {
		return 0, 0, nil, err
	}
	o, ok := states[orderID]
	if !ok {
		return 0, 0, nil, db.ErrOrderNotFound
	}
	attempt = q.Attempt
	switch {
	case attempt == 0 && o.Attempt == 0:
		return orderID, 0, nil, ErrNotStarted
	case attempt == 0:
		attempt = o.Attempt
	case attempt > o.Attempt:
		return orderID, attempt, nil, fmt.Errorf("%w: order %d has %d", ErrNoAttempt, orderID, o.Attempt)
	}
	got, err := store.Metrics(ctx, db.MetricFilter{OrderID: orderID, Attempt: attempt, Name: q.Name, Series: q.Series})
	if err != nil {
		return orderID, attempt, nil, err
	}
	pts = make([]Point, len(got))
	for i, p := range got {
		pts[i] = Point{Step: p.Step, Series: p.Series, Name: p.Name, Value: p.Value, Time: p.At.UTC().Format(timeFormat)}
	}
	return orderID, attempt, pts, nil
}

// Table is the points as mljob metrics prints them.
func Table(pts []Point) render.Table {
	t := render.Table{
		Headers: []string{"STEP", "SERIES", "NAME", "VALUE", "TIME"},
		Keys:    []string{"step", "series", "name", "value", "time"},
		Numeric: map[int]bool{0: true, 3: true},
		Rows:    make([][]string, len(pts)),
	}
	for i, p := range pts {
		t.Rows[i] = []string{number(p.Step), p.Series, p.Name, number(p.Value), p.Time}
	}
	return t
}

func number(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Progress is what an attempt's progress lines came to, in mljob show's
// JSON ("progress"): the lines taken, the points stored, and by reason the
// lines not taken and the values dropped.
type Progress struct {
	OrderID       int64            `json:"orderId"`
	Attempt       int              `json:"attempt"`
	Lines         int64            `json:"lines"`
	Points        int64            `json:"points"`
	NotTaken      map[string]int64 `json:"notTaken"`
	ValuesDropped map[string]int64 `json:"valuesDropped"`
}

// Summaries converts the attempts' summaries for show.
func Summaries(sums []db.ProgressSummary) []Progress {
	out := make([]Progress, 0, len(sums))
	for _, s := range sums {
		p := Progress{OrderID: s.OrderID, Attempt: s.Attempt, Lines: s.Lines, Points: s.Points,
			NotTaken: map[string]int64{}, ValuesDropped: map[string]int64{}}
		for reason, n := range s.Skipped {
			if pyexec.SkipsLines(reason) {
				p.NotTaken[reason] = n
			} else {
				p.ValuesDropped[reason] = n
			}
		}
		out = append(out, p)
	}
	return out
}

// WriteSummaries writes one line per attempt with progress: "Progress of
// order 3 attempt 1: 120 lines taken, 360 points stored (mljob metrics
// --order 3 --attempt 1); 2 lines not taken (step went backwards 2); 1
// value dropped (value not finite 1)".
func WriteSummaries(w io.Writer, ps []Progress) error {
	for _, p := range ps {
		line := fmt.Sprintf("Progress of order %d attempt %d: %d lines taken, %d points stored (mljob metrics --order %d --attempt %d)",
			p.OrderID, p.Attempt, p.Lines, p.Points, p.OrderID, p.Attempt)
		line += counts(p.NotTaken, "line", "lines", "not taken")
		line += counts(p.ValuesDropped, "value", "values", "dropped")
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

func counts(m map[string]int64, one, many, what string) string {
	if len(m) == 0 {
		return ""
	}
	var total int64
	var parts []string
	for _, reason := range slices.Sorted(maps.Keys(m)) {
		total += m[reason]
		parts = append(parts, fmt.Sprintf("%s %d", reason, m[reason]))
	}
	noun := many
	if total == 1 {
		noun = one
	}
	return fmt.Sprintf("; %d %s %s (%s)", total, noun, what, strings.Join(parts, ", "))
}
