package artifacts

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Dir is the directory of a run dir whose files all come home, whatever
// the job's globs.
const Dir = "artifacts"

// DefaultCap is the most bytes of artifacts one run brings home unless
// its job (KeyCap) or the dispatch (--artifacts-cap) says otherwise.
const DefaultCap int64 = 1 << 30

// CheckGlob refuses a glob that could match outside the run dir: empty,
// absolute, or holding a ".." part anywhere. Globs follow Python's glob
// (*, ?, [...], and ** for any depth) relative to the run dir.
func CheckGlob(g string) error {
	switch {
	case g == "":
		return fmt.Errorf("artifact glob is empty")
	case strings.HasPrefix(g, "/"), strings.HasPrefix(g, "~"):
		return fmt.Errorf("artifact glob %q is absolute: globs are relative to the run dir", g)
	case strings.ContainsAny(g, "\x00\n\\"):
		return fmt.Errorf("artifact glob %q holds a NUL, newline or backslash", g)
	}
	for _, part := range strings.Split(g, "/") {
		if part == ".." {
			return fmt.Errorf("artifact glob %q leaves the run dir (..): globs are relative to the run dir", g)
		}
	}
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("artifact glob %q: %v", g, err)
	}
	return nil
}

// CheckGlobs checks each glob (CheckGlob).
func CheckGlobs(globs []string) error {
	for _, g := range globs {
		if err := CheckGlob(g); err != nil {
			return err
		}
	}
	return nil
}

// ParseSize reads a byte count: a plain integer, or a number with a unit
// (kB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB: powers of 1024; B).
// It must be above 0.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 || n*mult >= 1<<62 || n != n {
		return 0, fmt.Errorf("size %q: want a number of bytes above 0, e.g. 500MB or 2GiB", s)
	}
	return int64(n * mult), nil
}

// FormatSize writes n bytes for people: 1.5 GB, 20 MB, 512 B.
func FormatSize(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + " GB"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	case n >= 1e3:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " kB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
