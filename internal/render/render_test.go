package render

import (
	"bytes"
	"fmt"
	"testing"
)

// The plain layout used for big tables must match tablewriter's byte for
// byte, so that a table looks the same whatever its size.
func TestPlainTableMatchesTablewriter(t *testing.T) {
	tbl := Table{
		Headers: []string{"JOB", "STATUS", "LOSS", "HOST", "ERROR"},
		Numeric: map[int]bool{0: true, 2: true},
	}
	tbl.Rows = [][]string{
		{"1", "succeeded", "0.125", "gpu1", ""},
		{"12", "failed", "", "żółć-host", "exit status 1: ZeroDivisionError…"},
		{"123", "succeeded", "1.5e+06", "本地", "-"},
		{"4", "", "NaN", "h", "a  b"},
	}
	var want, got bytes.Buffer
	if err := WriteTable(&want, tbl); err != nil {
		t.Fatal(err)
	}
	if err := plainTable(&got, tbl); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Fatalf("plain layout differs from tablewriter's:\n--- tablewriter\n%s--- plain\n%s", want.String(), got.String())
	}
}

func BenchmarkRenderTable100k(b *testing.B) {
	tbl := Table{Headers: []string{"JOB", "ORDER", "STATUS", "LOSS"}, Numeric: map[int]bool{0: true, 1: true, 3: true}}
	for i := 0; i < 100000; i++ {
		tbl.Rows = append(tbl.Rows, []string{fmt.Sprint(i), fmt.Sprint(i), "succeeded", fmt.Sprint(float64(i) / 7)})
	}
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteTable(&buf, tbl); err != nil {
			b.Fatal(err)
		}
	}
}
