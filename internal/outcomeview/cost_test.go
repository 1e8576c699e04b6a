package outcomeview

import (
	"testing"

	"github.com/mljob/mljob/internal/run"
)

func TestCostCells(t *testing.T) {
	c := &run.Cost{WallSeconds: 90, UserSeconds: 2.5, SysSeconds: 0.5, MaxRSSBytes: 3 << 29, GPUs: 2}
	tests := []struct {
		name, format, want string
	}{
		{"cpu", FormatTable, "3.00s"},
		{"cpu", FormatCSV, "3.000"},
		{"cpu", FormatJSON, "3"},
		{"wall", FormatTable, "1m30s"},
		{"gpu", FormatCSV, "180.000"},
		{"peakRss", FormatTable, "1.5 GiB"},
		{"peakRss", FormatCSV, "1610612736"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.format, func(t *testing.T) {
			got := costCell(tt.name, c, tt.format)
			if !got.Present || !got.Num || got.V != tt.want {
				t.Errorf("costCell = %+v, want %q, present and numeric", got, tt.want)
			}
		})
	}
	if got := costCell("cpu", nil, FormatTable); got.Present {
		t.Errorf("costCell without a cost = %+v, want absent", got)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 5 << 20: "5.0 MiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
