package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
)

// maxParamColumns bounds the job-parameter columns of the outcomes table;
// -o json always carries everything.
const maxParamColumns = 8

var sortKeys = []string{"loss", "-loss", "metric", "-metric"}

type outcomesOptions struct {
	app     *app
	project string
	sort    string
	top     int
	output  string
}

func newOutcomesCmd(a *app) *cobra.Command {
	opts := &outcomesOptions{app: a}
	cmd := &cobra.Command{
		Use:   "outcomes",
		Short: "Show what each job's script reported",
		Long: `Outcomes lists one row per finished attempt: job, order, status, loss,
metric, host, duration, and the job fields that differ between the jobs shown,
so a sweep's table shows its parameters.

With --output json, each object carries every field of the Outcome JSON the
script printed, plus mljob's own: jobId, orderId, projectName, state, status,
loss, metric, host, exitCode, durationSeconds, and error when it failed.

Exit codes: 0 ok, 1 error, 2 usage error.`,
		Example: `  mljob outcomes --project wine_data
  mljob outcomes --project wine_data --sort loss --top 5
  mljob outcomes -o csv > outcomes.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.top < 0 {
				return usagef(cmd, "--top must not be negative")
			}
			return runOutcomes(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.project, "project", "", "only this project")
	cmd.Flags().Var(&enumValue{value: &opts.sort, choices: sortKeys}, "sort", "sort by loss|metric, ascending; -loss|-metric descending")
	_ = cmd.RegisterFlagCompletionFunc("sort", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return sortKeys, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.Flags().IntVar(&opts.top, "top", 0, "show only the first N rows")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

func runOutcomes(ctx context.Context, opts *outcomesOptions) error {
	store, err := opts.app.openDB(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: opts.project, Sort: opts.sort, Limit: opts.top})
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	if len(rows) == 0 && opts.output == formatTable {
		fmt.Fprintln(opts.app.io.ErrOut, "No outcomes yet. Run queued jobs with: mljob dispatch")
		return nil
	}
	// The varying job fields are columns of the table and the CSV; JSON
	// carries the outcome, and the spec is one `show` away.
	specs := make([]map[string]string, len(rows))
	if opts.output != formatJSON {
		for i, r := range rows {
			specs[i] = flattenJSON(r.Spec)
		}
	}
	params := varyingPaths(specs)
	hidden := 0
	if len(params) > maxParamColumns {
		hidden = len(params) - maxParamColumns
		params = params[:maxParamColumns]
	}
	anyErr := false
	for _, r := range rows {
		anyErr = anyErr || r.Error != ""
	}
	t := table{
		headers: []string{"JOB", "ORDER", "STATUS", "LOSS", "METRIC", "HOST", "DURATION"},
		keys:    []string{"jobId", "orderId", "state", "loss", "metric", "host", "durationSeconds"},
		numeric: map[int]bool{0: true, 1: true, 3: true, 4: true, 6: true},
	}
	t.headers = append(t.headers, params...)
	t.keys = append(t.keys, params...)
	if anyErr {
		t.headers = append(t.headers, "ERROR")
		t.keys = append(t.keys, "error")
	}
	objs := make([]map[string]any, 0, len(rows))
	for i, r := range rows {
		state := "succeeded"
		if !r.Succeeded {
			state = "failed"
		}
		dur := formatDuration(r.DurationSeconds)
		if opts.output == formatCSV {
			dur = strconv.FormatFloat(r.DurationSeconds, 'f', 3, 64)
		}
		cells := []string{
			strconv.FormatInt(r.JobID, 10), strconv.FormatInt(r.OrderID, 10), state,
			formatNumber(r.Loss, opts.output), formatNumber(r.Metric, opts.output), r.Host, dur,
		}
		for _, p := range params {
			v, ok := specs[i][p]
			if !ok {
				v = "-"
			}
			cells = append(cells, v)
		}
		if anyErr {
			cells = append(cells, oneLineClip(r.Error, opts.output))
		}
		t.rows = append(t.rows, cells)
		if opts.output == formatJSON {
			objs = append(objs, outcomeJSON(r, state))
		}
	}
	if err := render(opts.app.io.Out, opts.output, t, objs); err != nil {
		return err
	}
	if hidden > 0 && opts.output == formatTable {
		fmt.Fprintf(opts.app.io.ErrOut, "%d more job field(s) vary between these jobs; see them with --output json\n", hidden)
	}
	return nil
}

// outcomeJSON merges the script's Outcome JSON (verbatim) with mljob's own
// fields, which win on a clash.
func outcomeJSON(r db.OutcomeRow, state string) map[string]any {
	m := map[string]any{}
	if len(r.JSON) > 0 {
		var script map[string]json.RawMessage
		if json.Unmarshal(r.JSON, &script) == nil {
			for k, v := range script {
				m[k] = v
			}
		}
	}
	m["jobId"] = r.JobID
	m["orderId"] = r.OrderID
	m["attempt"] = r.Attempt
	m["projectName"] = r.Project
	m["state"] = state
	m["status"] = r.Status
	if r.Status == nil {
		// The seed's convention for a run that said nothing: 500.
		s := 500
		if r.Succeeded {
			s = 200
		}
		m["status"] = s
	}
	m["loss"] = jsonNumber(r.Loss)
	m["metric"] = jsonNumber(r.Metric)
	m["host"] = r.Host
	m["exitCode"] = r.ExitCode
	m["durationSeconds"] = math.Round(r.DurationSeconds*1000) / 1000
	m["finishedAt"] = r.CreatedAt.UTC().Format(time.RFC3339)
	if r.Error != "" {
		m["error"] = r.Error
	} else {
		delete(m, "error")
	}
	return m
}

// jsonNumber writes non-finite floats as strings, as JSON has no NaN.
func jsonNumber(f *float64) any {
	if f == nil {
		return nil
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	return *f
}

func formatNumber(f *float64, format string) string {
	if f == nil {
		return ""
	}
	if format == formatCSV {
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	return strconv.FormatFloat(*f, 'g', 6, 64)
}

func formatDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(sec, 'f', 2, 64) + "s"
	default:
		return d.Round(time.Second).String()
	}
}

func oneLineClip(s, format string) string {
	s = strings.Join(strings.Fields(s), " ")
	if format == formatTable && len(s) > 80 {
		s = s[:79] + "…"
	}
	return s
}

// flattenJSON maps each leaf of a JSON object to its dotted path
// ("hiddenLayers.0.dropout"), with the value as shown in a table.
func flattenJSON(spec []byte) map[string]string {
	out := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return out
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" {
				out[prefix] = "{}"
			}
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			if len(x) == 0 {
				out[prefix] = "[]"
			}
			for i, e := range x {
				walk(prefix+"."+strconv.Itoa(i), e)
			}
		case string:
			out[prefix] = x
		case nil:
			out[prefix] = "null"
		default:
			out[prefix] = fmt.Sprint(x)
		}
	}
	walk("", v)
	return out
}

// varyingPaths returns the paths whose value is not the same in
// every spec (missing counts as a value).
func varyingPaths(specs []map[string]string) []string {
	if len(specs) < 2 {
		return nil
	}
	all := map[string]bool{}
	for _, s := range specs {
		for k := range s {
			all[k] = true
		}
	}
	var out []string
	for p := range all {
		first, firstOK := specs[0][p]
		for _, s := range specs[1:] {
			v, ok := s[p]
			if ok != firstOK || v != first {
				out = append(out, p)
				break
			}
		}
	}
	// Top-level fields first: a sweep's knobs are usually there, and nested
	// paths (hiddenLayers.0.dropout) are long.
	sort.Slice(out, func(i, j int) bool {
		di, dj := strings.Count(out[i], "."), strings.Count(out[j], ".")
		if di != dj {
			return di < dj
		}
		return out[i] < out[j]
	})
	return out
}
