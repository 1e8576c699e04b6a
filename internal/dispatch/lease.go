package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hosts"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/run"
)

// hostLeases is what a dispatcher knows of one host's leases (see
// ARCHITECTURE.md, "Leases on a shared host"). The loop owns held and
// ahead; waiting is read by the prober's goroutine too, so mu guards it.
type hostLeases struct {
	held  map[string]bool // lease names some run held at the last probe, or that refused a start since
	ahead bool            // another dispatcher has waited longer here
	// busyGPUs: GPUs in use by others at the last probe (gpu_busy).
	busyGPUs map[string]bool

	mu      sync.Mutex // guards waiting
	waiting bool       // we have work and no free lease here: keep our ticket
}

func (l *hostLeases) setWaiting(w bool) {
	l.mu.Lock()
	l.waiting = w
	l.mu.Unlock()
}

func (l *hostLeases) isWaiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting
}

// waiterName is this dispatcher's waiting-ticket name on every host: a
// plain file name part, the same for the dispatcher's life.
func waiterName(dispatcher string) string {
	sum := sha256.Sum256([]byte(dispatcher))
	return hex.EncodeToString(sum[:8])
}

// leaseQuery is what a probe of hs asks of its leases; nil when hs takes
// none.
func (d *dispatcher) leaseQuery(hs *hostState) func() *run.LeaseQuery {
	if !hs.cfg.Leased() {
		return nil
	}
	var names []string
	for _, s := range hs.cfg.SlotNames() {
		names = append(names, hs.cfg.LeaseName(s))
	}
	waiter := waiterName(d.opts.Dispatcher)
	return func() *run.LeaseQuery {
		return &run.LeaseQuery{Dir: hs.cfg.LockDir, Names: names, Waiter: waiter, Waiting: hs.leases.isWaiting()}
	}
}

// leaseHolder is what a lease file records of its holder.
type leaseHolder struct {
	User       string `json:"user"`
	Laptop     string `json:"laptop"`
	Queue      string `json:"queue"`
	Dispatcher string `json:"dispatcher"`
	Job        int64  `json:"job"`
	Order      int64  `json:"order"`
	Attempt    int    `json:"attempt"`
	Start      string `json:"start"`
}

// leaseOf is the lease a run of c in slot of hs takes; nil when hs takes
// none.
func (d *dispatcher) leaseOf(hs *hostState, c *db.Claim, slot string) *run.Lease {
	if !hs.cfg.Leased() {
		return nil
	}
	who := leaseHolder{Laptop: hostname(), Queue: d.queue, Dispatcher: d.opts.Dispatcher,
		Job: c.Job.ID, Order: c.Order.ID, Attempt: c.Order.Attempt, Start: time.Now().UTC().Format(time.RFC3339)}
	if u, err := user.Current(); err == nil {
		who.User = u.Username
	} else {
		who.User = os.Getenv("USER")
	}
	text, _ := json.Marshal(who) // strings and numbers only: cannot fail
	return &run.Lease{Dir: hs.cfg.LockDir, Names: hs.cfg.LeaseNames(slot), Holder: string(text),
		Waiter: waiterName(d.opts.Dispatcher)}
}

// takeSlot picks the first free slot of hs whose lease no one holds; ok
// is false when none is, or another dispatcher has waited longer here
// (then fill calls waitForLease).
func (d *dispatcher) takeSlot(hs *hostState) (slot string, ok bool) {
	if hs.leases.ahead {
		return "", false
	}
	for _, s := range hs.free {
		if !hs.leases.held[hs.cfg.LeaseName(s)] && !hs.leases.gpuBusy(hs.cfg.SlotGPUs(s)) {
			return s, true
		}
	}
	return "", false
}

// gpuSlots are the slots a job asking for several GPUs may take on hs
// with slot: slot, then the first free slot of each other GPU whose lease
// no one holds and that no one else uses; nil on a host without GPUs.
func (d *dispatcher) gpuSlots(hs *hostState, slot string) []string {
	if len(hs.cfg.GPUs) == 0 {
		return nil
	}
	slots := []string{slot}
	seen := map[string]bool{hs.cfg.SlotGPU(slot): true}
	for _, s := range hs.free {
		g := hs.cfg.SlotGPU(s)
		if seen[g] || hs.leases.held[hs.cfg.LeaseName(s)] || hs.leases.gpuBusy([]string{g}) {
			continue
		}
		seen[g] = true
		slots = append(slots, s)
	}
	return slots
}

// placeGPUs returns the slot a claimed run takes: its first slot, or for
// a job asking for k > 1 GPUs the first k of gpuSlots joined ("0+1"),
// recorded as the order's slot so that a later dispatch adopting the run
// knows every GPU it holds. A job asking for more GPUs than the host has
// free is not claimed here, save one asking for more than any host has:
// runOne refuses it.
func (d *dispatcher) placeGPUs(ctx context.Context, c *db.Claim, gpuSlots []string) string {
	k := pyexec.JobGPUs(c.Job.Spec)
	if k <= 1 || k > len(gpuSlots) {
		return c.Order.Slot
	}
	slot := hosts.JoinSlots(gpuSlots[:k])
	if err := d.db.SetSlot(ctx, c.Order.ID, c.Order.Attempt, slot); err != nil {
		// The run still holds (and leases) every GPU; only a later
		// dispatch's adoption would see the first alone.
		d.warnf("order %d: %v", c.Order.ID, err)
	}
	c.Order.Slot = slot
	return slot
}

// gpuRefusal is why a job asking for gpus GPUs cannot run under this
// dispatch, "" when some host has that many.
func (d *dispatcher) gpuRefusal(gpus int) string {
	if gpus <= d.mostGPUs {
		return ""
	}
	if d.mostGPUs == 0 {
		return fmt.Sprintf(`the job asks for %d GPU(s) ("gpus": %d), and no host of this dispatch lists gpus; Try: list the host's GPUs (gpus: [0, 1] in hosts.yaml, or dispatch --gpus 0,1), or drop "gpus" from the job`, gpus, gpus)
	}
	return fmt.Sprintf(`the job asks for %d GPUs ("gpus": %d), more than any host of this dispatch has (at most %d, on one host); Try: lower "gpus" and submit again, or add a host with %d GPUs`, gpus, gpus, d.mostGPUs, gpus)
}

// gpuBusy reports whether one of gpus is in use by others (gpu_busy).
func (l *hostLeases) gpuBusy(gpus []string) bool {
	for _, g := range gpus {
		if l.busyGPUs[g] {
			return true
		}
	}
	return false
}

// busyGPUs is the GPUs of use that gpu_busy (policy) counts as used by
// others.
func busyGPUs(policy string, use []run.GPUUse) map[string]bool {
	p, err := hosts.ParseGPUBusy(policy)
	if err != nil || p.Mode == "ignore" {
		return nil
	}
	busy := map[string]bool{}
	for _, u := range use {
		busy[u.Index] = p.Busy(u.Foreign, u.FreeMiB)
	}
	return busy
}

// leaseRecheck bounds the probe interval of a host we wait on for a
// lease: each probe refreshes our waiting ticket there, which the host
// counts as stale after agent.py's TICKET_TTL (10 s), so a long --poll
// must not let it lapse.
const leaseRecheck = 2 * time.Second

// waitForLease notes that no lease of hs is ours to take now. With work
// queued (work) we wait for one: our ticket is left at the next probe,
// and the probes come at most leaseRecheck apart. Without work we leave
// no ticket, so another dispatcher's starts are not held back by ours.
func (d *dispatcher) waitForLease(hs *hostState, work bool) {
	if work && !hs.leases.isWaiting() {
		d.logf("host %s: no lease free for us (held by other runs, or another dispatcher waits longer): waiting", hs.cfg.Name)
	}
	hs.leases.setWaiting(work)
}

// countQueued is how many orders wait for a claim (0 when the database
// cannot say: then we leave no ticket).
func (d *dispatcher) countQueued(ctx context.Context) int {
	n, err := d.db.CountUnassigned(ctx)
	if err != nil {
		return 0
	}
	return n
}

// leaseProbeEvery is the interval to hs's next probe: Poll, and at most
// leaseRecheck while we wait there for a lease.
func (d *dispatcher) leaseProbeEvery(hs *hostState) time.Duration {
	if hs.leases.isWaiting() {
		return min(d.opts.Poll, leaseRecheck)
	}
	return d.opts.Poll
}

// probedLeases takes what a probe saw of hs's leases.
func (d *dispatcher) probedLeases(hs *hostState, st *run.LeaseState) {
	if st == nil {
		// A probe that cannot tell (the shell path's): a lease that
		// refused a start is tried again at each probe, so the host's
		// own refusal is what waits.
		hs.leases.held, hs.leases.ahead = nil, false
		return
	}
	if st.Err != "" {
		d.warnf("host %s: leases: %s", hs.cfg.Name, st.Err)
	}
	hs.leases.held = map[string]bool{}
	for _, n := range st.Held {
		hs.leases.held[n] = true
	}
	hs.leases.ahead = st.Ahead
	hs.leases.busyGPUs = busyGPUs(hs.cfg.GPUBusy, st.GPUs)
}

// leaseRefused notes a start refused for its lease: the slot's lease
// counts as held until the next probe says otherwise, and we wait for one.
func (d *dispatcher) leaseRefused(hs *hostState, slot string) {
	if hs.leases.held == nil {
		hs.leases.held = map[string]bool{}
	}
	for _, n := range hs.cfg.LeaseNames(slot) {
		hs.leases.held[n] = true
	}
	d.waitForLease(hs, true) // the order is back in the queue: work to do
}

// stopWaiting drops our waiting tickets: the queue is dry (their probes
// remove them).
func (d *dispatcher) stopWaiting() {
	for _, hs := range d.hosts {
		hs.leases.setWaiting(false)
	}
}

// leaseBusy hands back an order whose start was refused for its lease: no
// attempt is counted, and it goes to the next free slot, here or elsewhere.
func (d *dispatcher) leaseBusy(ctx context.Context, hs *hostState, o db.Order, cause error) string {
	reason := fmt.Sprintf("%s: %v", hs.cfg.Name, cause)
	if err := d.db.UnclaimOrder(ctx, o.ID, o.Attempt, reason); err != nil {
		if errors.Is(err, db.ErrStaleAttempt) {
			return d.record(ctx, hs, o, pyexec.Outcome{Error: "cancelled before it started"}, run.Result{})
		}
		d.warnf("order %d: unclaim: %v", o.ID, err)
		return "failed"
	}
	d.logf("order %d back in the queue: %s", o.ID, oneLine(reason))
	return "unclaimed"
}

// gpusChecked reports whether h's GPUs are looked at for use by others
// before runs go to them.
func gpusChecked(h hosts.Host) bool {
	return len(h.GPUs) > 0 && h.Leased() && h.GPUBusy != "ignore"
}
