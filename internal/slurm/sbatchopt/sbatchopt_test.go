package sbatchopt

import (
	"cmp"
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	tests := []struct {
		opt  string
		want string // a part of the message; "" = accepted
	}{
		{"--partition=gpu", ""},
		{"-pgpu", ""},
		{"--gres=gpu:1", ""},
		{"--time=02:00:00", ""},
		{"-N1", ""},
		{"--comment=two words", ""},
		{"--exclusive", ""},
		{"--array-like", ""},     // not --array, nor a prefix of it
		{"--error-free", ""},     // not --error
		{"-Ogpu", ""},            // -O, then g and the rest: none reserved
		{"-va", "-a is --array"}, // -v takes no value, so -a follows
		{"-pa", ""},              // -p takes the value "a"
		{"4", "does not start with '-'"},
		{"-", "is not an option"},
		{"--o=x", "write options in full"}, // a prefix of --output and --open-mode
		{"--=x", ""},                       // sbatch itself refuses it
		{"--job-name", "mljob names its jobs itself"},
		{"--parsable=x", "mljob sets it itself"},
		{"--requeue", "mljob sets --no-requeue itself"},
		{"--no-requeue", "mljob sets --no-requeue itself"},
		{"--no-kill", ""},
		{"--comment=\x00", "control character"},
		{"--comment=\x7f", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.opt, func(t *testing.T) {
			msg := Problem(tt.opt)
			if tt.want == "" && msg != "" || !strings.Contains(msg, tt.want) {
				t.Errorf("Problem(%q) = %q, want %q", tt.opt, msg, cmp.Or(tt.want, "none"))
			}
		})
	}
}
