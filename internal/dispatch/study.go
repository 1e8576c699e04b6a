package dispatch

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/sweep"
	"github.com/mljob/mljob/internal/tpe"
)

// proposeTrials makes the next trial of each study (a tpe sweep) that may
// take one now, so that the claim that follows can start it: the sampler
// is asked only when a slot is free, from the outcomes as they stand then.
// Each trial is made in one transaction with its number and the budget
// check (db.NextTrial); its state is all in the queue, so a dispatcher
// that restarts, or a second one, goes on from it. A study that cannot
// make its trial is warned about and left for the next call. Each study's
// trials are kept in memory between calls (d.trialLogs, only the loop
// touches it): a proposal reads only the trials changed since the last.
func (d *dispatcher) proposeTrials(ctx context.Context) {
	sts, err := d.db.OpenStudies(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.warnf("read the tpe sweeps: %v", err)
		}
		return
	}
	for _, st := range sts {
		log := d.trialLogs[st.SweepID]
		if log == nil {
			// Rebuilt from SQLite: its first sync reads every trial.
			log = db.NewTrialLog(st.SweepID)
			d.trialLogs[st.SweepID] = log
		}
		propose := d.opts.Propose
		if propose == nil {
			propose = ProposeTrial
		}
		nt, err := d.db.NextTrialFrom(ctx, log, propose)
		if err != nil {
			if ctx.Err() == nil {
				d.warnf("sweep %s: %v", st.Sweep, err)
			}
			continue
		}
		if nt != nil {
			d.logf("sweep %s: trial %d of %d proposed as job %d (order %d)", st.Sweep, nt.Number+1, st.Budget, nt.JobID, nt.OrderID)
		}
	}
}

// ProposeTrial is the proposal db.NextTrial makes inside its transaction:
// the study's sampler asked for trial number given the trials so far, and
// the base job with the point set at the space's paths. It is a pure
// function of its arguments, so the same seed and history propose the same
// job in any process; whether trials in flight count as the worst value is
// the study's own (st.ConstantLiar), stored at submit.
func ProposeTrial(st db.Study, number int, trials []tpe.Trial) (db.Proposal, error) {
	ranges, err := sweep.ParseSpace(st.Space)
	if err != nil {
		return db.Proposal{}, err
	}
	spec := sweep.Spec{Method: sweep.MethodTPE, Ranges: ranges, Seed: st.Seed, AllowNew: st.AllowNew, ConstantLiar: st.ConstantLiar}
	sampler, err := spec.Sampler(st.Base.Objective.Goal == objective.Maximize)
	if err != nil {
		return db.Proposal{}, err
	}
	plan, kept, err := spec.Trial(sampler.Propose(number, trials))
	if err != nil {
		return db.Proposal{}, err
	}
	jobs, err := plan.Apply(bytes.TrimSpace(st.Base.Spec))
	if err != nil {
		return db.Proposal{}, fmt.Errorf("trial %d: %w", number, err)
	}
	return db.Proposal{Spec: jobs[0], Params: kept}, nil
}
