package hostcheck

import "testing"

func TestVersionLessAndBytes(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"3.7.3", "3.8", true}, {"3.11.2", "3.8", false}, {"3.8", "3.8", false}, {"x", "3.8", false},
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			if got := versionLess(tt.a, tt.b); got != tt.want {
				t.Errorf("versionLess(%q, %q) = %v", tt.a, tt.b, got)
			}
		})
	}
	if got := Bytes(3 << 29); got != "1.5G" {
		t.Errorf("Bytes = %q, want 1.5G", got)
	}
}
