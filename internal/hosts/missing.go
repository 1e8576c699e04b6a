package hosts

import (
	"fmt"
	"strings"
)

// Example is the smallest useful hosts file, shown when the named one is
// missing; README.md has every key.
const Example = `hosts:
  - name: gpu1            # any name; shown in tables
    address: 10.0.0.5     # or an alias from ~/.ssh/config
    slots: 1              # concurrent runs (or gpus: [0, 1])`

// MissingError is a hosts file that does not exist. Checked before any
// command reads the file, so that its absence is met with a file to write
// rather than a read error.
type MissingError struct {
	Path string
	// Origin says where the name came from ("--hosts", "MLJOB_HOSTS", a
	// config file line); "" when unknown.
	Origin string
	// Err is the stat error, so errors.Is(err, fs.ErrNotExist) holds.
	Err error
}

func (e *MissingError) Error() string {
	if e.Origin != "" {
		return fmt.Sprintf("hosts file %s (from %s) does not exist", e.Path, e.Origin)
	}
	return fmt.Sprintf("hosts file %s does not exist", e.Path)
}

func (e *MissingError) Unwrap() error { return e.Err }

// Hint says what to do: write the file (Example, indented), trust each
// host's key, or name no hosts file and run on this machine.
func (e *MissingError) Hint() string {
	return "write it, e.g.\n\n    " + strings.ReplaceAll(Example, "\n", "\n    ") +
		"\n\n  then trust each host's key once (ssh-keyscan HOST >> ~/.ssh/known_hosts, after checking it);\n" +
		"  or name no hosts file at all to run on this machine"
}
