package hostsview

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/hostcheck"
	"github.com/mljob/mljob/internal/pyexec"
	"github.com/mljob/mljob/internal/render"
)

func ptr[T any](v T) *T { return &v }

// TestCheckCells checks each cell of a check row, from the report's
// fields.
func TestCheckCells(t *testing.T) {
	gpuHost := hostcheck.Report{
		Host: "gpu1", Kind: "ssh", Verdict: hostcheck.OK, Auth: hostcheck.AuthIdentityFile, HostKey: "ok",
		PythonVersion: "3.11.2", PythonPath: "/usr/bin/python3",
		Imports: map[string]bool{"torch": true, "numpy": true}, Modules: map[string]pyexec.Module{"torch": {Found: true, Version: "2.1.0"}},
		CUDA: &pyexec.CUDA{Available: true, Devices: 3},
		GPUs: []hostcheck.GPU{{Name: "A100"}, {Name: "T4"}, {Name: "A100"}},
		Load: ptr(0.5), CPUs: 16, Free: ptr(uint64(2) << 30), Exists: true,
	}
	tests := []struct {
		name string
		r    hostcheck.Report
		want []string
	}{
		{
			name: "a GPU host",
			r:    gpuHost,
			want: []string{"gpu1", "ok", "key", "ok", "3.11.2 /usr/bin/python3", "numpy, torch 2.1.0", "2x A100, 1x T4 · torch: CUDA 3", "0.50/16", hostcheck.Bytes(2<<30) + " free"},
		},
		{
			name: "down: nothing known",
			r:    hostcheck.Report{Host: "down", Verdict: hostcheck.Fail},
			want: []string{"down", "FAIL", "-", "-", "-", "-", "-", "-", "-"},
		},
		{
			name: "missing modules, no GPUs, torch without CUDA, workdir to make",
			r: hostcheck.Report{Host: "cpu", Verdict: hostcheck.Fail, Auth: hostcheck.AuthAgent, HostKey: "ok", PythonVersion: "3.9.2", PythonPath: "/p",
				Imports: map[string]bool{"torch": false, "sklearn": false, "numpy": true}, CUDA: &pyexec.CUDA{},
				Load: ptr(1.0), Free: ptr(uint64(1) << 20)},
			want: []string{"cpu", "FAIL", "agent", "ok", "3.9.2 /p", "missing sklearn,torch", "none · torch: no CUDA", "1.00", hostcheck.Bytes(1<<20) + " free (workdir missing, will be created)"},
		},
		{
			name: "behind a gateway that failed",
			r:    hostcheck.Report{Host: "gpu2", Verdict: hostcheck.Fail, Route: "via bastion", FailedHop: "bastion"},
			want: []string{"gpu2 via bastion", "FAIL", "-", "-", "-", "-", "-", "-", "-"},
		},
		{
			name: "no third-party imports",
			r:    hostcheck.Report{Host: "h", Verdict: hostcheck.OK, PythonVersion: "3.12.0", PythonPath: "/p"},
			want: []string{"h", "ok", "-", "-", "3.12.0 /p", "ok (0)", "none", "-", "-"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := CheckTable([]hostcheck.Report{tt.r})
			if len(tbl.Headers) != 9 || len(tbl.Rows) != 1 {
				t.Fatalf("headers %q, %d rows", tbl.Headers, len(tbl.Rows))
			}
			if !slices.Equal(tbl.Rows[0], tt.want) {
				t.Errorf("row\n%q\nwant\n%q", tbl.Rows[0], tt.want)
			}
		})
	}
}

// TestSlurmCell checks the SLURM column: there only when a report has a
// Slurm object, summing up what the login node says.
func TestSlurmCell(t *testing.T) {
	tests := []struct {
		name string
		s    *hostcheck.SlurmReport
		want string
	}{
		{name: "not a slurm entry", want: "-"},
		{name: "no sbatch", s: &hostcheck.SlurmReport{}, want: "no sbatch"},
		{name: "no controller", s: &hostcheck.SlurmReport{Sbatch: "/usr/bin/sbatch", Version: "22.05.8"}, want: "22.05.8, no controller"},
		{name: "default partition, no sacct", s: &hostcheck.SlurmReport{Sbatch: "s", Version: "22.05.8", Controller: true, DefaultPartition: "debug"}, want: "22.05.8, partition debug (default), no sacct"},
		{name: "named partition, sacct", s: &hostcheck.SlurmReport{Sbatch: "s", Controller: true, Partition: "gpu", DefaultPartition: "debug", Accounting: true}, want: "-, partition gpu, sacct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slurm := hostcheck.Report{Host: "campus", Kind: "slurm", PythonVersion: "3.11.2", GPUs: []hostcheck.GPU{{Name: "A100"}}, Slurm: tt.s}
			tbl := CheckTable([]hostcheck.Report{{Host: "plain"}, slurm})
			if (tt.s != nil) != (tbl.Headers[len(tbl.Headers)-1] == "SLURM") {
				t.Fatalf("headers %q", tbl.Headers)
			}
			if tt.s == nil {
				return
			}
			if got := tbl.Rows[1][len(tbl.Headers)-1]; got != tt.want {
				t.Errorf("cell %q, want %q", got, tt.want)
			}
			if plain := tbl.Rows[0][len(tbl.Headers)-1]; plain != "-" {
				t.Errorf("the plain host's SLURM cell %q, want -", plain)
			}
			if gpus := tbl.Rows[1][6]; gpus != "-" {
				t.Errorf("a slurm entry's GPUS %q, want - (its login node's GPUs are not where runs go)", gpus)
			}
		})
	}
}

func TestWriteCheck(t *testing.T) {
	reports := []hostcheck.Report{
		{Host: "ok1", Verdict: hostcheck.OK},
		{Host: "bad", Verdict: hostcheck.Fail, Problems: []hostcheck.Problem{
			{Severity: hostcheck.Fail, Problem: "unreachable", Fix: "start sshd"},
			{Severity: hostcheck.Warn, Problem: "low disk", Fix: "free some"},
		}},
	}
	tests := []struct {
		format string
		want   string
	}{
		{format: render.FormatTable, want: " HOST  VERDICT  AUTH  KEY  PYTHON  IMPORTS  GPUS  LOAD  DISK \n" +
			" ok1   ok       -     -    -       -        -     -     -    \n" +
			" bad   FAIL     -     -    -       -        -     -     -    \n" +
			"\nbad: unreachable — start sshd\nbad: low disk — free some\n"},
		{format: render.FormatCSV, want: "host,verdict,auth,hostKey,python,imports,gpus,load,disk\nok1,ok,-,-,-,-,-,-,-\nbad,FAIL,-,-,-,-,-,-,-\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteCheck(&out, tt.format, reports); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", out.String(), tt.want)
			}
		})
	}
	t.Run(render.FormatJSON, func(t *testing.T) {
		var out bytes.Buffer
		if err := WriteCheck(&out, render.FormatJSON, reports); err != nil {
			t.Fatal(err)
		}
		var back []hostcheck.Report
		if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back) != 2 || back[1].Problems[1].Fix != "free some" {
			t.Errorf("JSON does not hold the reports: %v\n%s", err, out.String())
		}
	})
}

func TestRows(t *testing.T) {
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	recs := []db.HostRecord{
		{Name: "zeta", Status: "down", Since: seen, SeenAt: seen, Load: ptr(0.25), LastError: "dial: refused"},
		{Name: "alpha", Status: "up"},
	}
	runs := []db.HostRuns{
		{Host: "alpha", Runs: 5, Succeeded: 3, Failed: 1, Active: 1, Timed: 4, MeanRun: 1500 * time.Millisecond},
		{Host: "gone", Runs: 2, Succeeded: 2}, // attempts, no record: an older queue
	}
	rows := Rows(recs, runs)
	var hosts []string
	for _, r := range rows {
		hosts = append(hosts, r.Host)
	}
	if want := []string{"alpha", "gone", "zeta"}; !slices.Equal(hosts, want) {
		t.Fatalf("hosts %q, want %q", hosts, want)
	}
	if a := rows[0]; a.Runs != 5 || a.Done != 3 || a.Failed != 1 || a.Active != 1 || a.MeanRunSeconds == nil || *a.MeanRunSeconds != 1.5 || a.Since != nil {
		t.Errorf("alpha %+v", a)
	}
	if g := rows[1]; g.Status != "" || g.Done != 2 || g.MeanRunSeconds != nil {
		t.Errorf("gone %+v", g)
	}
	if z := rows[2]; z.Runs != 0 || z.Since == nil || !z.Since.Equal(seen) {
		t.Errorf("zeta %+v", z)
	}
	if got := Rows(nil, nil); got == nil {
		t.Error("Rows(nil, nil) is nil; -o json prints [] for no hosts")
	}

	csv := ListTable(rows, render.FormatCSV).Rows
	if want := []string{"alpha", "up", "-", "-", "-", "5", "3", "1", "1", "1.5", "-"}; !slices.Equal(csv[0], want) {
		t.Errorf("CSV row %q, want %q", csv[0], want)
	}
	if want := []string{"zeta", "down", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z", "0.25", "0", "0", "0", "0", "-", "dial: refused"}; !slices.Equal(csv[2], want) {
		t.Errorf("CSV row %q, want %q", csv[2], want)
	}
	table := ListTable(rows, render.FormatTable).Rows
	if table[0][9] != "1.5s" || table[1][1] != "-" || !strings.HasPrefix(table[2][2], seen.Local().Format("2006-01-02")) {
		t.Errorf("table rows %q", table)
	}
}

// TestWriteCheckLeases: with a lock dir the table has a LEASES column, and
// each held lease and waiting dispatcher gets a line below it.
func TestWriteCheckLeases(t *testing.T) {
	reports := []hostcheck.Report{
		{Host: "gpu1", Verdict: hostcheck.OK, LockDir: &hostcheck.LockDir{Path: "/var/tmp/mljob-locks", Exists: true, Writable: true,
			Leases: []hostcheck.Lease{
				{Name: "gpu-0", Held: true, Holder: `{"user":"alice","laptop":"lap1","job":12,"start":"2026-01-02T03:04:05Z"}`},
				{Name: "gpu-1"},
			},
			Waiting: []hostcheck.Ticket{{Name: "wait.ab", Since: 1767323045}}}},
		{Host: "gpu2", Verdict: hostcheck.OK, LockDir: &hostcheck.LockDir{Path: "/x", Writable: true}},
		{Host: "cpu", Verdict: hostcheck.OK},
	}
	var out bytes.Buffer
	if err := WriteCheck(&out, render.FormatTable, reports); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		" LEASES ",
		" 1/2 held, 1 waiting ",
		" not made yet ",
		"\ngpu1: lease gpu-0 held by alice@lap1 job 12 since 2026-01-02T03:04:05Z\n",
		"\ngpu1: a dispatcher waits for a lease since 2026-01-02T03:04:05Z (wait.ab)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "gpu-1") {
		t.Errorf("a free lease is listed:\n%s", out.String())
	}
}
