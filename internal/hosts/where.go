package hosts

// OnThisMachine reports whether h is reached without SSH: the local host,
// or an entry with local: true (a Slurm login node that is this machine).
func (h Host) OnThisMachine() bool { return h.Kind == KindLocal || h.Local }

// FromFile reports whether h is an entry of a hosts file, not the local
// host made when none is given (whose settings are mljob's flags).
func (h Host) FromFile() bool { return h.Kind != KindLocal }
