package slurm

import (
	"reflect"
	"testing"
	"time"
)

func TestParsePoll(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want pollReport
	}{
		{
			name: "runs and squeue",
			out: "run q-1-1 12_0 done 1700000000.250000000 1700000003.5\n" +
				"run q-2-1 12_1 started\nrun q-3-1 - prepared\nrun q-4-1 12_3 fenced\nrun q-5-1 - missing\n" +
				"squeue\n12_0 COMPLETING\n12_1 RUNNING\nsqueue-end 0\n",
			want: pollReport{
				runs: map[string]runReport{
					"q-1-1": {task: "12_0", dir: "done", start: time.Unix(1700000000, 250000000), end: time.Unix(1700000003, 500000000)},
					"q-2-1": {task: "12_1", dir: "started"},
					"q-3-1": {dir: "prepared"},
					"q-4-1": {task: "12_3", dir: "fenced"},
					"q-5-1": {dir: "missing"},
				},
				tasks: map[string]string{"12_0": "COMPLETING", "12_1": "RUNNING"},
			},
		},
		{
			name: "done without times",
			out:  "run q-1-1 12_0 done - -\n",
			want: pollReport{runs: map[string]runReport{"q-1-1": {task: "12_0", dir: "done"}}},
		},
		{
			name: "every job forgotten: squeue fails, nothing is listed",
			out:  "run q-1-1 12_0 started\nsqueue\nslurm_load_jobs error: Invalid job id specified\nsqueue-end 1\n",
			want: pollReport{runs: map[string]runReport{"q-1-1": {task: "12_0", dir: "started"}}, tasks: map[string]string{}},
		},
		{
			name: "controller down: states unknown this tick",
			out:  "run q-1-1 12_0 started\nsqueue\nslurm_load_jobs error: Unable to contact slurm controller (connect failure)\nsqueue-end 1\n",
			want: pollReport{runs: map[string]runReport{"q-1-1": {task: "12_0", dir: "started"}},
				squeueErr: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parsePoll(tt.out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePoll:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseSacct(t *testing.T) {
	got := parseSacct("12_0|COMPLETED\n12_1|CANCELLED by 1000\n12_2|NODE_FAIL\n\nbad line\n")
	want := map[string]string{"12_0": "COMPLETED", "12_1": "CANCELLED", "12_2": "NODE_FAIL"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseSacct = %v, want %v", got, want)
	}
}

func TestStates(t *testing.T) {
	tests := []struct {
		state                          string
		final, infra, pending, running bool
	}{
		{"", false, false, true, false},
		{"PENDING", false, false, true, false},
		{"RUNNING", false, false, false, true},
		{"COMPLETING", false, false, false, true},
		{"COMPLETED", true, false, false, false},
		{"TIMEOUT", true, false, false, false},
		{"NODE_FAIL", true, true, false, false},
		{"PREEMPTED", true, true, false, false},
		{"CANCELLED", true, false, false, false},
	}
	for _, tt := range tests {
		if Final(tt.state) != tt.final || Infrastructure(tt.state) != tt.infra ||
			Pending(tt.state) != tt.pending || Running(tt.state) != tt.running {
			t.Errorf("%q: final %v infra %v pending %v running %v", tt.state,
				Final(tt.state), Infrastructure(tt.state), Pending(tt.state), Running(tt.state))
		}
	}
}
