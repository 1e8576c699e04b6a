package orderview

import (
	"slices"
	"testing"

	"github.com/mljob/mljob/internal/db"
)

// TestRetryChoice: pruned orders are retried only with --pruned; --failed
// keeps failed ones; --pruned alone, without names, is only pruned ones.
func TestRetryChoice(t *testing.T) {
	f, c, p := db.StateFailed, db.StateCancelled, db.StatePruned
	tests := []struct {
		name    string
		choice  RetryChoice
		states  []db.OrderState
		nothing string
	}{
		{"named", RetryChoice{Named: true}, []db.OrderState{f, c}, "nothing to retry: no named order is failed or cancelled"},
		{"failed", RetryChoice{Failed: true}, []db.OrderState{f}, "nothing to retry: no named order is failed"},
		{"pruned alone", RetryChoice{Pruned: true}, []db.OrderState{p}, "nothing to retry: no named order is pruned"},
		{"pruned named", RetryChoice{Pruned: true, Named: true}, []db.OrderState{f, c, p},
			"nothing to retry: no named order is failed or cancelled or pruned"},
		{"failed and pruned", RetryChoice{Failed: true, Pruned: true}, []db.OrderState{f, p},
			"nothing to retry: no named order is failed or pruned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.choice.States(); !slices.Equal(got, tt.states) {
				t.Errorf("States = %v, want %v", got, tt.states)
			}
			if got := tt.choice.Nothing(); got != tt.nothing {
				t.Errorf("Nothing = %q, want %q", got, tt.nothing)
			}
		})
	}
}
