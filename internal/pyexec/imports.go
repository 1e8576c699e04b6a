package pyexec

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Import is a top-level module the scripts import and the scripts that
// import it. The one model of a script's imports: the sibling modules a
// run ships (Spec), the modules a host must have before a script runs there
// (the dispatcher's check) and those `mljob hosts check` looks for all come
// from parseImports.
type Import struct {
	Module  string   `json:"module"`
	Scripts []string `json:"scripts"` // file names, sorted
}

// fallbackStdlib is used to leave out standard modules before asking a host;
// the host's own sys.stdlib_module_names (Python 3.10+) then drops the rest.
// A small list on purpose: a missing entry only costs a find_spec call.
var fallbackStdlib = map[string]bool{
	"__future__": true, "abc": true, "argparse": true, "array": true, "ast": true, "asyncio": true,
	"base64": true, "bisect": true, "builtins": true, "collections": true, "contextlib": true,
	"copy": true, "csv": true, "dataclasses": true, "datetime": true, "decimal": true, "enum": true,
	"errno": true, "functools": true, "gc": true, "glob": true, "gzip": true, "hashlib": true,
	"heapq": true, "io": true, "itertools": true, "json": true, "logging": true, "math": true,
	"multiprocessing": true, "numbers": true, "operator": true, "os": true, "pathlib": true,
	"pickle": true, "platform": true, "queue": true, "random": true, "re": true, "shutil": true,
	"signal": true, "socket": true, "statistics": true, "string": true, "struct": true,
	"subprocess": true, "sys": true, "tempfile": true, "threading": true, "time": true,
	"traceback": true, "types": true, "typing": true, "unittest": true, "urllib": true,
	"uuid": true, "warnings": true, "zipfile": true, "zlib": true,
}

// ScriptImports returns the top-level modules the .py files directly in dir
// import at module level; see Imports.
func ScriptImports(dir string) ([]Import, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("script imports: %w", err)
	}
	var scripts []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".py") {
			scripts = append(scripts, e.Name())
		}
	}
	return Imports(dir, scripts)
}

// Imports returns the top-level modules the named .py files of dir import
// at module level ("import a.b, c" gives a and c; "from d.e import f"
// gives d), minus relative imports, well-known standard modules and the
// modules shipped beside the scripts (the .py files and packages in dir).
// Imports indented under a try, an if or a def are left out: they are
// optional or lazy, and a check must not fail a host over them.
func Imports(dir string, scripts []string) ([]Import, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("script imports: %w", err)
	}
	siblings := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			siblings[name] = true
		case strings.HasSuffix(name, ".py"):
			siblings[strings.TrimSuffix(name, ".py")] = true
		}
	}
	byModule := map[string][]string{}
	for _, s := range scripts {
		data, err := os.ReadFile(filepath.Join(dir, s))
		if err != nil {
			return nil, fmt.Errorf("script imports: %w", err)
		}
		for _, im := range parseImports(data) {
			m := im.module
			if im.nested || siblings[m] || fallbackStdlib[m] {
				continue
			}
			if !slices.Contains(byModule[m], s) {
				byModule[m] = append(byModule[m], s)
			}
		}
	}
	out := make([]Import, 0, len(byModule))
	for m, ss := range byModule {
		sort.Strings(ss)
		out = append(out, Import{Module: m, Scripts: ss})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Module < out[j].Module })
	return out, nil
}

// pyImport is one module an import statement names.
type pyImport struct {
	module string // top-level name
	nested bool   // indented: under a try, an if, a def or a class
}

// parseImports returns the top-level module names of the import statements
// in a Python source, in order, with repeats, each marked nested when it is
// indented. It is a line scanner, not a parser: it skips triple-quoted
// strings (a docstring showing "import x" is not an import) and joins
// backslash continuations.
func parseImports(src []byte) []pyImport {
	var out []pyImport
	var inString string // the open triple quote, or ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var cont string // a statement continued with a backslash
	for sc.Scan() {
		line := sc.Text()
		if inString != "" {
			if strings.Contains(line, inString) {
				// Whatever follows the close on this line is rare enough to ignore.
				inString = ""
			}
			continue
		}
		if cont != "" {
			line = cont + " " + strings.TrimSpace(line)
			cont = ""
		}
		if strings.HasSuffix(line, "\\") {
			cont = strings.TrimSuffix(line, "\\")
			continue
		}
		if q := openTripleQuote(line); q != "" {
			inString = q
			continue
		}
		stmt := strings.TrimLeft(line, " \t")
		nested := len(stmt) < len(line)
		if strings.HasPrefix(stmt, "import ") {
			stmt, _, _ := strings.Cut(strings.TrimPrefix(stmt, "import "), "#")
			stmt, _, _ = strings.Cut(stmt, ";")
			for _, part := range strings.Split(stmt, ",") {
				fields := strings.Fields(part)
				if len(fields) > 0 && validModule(fields[0]) {
					out = append(out, pyImport{topLevel(fields[0]), nested})
				}
			}
		} else if strings.HasPrefix(stmt, "from ") {
			fields := strings.Fields(stmt)
			if len(fields) >= 3 && fields[2] == "import" && !strings.HasPrefix(fields[1], ".") && validModule(fields[1]) {
				out = append(out, pyImport{topLevel(fields[1]), nested})
			}
		}
	}
	return out
}

// openTripleQuote returns the triple quote a line opens and leaves open.
func openTripleQuote(line string) string {
	for _, q := range []string{`"""`, `'''`} {
		if strings.Count(line, q)%2 == 1 {
			return q
		}
	}
	return ""
}

func topLevel(dotted string) string {
	name, _, _ := strings.Cut(dotted, ".")
	return name
}

// validModule reports whether s is a dotted Python name: "import (" or a
// line of prose inside a bracket is not one.
func validModule(s string) bool {
	return moduleName.MatchString(s)
}

var moduleName = regexp.MustCompile(`^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$`)
