package slurm

// State classes of Slurm job states, as squeue and sacct print them.
var (
	// waiting states count as pending in status and the live view.
	waiting = map[string]bool{"PENDING": true, "REQUEUED": true, "REQUEUE_FED": true,
		"REQUEUE_HOLD": true, "CONFIGURING": true, "RESV_DEL_HOLD": true, "SUSPENDED": true}
	// live states are on a node.
	live = map[string]bool{"RUNNING": true, "COMPLETING": true, "SIGNALING": true,
		"STAGE_OUT": true, "RESIZING": true, "STOPPED": true}
	// final states: the task has ended and will not run again.
	final = map[string]bool{"COMPLETED": true, "FAILED": true, "CANCELLED": true,
		"TIMEOUT": true, "NODE_FAIL": true, "PREEMPTED": true, "OUT_OF_MEMORY": true,
		"BOOT_FAIL": true, "DEADLINE": true, "REVOKED": true, "SPECIAL_EXIT": true}
)

// Final reports whether a Slurm state means the task ended for good.
func Final(state string) bool { return final[state] }

// Infrastructure reports whether a final state means the cluster, not the
// script, ended the run (a node failed, or a higher-priority job took its
// place): such an attempt is retried.
func Infrastructure(state string) bool {
	return state == "NODE_FAIL" || state == "PREEMPTED" || state == "BOOT_FAIL"
}

// Pending and Running report the two counts status shows.
func Pending(state string) bool { return state == "" || waiting[state] }

// Running reports whether a task is on a node.
func Running(state string) bool { return live[state] }

// endReason is what Slurm's last word on a task means for its run's
// outcome: infra is true when the cluster, not the script, ended it (the
// attempt is retried); otherwise reason, when set, is the failure's text.
func endReason(state string) (reason string, infra bool) {
	switch {
	case Infrastructure(state):
		return "Slurm ended the task: " + state, true
	case state == "TIMEOUT":
		return "timeout: Slurm's time limit (sbatch --time) ended the run", false
	case state == "CANCELLED":
		return "cancelled in Slurm (scancel outside mljob)", false
	case state == "OUT_OF_MEMORY":
		return "out of memory: Slurm killed the run (raise sbatch --mem)", false
	case state == "DEADLINE":
		return "Slurm ended the run at its deadline", false
	}
	return "", false
}
