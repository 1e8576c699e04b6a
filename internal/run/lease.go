package run

// Lease asks the host to start a run only once it holds the named leases:
// exclusive flocks on files in the host's lock dir, held by the run's
// wrapper for the run's life (see ARCHITECTURE.md, "Leases on a shared
// host"). Taking them and starting the run are one step on the host: a
// lease held by another run refuses the start (engine.ErrLeaseBusy), and
// nothing of the run is left behind.
type Lease struct {
	// Dir is the lock dir on the host (made mode 1777 when missing).
	Dir string `json:"dir"`
	// Names are the lease files to take, all or none: one per slot or GPU
	// share the run uses.
	Names []string `json:"names"`
	// Holder is what the lease files record while the run holds them:
	// one line naming the user, the laptop, the queue, the job and the
	// start time, for hosts check and hosts list.
	Holder string `json:"holder"`
	// Waiter names this dispatcher's waiting ticket in Dir (a plain file
	// name part): the fair-sharing rule lets the dispatcher that has
	// waited longest take the next free lease.
	Waiter string `json:"waiter,omitempty"`
}

// LeaseQuery is what a probe asks of a host's leases.
type LeaseQuery struct {
	Dir    string   `json:"dir"`
	Names  []string `json:"names"`
	Waiter string   `json:"waiter,omitempty"`
	// Waiting leaves (or refreshes) the waiter's ticket: the dispatcher has
	// work and found no free lease here. False removes it.
	Waiting bool `json:"waiting,omitempty"`
}

// LeaseState is what a probe saw of a host's leases.
type LeaseState struct {
	// Held are the names asked about that some run holds now.
	Held []string `json:"held"`
	// Ahead: another dispatcher has waited longer for a lease here, so a
	// start of ours would be refused until it has had one.
	Ahead bool `json:"ahead"`
	// Err says why the lock dir could not be read ("" when it could).
	Err string `json:"err,omitempty"`
	// GPUs is each GPU's use as nvidia-smi shows it; empty without one.
	GPUs []GPUUse `json:"gpus,omitempty"`
}

// GPUUse is one GPU's use by others.
type GPUUse struct {
	Index string `json:"index"`
	// Foreign counts its compute processes that are not mljob runs
	// holding leases in the lock dir.
	Foreign int `json:"foreign"`
	// FreeMiB is its free memory.
	FreeMiB float64 `json:"free"`
}
