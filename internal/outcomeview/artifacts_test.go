package outcomeview

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/db"
)

// TestJobArtifacts: show lists each attempt's artifacts (path, size,
// state) in text, JSON and CSV; an attempt that owes none adds nothing to
// the text or the CSV.
func TestJobArtifacts(t *testing.T) {
	h := &db.JobHistory{
		Job:    db.Job{ID: 4, Project: "p", Spec: []byte(`{}`)},
		Orders: []db.Order{{ID: 3, Attempt: 3}},
		Attempts: [][]db.Attempt{{
			{Attempt: 1, State: db.StateSucceeded},
			{Attempt: 2, State: db.StateSucceeded},
			{Attempt: 3, State: db.StateSucceeded},
		}},
		Artifacts: []db.AttemptFetch{
			{Fetch: db.Fetch{OrderID: 3, Attempt: 1, State: db.FetchListed}, Files: []db.ArtifactFile{
				{Path: "model.pt", Size: 2_500_000, SHA256: "aa", Done: true},
				{Path: "plots/loss.png", Size: 1000, SHA256: "bb"},
			}},
			{Fetch: db.Fetch{OrderID: 3, Attempt: 2, State: db.FetchOverCap, Error: "over the cap of 10 bytes"}, Files: []db.ArtifactFile{
				{Path: "big.pt", Size: 20},
			}},
			{Fetch: db.Fetch{OrderID: 3, Attempt: 3, State: db.FetchDone}},
		},
	}
	j, err := NewJob(h)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		format string
		want   []string
		not    []string
	}{
		{FormatTable, []string{"Artifacts of order 3 attempt 1 (listed):", "model.pt", "2.5 MB", "home", "plots/loss.png", "pending",
			"Artifacts of order 3 attempt 2 (over_cap):", "over the cap of 10 bytes", "big.pt", "over-cap"},
			[]string{"attempt 3 ("}},
		{FormatCSV, []string{",artifacts\n", "model.pt 2500000 home; plots/loss.png 1000 pending", "big.pt 20 over-cap"}, nil},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := j.Write(&b, tt.format); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", tt.format, w, b.String())
			}
		}
		for _, w := range tt.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: %q in\n%s", tt.format, w, b.String())
			}
		}
	}
	var b bytes.Buffer
	if err := j.Write(&b, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Attempts []struct {
			Attempt   int               `json:"attempt"`
			Artifacts *AttemptArtifacts `json:"artifacts"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Attempts) != 3 || got.Attempts[0].Artifacts == nil || len(got.Attempts[0].Artifacts.Files) != 2 {
		t.Fatalf("JSON attempts %+v", got.Attempts)
	}
	if f := got.Attempts[0].Artifacts.Files[0]; f != (Artifact{Path: "model.pt", Size: 2_500_000, SHA256: "aa", State: "home"}) {
		t.Errorf("JSON first artifact %+v", f)
	}
	if a := got.Attempts[2].Artifacts; a == nil || a.State != "done" || len(a.Files) != 0 {
		t.Errorf("JSON of the attempt with none: %+v", a)
	}

	// A job without artifacts: its CSV has no artifacts column.
	j2, err := NewJob(&db.JobHistory{Job: db.Job{ID: 5, Spec: []byte(`{}`)}, Orders: []db.Order{{ID: 1}}, Attempts: [][]db.Attempt{{{Attempt: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := j2.Write(&b, FormatCSV); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "artifacts") {
		t.Errorf("CSV of a job without artifacts has the column:\n%s", b.String())
	}
}
