package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mljob/mljob/internal/artifacts"
	"github.com/mljob/mljob/internal/db"
	"github.com/mljob/mljob/internal/objective"
	"github.com/mljob/mljob/internal/testutil"
)

// linkRun is one seeded run of the artifacts page: its score, the code its
// job was submitted with, and the files it brought home (path → content).
type linkRun struct {
	score float64
	code  *db.Code
	files map[string]string
}

// mustSeedLinks submits, runs and records runs as jobs of searchProject,
// each attempt with a run dir; it writes each run's files under
// artifactsDir where dispatch brings them, and records them as home. It
// returns the jobs' ids.
func mustSeedLinks(t *testing.T, store *db.DB, artifactsDir string, runs []linkRun) []int64 {
	t.Helper()
	ctx := context.Background()
	obj, err := objective.Parse("score:min")
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]db.NewJob, len(runs))
	for i, r := range runs {
		spec, _ := json.Marshal(map[string]any{"projectName": searchProject, "scriptName": "train.py", "lr": i})
		jobs[i] = db.NewJob{Project: searchProject, Script: "train.py", Spec: spec, Objective: obj, Code: r.code}
	}
	if _, err := store.SubmitJobs(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		c, err := store.ClaimOrder(ctx, "worker", "0", "test-dispatcher")
		if err != nil || c == nil {
			t.Fatalf("claim %d: %v, %v", i, c, err)
		}
		ids[i] = c.Job.ID
		if err := store.MarkRunning(ctx, c.Order.ID, c.Order.Attempt, fmt.Sprintf("/w/runs/%d", c.Job.ID), 100+i); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf(`{"status": 200, "score": %g}`, r.score)
		if _, err := store.RecordOutcome(ctx, db.Outcome{OrderID: c.Order.ID, Attempt: c.Order.Attempt, Host: "worker",
			Succeeded: true, DurationSeconds: 1, JSON: []byte(line)}); err != nil {
			t.Fatal(err)
		}
		home := artifacts.Home(artifactsDir, c.Job.ID, c.Order.Attempt)
		var listing []db.ArtifactFile
		var total int64
		for p, content := range r.files {
			dest := filepath.Join(home, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dest, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			sum, err := artifacts.HashFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			listing = append(listing, db.ArtifactFile{Path: p, Size: int64(len(content)), SHA256: sum})
			total += int64(len(content))
		}
		if err := store.SaveListing(ctx, c.Order.ID, c.Order.Attempt, listing, total, 1<<30, false, ""); err != nil {
			t.Fatal(err)
		}
		for _, f := range listing {
			if err := store.ArtifactHome(ctx, c.Order.ID, c.Order.Attempt, f.Path); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ids
}

// linkState is a link of the page: its href as written, and the URL the
// browser resolved it to.
type linkState struct {
	Href     string `json:"href"`
	Resolved string `json:"resolved"`
	Text     string `json:"text"`
	Table    string `json:"table"`
}

const linksJS = `Array.from(document.querySelectorAll('a.artifact')).map(function (a) {
  return {href: a.getAttribute('href'), resolved: a.href, text: a.textContent, table: a.closest('table').id};
})`

// TestArtifactLinksInBrowser opens a report whose page lies in another
// directory than the data dir: each artifact link is relative, and the
// browser resolves it to the very file the run brought home; the top
// table names each job's code (short commit, * when dirty).
func TestArtifactLinksInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	artDir := filepath.Join(dir, "data", "artifacts")
	pageDir := filepath.Join(dir, "reports")
	if err := os.MkdirAll(pageDir, 0o755); err != nil {
		t.Fatal(err)
	}
	clean := &db.Code{Repo: db.RepoGit, Commit: "0123456789abcdef0123456789abcdef01234567"}
	dirty := &db.Code{Repo: db.RepoGit, Commit: "fedcba9876543210fedcba9876543210fedcba98", Dirty: true, Diff: []byte("-a\n+b\n"), DiffSize: 6}
	runs := []linkRun{
		{score: 3, code: clean, files: map[string]string{"model.pt": "weights of the third"}},
		{score: 1, code: dirty, files: map[string]string{"model.pt": "weights of the best", "plots/loss curve #1.png": "a plot"}},
		{score: 2, code: &db.Code{Repo: db.RepoNone}},
	}
	store := testutil.MustOpenDB(t)
	ids := mustSeedLinks(t, store, artDir, runs)

	rows, err := store.Outcomes(ctx, db.OutcomeFilter{Project: searchProject})
	if err != nil {
		t.Fatal(err)
	}
	home := func(job int64, attempt int) string { return artifacts.Home(artDir, job, attempt) }
	arts, err := ReadArtifacts(ctx, store, rows, home, pageDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(rows, Options{Project: searchProject, Now: reportTime, Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ReadCode(ctx, store); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(pageDir, "page.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, ctx, chromium, dir)
	st := b.open(t, page)
	links := evaluate[[]linkState](t, b, linksJS)
	if e := b.errs.all(); len(e) > 0 {
		t.Errorf("the page reported %d error(s):\n%s", len(e), strings.Join(e, "\n"))
	}

	// Three files: each in the top table and in the artifacts table.
	if len(links) != 6 {
		t.Fatalf("page has %d artifact links, want 6: %+v", len(links), links)
	}
	want := map[string]string{}
	for i, r := range runs {
		for p, content := range r.files {
			want[fmt.Sprintf("%d/%s", ids[i], p)] = content
		}
	}
	for _, l := range links {
		u, err := url.Parse(l.Href)
		if err != nil || u.IsAbs() || strings.HasPrefix(l.Href, "/") {
			t.Errorf("link %q (%s) is not relative", l.Href, l.Text)
			continue
		}
		res, err := url.Parse(l.Resolved)
		if err != nil || res.Scheme != "file" {
			t.Errorf("link %q resolved to %q, want a file: URL", l.Href, l.Resolved)
			continue
		}
		got, err := os.ReadFile(filepath.FromSlash(res.Path))
		if err != nil {
			t.Errorf("link %q resolves to %s: %v", l.Href, res.Path, err)
			continue
		}
		rel, _ := filepath.Rel(artDir, filepath.FromSlash(res.Path))
		// artifacts/<job>/<attempt>/<path>: attempt 1 for every run.
		parts := strings.SplitN(filepath.ToSlash(rel), "/", 3)
		if len(parts) != 3 || parts[1] != "1" || parts[2] != l.Text {
			t.Errorf("link %q (%s) resolves to %s, not under the artifacts dir as job/1/%s", l.Href, l.Text, rel, l.Text)
			continue
		}
		if w, ok := want[parts[0]+"/"+parts[2]]; !ok || string(got) != w {
			t.Errorf("link %q resolves to a file holding %q, want %q", l.Href, got, w)
		}
	}

	// The top table: ranked by score, with the code column last but one.
	if len(st.tables) != 1 || len(st.tables[0].Rows) != 3 {
		t.Fatalf("top tables %+v, want one of 3 rows", st.tables)
	}
	wantCode := []string{"fedcba9*", "not a git repo", "0123456"}
	wantJobs := []int64{ids[1], ids[2], ids[0]}
	for k, row := range st.tables[0].Rows {
		n := len(row)
		if row[1] != fmt.Sprint(wantJobs[k]) || row[n-2] != wantCode[k] {
			t.Errorf("top row %d = %q, want job %d with code %q", k, row, wantJobs[k], wantCode[k])
		}
	}
	if got := st.tables[0].Rows[1][len(st.tables[0].Rows[1])-1]; got != "—" {
		t.Errorf("the run without artifacts shows %q in its artifacts cell, want —", got)
	}
}
