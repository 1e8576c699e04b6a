package main

import (
	"encoding/json"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestE2EReportReplicates runs a three-point sweep with the built binary,
// replicates its top 2 configurations with 3 new seeds each, runs them,
// and writes the report to a file: the page has the replicates section,
// and each configuration's row names its source job, the mean ± sample
// standard deviation of the four runs' losses (as outcomes -o json gives
// them, computed here), n = 4 and those four values; the ranking note
// agrees with the means.
func TestE2EReportReplicates(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	scripts := filepath.Join(c.dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, filepath.Join(scripts, "noisy.py"), noisyScript)
	mustWriteFile(t, filepath.Join(scripts, "noisy.fields.yaml"), noisyFields)
	base := mustWrite(t, c.dir, "base-*.json", []byte(`{"scriptName": "noisy.py", "projectName": "p", "x": 0, "seed": 5}`))
	c.mustRun("submit", "--scripts", scripts, base, "--grid", "x=3,1,2", "--name", "s")
	c.mustRun("dispatch", "--plain", "--python", hostPython, "--slots", "2", "--scripts", scripts, "--poll", e2ePoll)
	r := c.mustRun("replicate", "--scripts", scripts, "--sweep", "s", "--top", "2", "--seeds", "3", "-o", "json")
	var queued []struct{ SourceJobID, JobID int64 }
	if err := json.Unmarshal([]byte(r.stdout), &queued); err != nil || len(queued) != 6 {
		t.Fatalf("replicate -o json: %v, %d rows\n%s", err, len(queued), r.stdout)
	}
	c.mustRun("dispatch", "--plain", "--python", hostPython, "--slots", "2", "--scripts", scripts, "--poll", e2ePoll)

	// Each configuration's jobs (its source first) and their losses.
	var sources []int64
	jobsOf := map[int64][]int64{}
	for _, q := range queued {
		if _, seen := jobsOf[q.SourceJobID]; !seen {
			sources = append(sources, q.SourceJobID)
			jobsOf[q.SourceJobID] = []int64{q.SourceJobID}
		}
		jobsOf[q.SourceJobID] = append(jobsOf[q.SourceJobID], q.JobID)
	}
	outcomes := byJob(t, c.outcomes())

	page := filepath.Join(c.dir, "pages", "p.html")
	if err := os.MkdirAll(filepath.Dir(page), 0o755); err != nil {
		t.Fatal(err)
	}
	w := c.mustRun("report", "--project", "p", "-o", page)
	if !strings.Contains(w.stderr, "Wrote "+page+": 9 run(s) of p, 9 succeeded, 0 failed.") {
		t.Errorf("report's stderr:\n%s", w.stderr)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.Contains(doc, `<section id="replicates-section">`) || !strings.Contains(doc, "<h2>Replicates</h2>") {
		t.Fatal("the page has no replicates section")
	}
	rowRE := regexp.MustCompile(`<tr><td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">([^<]*)</td><td class="num">(\d+)</td><td class="param">([^<]*)</td><td class="num">(\d+)</td>`)
	rows := rowRE.FindAllStringSubmatch(doc, -1)
	if len(rows) != len(sources) {
		t.Fatalf("the replicate table has %d rows, want %d", len(rows), len(sources))
	}
	fmtNum := func(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }
	means := make([]float64, len(sources))
	for k, src := range sources {
		var vals []float64
		for _, job := range jobsOf[src] {
			o := outcomes[job]
			if o.Loss == nil {
				t.Fatalf("job %d has no loss: %+v", job, o)
			}
			vals = append(vals, *o.Loss)
		}
		var mean, ss float64
		for _, v := range vals {
			mean += v / float64(len(vals))
		}
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		means[k] = mean
		sd := math.Sqrt(ss / float64(len(vals)-1))
		row := rows[k]
		if row[1] != strconv.Itoa(k+1) || row[2] != strconv.FormatInt(src, 10) || row[4] != "4" {
			t.Errorf("row %d = %q, want rank %d, job %d, n 4", k, row[1:], k+1, src)
		}
		if got, want := html.UnescapeString(row[3]), fmtNum(mean)+" ± "+fmtNum(sd); got != want {
			t.Errorf("configuration of job %d: mean ± SD %q, want %q (from its losses %v)", src, got, want, vals)
		}
		var shown []float64
		for _, f := range strings.Fields(row[5]) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				t.Fatalf("row %d: value %q: %v", k, f, err)
			}
			shown = append(shown, v)
		}
		slices.Sort(shown)
		slices.Sort(vals)
		if len(shown) != len(vals) {
			t.Errorf("configuration of job %d shows values %v, want %v", src, shown, vals)
			continue
		}
		for i := range vals {
			if math.Abs(shown[i]-vals[i]) > 1e-5*math.Max(1, math.Abs(vals[i])) {
				t.Errorf("configuration of job %d shows values %v, want %v", src, shown, vals)
				break
			}
		}
	}
	want := "the ranking does not hold"
	if means[0] < means[1] {
		want = "the ranking holds"
	}
	if !strings.Contains(doc, `<span class="holds" id="rep-0-holds">`+want+`</span>`) {
		t.Errorf("the page does not say %q (means %v)", want, means)
	}
}
