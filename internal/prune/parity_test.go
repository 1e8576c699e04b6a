package prune

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os/exec"
	"sort"
	"strconv"
	"testing"

	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/testdep"
)

// systemPython sees Debian's python3-* packages (python3-optuna); the
// python3 first on PATH may be a build that sees none of them.
const systemPython = "/usr/bin/python3"

// event is one thing that happens to a run of a study, in arrival order:
// a reported point, or the run's end.
type event struct {
	Kind  string `json:"kind"` // "report", "complete", "fail"
	Run   int    `json:"run"`
	Step  int    `json:"step"`
	Value string `json:"value,omitempty"` // text, so that NaN and ±Inf travel in JSON
}

// scenario is one study: its rule, goal and events.
type scenario struct {
	Rule   Rule           `json:"rule"`
	Goal   objective.Goal `json:"goal"`
	Events []event        `json:"events"`
}

// outcome is what became of one event: skipped (its run was pruned
// before), pruned, and the run's rung values after it (rung -> value).
type outcome struct {
	Skipped bool               `json:"skipped"`
	Prune   bool               `json:"prune"`
	Rungs   map[string]float64 `json:"-"`
	RungsPy map[string]string  `json:"rungs"`
}

// parityConfigs are the rules replayed, each under both goals.
func parityConfigs() []Rule {
	var rules []Rule
	for _, eta := range []int{2, 3, 4} {
		for _, minStep := range []float64{1, 2} {
			for _, mesr := range []int{0, 1} {
				rules = append(rules, Rule{Kind: KindASHA, MinStep: minStep, Reduction: eta, MinEarlyStoppingRate: mesr})
			}
		}
	}
	for _, startup := range []int{0, 5} {
		for _, warmup := range []float64{0, 3} {
			rules = append(rules, Rule{Kind: KindMedian, StartupRuns: startup, WarmupSteps: warmup})
		}
	}
	return rules
}

// TestParityWithOptuna replays the same interleaved reports of many runs
// through Rule.ASHA and Rule.Median (with an in-memory rung store) and
// through Optuna's SuccessiveHalvingPruner and MedianPruner, and compares
// every decision and every rung value stored.
func TestParityWithOptuna(t *testing.T) {
	testdep.SkipShort(t, "Python with Optuna (seconds)")
	testdep.RequirePythonModule(t, systemPython, "optuna", "apt-get install python3-optuna (scripts/install-deps.sh test)")
	rng := rand.New(rand.NewSource(15))
	var scenarios []scenario
	for _, rule := range parityConfigs() {
		for _, goal := range []objective.Goal{objective.Minimize, objective.Maximize} {
			scenarios = append(scenarios, genScenario(rng, rule, goal, 30+rng.Intn(20)))
		}
	}
	want := runOptuna(t, scenarios)
	var st paritySummary
	for i, sc := range scenarios {
		got := replayGo(t, sc, &st)
		compareScenario(t, i, sc, got, want[i], &st)
	}
	total := 0
	for _, sc := range scenarios {
		total += len(sc.Events)
	}
	t.Logf("%d scenarios, %d curves, %d events (%d after a prune, skipped by both), %d decisions compared (%d asha, %d median), %d prunes (%d asha, %d median, %d on NaN), %d reports that passed more than one rung, %d rung values compared",
		len(scenarios), st.curves, total, total-st.events, st.decisions, st.ashaDecisions, st.decisions-st.ashaDecisions,
		st.prunes, st.ashaPrunes, st.prunes-st.ashaPrunes, st.nanPrunes, st.multiRung, st.rungValues)
	if st.prunes == 0 || st.decisions-st.prunes == 0 || st.nanPrunes == 0 || st.multiRung == 0 {
		t.Errorf("the generated events exercise too little: %+v", st)
	}
}

// paritySummary counts what the parity test compared.
type paritySummary struct {
	curves, events, decisions, ashaDecisions int
	prunes, ashaPrunes, nanPrunes, multiRung int
	rungValues                               int
}

// runOptuna replays scenarios through testdata/optuna_replay.py.
func runOptuna(t *testing.T, scenarios []scenario) [][]outcome {
	t.Helper()
	in, err := json.Marshal(map[string]any{"scenarios": scenarios})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemPython, "testdata/optuna_replay.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("optuna_replay.py: %v\n%s", err, stderr.String())
	}
	var res struct {
		Version   string      `json:"version"`
		Scenarios [][]outcome `json:"scenarios"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("optuna_replay.py's output: %v", err)
	}
	if len(res.Scenarios) != len(scenarios) {
		t.Fatalf("optuna_replay.py replayed %d scenarios, want %d", len(res.Scenarios), len(scenarios))
	}
	t.Logf("Optuna %s", res.Version)
	for _, sc := range res.Scenarios {
		for j := range sc {
			sc[j].Rungs = map[string]float64{}
			for k, v := range sc[j].RungsPy {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("optuna_replay.py: rung %s value %q: %v", k, v, err)
				}
				sc[j].Rungs[k] = f
			}
		}
	}
	return res.Scenarios
}

// compareScenario fails the test at each event whose outcome differs.
func compareScenario(t *testing.T, i int, sc scenario, got, want []outcome, st *paritySummary) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("scenario %d: %d outcomes, Optuna %d", i, len(got), len(want))
	}
	bad := 0
	for j := range got {
		g, w := got[j], want[j]
		st.rungValues += len(w.Rungs)
		if g.Skipped == w.Skipped && g.Prune == w.Prune && sameRungs(g.Rungs, w.Rungs) {
			continue
		}
		if bad++; bad > 5 {
			t.Fatalf("scenario %d: more differences left out", i)
		}
		ev := sc.Events[j]
		t.Errorf("scenario %d (%s, %s), event %d %+v: got skipped=%v prune=%v rungs=%v; Optuna skipped=%v prune=%v rungs=%v\nthe run's reports so far: %v",
			i, sc.Rule, sc.Goal, j, ev, g.Skipped, g.Prune, g.Rungs, w.Skipped, w.Prune, w.Rungs, reportsOf(sc.Events[:j+1], ev.Run))
	}
}

// sameRungs compares rung values exactly (NaN never is stored).
func sameRungs(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// reportsOf is run's reports among events, for a failure message.
func reportsOf(events []event, run int) []string {
	var out []string
	for _, e := range events {
		if e.Run == run && e.Kind == "report" {
			out = append(out, fmt.Sprintf("%d:%s", e.Step, e.Value))
		}
	}
	return out
}

// replayGo replays sc through the Go rules, keeping the rung values and
// curves in memory as the dispatcher keeps them in the queue.
func replayGo(t *testing.T, sc scenario, st *paritySummary) []outcome {
	t.Helper()
	curves := map[int][]Point{}
	rungs := map[int][]float64{} // run -> its rung values, rung 0 first
	state := map[int]string{}
	out := make([]outcome, len(sc.Events))
	for j, ev := range sc.Events {
		if state[ev.Run] == "pruned" {
			out[j] = outcome{Skipped: true, Rungs: map[string]float64{}}
			continue
		}
		st.events++
		switch ev.Kind {
		case "complete", "fail":
			state[ev.Run] = ev.Kind
		case "report":
			v, err := strconv.ParseFloat(ev.Value, 64)
			if err != nil {
				t.Fatal(err)
			}
			curves[ev.Run] = append(curves[ev.Run], Point{Step: float64(ev.Step), Value: v})
			d := decideGo(t, sc, ev.Run, curves, rungs, state)
			out[j].Prune = d.Prune
			countDecision(sc, d, st)
			for _, rv := range d.Records {
				if rv.Rung != len(rungs[ev.Run]) {
					t.Fatalf("run %d recorded rung %d after %d rungs", ev.Run, rv.Rung, len(rungs[ev.Run]))
				}
				rungs[ev.Run] = append(rungs[ev.Run], rv.Value)
			}
			if d.Prune {
				state[ev.Run] = "pruned"
			}
		}
		out[j].Rungs = map[string]float64{}
		for k, v := range rungs[ev.Run] {
			out[j].Rungs[strconv.Itoa(k)] = v
		}
	}
	st.curves += len(curves)
	return out
}

// decideGo is the verdict of sc's rule on run's newest report.
func decideGo(t *testing.T, sc scenario, run int, curves map[int][]Point, rungs map[int][]float64, state map[int]string) Decision {
	t.Helper()
	if sc.Rule.Kind == KindMedian {
		var completed []map[float64]float64
		for _, r := range sortedRuns(curves) {
			if state[r] == "complete" {
				completed = append(completed, firstValues(curves[r]))
			}
		}
		return sc.Rule.Median(sc.Goal, curves[run], completed)
	}
	competing := func(rung int) ([]float64, error) {
		var vals []float64
		for r, rv := range rungs {
			if r != run && rung < len(rv) {
				vals = append(vals, rv[rung])
			}
		}
		return vals, nil
	}
	p, _ := LastPoint(curves[run])
	d, err := sc.Rule.ASHA(sc.Goal, len(rungs[run]), p.Step, p.Value, competing)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func countDecision(sc scenario, d Decision, st *paritySummary) {
	st.decisions++
	if sc.Rule.Kind == KindASHA {
		st.ashaDecisions++
		if len(d.Records) > 1 {
			st.multiRung++
		}
	}
	if !d.Prune {
		return
	}
	st.prunes++
	if sc.Rule.Kind == KindASHA {
		st.ashaPrunes++
	}
	if math.IsNaN(d.Value) {
		st.nanPrunes++
	}
}

// firstValues is curve as Optuna stores it: step -> the first value
// reported at it.
func firstValues(curve []Point) map[float64]float64 {
	m := make(map[float64]float64, len(curve))
	for _, p := range curve {
		if _, ok := m[p.Step]; !ok {
			m[p.Step] = p.Value
		}
	}
	return m
}

func sortedRuns(curves map[int][]Point) []int {
	runs := make([]int, 0, len(curves))
	for r := range curves {
		runs = append(runs, r)
	}
	sort.Ints(runs)
	return runs
}
