package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/jobinput"
	"github.com/mljob/mljob/internal/provenance"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/render"
	"github.com/mljob/mljob/internal/sweep"
)

type submitOptions struct {
	app        *app
	inputs     []string
	scriptsDir string
	dataDir    string
	priority   int
	output     string
	dryRun     bool
	dedupe     bool
	strict     bool
	sweep      jobinput.FlagArgs // the sweep flags, as given
	flags      jobinput.Flags    // the sweep flags, parsed
}

// submitHelp is the long help of submit.
const submitHelp = `Submit adds jobs to the queue. Each input (a file, or - for standard input)
holds one Job object or an array of them. A job needs "scriptName" and
"projectName"; "dataFileName" is optional. Every other field is kept verbatim
and handed to the script as its argv[1].

Sweeps: --grid PATH=V1,V2,... (repeatable) crosses lists of values;
--random N draws N points from --range PATH=lin:LO:HI | log:LO:HI |
int:LO:HI | choice:A,B,C with --seed S (picked and printed if not given).
Each random point is crossed with the whole grid, so a sweep has
N × (grid size) jobs per input job. PATH is a dotted path into the job, array
indices included (hiddenLayers.0.dropout); values are JSON where they parse
as JSON, else strings. A path the job lacks is an error unless --allow-new.
--sweep FILE reads the same from a YAML file (base or job, grid, random,
ranges, seed, name, allowNew, objective, pruner); flags add to it. With
"method: tpe", "trials: N" (the budget), "space:" (ranges) and optionally
"parallel: N" and "constantLiar: true" (count trials in flight as the worst
value; by default they are left out), the sweep is a model-based search:
submit queues nothing and mljob dispatch proposes each trial from the
outcomes so far. A sweep gets an id and a name
(--name, else <project>-<YYYYMMDD-HHMMSS>), and its jobs remember it.

Objective: --objective NAME:min|max (or "objective: {name: cvMse, goal:
minimize}" in a sweep file) says what the jobs' runs are ranked by: NAME is a
key of the Outcome line, or a dotted path into it. The default is loss:min.
outcomes, show, status, the report and the live view rank by it, and never
across two objectives.

Pruning: --pruner stops the runs that fall behind, judged on the progress
lines they print, by Optuna's rules: asha (its SuccessiveHalvingPruner: at
steps minStep·reduction^k a run must be in the best 1/reduction of the
runs that reached that step) or median (its MedianPruner: once startupRuns
runs have succeeded, a run whose best so far is worse than their median at
the same step, past warmupSteps). Settings follow a colon:
asha:minStep=1,reduction=3,minEarlyStoppingRate=0 and
median:startupRuns=5,warmupSteps=0 are the defaults; series=NAME judges that
series (default: the first the run prints). In a sweep file: "pruner: {rule:
asha, reduction: 3}". --pruner none turns off a sweep file's pruner.

One submit makes at most 1,000,000 jobs (inputs × grid × random draws),
counted before anything is drawn; a sweep file takes no YAML aliases.

Each job queued is printed with the input it came from (INPUT: the file,
the job's place in an array, the sweep job's number).

A job identical to one already queued in its project (same JSON up to key
order and layout) is queued with a warning naming the earlier job;
--dedupe skips it instead. --dry-run prints the jobs it would queue, with
the same warnings and skips, and writes nothing.

Field checks: a script may declare its fields in <script stem>.fields.yaml
beside it (nn.py: nn.fields.yaml). Every job of such a script, each sweep
job too, is checked against it: a value of the wrong type, out of its range
or not one of its choices is refused, naming the field, the value and what
is allowed; a field it does not declare is queued with a warning and the
declared name it is nearest to (each distinct warning once, with the number
of jobs), or refused with --strict. A script without the file is not
checked. The file may name the script's default objective.

Everything is checked before anything is written: valid JSON, the required
fields, plain file names, the script in --scripts, the data file in --data,
the declared fields. All inputs go into the queue in one transaction, or
none do.

Exit codes: 0 ok, 1 error (nothing was queued), 2 usage error.`

func newSubmitCmd(a *app) *cobra.Command {
	opts := &submitOptions{app: a}
	cmd := &cobra.Command{
		Use:   "submit [FILE|-]...",
		Short: "Add jobs to the queue",
		Long:  submitHelp,
		Example: `  mljob submit examples/wine_data/job.json
  mljob submit --priority 10 jobs.json
  mljob submit --strict examples/wine_data/job.json
  cat job.json | mljob submit -
  mljob submit job.json --grid learningRate=0.1,0.01 --grid hiddenLayers.0.dropout=0.1,0.3
  mljob submit job.json --random 20 --range l1=log:1e-4:1e-1 --range optimizer=choice:adam,rmsprop --seed 7
  mljob submit --sweep examples/wine_data/sweep.yaml --dry-run
  mljob submit job.json --grid learningRate=0.1,0.01,0.001 --objective valLoss:min --pruner asha:minStep=1,reduction=3`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.inputs = args
			if len(args) == 0 && opts.sweep.SweepFile == "" {
				return usagef(cmd, "no input: name job files, or - for standard input")
			}
			f, sw := cmd.Flags(), &opts.sweep
			sw.RandomSet, sw.SeedSet, sw.NameSet = f.Changed("random"), f.Changed("seed"), f.Changed("name")
			var err error
			if opts.flags, err = jobinput.ParseFlags(*sw); err != nil {
				return &usageError{err: err, cmd: cmd}
			}
			opts.scriptsDir, opts.dataDir, err = resolveScriptsDir(cmd, a, opts.scriptsDir, opts.dataDir)
			if err != nil {
				return err
			}
			return runSubmit(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	addScriptsFlag(cmd, &opts.scriptsDir, "directory holding the scripts jobs name")
	f.StringVar(&opts.dataDir, "data", "", "directory holding data files (default <scripts>/data)")
	f.IntVar(&opts.priority, "priority", 0, "priority of these jobs: higher runs first, FIFO within a priority")
	// StringArray, not StringSlice: values hold commas of their own.
	f.StringArrayVar(&opts.sweep.Grids, "grid", nil, "sweep PATH over values: PATH=V1,V2,... (repeatable; crossed)")
	f.IntVar(&opts.sweep.Random, "random", 0, "draw N random points from the --range flags, each crossed with the grid")
	f.StringArrayVar(&opts.sweep.Ranges, "range", nil, "where --random draws PATH: PATH=lin:LO:HI, log:LO:HI, int:LO:HI or choice:A,B,... (repeatable)")
	f.Uint64Var(&opts.sweep.Seed, "seed", 0, "seed of the random draws (default: picked and printed)")
	f.StringVar(&opts.sweep.SweepFile, "sweep", "", "read the sweep from a YAML file")
	f.StringVar(&opts.sweep.Name, "name", "", "name of the sweep (default <project>-<YYYYMMDD-HHMMSS>)")
	f.BoolVar(&opts.sweep.AllowNew, "allow-new", false, "let sweep paths add fields the job lacks")
	f.StringVar(&opts.sweep.Objective, "objective", "", "what the jobs' runs are ranked by: NAME:min or NAME:max, NAME a key of the Outcome line (default loss:min, or the sweep file's objective)")
	f.StringVar(&opts.sweep.Pruner, "pruner", "", "stop runs that fall behind: asha or median, with settings after a colon (asha:minStep=1,reduction=3; median:startupRuns=5,warmupSteps=0), or none (default: the sweep file's pruner, else none)")
	f.BoolVar(&opts.dryRun, "dry-run", false, "print the jobs that would be queued; write nothing")
	f.BoolVar(&opts.dedupe, "dedupe", false, "skip jobs identical to ones already queued in their project")
	f.BoolVar(&opts.strict, "strict", false, "refuse jobs holding fields their script's <stem>.fields.yaml does not declare (default: queue them with a warning)")
	addOutputFlag(cmd, &opts.output)
	return cmd
}

// runSubmit is wiring: jobinput reads and checks the jobs (picking a seed
// here, as it is printed), db.Submit queues them, and the rows are printed.
func runSubmit(ctx context.Context, opts *submitOptions) error {
	sw, err := jobinput.ReadSweep(opts.sweep.SweepFile, opts.flags, len(opts.inputs) > 0)
	if err != nil {
		return inputError(err)
	}
	if (sw.Spec.Random > 0 || sw.Spec.TPE()) && !sw.SeedSet {
		sw.Spec.Seed = rand.Uint64N(1_000_000_000) // short enough to retype
		fmt.Fprintf(opts.app.io.ErrOut, "seed %d; rerun with --seed %d\n", sw.Spec.Seed, sw.Spec.Seed)
	}
	checker := &jobinput.Checker{ScriptsDir: opts.scriptsDir, DataDir: opts.dataDir, Priority: opts.priority, Strict: opts.strict}
	b, err := checker.Build(sw, opts.inputs, opts.app.io.In)
	if err != nil {
		return inputError(err)
	}
	jobs := b.NewJobs()
	if !opts.dryRun {
		// Which code the jobs run: the scripts repository's commit and
		// diff, the script's and data's hashes (see mljob show, mljob diff).
		if err := provenance.Stamp(ctx, opts.scriptsDir, opts.dataDir, jobs); err != nil {
			return fmt.Errorf("submit: %w (nothing was queued)", err)
		}
		if b.Study != nil {
			// A tpe sweep's trials are made later, each with this code.
			base := []db.NewJob{b.Study.Base}
			if err := provenance.Stamp(ctx, opts.scriptsDir, opts.dataDir, base); err != nil {
				return fmt.Errorf("submit: %w (nothing was queued)", err)
			}
			b.Study.Base = base[0]
		}
	}
	store, cleanup, err := openForSubmit(ctx, opts)
	if err != nil {
		return err
	}
	defer cleanup()
	res, err := store.Submit(ctx, jobs, db.SubmitOptions{Dedupe: opts.dedupe, DryRun: opts.dryRun, Sweep: b.Sweep, Study: b.Study})
	if errors.Is(err, db.ErrSweepNameTaken) {
		return &userError{msg: fmt.Sprintf("a sweep named %q exists already (nothing was queued)", b.Sweep.Name),
			hint: "choose another --name, or leave it out for a default one"}
	}
	if err != nil {
		return fmt.Errorf("submit: %w (nothing was queued)", err)
	}
	return printSubmit(opts, b, res)
}

// inputHints is the Try: line of each kind of jobinput problem: the
// package says what is wrong, the command line what to do about it.
var inputHints = map[jobinput.Kind]string{
	jobinput.NotUTF8:      "save the file as UTF-8 JSON",
	jobinput.EmptyInput:   "give a Job JSON object or an array of them",
	jobinput.BadJSON:      "fix the JSON; nothing was queued",
	jobinput.BadSweepFile: "see mljob submit --help for the sweep file's keys",
	jobinput.SweepAlias:   "write the values out in full: a sweep file takes no YAML aliases",
	jobinput.MissingPath:  "check the path, or pass --allow-new to add the field",
	jobinput.TooBig:       fmt.Sprintf("split it into sweeps of at most %d jobs (fewer --random draws or grid values)", sweep.MaxJobs),
	jobinput.NoScript:     "check the name, or point --scripts at the directory holding it",
	jobinput.NoData:       "check the name, or point --data at the directory holding it",
	jobinput.BaseAndJobs:  "drop base/job from the sweep file, or the job files from the command line",
	jobinput.NoBase:       `add "base: job.json" (or "job:") to it, or name job files`,
	jobinput.BadField:     "fix the value: the script's <stem>.fields.yaml, beside it, says what each field takes; nothing was queued",
	jobinput.UnknownField: "fix the field's name, or submit without --strict to queue the job with a warning; nothing was queued",
	jobinput.BadFieldsFile: "fix the fields file (its format: the Field files section of python-scripts/README.md), " +
		"or move it away to submit the script's jobs unchecked",
}

// inputError shows a *jobinput.Error as a userError, with the hint for its
// kind, or the job contract's own.
func inputError(err error) error {
	var e *jobinput.Error
	if !errors.As(err, &e) {
		return err
	}
	hint := inputHints[e.Kind]
	if ce := (*pyexec.ContractError)(nil); errors.As(err, &ce) {
		hint = ce.Hint
	}
	return &userError{msg: e.Msg, hint: hint}
}

// openForSubmit opens the queue for a submit. A dry run that finds no
// queue file creates none: it runs against an empty queue in a temporary
// directory instead, so that it still reports the duplicates within the
// submit that --dedupe would skip.
func openForSubmit(ctx context.Context, opts *submitOptions) (*db.DB, func(), error) {
	path, err := opts.app.dbFile()
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(path); opts.dryRun && errors.Is(err, fs.ErrNotExist) {
		dir, err := os.MkdirTemp("", "mljob-dry-run-")
		if err != nil {
			return nil, nil, err
		}
		store, err := db.Open(ctx, filepath.Join(dir, "mljob.db"))
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("dry run: %w", err)
		}
		return store, func() { store.Close(); os.RemoveAll(dir) }, nil
	}
	store, err := opts.app.openDB(ctx, db.Create)
	if err != nil {
		return nil, nil, err
	}
	return store, func() { store.Close() }, nil
}

// printSubmit shows what Submit did, or in a dry run would do: the jobs
// on Out; the sweep, duplicates and counts on ErrOut.
func printSubmit(opts *submitOptions, b *jobinput.Batch, res db.SubmitResult) error {
	t, rows := b.Table(res, opts.dryRun)
	n := len(t.Rows)
	// An empty table prints nothing (ErrOut says why); JSON and CSV print
	// their empty array and header, so a script can still parse them.
	if n > 0 || opts.output != render.FormatTable {
		if err := render.Write(opts.app.io.Out, opts.output, t, rows); err != nil {
			return err
		}
	}
	b.WriteNotes(opts.app.io.ErrOut, res, opts.dryRun, n)
	return nil
}
