package report

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/progress"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/pyexec"
	runpkg "github.com/mljob/mljob/internal/run"
)

// hostile is a job field value that would break out of a tag or a script
// if the page did not escape it.
const hostile = `</script><script>window.pwned=1</script><b>bold</b> & "quoted"`

// seedRun is one job of a seeded project and how its run ended.
type seedRun struct {
	project   string // "" is wine_data
	script    string // "" is nn.py; baseline.py writes a baseline's job
	objective string // as --objective takes it; "" is cvMse:min
	lr        float64
	opt       string
	dropout   float64
	pca       float64 // pcaComponents: -1 is the sentinel for "no PCA"
	note      string
	host      string
	seconds   float64
	loss      string    // as nn.py prints it: a number, or "NaN"
	folds     []float64 // each CV fold's MSE: cvMse, cvMseStd and foldMse; nil for NaN
	accuracy  float64   // when set, the outcome and the progress lines carry accuracy
	epochs    int       // progress lines per fold; 0 for none
	exitCode  int
	stderr    string
	// pruned: its pruner stopped it after its epochs (db.Prune), with no
	// Outcome line.
	pruned bool
}

// seedRuns is a small nn.py sweep of wine_data ranked by cvMse (lower is
// better) over learningRate, optimizer, pcaComponents and the first
// layer's dropout, with a baseline.py job: one run crashes and one
// reports NaN (diverged). Its lowest loss (job 3) is not its lowest cvMse
// (job 2), and its metric is neg-MSE (higher is better), so a page that
// ranks or colours by either gets it wrong.
var seedRuns = []seedRun{
	{lr: 0.001, opt: "adam", dropout: 0.1, pca: -1, note: "plain", host: "gpu-box", seconds: 41.5, loss: "0.2310",
		folds: []float64{29500, 33500, 30000}, epochs: 40},
	{lr: 0.003, opt: "adam", dropout: 0.3, pca: 0.9, note: "plain", host: "gpu-box", seconds: 39.2, loss: "0.1875",
		folds: []float64{23000, 25500, 23500}, epochs: 40},
	{lr: 0.01, opt: "adam", dropout: 0.1, pca: -1, note: hostile, host: "lab-ws", seconds: 63.0, loss: "0.1502",
		folds: []float64{24500, 27500, 24500}, epochs: 40},
	{lr: 0.03, opt: "sgd", dropout: 0.3, pca: 5, note: "plain", host: "lab-ws", seconds: 58.7, loss: "0.2954",
		folds: []float64{28000, 31000, 28000}, epochs: 40},
	{lr: 0.1, opt: "sgd", dropout: 0.1, pca: -1, note: "plain", host: "gpu-box", seconds: 12.4, loss: "NaN", epochs: 6},
	{lr: 0.01, opt: "sgd", dropout: 0.3, pca: 0.9, note: "plain", host: "lab-ws", seconds: 3.1, exitCode: 1,
		stderr: "Traceback (most recent call last):\n  File \"nn.py\", line 812, in <module>\nRuntimeError: CUDA out of memory <tried 2.00 GiB>"},
	{lr: 0.003, opt: "sgd", dropout: 0.1, pca: 0.9, note: "plain", host: "cloud-vm-1", seconds: 88.9, loss: "0.2105",
		folds: []float64{27000, 29500, 27500}, epochs: 40},
	{script: "baseline.py", host: "cloud-vm-1", seconds: 2.5, folds: []float64{25000, 27500, 25500}},
}

// irisRuns is a project with two objectives: three runs maximise accuracy
// (their progress lines carry it), one minimises loss.
var irisRuns = []seedRun{
	{project: "iris", objective: "accuracy:max", lr: 0.01, opt: "adam", host: "h", seconds: 5, loss: "0.40", accuracy: 0.90, epochs: 12},
	{project: "iris", objective: "accuracy:max", lr: 0.02, opt: "adam", host: "h", seconds: 5, loss: "0.35", accuracy: 0.97, epochs: 12},
	{project: "iris", objective: "accuracy:max", lr: 0.05, opt: "sgd", host: "h", seconds: 5, loss: "0.30", accuracy: 0.93, epochs: 12},
	{project: "iris", objective: "loss:min", lr: 0.05, opt: "sgd", host: "h", seconds: 5, loss: "0.20", epochs: 12},
}

func (r seedRun) projectName() string {
	if r.project == "" {
		return "wine_data"
	}
	return r.project
}

// cvMse is the mean of the folds, NaN without them.
func (r seedRun) cvMse() float64 {
	if r.folds == nil {
		return math.NaN()
	}
	var sum float64
	for _, f := range r.folds {
		sum += f
	}
	return sum / float64(len(r.folds))
}

// seedJob is the job's JSON: an nn.py job as in examples/wine_data/job.json
// with the sweep's knobs set, or a baseline.py job.
func seedJob(r seedRun) []byte {
	job := map[string]any{
		"projectName": r.projectName(), "scriptName": "nn.py", "dataFileName": "wine_data.csv",
		"depedentVariable": "proline",
		"hiddenLayers": []any{
			map[string]any{"activation": "relu", "widthModifier": 4, "dropout": r.dropout},
			map[string]any{"activation": "relu", "widthModifier": 2.3, "dropout": 0.3},
		},
		"crossValidateOnly": true, "crossValidationCrossingType": "neg_mean_squared_error",
		"batchSize": 32, "epochs": 150, "optimizer": r.opt, "learningRate": r.lr, "pcaComponents": r.pca,
		"l1": 0.1, "l2": 0.1, "scalerType": "standard", "notes": r.note,
	}
	if r.script == "baseline.py" {
		job = map[string]any{"projectName": r.projectName(), "scriptName": "baseline.py", "dataFileName": "wine_data.csv",
			"depedentVariable": "proline", "crossValidateOnly": true, "model": "ridge"}
	}
	b, err := json.Marshal(job)
	if err != nil {
		panic(err)
	}
	return b
}

// progressLines are what nn.py prints per epoch: {"step", "series"
// (fold<k>), "loss", "valLoss", "lr"}, valLoss falling towards the fold's
// MSE; fold k stops early, 2(k-1) epochs before fold 1. A run with
// accuracy prints it instead of valLoss, rising towards its final value;
// a diverged run's valLoss grows.
func progressLines(r seedRun) string {
	var b strings.Builder
	folds := max(len(r.folds), 1)
	for k := 1; k <= folds; k++ {
		for e := 1; e <= r.epochs-2*(k-1); e++ {
			decay := math.Exp(-float64(e) * r.lr * 8)
			line := map[string]any{"step": e, "series": fmt.Sprintf("fold%d", k), "loss": 0.2 + decay, "lr": r.lr}
			switch {
			case r.accuracy > 0:
				line["accuracy"] = r.accuracy * (1 - 0.5*decay)
			case r.folds == nil:
				line["valLoss"] = 30000 * math.Pow(2, float64(e))
			default:
				line["valLoss"] = r.folds[k-1] * (1 + 4*decay)
			}
			js, _ := json.Marshal(line)
			b.Write(js)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// outcomeLine is the Outcome line (strict JSON: NaN as a string).
func outcomeLine(jobID int64, r seedRun) string {
	if r.exitCode != 0 {
		return fmt.Sprintf("{\"status\": 500, \"jobId\": %d, \"error\": \"RuntimeError: CUDA out of memory <tried 2.00 GiB>\"}\n", jobID)
	}
	out := map[string]any{"status": 200, "jobId": jobID, "durationSeconds": r.seconds}
	num := func(f float64) any {
		if math.IsNaN(f) {
			return "NaN"
		}
		return f
	}
	if r.loss != "" {
		loss := math.NaN()
		fmt.Sscan(r.loss, &loss)
		out["loss"] = num(loss)
	}
	if r.accuracy > 0 {
		out["accuracy"] = r.accuracy
	}
	if r.project == "" {
		mse := r.cvMse()
		out["cvMse"], out["metric"], out["scoring"] = num(mse), num(-mse), "neg_mean_squared_error"
		if r.folds != nil {
			sd, _ := populationStd(r.folds)
			out["cvMseStd"], out["foldMse"] = sd, r.folds
		}
		if r.script == "baseline.py" {
			out["loss"], out["model"] = mse, "ridge"
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// MustSeed submits runs as jobs with their objectives, claims each on its
// host, stores its progress lines as the dispatcher does
// (progress.Ingest, db.SaveProgress) and records the outcome that pyexec
// makes of its output.
func MustSeed(tb testing.TB, store *db.DB, runs []seedRun) {
	tb.Helper()
	ctx := context.Background()
	jobs := make([]db.NewJob, len(runs))
	for i, r := range runs {
		obj, err := objective.Parse(cmp.Or(r.objective, "cvMse:min"))
		if err != nil {
			tb.Fatal(err)
		}
		jobs[i] = db.NewJob{Project: r.projectName(), Script: cmp.Or(r.script, "nn.py"), DataFile: "wine_data.csv",
			Spec: seedJob(r), Objective: obj}
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
		lines := progressLines(r)
		if r.epochs == 0 {
			lines = ""
		}
		g := progress.New(c.Order.ID, c.Order.Attempt)
		g.Add([]byte(lines), int64(len(lines)), start)
		if b, ok := g.Batch(); ok {
			if err := store.SaveProgress(ctx, b); err != nil {
				tb.Fatal(err)
			}
		}
		if r.pruned {
			mustPruneRun(tb, store, c, r)
			continue
		}
		stdout := lines + outcomeLine(c.Job.ID, r)
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

// prunedRuns are two runs of the wine_data sweep its pruner stopped, at
// epochs 3 and 9, with valLoss curves worse than the rest.
var prunedRuns = []seedRun{
	{lr: 0.0003, opt: "sgd", dropout: 0.3, pca: -1, note: "plain", host: "gpu-box", seconds: 4,
		folds: []float64{60000, 61000, 62000}, epochs: 3, pruned: true},
	{lr: 0.0001, opt: "adam", dropout: 0.1, pca: 5, note: "plain", host: "lab-ws", seconds: 9,
		folds: []float64{50000, 52000, 51000}, epochs: 9, pruned: true},
}

// mustPruneRun records run c as its pruner would have stopped it after its
// progress lines: the verdict (db.Prune), then its outcome, failed with
// the verdict as its error, as the dispatcher records it.
func mustPruneRun(tb testing.TB, store *db.DB, c *db.Claim, r seedRun) {
	tb.Helper()
	ctx := context.Background()
	reason := fmt.Sprintf("pruned at step %d (rung 1): valLoss %g ranked 3 of 3, the cutoff was 30000 (asha)", r.epochs, r.folds[0])
	if ok, err := store.Prune(ctx, db.Pruning{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Series: "fold1",
		Decision: prune.Decision{Prune: true, Rung: 1, Step: float64(r.epochs), Value: r.folds[0], Cutoff: 30000, Rank: 3, Of: 3},
		Reason:   reason}); !ok || err != nil {
		tb.Fatalf("prune order %d: %v, %v", c.Order.ID, ok, err)
	}
	if _, err := store.RecordOutcome(ctx, db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Host: r.host,
		DurationSeconds: r.seconds, Error: reason}); err != nil {
		tb.Fatal(err)
	}
}
