package jobinput

import (
	"cmp"
	"errors"
	"fmt"
	"io"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/fieldcheck"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/prune"
	"github.com/mljob/mljob/internal/sweep"
)

// Flags is a sweep as submit's command line gives it.
type Flags struct {
	Spec    sweep.Spec // --grid, --range, --random (0: not given), --seed, --allow-new
	SeedSet bool       // --seed was given
	Name    string     // --name; "" when not given
	// Objective is --objective; the zero value when not given.
	Objective objective.Objective
	// Pruner is --pruner, PrunerSet whether it was given: --pruner none
	// (the zero Rule) overrides a sweep file's pruner.
	Pruner    prune.Rule
	PrunerSet bool
}

// FlagArgs are submit's sweep flags as the command line gives them, before
// ParseFlags.
type FlagArgs struct {
	Grids     []string // --grid, each PATH=V1,V2,...
	Ranges    []string // --range, each PATH=KIND:...
	Random    int      // --random
	Seed      uint64   // --seed
	Name      string   // --name
	AllowNew  bool     // --allow-new
	SweepFile string   // --sweep
	Objective string   // --objective NAME:min|max; "" when not given
	Pruner    string   // --pruner RULE[:KEY=VALUE,...] (prune.ParseFlag); "" when not given
	// RandomSet, SeedSet and NameSet say which of those flags were given.
	RandomSet, SeedSet, NameSet bool
}

// ParseFlags parses submit's sweep flags. Its errors name the flag
// ("--grid ...", "--name: ..."), for the command line to show as usage
// errors. Without a sweep file it also checks what Plan would refuse, so
// that a flag mistake is found before any file is read.
func ParseFlags(a FlagArgs) (Flags, error) {
	var f Flags
	for _, g := range a.Grids {
		axis, err := sweep.ParseGrid(g)
		if err != nil {
			return Flags{}, fmt.Errorf("--%w", err)
		}
		f.Spec.Grid = append(f.Spec.Grid, axis)
	}
	for _, r := range a.Ranges {
		rg, err := sweep.ParseRange(r)
		if err != nil {
			return Flags{}, fmt.Errorf("--%w", err)
		}
		f.Spec.Ranges = append(f.Spec.Ranges, rg)
	}
	// --random N is a number of draws: 0 would draw none, so it is refused
	// as a negative N is, not taken for "not given".
	if a.RandomSet && a.Random < 1 {
		return Flags{}, fmt.Errorf("--random must be at least 1, got %d", a.Random)
	}
	f.Spec.Random, f.Spec.Seed, f.Spec.AllowNew = a.Random, a.Seed, a.AllowNew
	f.SeedSet, f.Name = a.SeedSet, a.Name
	if a.NameSet {
		if err := db.CheckSweepName(a.Name); err != nil {
			return Flags{}, fmt.Errorf("--name: %w", err)
		}
	}
	if a.Objective != "" {
		o, err := objective.Parse(a.Objective)
		if err != nil {
			return Flags{}, fmt.Errorf("--objective: %w", err)
		}
		f.Objective = o
	}
	if a.Pruner != "" {
		r, err := prune.ParseFlag(a.Pruner)
		if err != nil {
			return Flags{}, fmt.Errorf("--pruner: %w", err)
		}
		f.Pruner, f.PrunerSet = r, true
	}
	if a.SweepFile == "" {
		if _, err := f.Spec.Size(); errors.Is(err, sweep.ErrSyntax) || errors.Is(err, sweep.ErrTooBig) {
			return Flags{}, err
		}
	}
	return f, nil
}

// Sweep is what a submit sweeps: the sweep file's sweep, if any, with the
// flags added.
type Sweep struct {
	Spec    sweep.Spec
	SeedSet bool    // Spec.Seed was given; else the caller picks one before Build
	Name    string  // "" for db's default name
	File    string  // the sweep file; "" for none
	Bases   []Input // the base job the sweep file names, if any
	// Objective is every job's: --objective, else the sweep file's, else
	// the zero value (objective.Default when stored).
	Objective objective.Objective
	// Pruner is every job's: --pruner, else the sweep file's, else none.
	Pruner prune.Rule
	// Artifacts are the sweep file's artifact globs, for jobs that name
	// none.
	Artifacts []string
}

// ReadSweep reads the sweep file at path ("" for none) and adds the flags
// to it: grid and ranges are appended to the file's; --random, --seed and
// --name win, and --allow-new allows what the file does not. haveJobs says
// whether job files were named: a sweep file needs either its own base job
// or job files, not both.
func ReadSweep(path string, flags Flags, haveJobs bool) (*Sweep, error) {
	sw := &Sweep{Spec: flags.Spec, SeedSet: flags.SeedSet, Name: flags.Name, File: path, Objective: flags.Objective, Pruner: flags.Pruner}
	if path == "" {
		return sw, nil
	}
	f, base, err := readSweepFile(path)
	if err != nil {
		return nil, err
	}
	switch {
	case base != nil && haveJobs:
		return nil, &Error{Kind: BaseAndJobs, Msg: path + " names its base job, and job files were given too"}
	case base == nil && !haveJobs:
		return nil, &Error{Kind: NoBase, Msg: path + ": no base job"}
	case base != nil:
		sw.Bases = []Input{*base}
	}
	sw.Spec.Grid = append(f.Spec.Grid, flags.Spec.Grid...)
	sw.Spec.Ranges = append(f.Spec.Ranges, flags.Spec.Ranges...)
	sw.Spec.AllowNew = flags.Spec.AllowNew || f.Spec.AllowNew
	sw.Spec.Method, sw.Spec.Trials, sw.Spec.Parallel = f.Spec.Method, f.Spec.Trials, f.Spec.Parallel
	sw.Spec.ConstantLiar = f.Spec.ConstantLiar
	if flags.Spec.Random == 0 {
		sw.Spec.Random = f.Spec.Random
	}
	if !flags.SeedSet && f.HasSeed {
		sw.Spec.Seed, sw.SeedSet = f.Spec.Seed, true
	}
	sw.Name = cmp.Or(sw.Name, f.Name)
	sw.Objective = cmp.Or(sw.Objective, f.Objective)
	sw.Artifacts = f.Artifacts
	if !flags.PrunerSet {
		sw.Pruner = f.Pruner
	}
	if sw.Name != "" {
		if err := db.CheckSweepName(sw.Name); err != nil {
			return nil, &Error{Msg: fmt.Sprintf("%s: name: %v", path, err), Err: err}
		}
	}
	return sw, nil
}

// IsSweep says whether the submit makes a sweep: it has a sweep file, or
// flags that vary its jobs.
func (s *Sweep) IsSweep() bool { return s.File != "" || s.Spec.Varies() }

// Batch is a submit's jobs, all checked, ready for db.Submit.
type Batch struct {
	Jobs  []Job
	Paths []string     // the sweep's paths, in the order of each Job's Values; nil outside a sweep
	Sweep *db.NewSweep // nil when the submit makes no sweep
	// Study is a tpe sweep's registration (its Jobs are then none: the
	// dispatcher makes each trial); nil for other submits.
	Study *db.NewStudy
	// Warnings are the fields the jobs hold that their scripts do not
	// declare, each distinct one once (see Checker).
	Warnings []fieldcheck.Warning
}

// NewJobs returns the jobs to queue, in order.
func (b *Batch) NewJobs() []db.NewJob {
	out := make([]db.NewJob, len(b.Jobs))
	for i, j := range b.Jobs {
		out[i] = j.NewJob
	}
	return out
}

// Build makes a submit's jobs: it plans the sweep (its seed picked
// already), reads the job files (names in order, "-" for stdin), counts the
// jobs against sweep.MaxJobs before expanding anything, then expands each
// base job by the plan and checks every job. The first problem is an
// *Error; Build writes nothing.
func (c *Checker) Build(sw *Sweep, names []string, stdin io.Reader) (*Batch, error) {
	if sw.Spec.TPE() {
		return c.buildStudy(sw, names, stdin)
	}
	var plan *sweep.Plan
	if sw.IsSweep() {
		var err error
		if plan, err = sw.Spec.Plan(); err != nil {
			return nil, &Error{Kind: tooBig(err), Msg: cmp.Or(sw.File, "sweep") + ": " + err.Error(), Err: err}
		}
	}
	got, err := Read(names, stdin)
	if err != nil {
		return nil, err
	}
	bases := append(sw.Bases[:len(sw.Bases):len(sw.Bases)], got...)
	if len(bases) == 0 {
		return nil, &Error{Msg: "no jobs in the input (an empty array?)"}
	}
	perInput := 1
	if plan != nil {
		perInput = len(plan.Points)
	}
	if err := sweep.CheckTotal(len(bases), perInput); err != nil {
		return nil, &Error{Kind: tooBig(err), Msg: err.Error(), Err: err}
	}
	jobs, err := c.Expand(bases, plan)
	if err != nil {
		return nil, err
	}
	for i := range jobs {
		// A job's script may declare its default objective; the submit's
		// own (--objective, the sweep file's) wins.
		jobs[i].Objective = cmp.Or(sw.Objective, c.declaredObjective(jobs[i].Script))
		jobs[i].Pruner = sw.Pruner
		// A job's own artifacts win over its sweep file's, which win over
		// its script's declaration.
		if len(jobs[i].Artifacts) == 0 {
			jobs[i].Artifacts = sw.Artifacts
		}
		if d := c.decls[jobs[i].Script]; len(jobs[i].Artifacts) == 0 && d != nil {
			jobs[i].Artifacts = d.Artifacts
		}
	}
	b := &Batch{Jobs: jobs, Warnings: c.Warnings()}
	if plan == nil {
		return b, nil
	}
	for _, p := range plan.Paths {
		b.Paths = append(b.Paths, p.String())
	}
	def, err := definition(&sw.Spec, bases, sw.File)
	if err != nil {
		return nil, err
	}
	b.Sweep = &db.NewSweep{Name: sw.Name, Definition: def}
	return b, nil
}

// buildStudy makes a tpe sweep's registration: its one base job, checked
// as it is and as a trial makes it (the first random point of its space,
// so that a path the base lacks is found now, not by the dispatcher), and
// the study with the budget and space. It queues no job: each trial is
// proposed by the dispatcher from the outcomes before it, so a job queued
// now would be a guess made without any.
func (c *Checker) buildStudy(sw *Sweep, names []string, stdin io.Reader) (*Batch, error) {
	where := cmp.Or(sw.File, "sweep")
	if _, err := sw.Spec.Size(); err != nil {
		kind := tooBig(err)
		if kind != TooBig && sw.File != "" {
			kind = BadSweepFile // its Try: names the sweep file's keys
		}
		return nil, &Error{Kind: kind, Msg: where + ": " + err.Error(), Err: err}
	}
	got, err := Read(names, stdin)
	if err != nil {
		return nil, err
	}
	bases := append(sw.Bases[:len(sw.Bases):len(sw.Bases)], got...)
	if len(bases) != 1 {
		return nil, &Error{Msg: fmt.Sprintf("%s: method tpe searches from one base job, got %d; submit one study per base job", where, len(bases))}
	}
	base, err := c.check(bases[0].Where, bases[0].Raw)
	if err != nil {
		return nil, err
	}
	sampler, err := sw.Spec.Sampler(false)
	if err != nil {
		return nil, &Error{Msg: where + ": " + err.Error(), Err: err}
	}
	plan, _, err := sw.Spec.Trial(sampler.Propose(0, nil))
	if err != nil {
		return nil, &Error{Msg: where + ": " + err.Error(), Err: err}
	}
	if _, err := c.Expand(bases[:1], plan); err != nil {
		return nil, err
	}
	base.Objective = cmp.Or(sw.Objective, c.declaredObjective(base.Script))
	base.Pruner = sw.Pruner
	space, err := sw.Spec.SpaceJSON()
	if err != nil {
		return nil, err
	}
	def, err := definition(&sw.Spec, bases, sw.File)
	if err != nil {
		return nil, err
	}
	b := &Batch{Warnings: c.Warnings(), Sweep: &db.NewSweep{Name: sw.Name, Definition: def}}
	for _, p := range sw.Spec.Paths() {
		b.Paths = append(b.Paths, p.String())
	}
	b.Study = &db.NewStudy{Method: string(sweep.MethodTPE), Budget: sw.Spec.Trials, Parallel: sw.Spec.Parallel,
		ConstantLiar: sw.Spec.ConstantLiar, Seed: sw.Spec.Seed, Space: space, AllowNew: sw.Spec.AllowNew, Base: base}
	b.Sweep.Project = base.Project
	return b, nil
}

// declaredObjective is the objective script's field declaration names,
// or the zero value: check has read the declaration already.
func (c *Checker) declaredObjective(script string) objective.Objective {
	if d := c.decls[script]; d != nil {
		return d.Objective
	}
	return objective.Objective{}
}

// tooBig is TooBig for a sweep over the limit, Invalid for another error.
func tooBig(err error) Kind {
	if errors.Is(err, sweep.ErrTooBig) {
		return TooBig
	}
	return Invalid
}
