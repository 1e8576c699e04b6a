package complete

import (
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/db"
)

func TestProjects(t *testing.T) {
	projects := []string{"mnist", "wine_data", "wine_red"}
	tests := []struct {
		prefix string
		want   []string
	}{
		{prefix: "", want: projects},
		{prefix: "wine", want: []string{"wine_data", "wine_red"}},
		{prefix: "x", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			if got := Projects(projects, tt.prefix); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSweeps(t *testing.T) {
	sweeps := []db.Sweep{
		{ID: 1, Name: "lr", Project: "mnist", Jobs: 12},
		{ID: 2, Name: "lr-fine", Project: "wine", Jobs: 3},
		{ID: 3, Name: "depth", Project: "wine", Jobs: 4},
	}
	tests := []struct {
		name, project, prefix string
		want                  []string
	}{
		{name: "all", want: []string{"lr\tsweep 1, project mnist, 12 job(s)", "lr-fine\tsweep 2, project wine, 3 job(s)", "depth\tsweep 3, project wine, 4 job(s)"}},
		{name: "by prefix", prefix: "lr", want: []string{"lr\tsweep 1, project mnist, 12 job(s)", "lr-fine\tsweep 2, project wine, 3 job(s)"}},
		{name: "of --project", project: "wine", prefix: "lr", want: []string{"lr-fine\tsweep 2, project wine, 3 job(s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sweeps(sweeps, tt.project, tt.prefix); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	jobs := []db.JobSummary{
		{JobID: 12, OrderID: 30, Project: "p", Script: "nn.py", State: db.StateRunning},
		{JobID: 3, OrderID: 13, Project: "p", Script: "echo.py", State: db.StateFailed},
	}
	tests := []struct {
		name   string
		orders bool
		prefix string
		want   []string
	}{
		{name: "job ids", want: []string{"12\torder 30, p nn.py, running", "3\torder 13, p echo.py, failed"}},
		{name: "job ids by prefix", prefix: "1", want: []string{"12\torder 30, p nn.py, running"}},
		{name: "order ids by prefix", orders: true, prefix: "1", want: []string{"13\tjob 3, p echo.py, failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IDs(jobs, tt.orders, tt.prefix); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
