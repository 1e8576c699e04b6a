package proctree

import (
	"os"
	"strconv"
	"strings"
)

// Proc is one process as /proc/PID/stat shows it.
type Proc struct {
	PID, PPID int
	State     byte   // 'R', 'S', 'T' (stopped), 'Z' (zombie), ...
	Comm      string // the command name, at most 15 bytes
	// Start is when the process started, in clock ticks after boot: with
	// PID, it names one process across pid reuse.
	Start uint64
}

// Read reads pid's /proc/PID/stat; it reports false when pid is gone or
// the file does not parse.
func Read(pid int) (Proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Proc{}, false
	}
	return parseStat(pid, string(b))
}

// parseStat parses the text of /proc/PID/stat. The command name in it may
// itself hold spaces and ')', so the fields are counted after the last ')'.
func parseStat(pid int, s string) (Proc, bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return Proc{}, false
	}
	// f[0] is field 3 (state), so field N is f[N-3].
	f := strings.Fields(s[end+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Proc{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return Proc{}, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return Proc{}, false
	}
	return Proc{PID: pid, PPID: ppid, State: f[0][0], Comm: s[open+1 : end], Start: start}, true
}

// List reads every process in /proc; nil where there is no /proc.
func List() []Proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := Read(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// Tree returns roots, in their order, then every process of procs below
// one of them, breadth first; each pid once.
func Tree(procs []Proc, roots ...int) []int {
	children := map[int][]int{}
	for _, p := range procs {
		children[p.PPID] = append(children[p.PPID], p.PID)
	}
	seen := map[int]bool{}
	var out []int
	add := func(pid int) {
		if !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	for _, r := range roots {
		add(r)
	}
	for i := 0; i < len(out); i++ {
		for _, c := range children[out[i]] {
			add(c)
		}
	}
	return out
}
