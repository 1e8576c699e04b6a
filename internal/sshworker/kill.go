package sshworker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mljob/mljob/internal/sshconn"
)

// Kill stops the run in run dir id: SIGTERM to every process of the run,
// then SIGKILL to what is left after grace. The run's wrapper does it (see
// killScript and agent.py's wrapper) and then writes the exit code, so
// Kill does not wait the grace out: it returns once the wrapper has been
// told, and the run ends within grace. It runs in a session of its own,
// so it works whoever is waiting on the run, and reports ErrNotStarted when
// the run dir holds no pid. A run whose wrapper is gone (a pid that names
// another process now) is not signalled: there is nothing of it to stop.
func (h *Host) Kill(ctx context.Context, id string, grace time.Duration) error {
	if !plainName.MatchString(id) {
		return fmt.Errorf("kill %s on %s: run id is not a plain name", id, h.name)
	}
	tenths := int(grace / (100 * time.Millisecond))
	var out, errOut LimitedBuffer
	out.Limit, errOut.Limit = 256, 4096
	argv := []string{"sh", "-c", killScript, "mljob-kill", h.workdir, id, strconv.Itoa(tenths)}
	if err := h.t.Exec(ctx, argv, nil, &out, &errOut); err != nil {
		if ee, ok := err.(*sshconn.ExitError); ok && ee.Code == exitNotStarted {
			return fmt.Errorf("kill %s on %s: %w", id, h.name, ErrNotStarted)
		}
		return fmt.Errorf("kill %s on %s: %w%s", id, h.name, err, Detail(errOut.String()))
	}
	if o := out.String(); !strings.Contains(o, "gone") && !strings.Contains(o, "stopping") {
		return fmt.Errorf("kill %s on %s: processes survived SIGKILL", id, h.name)
	}
	return nil
}
