package enginetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/run"
)

// Prog is the one program the suite runs, as sh -c Prog sh STEP ARG ...
// with the run's argument file as the last word. Each step is two words:
//
//	out TEXT    TEXT to stdout
//	err TEXT    TEXT to stderr
//	arg -       the last word (the argument file's contents) to stdout
//	cat NAME    the run dir's file NAME to stdout
//	env NAME    the value of the environment variable NAME, and a newline
//	touch PATH  create PATH (a file the test watches)
//	wait PATH   wait until PATH exists, or its directory is gone
//	exit N      exit with status N
//	progress N  N progress lines {"step":I,"series":"s","v":I}, I from 0
//	ys N        N letters y to stdout (a long line without a long argv: the
//	            shell path's whole command is one argument of the host's
//	            shell, which Linux caps at 128 KiB)
//
// Real engines run it with sh; an engine that starts no processes runs it
// with Interpret.
const Prog = `for a; do last=$a; done
while [ $# -gt 1 ]; do
  case $1 in
  out) printf '%s' "$2" ;;
  err) printf '%s' "$2" >&2 ;;
  arg) printf '%s' "$last" ;;
  cat) cat -- "$2" ;;
  env) printenv "$2" ;;
  touch) : > "$2" ;;
  wait) while [ ! -e "$2" ] && [ -d "${2%/*}" ]; do sleep 0.05; done ;;
  exit) exit "$2" ;;
  ys) printf "%${2}s" '' | tr ' ' y ;;
  progress) i=0; while [ "$i" -lt "$2" ]; do printf '{"step":%d,"series":"s","v":%d}\n' "$i" "$i"; i=$((i + 1)); done ;;
  esac
  shift 2
done
`

// Spec is a run of Prog with steps, job.json (holding arg) as its
// argument file, and generous tails.
func Spec(id string, arg []byte, steps ...string) run.Spec {
	return run.Spec{
		ID:         id,
		Input:      run.Input{Name: "job.json", Data: arg},
		Argv:       append([]string{"sh", "-c", Prog, "sh"}, steps...),
		ArgFile:    "job.json",
		StdoutTail: 1 << 20,
		StderrTail: 1 << 16,
	}
}

// Interpret runs spec, a run of Prog, without starting a process: what an
// in-memory engine does in place of sh. Files come from spec.Files (their
// local paths) and spec.Input. It returns the exit status; a ctx that ends
// stops a wait, as a signal would, with 128+15.
func Interpret(ctx context.Context, spec run.Spec, stdout, stderr io.Writer) int {
	if len(spec.Argv) < 4 || spec.Argv[2] != Prog {
		fmt.Fprintf(stderr, "enginetest: not a run of Prog: %q\n", spec.Argv)
		return 127
	}
	words := append([]string(nil), spec.Argv[4:]...)
	if spec.ArgFile != "" {
		words = append(words, string(spec.Input.Data))
	}
	last := ""
	if len(words) > 0 {
		last = words[len(words)-1]
	}
	for ; len(words) > 1; words = words[2:] {
		op, v := words[0], words[1]
		switch op {
		case "out":
			io.WriteString(stdout, v)
		case "err":
			io.WriteString(stderr, v)
		case "arg":
			io.WriteString(stdout, last)
		case "cat":
			b, err := fileOf(spec, v)
			if err != nil {
				fmt.Fprintf(stderr, "cat: %v\n", err)
				return 1
			}
			stdout.Write(b)
		case "env":
			for _, e := range spec.Env {
				if len(e) > len(v) && e[:len(v)+1] == v+"=" {
					io.WriteString(stdout, e[len(v)+1:]+"\n")
				}
			}
		case "touch":
			if err := os.WriteFile(v, nil, 0o644); err != nil {
				fmt.Fprintln(stderr, err)
			}
		case "wait":
			for {
				if _, err := os.Stat(v); err == nil {
					break
				}
				if _, err := os.Stat(filepath.Dir(v)); err != nil {
					break
				}
				select {
				case <-ctx.Done():
					return 128 + 15
				case <-time.After(20 * time.Millisecond):
				}
			}
		case "exit":
			n, _ := strconv.Atoi(v)
			return n
		case "ys":
			n, _ := strconv.Atoi(v)
			io.WriteString(stdout, strings.Repeat("y", n))
		case "progress":
			n, _ := strconv.Atoi(v)
			for i := range n {
				fmt.Fprintf(stdout, `{"step":%d,"series":"s","v":%d}`+"\n", i, i)
			}
		}
	}
	return 0
}

func fileOf(spec run.Spec, name string) ([]byte, error) {
	if spec.Input.Name == name {
		return spec.Input.Data, nil
	}
	for _, f := range spec.Files {
		if f.Name == name {
			return os.ReadFile(f.Path)
		}
	}
	return nil, fmt.Errorf("%s: no such file", name)
}
