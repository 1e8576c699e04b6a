package sshworker

import (
	"fmt"
	"strings"
	"testing"
)

func TestReadRunFrames(t *testing.T) {
	out := "R a 10 4\nabc\nR b 7 0\nR a 25 6\n{x}\n{\nR b 9 3\nab"
	for cut := range len(out) + 1 {
		var got []string
		ReadRunFrames([]byte(out[:cut]), func(id string, lines []byte, end int64) {
			got = append(got, fmt.Sprintf("%s %d %q", id, end, lines))
		})
		want := []string{`a 10 "abc\n"`, `b 7 ""`, `a 25 "{x}\n{\n"`}
		n := 0
		switch {
		case cut >= strings.Index(out, "R a 25")+len("R a 25 6\n{x}\n{\n"):
			n = 3
		case cut >= strings.Index(out, "R b 7 0\n")+len("R b 7 0\n"):
			n = 2
		case cut >= len("R a 10 4\nabc\n"):
			n = 1
		}
		if strings.Join(got, "|") != strings.Join(want[:n], "|") {
			t.Fatalf("cut at %d: %v, want %v", cut, got, want[:n])
		}
	}
}

func TestProgressFramesCutShort(t *testing.T) {
	var got []string
	f := &ProgressFrames{Lines: func(lines []byte, end int64) { got = append(got, fmt.Sprintf("%d %q", end, lines)) }}
	for _, b := range []byte("P 5 3\nab\nP 9 0\nP 12 2\nx") {
		if _, err := f.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err == nil || strings.Join(got, "|") != `5 "ab\n"|9 ""` {
		t.Errorf("got %v, close %v; want two frames and an error", got, err)
	}
	bad := &ProgressFrames{From: 10, Lines: func([]byte, int64) { t.Error("delivered") }}
	if _, err := bad.Write([]byte("P 5 0\n")); err == nil {
		t.Error("an end before From: no error")
	}
}
