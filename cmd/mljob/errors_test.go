package main

import (
	"errors"
	"testing"
)

func TestUnknownProjectError(t *testing.T) {
	tests := []struct {
		name     string
		project  string
		known    []string
		wantMsg  string
		wantHint string
	}{
		{
			name: "lists the known projects, sorted, once each", project: "nope",
			known:    []string{"wine_data", "mnist", "wine_data", ""},
			wantMsg:  `no project "nope" in the queue`,
			wantHint: "known projects: mnist, wine_data",
		},
		{
			name: "a typo is offered first", project: "wine_dta",
			known:    []string{"mnist", "wine_data"},
			wantMsg:  `no project "wine_dta" in the queue`,
			wantHint: "--project wine_data (known projects: mnist, wine_data)",
		},
		{
			name: "another case is offered first", project: "MNIST",
			known:    []string{"cifar", "mnist"},
			wantMsg:  `no project "MNIST" in the queue`,
			wantHint: "--project mnist (known projects: cifar, mnist)",
		},
		{
			name: "far from all: no suggestion", project: "imagenet",
			known:    []string{"mnist"},
			wantMsg:  `no project "imagenet" in the queue`,
			wantHint: "known projects: mnist",
		},
		{
			name: "empty queue", project: "wine_data",
			wantMsg:  `no project "wine_data" in the queue`,
			wantHint: "the queue is empty: submit jobs first, e.g. mljob submit examples/wine_data/*.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := unknownProjectError(tt.project, tt.known)
			if !errors.Is(err, errUnknownProject) {
				t.Error("errors.Is(err, errUnknownProject) = false")
			}
			var ue *userError
			if !errors.As(err, &ue) {
				t.Fatalf("%T is not a *userError", err)
			}
			if ue.msg != tt.wantMsg || ue.hint != tt.wantHint {
				t.Errorf("got %q / %q\nwant %q / %q", ue.msg, ue.hint, tt.wantMsg, tt.wantHint)
			}
			if want := "Error: " + tt.wantMsg + "\nTry: " + tt.wantHint + "\n"; ue.format() != want {
				t.Errorf("format() = %q, want %q", ue.format(), want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"wine", "wine", 0},
		{"wine_dta", "wine_data", 1}, {"kitten", "sitting", 3}, {"héllo", "hello", 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
