package live_test

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
	"github.com/mljob/mljob/internal/live"
)

// sweepEvents is the event stream of a sweep like the one whose live view
// said "ETA 9m34s" and took 3m23s: 36 runs on 2 hosts × 2 slots, the
// second host answering 25 s after the first, each slot's first run 15 s
// slower (upload, cold imports), the others 17–23 s. Each slot claims the
// next order as soon as it is free, as the dispatcher does. It returns the
// events in time order and the time the last run ended.
func sweepEvents() ([]dispatch.Event, time.Time) {
	r := rand.New(rand.NewPCG(12, 3))
	type slot struct {
		host, name string
		free       time.Time
		runs       int
	}
	slots := []*slot{
		{host: "a", name: "0", free: t0.Add(5 * time.Second)}, {host: "a", name: "1", free: t0.Add(5 * time.Second)},
		{host: "b", name: "0", free: t0.Add(30 * time.Second)}, {host: "b", name: "1", free: t0.Add(30 * time.Second)},
	}
	var evs []dispatch.Event
	var end time.Time
	for order := int64(1); order <= 36; order++ {
		s := slots[0]
		for _, o := range slots[1:] {
			if o.free.Before(s.free) {
				s = o
			}
		}
		d := 17*time.Second + time.Duration(r.IntN(6000))*time.Millisecond
		if s.runs == 0 {
			d += 15 * time.Second
		}
		s.runs++
		evs = append(evs,
			dispatch.Event{Time: s.free, Kind: dispatch.OrderClaimed, Host: s.host, Slot: s.name, Order: order},
			dispatch.Event{Time: s.free.Add(d), Kind: dispatch.OrderSucceeded, Host: s.host, Order: order, Duration: d})
		s.free = s.free.Add(d)
		if s.free.After(end) {
			end = s.free
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs, end
}

// oldETA is the estimate the view showed before: the orders left at the
// rate of finished runs since the start.
func oldETA(s live.Snapshot, now time.Time) time.Duration {
	return time.Duration(float64(s.Running+s.Queued) / s.Rate(now) * float64(time.Minute))
}

// TestETAReplay replays a sweep's events second by second and compares
// the ETA with the time really left. Once a slot's second run has ended
// and until the last 20 s, the estimate is within 20 % of the time left
// or 5 s, whichever is more; the old one was more than twice the truth
// after the first runs ended.
func TestETAReplay(t *testing.T) {
	evs, end := sweepEvents()
	const orders = 36
	ta := live.NewTally(t0, []string{"a", "b"})
	ta.SetQueued(orders)
	next, checked, worstOld := 0, 0, 0.0
	var worstNew time.Duration
	for now := t0; now.Before(end.Add(-20 * time.Second)); now = now.Add(time.Second) {
		for next < len(evs) && !evs[next].Time.After(now) {
			ta.Observe(evs[next])
			next++
		}
		s := ta.Snapshot()
		got, ok := s.ETA(now)
		if !ok {
			if s.Done() > 0 {
				t.Fatalf("at +%s: no ETA after %d runs ended", now.Sub(t0), s.Done())
			}
			continue
		}
		truth := end.Sub(now)
		worstOld = max(worstOld, float64(oldETA(s, now))/float64(truth))
		if s.Timed == 0 {
			continue // only first runs ended: how much faster the rest are is not known yet
		}
		err := (got - truth).Abs()
		worstNew = max(worstNew, err)
		if err > max(truth/5, 5*time.Second) {
			t.Errorf("at +%s (%d/%d done): ETA %s, %s left in truth (off by %s)", now.Sub(t0), s.Done(), orders, got.Round(time.Second), truth, err.Round(time.Second))
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("only %d seconds of the sweep checked; the replay is shorter than it should be", checked)
	}
	if worstOld < 2 {
		t.Errorf("the old estimate was at worst %.2f× the truth; the replay no longer shows its fault", worstOld)
	}
	t.Logf("sweep of %s; the old estimate was up to %.1f× the time left, the new one at most %s off", end.Sub(t0), worstOld, worstNew.Round(time.Second))
}

// TestETAStates: no estimate before a run ends or with orders waiting and
// none in flight; nothing left when all is done.
func TestETAStates(t *testing.T) {
	claim := dispatch.Event{Time: t0, Kind: dispatch.OrderClaimed, Host: "h1", Order: 1}
	end := dispatch.Event{Time: t0.Add(10 * time.Second), Kind: dispatch.OrderSucceeded, Host: "h1", Order: 1}
	ta := live.NewTally(t0, []string{"h1"})
	ta.Observe(claim)
	if _, ok := ta.Snapshot().ETA(t0.Add(5 * time.Second)); ok {
		t.Error("an ETA before any run ended")
	}
	ta.Observe(end)
	if eta, ok := ta.Snapshot().ETA(t0.Add(10 * time.Second)); !ok || eta != 0 {
		t.Errorf("all done: ETA %s, %v; want 0, true", eta, ok)
	}
	ta.SetQueued(3)
	if _, ok := ta.Snapshot().ETA(t0.Add(10 * time.Second)); ok {
		t.Error("an ETA with orders queued and none in flight (hosts down)")
	}
	claim.Order, claim.Time = 2, t0.Add(10*time.Second)
	ta.Observe(claim) // queued 2, one in flight 4 s old at +14 s: 6 s + 2×10 s on one slot
	if eta, ok := ta.Snapshot().ETA(t0.Add(14 * time.Second)); !ok || eta != 26*time.Second {
		t.Errorf("ETA %s, %v; want 26s, true", eta, ok)
	}
}
