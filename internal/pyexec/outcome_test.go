package pyexec

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/run"
)

func TestParseOutcome(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name      string
		res       run.Result
		succeeded bool
		status    *int
		loss      *float64
		metric    *float64
		json      string
		errHas    string
		warnHas   string
	}{
		{
			name:      "seed outcome",
			res:       result(0, `{"status":200,"jobId":"1","loss":15109.168650257,"metric":14281.4453526111}`+"\n"),
			succeeded: true, status: ip(200), loss: fp(15109.168650257), metric: fp(14281.4453526111),
			json: `{"status":200,"jobId":"1","loss":15109.168650257,"metric":14281.4453526111}`,
		},
		{
			name:      "numeric strings",
			res:       result(0, `{"status":"200","loss":"1.5","metric":" 2e3 "}`),
			succeeded: true, status: ip(200), loss: fp(1.5), metric: fp(2000),
			json: `{"status":"200","loss":"1.5","metric":" 2e3 "}`,
		},
		{
			name:      "last JSON object wins over progress lines and trailing noise",
			res:       result(0, "{\"epoch\":1,\"loss\":9}\nwarming up\n{\"status\":200,\"loss\":1}\n\ndone\n"),
			succeeded: true, status: ip(200), loss: fp(1), json: `{"status":200,"loss":1}`,
		},
		{
			name:      "progress lines after the outcome are never the outcome",
			res:       result(0, "{\"step\":1,\"loss\":9}\n{\"status\":200,\"loss\":1}\n{\"step\":2,\"loss\":8}\n{\"step\":\"x\"}\n"),
			succeeded: true, status: ip(200), loss: fp(1), json: `{"status":200,"loss":1}`,
		},
		{
			name:   "only progress lines: no outcome",
			res:    result(0, "{\"step\":1,\"loss\":9}\n{\"step\":2,\"loss\":8}\n"),
			errHas: `no outcome: no stdout line is a JSON object without a "step"`,
		},
		{
			name:      "no status field still succeeds",
			res:       result(0, `{"loss":3}`),
			succeeded: true, loss: fp(3), json: `{"loss":3}`,
			warnHas: `no "status" in the outcome line: counted as succeeded because the script exited 0`,
		},
		{
			name:      "loss not a number is flagged, not silently null",
			res:       result(0, `{"status":200,"loss":"abc","metric":true}`),
			succeeded: true, status: ip(200), json: `{"status":200,"loss":"abc","metric":true}`,
			warnHas: `"loss" is not a number ("abc"): recorded as missing; "metric" is not a number (true): recorded as missing`,
		},
		{
			name:      "loss beyond float64",
			res:       result(0, `{"status":200,"loss":1e400,"metric":null}`),
			succeeded: true, status: ip(200), json: `{"status":200,"loss":1e400,"metric":null}`,
			warnHas: `"loss" is beyond a float64's range (1e400): recorded as missing`,
		},
		{
			name: "status not an integer fails",
			res:  result(0, `{"status":"abc","loss":1}`),
			loss: fp(1), json: `{"status":"abc","loss":1}`,
			errHas: `outcome line: "status" must be an integer such as 200, not "abc"`,
		},
		{
			name:   "status a boolean fails",
			res:    result(0, `{"status":true}`),
			json:   `{"status":true}`,
			errHas: `"status" must be an integer such as 200, not true`,
		},
		{
			name:   "no JSON",
			res:    result(0, "hello\nworld\n"),
			errHas: `no outcome: no stdout line is a JSON object without a "step" (stdout: 12 bytes, last line "world")`,
		},
		{
			name:   "garbage that looks like JSON",
			res:    result(0, "{not json\n[1,2]\n\"s\"\n"),
			errHas: "no outcome",
		},
		{
			name:   "non-zero exit with traceback",
			res:    withStderr(result(1, ""), "Traceback (most recent call last):\nZeroDivisionError: division by zero\n"),
			errHas: "exit status 1: ZeroDivisionError: division by zero",
		},
		{
			name:   "non-zero exit with script error",
			res:    result(2, `{"status":400,"error":"epochs: must be a positive integer"}`),
			status: ip(400), errHas: "exit status 2: epochs: must be a positive integer",
			json: `{"status":400,"error":"epochs: must be a positive integer"}`,
		},
		{
			name:   "killed by signal",
			res:    result(137, ""),
			errHas: "exit status 137 (killed by signal 9)",
		},
		{
			name:   "status 500 with exit 0",
			res:    result(0, `{"status":500,"error":"boom"}`),
			status: ip(500), errHas: "script reported status 500: boom", json: `{"status":500,"error":"boom"}`,
		},
		{
			name:      "python NaN and Infinity",
			res:       result(0, `{"status":200,"loss":NaN,"metric":-Infinity,"note":"NaN stays"}`),
			succeeded: true, status: ip(200), loss: fp(math.NaN()), metric: fp(math.Inf(-1)),
			json: `{"status":200,"loss":"NaN","metric":"-Infinity","note":"NaN stays"}`,
		},
		{
			name:   "lost run",
			res:    run.Result{Lost: true, ExitCode: -1},
			errHas: "without an exit code",
		},
		{
			name: "truncated tail drops the partial first line",
			res: run.Result{Stdout: []byte(`"loss":1}` + "\nnoise\n"), StdoutSize: 1 << 20,
				Started: run.Started{At: t0}, FinishedAt: t0},
			errHas: "no outcome",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ParseOutcome(tt.res)
			if o.Succeeded != tt.succeeded {
				t.Errorf("Succeeded = %v, want %v (error %q)", o.Succeeded, tt.succeeded, o.Error)
			}
			if !eqInt(o.Status, tt.status) {
				t.Errorf("Status = %v, want %v", deref(o.Status), deref(tt.status))
			}
			if !eqFloat(o.Loss, tt.loss) || !eqFloat(o.Metric, tt.metric) {
				t.Errorf("loss, metric = %v, %v; want %v, %v", deref(o.Loss), deref(o.Metric), deref(tt.loss), deref(tt.metric))
			}
			if string(o.JSON) != tt.json {
				t.Errorf("JSON = %s, want %s", o.JSON, tt.json)
			}
			if o.JSON != nil && !json.Valid(o.JSON) {
				t.Errorf("JSON %s is not valid JSON", o.JSON)
			}
			if tt.errHas == "" && o.Error != "" {
				t.Errorf("Error = %q, want none", o.Error)
			}
			if tt.errHas != "" && !strings.Contains(o.Error, tt.errHas) {
				t.Errorf("Error = %q, want it to contain %q", o.Error, tt.errHas)
			}
			if tt.warnHas == "" && o.Warning != "" {
				t.Errorf("Warning = %q, want none", o.Warning)
			}
			if !strings.Contains(o.Warning, tt.warnHas) {
				t.Errorf("Warning = %q, want it to contain %q", o.Warning, tt.warnHas)
			}
			if o.Succeeded != (o.Error == "") {
				t.Errorf("Succeeded %v with Error %q", o.Succeeded, o.Error)
			}
		})
	}
}

func TestParseOutcomeKeepsTails(t *testing.T) {
	big := strings.Repeat("x", KeepTail+100) + "\n{\"loss\":1}\n"
	o := ParseOutcome(result(0, big))
	if len(o.StdoutTail) != KeepTail || !strings.HasSuffix(o.StdoutTail, "{\"loss\":1}\n") {
		t.Fatalf("stdout tail: %d bytes ending %q", len(o.StdoutTail), o.StdoutTail[len(o.StdoutTail)-12:])
	}
	if o.ExitCode == nil || *o.ExitCode != 0 {
		t.Fatalf("ExitCode = %v", o.ExitCode)
	}
	if o.Duration != 1500*time.Millisecond {
		t.Fatalf("Duration = %v", o.Duration)
	}
}

func TestStrictJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{"a":NaN}`, `{"a":"NaN"}`},
		{`{"a":[Infinity,-Infinity]}`, `{"a":["Infinity","-Infinity"]}`},
		{`{"s":"NaN \" Infinity"}`, `{"s":"NaN \" Infinity"}`},
		{`{"s":"\\","b":NaN}`, `{"s":"\\","b":"NaN"}`},
	}
	for _, tt := range tests {
		if got := string(StrictJSON([]byte(tt.in))); got != tt.want {
			t.Errorf("StrictJSON(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func result(code int, stdout string) run.Result {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return run.Result{
		Started:    run.Started{At: t0},
		FinishedAt: t0.Add(1500 * time.Millisecond),
		ExitCode:   code, Stdout: []byte(stdout), StdoutSize: int64(len(stdout)),
	}
}

func withStderr(r run.Result, s string) run.Result {
	r.Stderr, r.StderrSize = []byte(s), int64(len(s))
	return r
}

func ip(n int) *int         { return &n }
func fp(f float64) *float64 { return &f }
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func eqInt(a, b *int) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func eqFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b || (math.IsNaN(*a) && math.IsNaN(*b))
}
