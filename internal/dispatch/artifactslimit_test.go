package dispatch

import (
	"testing"

	"github.com/mljob/mljob/internal/artifacts"
)

// TestArtifactsLimit: job > dispatch flag > host > default, each level
// used only when those above it set nothing.
func TestArtifactsLimit(t *testing.T) {
	tests := []struct {
		name                string
		job, dispatch, host int64
		want                int64
	}{
		{"nothing set: default", 0, 0, 0, artifacts.DefaultCap},
		{"host only", 0, 0, 300, 300},
		{"flag over host", 0, 200, 300, 200},
		{"job over flag and host", 100, 200, 300, 100},
		{"job over host", 100, 0, 300, 100},
		{"flag over default", 0, 200, 0, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := artifactsLimit(tt.job, tt.dispatch, tt.host); got != tt.want {
				t.Errorf("artifactsLimit(%d, %d, %d) = %d, want %d", tt.job, tt.dispatch, tt.host, got, tt.want)
			}
		})
	}
}
