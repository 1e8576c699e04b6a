package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/pyexec"
	runpkg "github.com/mljob/mljob/internal/run"
)

// hostile is a job field value that would break out of a tag or a script
// if the page did not escape it.
const hostile = `</script><script>window.pwned=1</script><b>bold</b> & "quoted"`

// seedRun is one job of the seeded wine_data sweep and how its run ended.
type seedRun struct {
	lr       float64
	opt      string
	dropout  float64
	note     string
	host     string
	seconds  float64
	loss     string // as nn.py prints it: a number, or "NaN"
	metric   string
	exitCode int
	stderr   string
}

// seedRuns is a small nn.py sweep over learningRate, optimizer and the
// first layer's dropout: one run crashes and one reports NaN (diverged).
var seedRuns = []seedRun{
	{lr: 0.001, opt: "adam", dropout: 0.1, note: "baseline", host: "gpu-box", seconds: 41.5, loss: "0.2310", metric: "-0.2012"},
	{lr: 0.003, opt: "adam", dropout: 0.3, note: "baseline", host: "gpu-box", seconds: 39.2, loss: "0.1875", metric: "-0.1650"},
	{lr: 0.01, opt: "adam", dropout: 0.1, note: hostile, host: "lab-ws", seconds: 63.0, loss: "0.1502", metric: "-0.1391"},
	{lr: 0.03, opt: "sgd", dropout: 0.3, note: "baseline", host: "lab-ws", seconds: 58.7, loss: "0.2954", metric: "-0.2710"},
	{lr: 0.1, opt: "sgd", dropout: 0.1, note: "baseline", host: "gpu-box", seconds: 12.4, loss: "NaN", metric: "NaN"},
	{lr: 0.01, opt: "sgd", dropout: 0.3, note: "baseline", host: "lab-ws", seconds: 3.1, exitCode: 1,
		stderr: "Traceback (most recent call last):\n  File \"nn.py\", line 812, in <module>\nRuntimeError: CUDA out of memory <tried 2.00 GiB>"},
	{lr: 0.003, opt: "sgd", dropout: 0.1, note: "baseline", host: "cloud-vm-1", seconds: 88.9, loss: "0.2105", metric: "-0.1933"},
}

// wineJob is an nn.py job as in examples/wine_data/job.json with the sweep's
// knobs set.
func wineJob(r seedRun) []byte {
	job := map[string]any{
		"projectName": "wine_data", "scriptName": "nn.py", "dataFileName": "wine_data.csv",
		"depedentVariable": "proline",
		"hiddenLayers": []any{
			map[string]any{"activation": "relu", "widthModifier": 4, "dropout": r.dropout},
			map[string]any{"activation": "relu", "widthModifier": 2.3, "dropout": 0.3},
		},
		"crossValidateOnly": true, "crossValidationCrossingType": "neg_mean_squared_error",
		"batchSize": 32, "epochs": 150, "optimizer": r.opt, "learningRate": r.lr,
		"l1": 0.1, "l2": 0.1, "scalerType": "standard", "notes": r.note,
	}
	b, err := json.Marshal(job)
	if err != nil {
		panic(err)
	}
	return b
}

// nnStdout is what nn.py prints: per-epoch progress lines, then the
// Outcome line (strict JSON: NaN as a string).
func nnStdout(jobID int64, r seedRun) string {
	var b strings.Builder
	for e := 1; e <= 3; e++ {
		fmt.Fprintf(&b, "{\"fold\": 1, \"epoch\": %d, \"loss\": 0.9, \"valLoss\": 0.95, \"lr\": %g}\n", e, r.lr)
	}
	if r.exitCode != 0 {
		fmt.Fprintf(&b, "{\"status\": 500, \"jobId\": %d, \"error\": \"RuntimeError: CUDA out of memory <tried 2.00 GiB>\"}\n", jobID)
		return b.String()
	}
	num := func(s string) string {
		if s == "NaN" {
			return `"NaN"`
		}
		return s
	}
	fmt.Fprintf(&b, `{"status": 200, "jobId": %d, "loss": %s, "metric": %s, "cvScores": [%s, %s], "cvLosses": [%s, %s], `+
		`"scoring": "neg_mean_squared_error", "valLoss": 0.2, "epochsRun": 87, "nFeatures": 12, "cvNFeatures": [12, 12], `+
		`"batchSize": 32, "finalLearningRate": %g, "nRows": 178, "nFeaturesIn": 12, "device": "cpu", "threads": 2, `+
		`"seed": 0, "durationSeconds": %g}`+"\n",
		jobID, num(r.loss), num(r.metric), num(r.metric), num(r.metric), num(r.loss), num(r.loss), r.lr, r.seconds)
	return b.String()
}

// MustSeed submits runs as wine_data jobs, claims each on its host and
// records the outcome that pyexec makes of nn.py's output, as a
// dispatcher would.
func MustSeed(tb testing.TB, store *db.DB, runs []seedRun) {
	tb.Helper()
	ctx := context.Background()
	jobs := make([]db.NewJob, len(runs))
	for i, r := range runs {
		jobs[i] = db.NewJob{Project: "wine_data", Script: "nn.py", DataFile: "wine_data.csv", Spec: wineJob(r)}
	}
	if _, err := store.SubmitJobs(ctx, jobs); err != nil {
		tb.Fatal(err)
	}
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	for i, r := range runs {
		c, err := store.ClaimOrder(ctx, r.host, "0", "test-dispatcher")
		if err != nil || c == nil {
			tb.Fatalf("claim %d: %v, %v", i, c, err)
		}
		stdout := nnStdout(c.Job.ID, r)
		res := runpkg.Result{
			Started:    runpkg.Started{At: start},
			ExitCode:   r.exitCode,
			Stdout:     []byte(stdout),
			StdoutSize: int64(len(stdout)),
			Stderr:     []byte(r.stderr),
			StderrSize: int64(len(r.stderr)),
			FinishedAt: start.Add(time.Duration(r.seconds * float64(time.Second))),
		}
		o := pyexec.ParseOutcome(res)
		if _, err := store.RecordOutcome(ctx, db.Outcome{
			OrderID: c.Order.ID, Attempt: c.Order.Attempt, Host: r.host,
			Succeeded: o.Succeeded, Status: o.Status, Loss: o.Loss, Metric: o.Metric, ExitCode: o.ExitCode,
			DurationSeconds: o.Duration.Seconds(), Error: o.Error, JSON: o.JSON,
			StdoutTail: o.StdoutTail, StderrTail: o.StderrTail,
		}); err != nil {
			tb.Fatal(err)
		}
	}
}
