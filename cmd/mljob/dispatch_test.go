package main

import "testing"

// TestUseView drives the choice of dispatch's live view through ioStreams
// alone: a terminal on standard error, and an environment that does not
// turn it off.
func TestUseView(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		env   map[string]string
		plain bool
		want  bool
	}{
		{"a terminal", true, nil, false, true},
		{"not a terminal", false, nil, false, false},
		{"--plain", true, nil, true, false},
		{"a dumb terminal", true, map[string]string{"TERM": "dumb"}, false, false},
		{"another terminal", true, map[string]string{"TERM": "xterm-256color"}, false, true},
		{"CI=true", true, map[string]string{"CI": "true"}, false, false},
		{"CI=1", true, map[string]string{"CI": "1"}, false, false},
		{"CI=false", true, map[string]string{"CI": "false"}, false, true},
		{"CI=0", true, map[string]string{"CI": "0"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ioStreams{ErrOutTTY: tt.tty, Getenv: func(k string) string { return tt.env[k] }}
			if got := useView(s, tt.plain); got != tt.want {
				t.Errorf("useView = %v, want %v", got, tt.want)
			}
		})
	}
	if useView(ioStreams{ErrOutTTY: true}, false) != true {
		t.Error("useView with no Getenv = false, want true (an empty environment)")
	}
}
