package progress

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/testutil"
)

// store is what the database holds of an attempt's curves, as
// db.SaveProgress writes a batch: removals in order, then the points.
type store map[curveKey]map[int64]db.MetricPoint

func (s store) apply(t testing.TB, b db.ProgressBatch) {
	t.Helper()
	for _, op := range b.Ops {
		pts := s[curveKey{op.Series, op.Name}]
		if op.Stride <= 0 {
			if _, ok := pts[op.Idx]; !ok {
				t.Fatalf("delete of point %d of %s/%s, which is not stored", op.Idx, op.Series, op.Name)
			}
			delete(pts, op.Idx)
			continue
		}
		for idx := range pts {
			if idx >= op.From && (idx-op.From)%op.Stride != 0 && !slices.Contains(op.Keep, idx) {
				delete(pts, idx)
			}
		}
	}
	for _, p := range b.Points {
		k := curveKey{p.Series, p.Name}
		if s[k] == nil {
			s[k] = map[int64]db.MetricPoint{}
		}
		if _, dup := s[k][p.Idx]; dup {
			t.Fatalf("point %d of %s/%s inserted twice", p.Idx, p.Series, p.Name)
		}
		s[k][p.Idx] = p
	}
}

// state is what db.Progress reads back from s.
func (s store) state(offset int64) db.ProgressState {
	st := db.ProgressState{Offset: offset}
	for k, pts := range s {
		c := db.CurveState{Series: k.series, Name: k.name}
		for _, idx := range slices.Sorted(maps.Keys(pts)) {
			p := pts[idx]
			if c.N == 0 || p.Value < c.Min.Value {
				c.Min = p
			}
			if c.N == 0 || p.Value > c.Max.Value {
				c.Max = p
			}
			c.N, c.LastStep = idx+1, p.Step
		}
		st.Curves = append(st.Curves, c)
	}
	return st
}

// wave is a noisy, slowly falling curve with its lowest and highest points
// somewhere in the middle.
func wave(i int64, r *rand.Rand) float64 {
	v := 10/(1+float64(i)/1000) + math.Sin(float64(i)/777) + r.Float64()
	switch i {
	case 654_321:
		v = -100
	case 345_678:
		v = 100
	}
	return v
}

// TestThinningMillion: a million points of one curve, saved every 1000,
// keep a bounded count, exactly the points the rule names, with the
// first, last, lowest and highest among them.
func TestThinningMillion(t *testing.T) {
	const n = 1_000_000
	g := New(1, 1)
	c := g.newCurve(curveKey{"", "loss"})
	s := store{}
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Unix(0, 0)
	var lo, hi int64 // idx of the lowest and highest, the first of equals
	vals := make([]float64, n)
	for i := range int64(n) {
		v := wave(i, r)
		vals[i] = v
		if v < vals[lo] {
			lo = i
		}
		if v > vals[hi] {
			hi = i
		}
		g.addPoint(c, float64(i), v, at)
		if i%1000 == 999 {
			b, _ := g.Batch()
			s.apply(t, b)
			if got := len(s[c.key]); got > KeepFirst+KeepTail+3 {
				t.Fatalf("after %d points, %d stored: over the bound %d", i+1, got, KeepFirst+KeepTail+3)
			}
		}
	}
	pts := s[c.key]
	t.Logf("%d points stored of %d, grid stride %d", len(pts), n, c.stride)
	for _, idx := range []int64{0, n - 1, lo, hi} {
		if p, ok := pts[idx]; !ok || p.Value != vals[idx] || p.Step != float64(idx) {
			t.Errorf("point %d (first, last, lowest or highest) stored as %+v, %v; want value %g", idx, p, ok, vals[idx])
		}
	}
	if lo != 654_321 || hi != 345_678 {
		t.Fatalf("the test's extremes moved: %d, %d", lo, hi)
	}
	// Exactly the points the rule keeps.
	want := 0
	for i := range int64(n) {
		keep := i < KeepFirst || (i-KeepFirst)%c.stride == 0 || i == n-1 || i == lo || i == hi
		if _, ok := pts[i]; ok != keep {
			t.Fatalf("point %d stored %v, want %v (stride %d)", i, ok, keep, c.stride)
		}
		if keep {
			want++
		}
	}
	if len(pts) != want || (n-KeepFirst+c.stride-1)/c.stride > KeepTail {
		t.Errorf("%d stored, want %d; grid stride %d", len(pts), want, c.stride)
	}
}

// TestResumeThinsAsBefore: an attempt read in two halves, the second by an
// Ingest resumed from what the first saved (a dispatcher restarted), stores
// what one reading of it stores.
func TestResumeThinsAsBefore(t *testing.T) {
	var lines strings.Builder
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		fmt.Fprintf(&lines, `{"step":%d,"series":"f%d","loss":%g,"acc":%g}`+"\n", i/2, i%2, wave(int64(i), r)*1000, r.Float64())
		if i%7 == 0 {
			lines.WriteString("some other output\n")
		}
	}
	text := []byte(lines.String())
	small := func(g *Ingest) *Ingest { g.first, g.tail = 100, 50; return g }
	at := time.Unix(0, 0)

	whole := store{}
	g := small(New(1, 1))
	// Delivered in pieces of whole lines, each saved before the next.
	for from := 0; from < len(text); {
		end := min(from+4096, len(text))
		end = strings.LastIndexByte(string(text[:end]), '\n') + 1
		g.Add(text[from:end], int64(end), at)
		b, _ := g.Batch()
		whole.apply(t, b)
		from = end
	}

	half := store{}
	mid := len(text) / 2
	mid = strings.IndexByte(string(text[mid:]), '\n') + mid + 1
	g1 := small(New(1, 1))
	g1.Add(text[:mid], int64(mid), at)
	b, _ := g1.Batch()
	half.apply(t, b)
	g2 := small(New(1, 1))
	g2.resume(half.state(g1.Offset())) // Resume, with the test's limits
	if g2.Offset() != int64(mid) {
		t.Fatalf("resumed at %d, want %d", g2.Offset(), mid)
	}
	g2.Add(text[mid:], int64(len(text)), at)
	b, _ = g2.Batch()
	half.apply(t, b)

	for k, pts := range whole {
		if got := slices.Sorted(maps.Keys(half[k])); !slices.Equal(got, slices.Sorted(maps.Keys(pts))) {
			t.Errorf("%v: resumed stores %d points, one reading %d", k, len(got), len(pts))
		}
		if len(pts) > 100+50+3 {
			t.Errorf("%v: %d points stored", k, len(pts))
		}
	}
	if len(whole) != 4 || len(half) != 4 {
		t.Errorf("%d and %d curves, want 4", len(whole), len(half))
	}
}

// TestAddSkips: what is not taken is counted by reason, and the rest of
// the lines are.
func TestAddSkips(t *testing.T) {
	g := New(1, 1)
	var in strings.Builder
	in.WriteString(`{"step":1,"loss":5}` + "\n")
	in.WriteString(`{"step":1,"loss":4}` + "\n") // equal steps are fine
	in.WriteString(`{"step":0,"loss":3}` + "\n") // backwards
	in.WriteString(`{"step":0,"series":"b","loss":3}` + "\n")
	in.WriteString(`{"step":"2","loss":3}` + "\n")
	in.WriteString(`{"step":2,"loss":NaN,"acc":1}` + "\n")
	in.WriteString(`{"status":200,"loss":1}` + "\n") // the outcome: not progress
	in.WriteString("plain\n")
	in.WriteString(`{"step":3,"note":"` + strings.Repeat("x", pyexec.MaxProgressLine) + `"}` + "\n")
	for i := range MaxCurves + 5 {
		fmt.Fprintf(&in, `{"step":4,"m%d":1}`+"\n", i)
	}
	g.Add([]byte(in.String()), 999, time.Unix(0, 0))
	b, ok := g.Batch()
	if !ok {
		t.Fatal("no batch")
	}
	want := map[string]int64{
		pyexec.SkipBackwards: 1, pyexec.SkipBadStep: 1, pyexec.SkipNotFinite: 1, pyexec.SkipTooLong: 1,
		pyexec.SkipTooManyCurves: 8, // loss, b/loss and acc hold 3 of the curves
	}
	if !maps.Equal(b.Skipped, want) {
		t.Errorf("skipped %v, want %v", b.Skipped, want)
	}
	if b.Lines != 4+MaxCurves+5 || b.Offset != 999 || len(b.Points) != 4+MaxCurves-3 {
		t.Errorf("lines %d offset %d points %d", b.Lines, b.Offset, len(b.Points))
	}
	if _, ok := g.Batch(); ok {
		t.Error("a second batch with nothing new")
	}
	g.Add(nil, 998, time.Unix(0, 0))
	if _, ok := g.Batch(); ok || g.Offset() != 999 {
		t.Errorf("an end before the offset moved it to %d", g.Offset())
	}
}

// TestSavedAsIngested: batches saved in a real queue file hold what the
// model store holds, and read back (db.Progress) as the state to resume.
func TestSavedAsIngested(t *testing.T) {
	ctx := context.Background()
	q := testutil.MustOpenDB(t)
	if _, err := q.SubmitJobs(ctx, []db.NewJob{{Project: "p", Script: "nn.py", Spec: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	c, err := q.ClaimOrder(ctx, "gpu1", "0", "me")
	if err != nil || c == nil {
		t.Fatalf("claim: %v, %v", c, err)
	}
	g := New(c.Order.ID, c.Order.Attempt)
	g.first, g.tail = 100, 50
	s := store{}
	r := rand.New(rand.NewPCG(5, 6))
	var text strings.Builder
	for i := range 5000 {
		text.Reset()
		fmt.Fprintf(&text, `{"step":%d,"series":"s%d","loss":%g}`+"\n", i, i%2, wave(int64(i)*200, r))
		g.Add([]byte(text.String()), int64(i+1)*1000, time.Unix(int64(i), 0))
		if i%97 != 0 && i != 4999 {
			continue
		}
		b, _ := g.Batch()
		s.apply(t, b)
		if err := q.SaveProgress(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	pts, err := q.Metrics(ctx, db.MetricFilter{OrderID: c.Order.ID, Attempt: c.Order.Attempt})
	if err != nil {
		t.Fatal(err)
	}
	saved := store{}
	for _, p := range pts {
		saved.apply(t, db.ProgressBatch{Points: []db.MetricPoint{p}})
	}
	for k, want := range s {
		if got := slices.Sorted(maps.Keys(saved[k])); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Errorf("%v: saved %v, want %v", k, got, slices.Sorted(maps.Keys(want)))
		}
	}
	st, err := q.Progress(ctx, c.Order.ID, c.Order.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	want := s.state(5000 * 1000)
	slices.SortFunc(want.Curves, func(a, b db.CurveState) int { return strings.Compare(a.Series, b.Series) })
	for i := range want.Curves {
		want.Curves[i].Min.At, want.Curves[i].Max.At = time.Time{}, time.Time{}
	}
	if st.Offset != want.Offset || st.Lines != 5000 || !slices.Equal(st.Curves, want.Curves) {
		t.Errorf("state read back %+v\nwant %+v", st, want)
	}
}

// TestLast: Last is the last line taken, not the last one read: a line
// going backwards, or not a progress line, leaves it as it was.
func TestLast(t *testing.T) {
	g := New(1, 1)
	if _, ok := g.Last(); ok {
		t.Fatal("a last line before any was read")
	}
	g.Add([]byte(`{"step":1,"series":"fold1","loss":5,"valLoss":6}`+"\n"+`{"step":7,"series":"fold2","loss":4}`+"\n"+
		`{"step":3,"series":"fold2","loss":9}`+"\n"+`{"loss":1}`+"\n"), 99, time.Unix(0, 0))
	last, ok := g.Last()
	if !ok || last.Step != 7 || last.Series != "fold2" || !slices.Equal(last.Metrics, []pyexec.Metric{{Name: "loss", Value: 4}}) {
		t.Errorf("Last() = %+v, %v; want fold2's step 7 with loss 4", last, ok)
	}
}

// TestWatched: the watched metric's values come back in the order read,
// NaN included and backwards steps not, each once.
func TestWatched(t *testing.T) {
	g := New(1, 1)
	g.Add([]byte(`{"step":1,"loss":3}`+"\n"), 20, time.Now()) // before Watch: not kept
	g.Watch("valLoss")
	lines := `{"step":2,"series":"f0","valLoss":0.5,"loss":2}` + "\n" +
		`{"step":2,"valLoss":NaN}` + "\n" +
		`{"step":1,"valLoss":0.1}` + "\n" + // backwards: not taken
		`{"step":3,"loss":1}` + "\n" +
		`{"step":4,"valLoss":0.25}` + "\n"
	g.Add([]byte(lines), 200, time.Now())
	got := g.Watched()
	if len(got) != 3 || got[0] != (Watched{"f0", 2, 0.5}) || got[1].Series != "" || !math.IsNaN(got[1].Value) ||
		got[2] != (Watched{"", 4, 0.25}) {
		t.Fatalf("Watched = %+v", got)
	}
	if again := g.Watched(); len(again) != 0 {
		t.Errorf("second Watched = %+v", again)
	}
}
