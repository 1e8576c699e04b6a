package pyexec

import "testing"

func TestInstallHint(t *testing.T) {
	tests := []struct {
		name   string
		module string
		exe    string
		debian bool
		want   string
	}{
		{name: "debian system python", module: "sklearn", exe: "/usr/bin/python3", debian: true,
			want: "on Debian: sudo apt-get install python3-sklearn (or /usr/bin/python3 -m pip install scikit-learn)"},
		{name: "venv on debian", module: "torch", exe: "/home/u/.venv/bin/python", debian: true,
			want: "/home/u/.venv/bin/python -m pip install torch"},
		{name: "not debian", module: "my_pkg", exe: "/usr/bin/python3", debian: false,
			want: "/usr/bin/python3 -m pip install my_pkg"},
		{name: "debian default name", module: "my_pkg", exe: "/usr/bin/python3", debian: true,
			want: "on Debian: sudo apt-get install python3-my-pkg (or /usr/bin/python3 -m pip install my_pkg)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InstallHint(tt.module, tt.exe, tt.debian); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
