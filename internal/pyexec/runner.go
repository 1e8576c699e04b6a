package pyexec

import (
	"context"

	"github.com/mljob/mljob/internal/run"
)

// Runner runs one spec on a host under the detached run contract.
//
// Run calls started once, when the run is detached on the host; from then
// on the run goes on even if ctx ends or the connection drops. A nil error
// means the run finished and its Result was read from the run dir. Any
// error leaves the outcome unknown: whether started was called tells
// whether the run may still be going. Implementations are safe for
// concurrent use.
type Runner interface {
	Run(ctx context.Context, spec run.Spec, started func(run.Started)) (run.Result, error)
}
