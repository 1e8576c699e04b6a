package live

import (
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/dispatch"
)

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tl := NewTimeline(t0, at(50))
	for _, e := range []dispatch.Event{
		{Time: at(100), Kind: dispatch.HostUp, Host: "a"},
		{Time: at(150), Kind: dispatch.HostUp, Host: "b"},
		{Time: at(200), Kind: dispatch.OrderStarted, Host: "a", Slot: "0", Order: 1},
		{Time: at(210), Kind: dispatch.OrderStarted, Host: "b", Slot: "0", Order: 2},
		{Time: at(400), Kind: dispatch.OrderSucceeded, Host: "a", Order: 1},
		{Time: at(420), Kind: dispatch.OrderStarted, Host: "a", Slot: "0", Order: 3},
		{Time: at(410), Kind: dispatch.OrderFailed, Host: "b", Order: 2},
		{Time: at(600), Kind: dispatch.OrderSucceeded, Host: "a", Order: 3},
		{Time: at(700), Kind: dispatch.OrderSucceeded, Host: "a", Order: 99}, // adopted: no start seen
	} {
		tl.Observe(e)
	}
	var b strings.Builder
	if err := tl.Write(&b, at(650)); err != nil {
		t.Fatal(err)
	}
	// Runs: 200, 200 and 180 ms in 2 slots × 400 ms; one wait of 20 ms.
	want := "Timeline: queue open and checked at 0.050 s; hosts up 0.100 s–0.150 s; first run started at 0.200 s; last run ended at 0.600 s; done at 0.650 s.\n" +
		"Slots: 3 runs on 2 slots; from the first start to the last end the slots were in a run 72 % of the time (a run took 0.193 s on average; a slot waited 0.020 s on average between its runs).\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
