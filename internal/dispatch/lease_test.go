package dispatch

import (
	"reflect"
	"testing"

	"github.com/mljob/mljob/internal/run"
)

// TestBusyGPUs: which GPUs each gpu_busy setting counts as used by others.
func TestBusyGPUs(t *testing.T) {
	use := []run.GPUUse{
		{Index: "0", Foreign: 0, FreeMiB: 80000},
		{Index: "1", Foreign: 2, FreeMiB: 70000},
		{Index: "2", Foreign: 0, FreeMiB: 1000},
	}
	tests := []struct {
		policy string
		want   map[string]bool
	}{
		{"foreign-processes", map[string]bool{"0": false, "1": true, "2": false}},
		{"memory:20", map[string]bool{"0": false, "1": false, "2": true}},
		{"memory:75", map[string]bool{"0": false, "1": true, "2": true}},
		{"ignore", nil},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			if got := busyGPUs(tt.policy, use); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("busyGPUs(%q) = %v, want %v", tt.policy, got, tt.want)
			}
		})
	}
}
