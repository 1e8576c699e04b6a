package main

import (
	"bytes"
	"fmt"
	"testing"
)

// The plain layout used for big tables must match tablewriter's byte for
// byte, so that a table looks the same whatever its size.
func TestPlainTableMatchesTablewriter(t *testing.T) {
	tbl := table{
		headers: []string{"JOB", "STATUS", "LOSS", "HOST", "ERROR"},
		numeric: map[int]bool{0: true, 2: true},
	}
	tbl.rows = [][]string{
		{"1", "succeeded", "0.125", "gpu1", ""},
		{"12", "failed", "", "żółć-host", "exit status 1: ZeroDivisionError…"},
		{"123", "succeeded", "1.5e+06", "本地", "-"},
		{"4", "", "NaN", "h", "a  b"},
	}
	var want, got bytes.Buffer
	if err := renderTable(&want, tbl); err != nil {
		t.Fatal(err)
	}
	if err := renderPlainTable(&got, tbl); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("plain layout differs from tablewriter's:\n--- tablewriter\n%s--- plain\n%s", want.String(), got.String())
	}
}

func BenchmarkRenderTable100k(b *testing.B) {
	tbl := table{headers: []string{"JOB", "ORDER", "STATUS", "LOSS"}, numeric: map[int]bool{0: true, 1: true, 3: true}}
	for i := 0; i < 100000; i++ {
		tbl.rows = append(tbl.rows, []string{fmt.Sprint(i), fmt.Sprint(i), "succeeded", fmt.Sprint(float64(i) / 7)})
	}
	for b.Loop() {
		var buf bytes.Buffer
		if err := renderTable(&buf, tbl); err != nil {
			b.Fatal(err)
		}
	}
}
