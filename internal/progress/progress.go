// Package progress turns a run's progress lines into the points mljob
// stores: it reads each line (pyexec.ParseProgress), keeps steps from going
// backwards within a series, counts what it does not take, and thins long
// curves so that a run printing millions of lines stores a bounded number
// of points. It does no I/O: an Ingest gathers what to write, and the
// dispatcher saves it (db.SaveProgress) with the stdout offset it was read
// to, in one transaction.
//
// The thinning rule, per curve (an attempt's series and metric name), its
// points numbered from 0 as they come:
//
//   - every point below KeepFirst is kept;
//   - from KeepFirst on, a point is kept when it lies on the grid
//     KeepFirst + k·stride, where stride is the smallest power of two that
//     keeps at most KeepTail points of the grid so far: each time the grid
//     would hold more, stride doubles and the points off the new grid are
//     deleted;
//   - the curve's last point, its lowest and its highest (the first of
//     equals) are always kept: a point that stops being one of them is
//     deleted unless the rules above keep it.
//
// So a curve stores at most KeepFirst + KeepTail + 3 points however long
// it grows, and its first, last, lowest and highest points are always
// there.
package progress

import (
	"bytes"
	"slices"
	"sort"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
)

// The bounds of what an attempt stores.
const (
	// KeepFirst is how many points of a curve are all kept.
	KeepFirst = 10_000
	// KeepTail bounds the points kept on the grid after the first.
	KeepTail = 10_000
	// MaxCurves bounds the curves of an attempt: a value of a new curve
	// beyond it is dropped (pyexec.SkipTooManyCurves).
	MaxCurves = 200
)

type curveKey struct{ series, name string }

// curve is one curve's thinning state and its points not yet saved.
type curve struct {
	key      curveKey
	n        int64 // points so far
	stride   int64 // of the grid from KeepFirst on
	min, max db.MetricPoint
	pending  map[int64]db.MetricPoint
}

// Ingest is the progress of one attempt, read so far. It is not safe for
// concurrent use.
type Ingest struct {
	orderID int64
	attempt int
	first   int64 // KeepFirst; smaller in tests
	tail    int64 // KeepTail; smaller in tests

	offset   int64
	curves   map[curveKey]*curve
	lastStep map[string]float64  // by series
	last     pyexec.ProgressLine // the last line taken, for Last
	taken    bool                // a line was taken since New or Resume
	watch    string              // the metric Watched keeps; "" none
	watched  []Watched           // since the last Watched

	// Since the last Batch.
	dirty   bool
	lines   int64
	skipped map[string]int64
	ops     []db.MetricOp
	points  int // pending points, all curves
}

// New returns the progress of an attempt with nothing read yet.
func New(orderID int64, attempt int) *Ingest {
	return &Ingest{orderID: orderID, attempt: attempt, first: KeepFirst, tail: KeepTail,
		curves: map[curveKey]*curve{}, lastStep: map[string]float64{}, skipped: map[string]int64{}}
}

// Resume returns the progress of an attempt as st, its saved state, says
// it stands: reading goes on from st.Offset, and its curves are thinned
// as if it had never stopped.
func Resume(orderID int64, attempt int, st db.ProgressState) *Ingest {
	g := New(orderID, attempt)
	g.resume(st)
	return g
}

func (g *Ingest) resume(st db.ProgressState) {
	g.offset = st.Offset
	for _, cs := range st.Curves {
		c := g.newCurve(curveKey{cs.Series, cs.Name})
		c.n, c.min, c.max = cs.N, cs.Min, cs.Max
		for c.n > g.first && (c.n-g.first+c.stride-1)/c.stride > g.tail {
			c.stride *= 2
		}
		if last, ok := g.lastStep[cs.Series]; !ok || cs.LastStep > last {
			g.lastStep[cs.Series] = cs.LastStep
		}
	}
}

func (g *Ingest) newCurve(k curveKey) *curve {
	c := &curve{key: k, stride: 1, pending: map[int64]db.MetricPoint{}}
	g.curves[k] = c
	return c
}

// Offset is how far the attempt's stdout has been read: the end offset of
// the last Add.
func (g *Ingest) Offset() int64 { return g.offset }

// Last is the last progress line taken (its values as it gave them, before
// any thinning); false before one was.
func (g *Ingest) Last() (pyexec.ProgressLine, bool) { return g.last, g.taken }

// Pending is the number of points read and not yet handed out by Batch.
func (g *Ingest) Pending() int { return g.points }

// Add reads lines, the complete stdout lines (each ending in a newline)
// an engine delivered, up to stdout offset end (see run.Progress). at is
// when they were read. A call whose end lies before what was read already
// is ignored.
func (g *Ingest) Add(lines []byte, end int64, at time.Time) {
	if end < g.offset {
		return
	}
	g.offset, g.dirty = end, true
	for len(lines) > 0 {
		line := lines
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			line, lines = lines[:i], lines[i+1:]
		} else {
			lines = nil
		}
		g.addLine(line, at)
	}
}

func (g *Ingest) addLine(line []byte, at time.Time) {
	p, isProgress, skip := pyexec.ParseProgress(line)
	if !isProgress {
		return
	}
	if skip == "" {
		if last, ok := g.lastStep[p.Series]; ok && p.Step < last {
			skip = pyexec.SkipBackwards
		}
	}
	if skip != "" {
		g.skipped[skip]++
		return
	}
	g.lastStep[p.Series] = p.Step
	g.lines++
	g.last, g.taken = p, true
	if g.watch != "" {
		g.keepWatched(p)
	}
	for _, why := range p.Dropped {
		g.skipped[why]++
	}
	for _, m := range p.Metrics {
		k := curveKey{p.Series, m.Name}
		c := g.curves[k]
		if c == nil {
			if len(g.curves) >= MaxCurves {
				g.skipped[pyexec.SkipTooManyCurves]++
				continue
			}
			c = g.newCurve(k)
		}
		g.addPoint(c, p.Step, m.Value, at)
	}
}

// Watched is a point of the metric a pruner follows, as it was read: its
// value unthinned, a value that is not finite included.
type Watched struct {
	Series      string
	Step, Value float64
}

// Watch makes g keep, from the next line on, each line's value of metric
// name (see Watched).
func (g *Ingest) Watch(name string) { g.watch = name }

// WatchedSince returns the points of the watched metric read since the
// last Watched, without forgetting them; the slice is g's own, to be read
// before the next call to g.
func (g *Ingest) WatchedSince() []Watched { return g.watched }

// Watched returns the points of the watched metric read since the last
// call, in the order read, and forgets them.
func (g *Ingest) Watched() []Watched {
	w := g.watched
	g.watched = nil
	return w
}

func (g *Ingest) keepWatched(p pyexec.ProgressLine) {
	for _, set := range [][]pyexec.Metric{p.Metrics, p.NotFinite} {
		for _, m := range set {
			if m.Name == g.watch {
				g.watched = append(g.watched, Watched{Series: p.Series, Step: p.Step, Value: m.Value})
				return
			}
		}
	}
}

// kept reports whether point idx of c is to be stored (see the package
// comment).
func (g *Ingest) kept(c *curve, idx int64) bool {
	return idx < g.first || (idx-g.first)%c.stride == 0 ||
		idx == c.n-1 || idx == c.min.Idx || idx == c.max.Idx
}

func (g *Ingest) addPoint(c *curve, step, v float64, at time.Time) {
	idx := c.n
	p := db.MetricPoint{Series: c.key.series, Name: c.key.name, Idx: idx, Step: step, Value: v, At: at}
	was := [3]int64{idx - 1, c.min.Idx, c.max.Idx}
	c.n++
	if idx == 0 || v < c.min.Value {
		c.min = p
	}
	if idx == 0 || v > c.max.Value {
		c.max = p
	}
	c.pending[idx] = p
	g.points++
	g.dirty = true
	if idx == 0 {
		return
	}
	// The points that may have just lost their reason to be kept.
	for i, x := range was {
		if x < 0 || x == idx || slices.Contains(was[:i], x) {
			continue
		}
		if !g.kept(c, x) {
			g.remove(c, x)
		}
	}
	if idx >= g.first && (c.n-g.first+c.stride-1)/c.stride > g.tail {
		g.thin(c)
	}
}

// remove deletes point idx of c: from what is pending when it was not
// saved yet, else from the database.
func (g *Ingest) remove(c *curve, idx int64) {
	if _, ok := c.pending[idx]; ok {
		delete(c.pending, idx)
		g.points--
		return
	}
	g.ops = append(g.ops, db.MetricOp{Series: c.key.series, Name: c.key.name, Idx: idx})
}

// thin doubles c's grid stride and deletes the points off the new grid.
func (g *Ingest) thin(c *curve) {
	c.stride *= 2
	for idx := range c.pending {
		if !g.kept(c, idx) {
			delete(c.pending, idx)
			g.points--
		}
	}
	g.ops = append(g.ops, db.MetricOp{Series: c.key.series, Name: c.key.name, Stride: c.stride, From: g.first,
		Keep: []int64{c.n - 1, c.min.Idx, c.max.Idx}})
}

// Batch hands out what was read since the last Batch, to be saved in one
// transaction (db.SaveProgress), and forgets it; false when there is
// nothing to store. An offset that moved past other output alone is not
// worth a transaction (a run without progress lines would cost one more
// commit): the next batch carries it, and a reader that resumes from an
// older offset finds nothing new in between.
func (g *Ingest) Batch() (db.ProgressBatch, bool) {
	if !g.dirty || g.lines == 0 && len(g.skipped) == 0 && len(g.ops) == 0 && g.points == 0 {
		g.dirty = false
		return db.ProgressBatch{}, false
	}
	b := db.ProgressBatch{OrderID: g.orderID, Attempt: g.attempt, Offset: g.offset, Lines: g.lines,
		Skipped: g.skipped, Ops: g.ops, Points: make([]db.MetricPoint, 0, g.points)}
	for _, c := range g.curves {
		for _, p := range c.pending {
			b.Points = append(b.Points, p)
		}
		if len(c.pending) > 0 {
			c.pending = map[int64]db.MetricPoint{}
		}
	}
	sort.Slice(b.Points, func(i, j int) bool {
		p, q := b.Points[i], b.Points[j]
		if p.Series != q.Series {
			return p.Series < q.Series
		}
		if p.Name != q.Name {
			return p.Name < q.Name
		}
		return p.Idx < q.Idx
	})
	g.dirty, g.lines, g.skipped, g.ops, g.points = false, 0, map[string]int64{}, nil, 0
	return b, true
}
