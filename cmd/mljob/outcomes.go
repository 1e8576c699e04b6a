package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobfields"
	"github.com/mljob/mljob/internal/sweep"
)

// maxParamColumns bounds the job-parameter columns of the outcomes table;
// -o json always carries everything.
const maxParamColumns = 8

type outcomesOptions struct {
	app     *app
	project string
	sweep   string   // --sweep: an id or a name
	states  []string // --status: db.OutcomeStates
	best    bool
	columns []string // --columns, as given
	sort    string
	top     int
	output  string

	sweepID    int64            // the resolved --sweep
	sweepNames map[int64]string // id → name, for the sweep column
}

func newOutcomesCmd(a *app) *cobra.Command {
	opts := &outcomesOptions{app: a}
	cmd := &cobra.Command{
		Use:   "outcomes",
		Short: "Show what each job's script reported",
		Long: `Outcomes lists one row per finished attempt: job, order, status, loss,
metric, host, duration, and the job fields that differ between the jobs shown,
so a sweep's table shows its parameters.

--sweep keeps one sweep's runs (by id or name); --status keeps the attempts
that succeeded or failed (repeat it, or give a comma list). --best keeps one
row per project and sweep (the jobs outside any sweep count as one group per
project): the best by --sort, which is loss ascending when --sort is not
given. A run without that value (not reported, or NaN) never wins.

--columns picks the fields to show, in order. A name is one of the built-in
columns
  ` + strings.Join(builtinColumnNames, ", ") + `
(status is succeeded or failed, exit the exit code, duration in seconds in
CSV and JSON, finished the time the outcome was recorded), or a dotted path
into the job (job.lr, job.hiddenLayers.0.dropout) or into the Outcome JSON
the script printed (outcome.metric, outcome.status). A bare name that is not
built-in is looked up in the job first, then in the outcome, row by row; use
the job. or outcome. prefix for a field that shares a built-in's name. A
field a row lacks is empty in the table and CSV and null in JSON; a bare
name found in no row is an error.

NaN and infinite losses and metrics are shown as NaN, +Inf and -Inf in the
table, as NaN, inf and -inf in CSV (what pandas.read_csv reads), and as the
strings "NaN", "+Inf" and "-Inf" in JSON, which has no such numbers.

With --output json, each object carries every field of the Outcome JSON the
script printed, plus mljob's own: jobId, orderId, projectName, state, status,
loss, metric, host, exitCode, durationSeconds, and error when it failed; with
--columns, each object has just the columns, keyed as given.

Exit codes: 0 ok, 1 error (e.g. unknown project or sweep), 2 usage error.`,
		Example: `  mljob outcomes --project wine_data
  mljob outcomes --project wine_data --sort loss --top 5
  mljob outcomes --sweep lr-grid --status succeeded --columns job,learningRate,hiddenLayers.0.dropout,outcome.epochsRun,loss,duration
  mljob outcomes --project wine_data --best --sort -metric
  mljob outcomes --sweep 3 -o csv > outcomes.csv   # pandas.read_csv("outcomes.csv")`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.top < 0 {
				return usagef(cmd, "--top must not be negative")
			}
			for _, st := range opts.states {
				if !slices.Contains(db.OutcomeStates, st) {
					return usagef(cmd, "--status must be one of %s, not %q", strings.Join(db.OutcomeStates, ", "), st)
				}
			}
			if _, err := parseOutcomeColumns(opts.columns); err != nil {
				return &usageError{err: err, cmd: cmd}
			}
			if opts.best && opts.sort == "" {
				opts.sort = defaultBestSort
			}
			return runOutcomes(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.project, "project", "", "only this project")
	cmd.Flags().StringVar(&opts.sweep, "sweep", "", "only this sweep (`ID|NAME`)")
	cmd.Flags().StringSliceVar(&opts.states, "status", nil, "only attempts that "+strings.Join(db.OutcomeStates, "|")+" (repeatable, or a comma list)")
	_ = cmd.RegisterFlagCompletionFunc("status", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return db.OutcomeStates, cobra.ShellCompDirectiveNoFileComp
	})
	cmd.Flags().BoolVar(&opts.best, "best", false, "only the best run of each project and sweep, by --sort (default loss)")
	cmd.Flags().StringSliceVar(&opts.columns, "columns", nil, "the columns to show, comma-separated: built-in names, job.PATH or outcome.PATH (see above)")
	addEnumFlag(cmd, &opts.sort, "sort", "", db.OutcomeSorts, "sort by loss|metric, ascending; -loss|-metric descending")
	cmd.Flags().IntVar(&opts.top, "top", 0, "show only the first N rows")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// defaultBestSort is --best's sort key when --sort is not given.
const defaultBestSort = "loss"

// outcomeBatch is how many rows the reading goroutine hands over at a time:
// enough to make the channel cheap, small enough to keep both cores busy.
const outcomeBatch = 512

func runOutcomes(ctx context.Context, opts *outcomesOptions) error {
	store, err := opts.app.openDB(ctx, db.ReadOnly)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := checkProject(ctx, store, opts.project); err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	if opts.sweep != "" {
		sw, err := resolveSweep(ctx, store, opts.sweep, opts.project)
		if err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
		opts.sweepID = sw.ID
	}
	cols, err := parseOutcomeColumns(opts.columns)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(cols, func(c *outcomeColumn) bool { return c.builtin == "sweep" }) {
		sweeps, err := store.Sweeps(ctx)
		if err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
		opts.sweepNames = make(map[int64]string, len(sweeps))
		for _, sw := range sweeps {
			opts.sweepNames[sw.ID] = sw.Name
		}
	}
	filter := db.OutcomeFilter{Project: opts.project, SweepID: opts.sweepID, States: opts.states,
		Sort: opts.sort, Best: opts.best, Limit: opts.top}
	// One goroutine reads rows from SQLite while this one formats them: on
	// 100,000 rows each side takes about half the time.
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []*db.OutcomeRow, 4)
	g.Go(func() error {
		defer close(batches)
		batch := make([]*db.OutcomeRow, 0, outcomeBatch)
		err := store.EachOutcome(gctx, filter,
			func(r *db.OutcomeRow) error {
				// Here, once per row: the writers read Loss and Metric as
				// filled.
				fillNonFinite(r)
				batch = append(batch, r)
				if len(batch) < outcomeBatch {
					return nil
				}
				select {
				case batches <- batch:
				case <-gctx.Done():
					return gctx.Err()
				}
				batch = make([]*db.OutcomeRow, 0, outcomeBatch)
				return nil
			})
		if err != nil {
			return fmt.Errorf("outcomes: %w", err)
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	// A formatting error cancels gctx, which stops the reader's sends.
	g.Go(func() error {
		switch {
		case len(cols) > 0:
			return writeOutcomeColumns(opts, cols, batches)
		case opts.output == formatJSON:
			return writeOutcomesJSON(opts.app.io.Out, batches)
		}
		return writeOutcomesTable(opts, batches)
	})
	return g.Wait()
}

// checkProject returns unknownProjectError, listing the known projects,
// unless project is "" or has jobs in the queue. A known project without
// outcomes is not an error: its table is just empty.
func checkProject(ctx context.Context, store *db.DB, project string) error {
	if project == "" {
		return nil
	}
	ok, err := store.HasProject(ctx, project)
	if err != nil || ok {
		return err
	}
	known, err := store.Projects(ctx)
	if err != nil {
		return err
	}
	return unknownProjectError(project, known)
}

// maxSweepsListed bounds the sweeps an unknown-sweep error lists.
const maxSweepsListed = 10

// errUnknownSweep is the cause of resolveSweep's user errors, for errors.Is.
var errUnknownSweep = errors.New("unknown sweep")

// resolveSweep finds the sweep named by idOrName, which must be in project
// when project is not "". When there is none it returns a userError that
// lists the most recent sweeps of project (of every project when "").
func resolveSweep(ctx context.Context, store *db.DB, idOrName, project string) (db.Sweep, error) {
	sw, err := store.Sweep(ctx, idOrName)
	if err == nil && (project == "" || sw.Project == project) {
		return sw, nil
	}
	if err != nil && !errors.Is(err, db.ErrSweepNotFound) {
		return db.Sweep{}, err
	}
	all, lerr := store.Sweeps(ctx)
	if lerr != nil {
		return db.Sweep{}, lerr
	}
	return db.Sweep{}, unknownSweepError(idOrName, project, sw, err == nil, all)
}

// unknownSweepError says that idOrName names no sweep (of project, when
// found is set: it names got, of another project) and lists the most recent
// sweeps of project, newest first; all is every sweep, oldest first.
func unknownSweepError(idOrName, project string, got db.Sweep, found bool, all []db.Sweep) error {
	e := &userError{msg: fmt.Sprintf("no sweep %q in the queue", idOrName), err: errUnknownSweep}
	if project != "" {
		e.msg = fmt.Sprintf("no sweep %q in project %q", idOrName, project)
	}
	if found {
		e.msg = fmt.Sprintf("sweep %q is in project %q, not %q", idOrName, got.Project, project)
	}
	var listed []string
	for i := len(all) - 1; i >= 0 && len(listed) < maxSweepsListed; i-- {
		if project == "" || all[i].Project == project {
			listed = append(listed, fmt.Sprintf("%d %s", all[i].ID, all[i].Name))
		}
	}
	switch {
	case len(listed) > 0 && project != "":
		e.hint = fmt.Sprintf("--sweep ID or NAME, one of the latest sweeps of %s: %s", project, strings.Join(listed, ", "))
	case len(listed) > 0:
		e.hint = "--sweep ID or NAME, one of the latest sweeps: " + strings.Join(listed, ", ")
	case found:
		e.hint = fmt.Sprintf("--project %s, or no --project", got.Project)
	default:
		e.hint = "make one with: mljob submit --grid KEY=V1,V2 JOB.json (see mljob submit --help)"
	}
	return e
}

// fillNonFinite gives a row the NaN or infinite loss and metric its script
// reported. SQLite stores a NaN as NULL, so the column alone cannot tell NaN
// from "not reported"; the Outcome JSON holds "NaN", "Infinity" or
// "-Infinity" (pyexec.StrictJSON writes Python's bare tokens so) and says
// which it was.
func fillNonFinite(r *db.OutcomeRow) {
	if r.Loss != nil && r.Metric != nil || len(r.JSON) == 0 {
		return
	}
	if r.Loss == nil {
		r.Loss = nonFiniteField(r.JSON, "loss")
	}
	if r.Metric == nil {
		r.Metric = nonFiniteField(r.JSON, "metric")
	}
}

// nonFiniteField returns the top-level field key of the JSON object js
// when it is a string naming NaN or an infinity, else nil.
func nonFiniteField(js []byte, key string) *float64 {
	if !json.Valid(js) {
		return nil
	}
	raw, ok := lookupJSON(js, []string{key})
	if !ok {
		return nil
	}
	if f, ok := nonFiniteString(raw); ok {
		return &f
	}
	return nil
}

// nonFiniteString reads a JSON string literal naming NaN or an infinity,
// spelled as Python's json module, pyexec.StrictJSON or Go write them.
func nonFiniteString(raw []byte) (float64, bool) {
	switch string(raw) {
	case `"NaN"`, `"nan"`:
		return math.NaN(), true
	case `"Infinity"`, `"+Infinity"`, `"inf"`, `"+Inf"`:
		return math.Inf(1), true
	case `"-Infinity"`, `"-inf"`, `"-Inf"`:
		return math.Inf(-1), true
	}
	return 0, false
}

// writeOutcomesJSON writes the rows as renderJSON would write their
// outcomeJSON maps, byte for byte (TestOutcomesJSONMatchesEncodingJSON),
// without building the maps: keys in sorted order, two-space indent.
func writeOutcomesJSON(w io.Writer, batches <-chan []*db.OutcomeRow) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var (
		buf []byte
		enc outcomeEncoder
		n   int
	)
	for batch := range batches {
		for _, r := range batch {
			buf = buf[:0]
			if n == 0 {
				buf = append(buf, "[\n"...)
			} else {
				buf = append(buf, ",\n"...)
			}
			var err error
			if buf, err = enc.append(buf, r); err != nil {
				return fmt.Errorf("render json: %w", err)
			}
			if _, err := bw.Write(buf); err != nil {
				return fmt.Errorf("render json: %w", err)
			}
			n++
		}
	}
	return endJSONArray(bw, n)
}

// outcomeLine is one row of the outcomes table or CSV before the parameter
// columns are known.
type outcomeLine struct {
	cells [7]string
	err   string
	spec  []specPair
}

// writeOutcomesTable collects the rows, learns which job fields vary, and
// renders the table or CSV.
func writeOutcomesTable(opts *outcomesOptions, batches <-chan []*db.OutcomeRow) error {
	var (
		lines  []outcomeLine
		fl     specFlattener
		anyErr bool
	)
	for batch := range batches {
		for _, r := range batch {
			state := "succeeded"
			if !r.Succeeded {
				state = "failed"
			}
			dur := formatDuration(r.DurationSeconds)
			if opts.output == formatCSV {
				dur = strconv.FormatFloat(r.DurationSeconds, 'f', 3, 64)
			}
			l := outcomeLine{cells: [7]string{
				strconv.FormatInt(r.JobID, 10), strconv.FormatInt(r.OrderID, 10), state,
				formatNumber(r.Loss, opts.output), formatNumber(r.Metric, opts.output), r.Host, dur,
			}}
			if r.Error != "" {
				anyErr = true
				l.err = oneLineClip(r.Error, opts.output)
			} else if r.Warning != "" {
				anyErr = true
				l.err = oneLineClip("warning: "+r.Warning, opts.output)
			}
			l.spec = fl.add(r.Spec)
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 && opts.output == formatTable {
		fmt.Fprintln(opts.app.io.ErrOut, noOutcomesMessage(opts))
		return nil
	}
	// The varying job fields are columns of the table and the CSV; JSON
	// carries the outcome, and the spec is one `show` away.
	params := fl.varying()
	hidden := 0
	if len(params) > maxParamColumns {
		hidden = len(params) - maxParamColumns
		params = params[:maxParamColumns]
	}
	t := table{
		headers: []string{"JOB", "ORDER", "STATUS", "LOSS", "METRIC", "HOST", "DURATION"},
		keys:    []string{"jobId", "orderId", "state", "loss", "metric", "host", "durationSeconds"},
		numeric: map[int]bool{0: true, 1: true, 3: true, 4: true, 6: true},
	}
	for i, p := range params {
		t.headers = append(t.headers, p.path)
		t.keys = append(t.keys, p.path)
		p.col = i
	}
	if anyErr {
		t.headers = append(t.headers, "ERROR")
		t.keys = append(t.keys, "error")
	}
	width := len(t.headers)
	missing := "-"
	if opts.output == formatCSV {
		missing = ""
	}
	t.rows = make([][]string, len(lines))
	// One backing array for every cell: a slice per row was a visible part
	// of the time at 100,000 rows.
	cells := make([]string, len(lines)*width)
	for i := range lines {
		l := &lines[i]
		row := cells[i*width : (i+1)*width : (i+1)*width]
		copy(row, l.cells[:])
		// A field the job lacks: "-" in the table, empty in CSV, which
		// pandas reads as NaN.
		for j := range params {
			row[len(l.cells)+j] = missing
		}
		for _, sp := range l.spec {
			if sp.param.col >= 0 {
				row[len(l.cells)+sp.param.col] = sp.value
			}
		}
		if anyErr {
			row[width-1] = l.err
		}
		t.rows[i] = row
	}
	if err := render(opts.app.io.Out, opts.output, t, nil); err != nil {
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
	fillNonFinite(&r)
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
	if r.Superseded != "" {
		m["superseded"] = r.Superseded
	} else {
		delete(m, "superseded")
	}
	if r.Warning != "" {
		m["outcomeWarning"] = r.Warning
	} else {
		delete(m, "outcomeWarning")
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
		// pandas.read_csv reads NaN, inf and -inf as floats; "+Inf" it
		// does not.
		switch {
		case math.IsInf(*f, 1):
			return "inf"
		case math.IsInf(*f, -1):
			return "-inf"
		}
		return strconv.FormatFloat(*f, 'g', -1, 64)
	}
	// NaN, +Inf and -Inf as they are.
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

// flattenJSON maps each leaf of a JSON value to its dotted path
// ("hiddenLayers.0.dropout"), with the value as shown in a table.
func flattenJSON(spec []byte) map[string]string {
	fields, _ := jobfields.Flatten(spec)
	out := make(map[string]string, len(fields))
	for p, v := range fields {
		out[p] = jobfields.Text(v)
	}
	return out
}

// outcomeKeys are mljob's own keys of an outcome's JSON object, sorted as
// encoding/json sorts map keys. "error", "outcomeWarning" and "superseded"
// (why the outcome does not count for its order: another attempt's does)
// are written only when there is one; the script's own fields never
// override any of these.
var outcomeKeys = []string{"attempt", "durationSeconds", "error", "exitCode", "finishedAt", "host", "jobId",
	"loss", "metric", "orderId", "outcomeWarning", "projectName", "state", "status", "superseded"}

// scriptField is one top-level field of a script's Outcome JSON.
type scriptField struct {
	key string
	raw []byte // the value as the script wrote it
}

// outcomeEncoder writes outcome objects; it keeps its scratch space from
// row to row.
type outcomeEncoder struct {
	fields []scriptField
	indent bytes.Buffer
}

// append appends r, its non-finite loss and metric filled in
// (fillNonFinite), as one element of the top-level array: indented by two,
// no trailing comma or newline.
func (e *outcomeEncoder) append(dst []byte, r *db.OutcomeRow) ([]byte, error) {
	e.fields = scriptFields(e.fields[:0], r.JSON)
	dst = append(dst, "  {"...)
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, "\n    "...)
		dst = appendJSONString(dst, k)
		dst = append(dst, ": "...)
	}
	fi := 0
	var err error
	for _, k := range outcomeKeys {
		// The script's fields that sort before this key.
		for ; fi < len(e.fields) && e.fields[fi].key < k; fi++ {
			key(e.fields[fi].key)
			if dst, err = e.appendRaw(dst, e.fields[fi].raw); err != nil {
				return dst, err
			}
		}
		if fi < len(e.fields) && e.fields[fi].key == k {
			fi++ // ours wins
		}
		switch k {
		case "attempt":
			key(k)
			dst = strconv.AppendInt(dst, int64(r.Attempt), 10)
		case "durationSeconds":
			key(k)
			if dst, err = appendJSONFloat(dst, math.Round(r.DurationSeconds*1000)/1000); err != nil {
				return dst, err
			}
		case "error":
			if r.Error != "" {
				key(k)
				dst = appendJSONString(dst, r.Error)
			}
		case "outcomeWarning":
			if r.Warning != "" {
				key(k)
				dst = appendJSONString(dst, r.Warning)
			}
		case "exitCode":
			key(k)
			if r.ExitCode == nil {
				dst = append(dst, "null"...)
			} else {
				dst = strconv.AppendInt(dst, int64(*r.ExitCode), 10)
			}
		case "finishedAt":
			key(k)
			dst = append(dst, '"')
			dst = r.CreatedAt.UTC().AppendFormat(dst, time.RFC3339)
			dst = append(dst, '"')
		case "host":
			key(k)
			dst = appendJSONString(dst, r.Host)
		case "jobId":
			key(k)
			dst = strconv.AppendInt(dst, r.JobID, 10)
		case "loss", "metric":
			key(k)
			f := r.Loss
			if k == "metric" {
				f = r.Metric
			}
			if dst, err = appendJSONNumber(dst, f); err != nil {
				return dst, err
			}
		case "orderId":
			key(k)
			dst = strconv.AppendInt(dst, r.OrderID, 10)
		case "projectName":
			key(k)
			dst = appendJSONString(dst, r.Project)
		case "state":
			key(k)
			if r.Succeeded {
				dst = append(dst, `"succeeded"`...)
			} else {
				dst = append(dst, `"failed"`...)
			}
		case "status":
			key(k)
			switch {
			case r.Status != nil:
				dst = strconv.AppendInt(dst, int64(*r.Status), 10)
			case r.Succeeded:
				dst = append(dst, "200"...)
			default:
				dst = append(dst, "500"...) // the seed's convention, as in outcomeJSON
			}
		case "superseded":
			if r.Superseded != "" {
				key(k)
				dst = appendJSONString(dst, r.Superseded)
			}
		}
	}
	for ; fi < len(e.fields); fi++ {
		key(e.fields[fi].key)
		if dst, err = e.appendRaw(dst, e.fields[fi].raw); err != nil {
			return dst, err
		}
	}
	return append(dst, "\n  }"...), nil
}

// appendRaw appends a script's value at the depth of an outcome's fields:
// scalars as written, objects and arrays re-indented as encoding/json
// indents a json.RawMessage.
func (e *outcomeEncoder) appendRaw(dst, raw []byte) ([]byte, error) {
	if raw[0] != '{' && raw[0] != '[' {
		return append(dst, raw...), nil
	}
	e.indent.Reset()
	if err := json.Indent(&e.indent, raw, "    ", "  "); err != nil {
		return dst, err
	}
	return append(dst, e.indent.Bytes()...), nil
}

// appendJSONNumber appends what jsonNumber gives, as encoding/json would.
func appendJSONNumber(dst []byte, f *float64) ([]byte, error) {
	switch {
	case f == nil:
		return append(dst, "null"...), nil
	case math.IsNaN(*f) || math.IsInf(*f, 0):
		return appendJSONString(dst, strconv.FormatFloat(*f, 'g', -1, 64)), nil
	}
	return appendJSONFloat(dst, *f)
}

// scriptFields appends the top-level fields of a script's Outcome JSON to
// dst, sorted by key, the last of duplicate keys kept, mljob's keys still
// in (append skips them). Anything but a valid JSON object gives none, as
// json.Unmarshal into a map does.
func scriptFields(dst []scriptField, js []byte) []scriptField {
	if len(js) == 0 || !json.Valid(js) {
		return dst
	}
	i := jobfields.SkipSpace(js, 0)
	if js[i] != '{' {
		return dst // null, or not an object
	}
	i = jobfields.SkipSpace(js, i+1)
	for js[i] != '}' {
		end := jobfields.ValueEnd(js, i)
		k := unquoteKey(js[i:end])
		i = jobfields.SkipSpace(js, end)
		i = jobfields.SkipSpace(js, i+1) // the colon
		end = jobfields.ValueEnd(js, i)
		dst = append(dst, scriptField{key: k, raw: js[i:end]})
		i = jobfields.SkipSpace(js, end)
		if js[i] == ',' {
			i = jobfields.SkipSpace(js, i+1)
		}
	}
	// Stable, so that the last of equal keys stays last; json.Unmarshal
	// into a map keeps the last.
	slices.SortStableFunc(dst, func(a, b scriptField) int { return strings.Compare(a.key, b.key) })
	out := dst[:0]
	for i, f := range dst {
		if i+1 < len(dst) && dst[i+1].key == f.key {
			continue
		}
		if f.key == "error" {
			continue // written (or dropped) by append, as outcomeJSON does
		}
		out = append(out, f)
	}
	return out
}

// unquoteKey decodes a JSON string literal as json.Unmarshal decodes a map
// key.
func unquoteKey(lit []byte) string {
	body := lit[1 : len(lit)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body)
	}
	var s string
	_ = json.Unmarshal(lit, &s) // lit is valid: json.Valid passed
	return s
}

// specParam is one dotted path seen in the specs of the rows so far, with
// what varyingPaths needs to know of it.
type specParam struct {
	path    string
	first   string // its value in the first spec
	inFirst bool   // whether the first spec has it
	count   int    // how many specs have it
	differs bool   // whether a later spec has another value
	row     int    // the last spec that had it, so a path counts once per spec
	col     int    // its parameter column; -1 if not shown
}

// specPair is one leaf of a flattened spec.
type specPair struct {
	param *specParam
	value string
}

// specFlattener flattens each spec once, as flattenJSON does, and keeps
// track of which paths vary as the specs come, so the table needs neither a
// map per row nor a second pass over the specs.
type specFlattener struct {
	params map[string]*specParam
	rows   int
	path   []byte // scratch: the path being built
	pairs  []specPair
	keys   []string // scratch: the keys of the object being walked
	// A spec's leaves are staged (paths in arena) and recorded only once
	// the walk has succeeded, so a spec that falls back to flattenJSON
	// half-way counts once.
	staged []stagedLeaf
	arena  []byte
}

// stagedLeaf is a leaf found by walk: its path is arena[start:end].
type stagedLeaf struct {
	start, end int
	value      string
}

// add flattens spec, the next row's, and returns its leaves.
func (f *specFlattener) add(spec []byte) []specPair {
	if f.params == nil {
		f.params = map[string]*specParam{}
	}
	f.pairs, f.staged, f.arena = f.pairs[:0], f.staged[:0], f.arena[:0]
	if f.walkSpec(spec) {
		for _, l := range f.staged {
			f.leaf(f.arena[l.start:l.end], l.value)
		}
	} else {
		// Outside the fast path (invalid JSON, not an object, duplicate
		// keys): flattenJSON's own answer.
		flat := flattenJSON(spec)
		for _, p := range slices.Sorted(maps.Keys(flat)) {
			f.leaf([]byte(p), flat[p])
		}
	}
	f.rows++
	return slices.Clone(f.pairs)
}

// stage keeps v as the value of the path in f.path, for add to record.
func (f *specFlattener) stage(v string) {
	start := len(f.arena)
	f.arena = append(f.arena, f.path...)
	f.staged = append(f.staged, stagedLeaf{start: start, end: len(f.arena), value: v})
}

// leaf records v as the value of path in the current row.
func (f *specFlattener) leaf(path []byte, v string) {
	p, ok := f.params[string(path)]
	if !ok {
		p = &specParam{path: string(path), row: -1, col: -1}
		f.params[p.path] = p
	}
	if p.row == f.rows {
		return // the same path twice in one spec ("a.b" and a → b)
	}
	p.row = f.rows
	p.count++
	if f.rows == 0 {
		p.first, p.inFirst = v, true
	} else if !p.inFirst || v != p.first {
		p.differs = true
	}
	f.pairs = append(f.pairs, specPair{param: p, value: v})
}

// varying returns the paths whose value is not the same in every spec
// (missing counts as a value), ordered as varyingPaths orders them.
func (f *specFlattener) varying() []*specParam {
	if f.rows < 2 {
		return nil
	}
	var out []*specParam
	for _, p := range f.params {
		if p.differs || !p.inFirst || p.count != f.rows {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *specParam) int { return jobfields.ComparePaths(a.path, b.path) })
	return out
}

// walkSpec flattens a valid JSON object into f.pairs; it reports false
// when the spec needs flattenJSON (invalid, not an object, duplicate keys).
func (f *specFlattener) walkSpec(spec []byte) bool {
	if !json.Valid(spec) {
		return false
	}
	i := jobfields.SkipSpace(spec, 0)
	if spec[i] != '{' {
		return false
	}
	f.path = f.path[:0]
	_, ok := f.walk(spec, i)
	return ok
}

// walk flattens the value at spec[i] under the path in f.path and returns
// the end of the value.
func (f *specFlattener) walk(spec []byte, i int) (int, bool) {
	switch spec[i] {
	case '{':
		prefix := len(f.path)
		keys0 := len(f.keys)
		defer func() { f.keys = f.keys[:keys0] }()
		i = jobfields.SkipSpace(spec, i+1)
		if spec[i] == '}' {
			if prefix > 0 {
				f.stage("{}")
			}
			return i + 1, true
		}
		for {
			end := jobfields.ValueEnd(spec, i)
			k := unquoteKey(spec[i:end])
			if slices.Contains(f.keys[keys0:], k) {
				return 0, false // a later duplicate replaces a whole subtree
			}
			f.keys = append(f.keys, k)
			f.path = f.path[:prefix]
			if prefix > 0 {
				f.path = append(f.path, '.')
			}
			f.path = append(f.path, k...)
			i = jobfields.SkipSpace(spec, jobfields.SkipSpace(spec, end)+1) // past the colon
			var last, ok bool
			if i, last, ok = f.member(spec, i, prefix, '}'); last || !ok {
				return i, ok
			}
		}
	case '[':
		prefix := len(f.path)
		i = jobfields.SkipSpace(spec, i+1)
		if spec[i] == ']' {
			f.stage("[]")
			return i + 1, true
		}
		for n := 0; ; n++ {
			f.path = strconv.AppendInt(append(f.path[:prefix], '.'), int64(n), 10)
			var last, ok bool
			if i, last, ok = f.member(spec, i, prefix, ']'); last || !ok {
				return i, ok
			}
		}
	case '"':
		end := jobfields.ValueEnd(spec, i)
		f.stage(unquoteKey(spec[i:end]))
		return end, true
	default:
		// Numbers stay as written (flattenJSON decodes with UseNumber);
		// true, false and null print as themselves.
		end := jobfields.ValueEnd(spec, i)
		f.stage(string(spec[i:end]))
		return end, true
	}
}

// member walks the value at spec[i], a member of the object or array that
// closes with end, under f.path, then cuts f.path back to prefix. It
// returns where the next member starts, or just past end when this was the
// last one (last).
func (f *specFlattener) member(spec []byte, i, prefix int, end byte) (next int, last, ok bool) {
	if i, ok = f.walk(spec, i); !ok {
		return 0, false, false
	}
	f.path = f.path[:prefix]
	i = jobfields.SkipSpace(spec, i)
	if spec[i] == end {
		return i + 1, true, true
	}
	return jobfields.SkipSpace(spec, i+1), false, true
}

// builtinColumnNames are the built-in names --columns takes, in the order
// --help lists them.
var builtinColumnNames = []string{"job", "order", "attempt", "project", "sweep", "status", "exit", "loss", "metric",
	"host", "duration", "finished", "error", "warning"}

// numericBuiltins are the built-in columns that hold numbers: right-aligned
// in the table.
var numericBuiltins = map[string]bool{"job": true, "order": true, "attempt": true, "exit": true, "loss": true,
	"metric": true, "duration": true}

// columnSource is where a --columns path is looked up.
type columnSource int

const (
	sourceJob     columnSource = iota + 1 // job.PATH
	sourceOutcome                         // outcome.PATH
	sourceEither                          // a bare PATH: the job's, else the outcome's
)

// outcomeColumn is one --columns entry.
type outcomeColumn struct {
	name    string // as given: the CSV header and the JSON key
	builtin string // one of builtinColumnNames, or "" for a path
	source  columnSource
	path    []string // the keys and indices of a path
	found   bool     // some row has the path
}

// parseOutcomeColumns reads --columns. A name that is a built-in column is
// that column; job. and outcome. name a path into the job or the Outcome
// JSON; any other name is a path looked up in the job, then the outcome.
// Built-ins come first so that `status` or `metric` keep their meaning
// whatever a job's fields are called.
func parseOutcomeColumns(names []string) ([]*outcomeColumn, error) {
	var cols []*outcomeColumn
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, errors.New("--columns: empty column name")
		}
		if seen[n] {
			return nil, fmt.Errorf("--columns: %s named twice", n)
		}
		seen[n] = true
		c := &outcomeColumn{name: n}
		var rest string
		switch {
		case slices.Contains(builtinColumnNames, n):
			c.builtin = n
		case strings.HasPrefix(n, "job."):
			c.source, rest = sourceJob, n[len("job."):]
		case strings.HasPrefix(n, "outcome."):
			c.source, rest = sourceOutcome, n[len("outcome."):]
		default:
			c.source, rest = sourceEither, n
		}
		if c.builtin == "" {
			p, err := parseColumnPath(rest)
			if err != nil {
				return nil, fmt.Errorf("--columns %s: %w", n, err)
			}
			c.path = p
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// parseColumnPath splits a dotted path as sweep.ParsePath reads one (a
// backslash escapes the next character, so "a\.b" is one key).
func parseColumnPath(s string) ([]string, error) {
	p, err := sweep.ParsePath(s)
	if err != nil {
		return nil, err
	}
	return p.Parts(), nil
}

// lookupJSON returns the value at path in js, which must be valid JSON:
// object keys (the last of duplicates, as json.Unmarshal keeps) and array
// indices. It reads the bytes in place, as the specFlattener does, so a
// column costs no decoding per row.
func lookupJSON(js []byte, path []string) ([]byte, bool) {
	i := jobfields.SkipSpace(js, 0)
	for _, seg := range path {
		found := -1
		switch {
		case i >= len(js):
		case js[i] == '{':
			found, _ = jobfields.Member(js, i, seg)
		case js[i] == '[':
			if n, err := strconv.Atoi(seg); err == nil && n >= 0 {
				found, _ = jobfields.Element(js, i, n)
			}
		}
		if found < 0 {
			return nil, false
		}
		i = found
	}
	return js[i:jobfields.ValueEnd(js, i)], true
}

// colCell is one cell of a --columns row: its text in the output format
// (JSON text for -o json), whether the row has a value there, and whether
// that value is a number.
type colCell struct {
	v       string
	present bool
	num     bool
}

// rowSources is a row's job spec and Outcome JSON, each checked once for
// validity (lookupJSON needs valid JSON).
type rowSources struct {
	spec, out           []byte
	specOK, outOK, done bool
}

func (s *rowSources) check() {
	if !s.done {
		s.specOK, s.outOK, s.done = json.Valid(s.spec), len(s.out) > 0 && json.Valid(s.out), true
	}
}

// cell computes column c of row r in format.
func (c *outcomeColumn) cell(r *db.OutcomeRow, src *rowSources, opts *outcomesOptions) colCell {
	if c.builtin != "" {
		return builtinCell(c.builtin, r, opts)
	}
	src.check()
	var raw []byte
	var ok, fromOutcome bool
	if c.source != sourceOutcome && src.specOK {
		raw, ok = lookupJSON(src.spec, c.path)
	}
	if !ok && c.source != sourceJob && src.outOK {
		raw, ok = lookupJSON(src.out, c.path)
		fromOutcome = true
	}
	if !ok {
		return colCell{}
	}
	c.found = true
	return rawCell(raw, fromOutcome, opts.output)
}

// rawCell shows a JSON value: as written in JSON; in the table and CSV,
// strings unquoted, numbers as written, objects and arrays as compact JSON.
// An Outcome's "NaN" and "Infinity" strings stand for numbers.
func rawCell(raw []byte, fromOutcome bool, format string) colCell {
	if format == formatJSON {
		return colCell{v: string(raw), present: true, num: raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'}
	}
	switch raw[0] {
	case '"':
		if f, ok := nonFiniteString(raw); ok && fromOutcome {
			return colCell{v: formatNumber(&f, format), present: true, num: true}
		}
		return colCell{v: unquoteKey(raw), present: true}
	case '{', '[':
		var b bytes.Buffer
		if json.Compact(&b, raw) != nil {
			return colCell{v: string(raw), present: true}
		}
		return colCell{v: b.String(), present: true}
	case 't', 'f', 'n':
		return colCell{v: string(raw), present: true}
	}
	// A number: in the table, a fraction as the built-in loss and metric
	// show one (six significant digits); CSV keeps it as written, in full.
	if format == formatTable && bytes.ContainsAny(raw, ".eE") {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return colCell{v: formatNumber(&f, format), present: true, num: true}
		}
	}
	return colCell{v: string(raw), present: true, num: true}
}

// builtinCell computes a built-in column; present is false where the row
// has no value (no exit code, no sweep, no error, no loss).
func builtinCell(name string, r *db.OutcomeRow, opts *outcomesOptions) colCell {
	format := opts.output
	str := func(s string) colCell {
		if format == formatJSON {
			return colCell{v: string(appendJSONString(nil, s)), present: true}
		}
		return colCell{v: s, present: true}
	}
	num := func(n int64) colCell { return colCell{v: strconv.FormatInt(n, 10), present: true, num: true} }
	switch name {
	case "job":
		return num(r.JobID)
	case "order":
		return num(r.OrderID)
	case "attempt":
		return num(int64(r.Attempt))
	case "project":
		return str(r.Project)
	case "sweep":
		if r.SweepID == 0 {
			return colCell{}
		}
		return str(opts.sweepNames[r.SweepID])
	case "status":
		if r.Succeeded {
			return str(db.OutcomeSucceeded)
		}
		return str(db.OutcomeFailed)
	case "exit":
		if r.ExitCode == nil {
			return colCell{}
		}
		return num(int64(*r.ExitCode))
	case "loss", "metric":
		f := r.Loss
		if name == "metric" {
			f = r.Metric
		}
		if f == nil {
			return colCell{}
		}
		if format == formatJSON {
			b, _ := appendJSONNumber(nil, f) // non-finite values are strings: no error
			return colCell{v: string(b), present: true, num: true}
		}
		return colCell{v: formatNumber(f, format), present: true, num: true}
	case "duration":
		switch format {
		case formatJSON:
			b, _ := appendJSONFloat(nil, math.Round(r.DurationSeconds*1000)/1000)
			return colCell{v: string(b), present: true, num: true}
		case formatCSV:
			return colCell{v: strconv.FormatFloat(r.DurationSeconds, 'f', 3, 64), present: true, num: true}
		}
		return colCell{v: formatDuration(r.DurationSeconds), present: true, num: true}
	case "finished":
		return str(r.CreatedAt.UTC().Format(time.RFC3339))
	case "error":
		if r.Error == "" {
			return colCell{}
		}
		if format == formatJSON {
			return str(r.Error)
		}
		return str(oneLineClip(r.Error, format))
	case "warning":
		if r.Warning == "" {
			return colCell{}
		}
		if format == formatJSON {
			return str(r.Warning)
		}
		return str(oneLineClip(r.Warning, format))
	}
	return colCell{}
}

// writeOutcomeColumns writes the --columns form of the rows. It holds the
// cells until the last row, since a bare name found in no row is an error
// and the table needs every width.
func writeOutcomeColumns(opts *outcomesOptions, cols []*outcomeColumn, batches <-chan []*db.OutcomeRow) error {
	var cells []colCell
	rows := 0
	for batch := range batches {
		for _, r := range batch {
			src := rowSources{spec: r.Spec, out: r.JSON}
			for _, c := range cols {
				cells = append(cells, c.cell(r, &src, opts))
			}
			rows++
		}
	}
	if rows > 0 {
		for _, c := range cols {
			if c.source == sourceEither && !c.found {
				return unknownColumnError(c.name)
			}
		}
		for _, c := range cols {
			if c.builtin == "" && c.source != sourceEither && !c.found {
				fmt.Fprintf(opts.app.io.ErrOut, "No row shown has %s.\n", c.name)
			}
		}
	}
	w := len(cols)
	switch opts.output {
	case formatJSON:
		return writeColumnsJSON(opts.app.io.Out, cols, cells)
	case formatTable:
		if rows == 0 {
			fmt.Fprintln(opts.app.io.ErrOut, noOutcomesMessage(opts))
			return nil
		}
	}
	t := table{numeric: map[int]bool{}, rows: make([][]string, rows)}
	for i, c := range cols {
		h := c.name
		if c.builtin != "" {
			h = strings.ToUpper(h)
		}
		t.headers = append(t.headers, h)
		t.keys = append(t.keys, c.name)
		numeric := c.builtin == "" || numericBuiltins[c.builtin]
		if c.builtin == "" {
			// A path's column is numeric when every value it has is.
			for r := range rows {
				if cl := cells[r*w+i]; cl.present && !cl.num {
					numeric = false
					break
				}
			}
		}
		t.numeric[i] = numeric
	}
	texts := make([]string, len(cells))
	for i, cl := range cells {
		texts[i] = cl.v
	}
	for r := range rows {
		t.rows[r] = texts[r*w : (r+1)*w : (r+1)*w]
	}
	return render(opts.app.io.Out, opts.output, t, nil)
}

// writeColumnsJSON writes one object per row, keyed by the column names
// in their order, null where a row has no value.
func writeColumnsJSON(w io.Writer, cols []*outcomeColumn, cells []colCell) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var (
		buf []byte
		enc outcomeEncoder
		err error
	)
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		keys[i] = appendJSONString(nil, c.name)
	}
	n := len(cells) / max(len(cols), 1)
	for r := range n {
		buf = buf[:0]
		if r == 0 {
			buf = append(buf, "[\n  {"...)
		} else {
			buf = append(buf, ",\n  {"...)
		}
		for i := range cols {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, "\n    "...)
			buf = append(buf, keys[i]...)
			buf = append(buf, ": "...)
			cl := cells[r*len(cols)+i]
			if !cl.present {
				buf = append(buf, "null"...)
				continue
			}
			if buf, err = enc.appendRaw(buf, []byte(cl.v)); err != nil {
				return fmt.Errorf("render json: %w", err)
			}
		}
		buf = append(buf, "\n  }"...)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("render json: %w", err)
		}
	}
	return endJSONArray(bw, n)
}

// unknownColumnError is the error for a bare --columns name that is not
// built-in and that no row shown has in its job or its outcome.
func unknownColumnError(name string) error {
	list := strings.Join(builtinColumnNames, ", ")
	e := &userError{
		msg:  fmt.Sprintf("unknown column %q: not a built-in column, and no job or outcome shown has that field", name),
		hint: "a built-in column (" + list + "), or a field of the job (job.PATH) or of the outcome (outcome.PATH); see a job's fields with: mljob show JOB",
	}
	if near := nearest(name, builtinColumnNames); near != "" {
		e.hint = fmt.Sprintf("--columns %s (built-in columns: %s)", near, list)
	}
	return e
}

// noOutcomesMessage is what an empty table says on stderr.
func noOutcomesMessage(opts *outcomesOptions) string {
	if opts.sweep != "" || len(opts.states) > 0 {
		return "No outcomes match."
	}
	return "No outcomes yet. Run queued jobs with: mljob dispatch"
}

// endJSONArray closes a JSON array of n objects written row by row ("[]"
// when there were none) and flushes it.
func endJSONArray(bw *bufio.Writer, n int) error {
	end := "\n]\n"
	if n == 0 {
		end = "[]\n"
	}
	if _, err := bw.WriteString(end); err != nil {
		return fmt.Errorf("render json: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("render json: %w", err)
	}
	return nil
}
