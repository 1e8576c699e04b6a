package run

import "testing"

func TestParseCost(t *testing.T) {
	tests := []struct {
		name, line string
		want       Cost
		bad        bool
	}{
		{name: "cpu only", line: "v1 2.500 1.750 0.250 1048576 0", want: Cost{WallSeconds: 2.5, UserSeconds: 1.75, SysSeconds: 0.25, MaxRSSBytes: 1 << 20}},
		{name: "two gpus", line: "v1 10 1 0 0 2", want: Cost{WallSeconds: 10, UserSeconds: 1, GPUs: 2}},
		{name: "other version", line: "v2 1 1 1 1 1", bad: true},
		{name: "short", line: "v1 1 1 1 1", bad: true},
		{name: "negative", line: "v1 -1 1 1 1 0", bad: true},
		{name: "nan", line: "v1 nan 1 1 1 0", bad: true},
		{name: "not a number", line: "v1 1 x 1 1 0", bad: true},
		{name: "empty", line: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCost(tt.line)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseCost(%q) = %+v, want an error", tt.line, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseCost(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
		})
	}
	c := Cost{WallSeconds: 4, UserSeconds: 1, SysSeconds: 0.5, GPUs: 2}
	if c.CPUSeconds() != 1.5 || c.GPUSeconds() != 8 {
		t.Fatalf("CPUSeconds %v GPUSeconds %v, want 1.5 and 8", c.CPUSeconds(), c.GPUSeconds())
	}
}
