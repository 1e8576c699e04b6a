package db

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestProjects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		submit []string // one job per entry, in this project
		want   []string
	}{
		{"empty queue", nil, nil},
		{"one project", []string{"wine", "wine"}, []string{"wine"}},
		{"sorted and distinct", []string{"wine", "Iris", "boston", "wine", "iris"}, []string{"Iris", "boston", "iris", "wine"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := MustOpenDB(t)
			for _, p := range tt.submit {
				mustSubmit(t, db, p, 0)
			}
			got, err := db.Projects(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Projects = %q, want %q", got, tt.want)
			}
			for _, p := range append(tt.want, "nope", "WINE", "") {
				has, err := db.HasProject(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if want := slices.Contains(tt.want, p); has != want {
					t.Errorf("HasProject(%q) = %v, want %v", p, has, want)
				}
			}
		})
	}
}

// A project whose jobs were all cancelled is still known: it has jobs.
func TestProjectsKeepsFinishedProjects(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustSubmit(t, db, "old", 0)
	if _, err := db.CancelOrders(ctx, Selection{Project: "old"}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Projects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"old"}) {
		t.Errorf("Projects = %q, want [old]", got)
	}
}

// TestCheckProject: only a project no job is in is an error, and it lists
// the known ones.
func TestCheckProject(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	mustSubmit(t, db, "p", 0)
	for _, p := range []string{"", "p"} {
		if err := db.CheckProject(ctx, p); err != nil {
			t.Errorf("CheckProject(%q) = %v, want nil", p, err)
		}
	}
	var e *UnknownProjectError
	if err := db.CheckProject(ctx, "q"); !errors.As(err, &e) || e.Project != "q" || !slices.Equal(e.Known, []string{"p"}) {
		t.Errorf("CheckProject(q) = %#v, want an *UnknownProjectError knowing p", err)
	}
}
