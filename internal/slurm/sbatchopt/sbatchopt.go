package sbatchopt

import (
	"fmt"
	"strings"
)

// reserved are the sbatch options mljob sets itself when it submits a
// slurm entry's runs; one in the hosts file would fight mljob's (sbatch keeps
// the last), so it is refused with the reason.
var reserved = []struct {
	long  string // without the leading --
	short byte   // 0 when the option has no short form
	why   string
}{
	{"array", 'a', "mljob sets the array itself, throttled by slots"},
	{"output", 'o', "mljob sets the output file itself, under workdir"},
	{"error", 'e', "mljob keeps a task's errors with its output, in the file it names under workdir"},
	{"parsable", 0, "mljob sets it itself, to read the job id sbatch prints"},
	{"wrap", 0, "mljob submits its own batch script"},
	{"chdir", 'D', "mljob sets the working directory itself, to workdir"},
	{"job-name", 'J', "mljob names its jobs itself"},
	{"open-mode", 0, "mljob owns the output files and how they are opened"},
	// A requeued task would find its run already started and refuse to run.
	{"no-requeue", 0, "mljob sets --no-requeue itself and retries lost runs as new attempts"},
	{"requeue", 0, "mljob sets --no-requeue itself and retries lost runs as new attempts"},
}

// flags are sbatch's short options that take no value, so getopt lets
// another short option follow in the same word (-Oa1 is -O -a 1).
const flags = "HOQsvWhV"

// Problem says what is wrong with one sbatch option word, or "" when sbatch
// may be given it: the word as a user would read it in the message, with what
// to write instead.
func Problem(o string) string {
	switch {
	case o == "":
		return "sbatch has an empty option; remove it"
	case strings.ContainsFunc(o, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Sprintf("sbatch option %q has a control character (a newline, tab or NUL); remove it", o)
	case !strings.HasPrefix(o, "-"):
		// sbatch would take it for the batch script, and mljob's script for
		// the script's argument.
		return fmt.Sprintf("sbatch option %q does not start with '-': give each option as one word, such as --partition=gpu", o)
	case o == "-" || o == "--":
		return fmt.Sprintf("sbatch option %q is not an option: sbatch would read what follows as the batch script; remove it", o)
	}
	if name, ok := strings.CutPrefix(o, "--"); ok {
		name, _, _ = strings.Cut(name, "=")
		for _, r := range reserved {
			if name == r.long {
				return fmt.Sprintf("sbatch option %q: %s; remove it", o, r.why)
			}
		}
		// getopt_long takes any unambiguous prefix of a long option, so
		// --arr=0-9 is --array. No sbatch option is a prefix of these.
		for _, r := range reserved {
			if name != "" && strings.HasPrefix(r.long, name) {
				return fmt.Sprintf("sbatch option %q: write options in full: sbatch may take it for --%s, and %s", o, r.long, r.why)
			}
		}
		return ""
	}
	// Short options: -aVALUE is -a; flags that take no value may come first.
	for _, c := range []byte(o[1:]) {
		for _, r := range reserved {
			if r.short != 0 && c == r.short {
				return fmt.Sprintf("sbatch option %q: -%c is --%s: %s; remove it", o, c, r.long, r.why)
			}
		}
		if !strings.ContainsRune(flags, rune(c)) {
			break // c takes a value: the rest of the word is that value
		}
	}
	return ""
}
