package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mljob/mljob/internal/objective"
)

// echartsJS is the vendored Apache ECharts build (see assets/README.md).
//
//go:embed assets/echarts.min.js
var echartsJS string

// EChartsVersion is the version of the vendored ECharts build.
const EChartsVersion = "5.6.0"

//go:embed report.js
var reportJS string

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"sortLabel": sortLabel,
	"plural":    plural,
	"num":       func(f float64) string { return floatValue(f).Text },
	"inc":       func(i int) int { return i + 1 },
	"optNum": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return floatValue(*f).Text
	},
	"nums": func(fs []float64) string {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = floatValue(f).Text
		}
		return strings.Join(out, " ")
	},
	"pct":       func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + " %" },
	"fixed":     func(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) },
	"hasSuffix": strings.HasSuffix,
	"bytes":     byteSize,
}).Parse(pageTemplate))

// scriptClose is what must never appear inside an inlined script: the HTML
// parser ends a <script> element at the first "</script", whatever JS
// thinks of it.
const scriptClose = "</script"

// WriteFile writes the page to path through a temporary file beside it,
// renamed into place, so that an interrupted report never leaves a
// half-written page where the last good one was.
func (r *Report) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := r.Write(tmp); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a report is for sharing, like any
	// file the user's umask governs.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Write renders r as one self-contained HTML page to w.
func (r *Report) Write(w io.Writer) error {
	// json.Marshal escapes <, > and & as \u003c…, so no job field can end
	// the data block; the template then inserts it verbatim.
	data, err := json.Marshal(r.Chart)
	if err != nil {
		return fmt.Errorf("write report: encode chart data: %w", err)
	}
	for _, s := range []string{echartsJS, reportJS} {
		if strings.Contains(strings.ToLower(s), scriptClose) {
			return fmt.Errorf("write report: an inlined script contains %q", scriptClose)
		}
	}
	var buf bytes.Buffer
	err = page.Execute(&buf, struct {
		*Report
		EChartsVersion string
		ECharts        template.JS
		Script         template.JS
		Data           template.JS
	}{r, EChartsVersion, template.JS(echartsJS), template.JS(reportJS), template.JS(data)})
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// sortLabel says in words how a top table of objective o is sorted.
func sortLabel(key string, o objective.Objective) string {
	field, desc := strings.CutPrefix(key, "-")
	switch {
	case field == "objective" && desc:
		return o.Name + ", worst first"
	case field == "objective":
		return o.Name + ", best first"
	case desc:
		return field + ", highest first"
	}
	return field + ", lowest first"
}

// plural is "1 run" or "3 runs".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// byteSize is a file size in bytes, or KiB, MiB or GiB to one decimal.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 2 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + []string{"KiB", "MiB", "GiB"}[i]
}
