package sshworker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kill stops the run in run dir id: SIGTERM to its whole process group,
// then SIGKILL to what is left after grace. It runs in a session of its own,
// so it works whoever is waiting on the run, and reports ErrNotStarted when
// the run dir holds no pid. The wrapper traps TERM to write the script's
// exit code; a Kill in the first milliseconds after the start, before the
// trap is set, leaves the run without one (lost), as SIGKILL does.
func (h *Host) Kill(ctx context.Context, id string, grace time.Duration) error {
	if !plainName.MatchString(id) {
		return fmt.Errorf("kill %s on %s: run id is not a plain name", id, h.name)
	}
	tenths := int(grace / (100 * time.Millisecond))
	var out, errOut LimitedBuffer
	out.Limit, errOut.Limit = 256, 4096
	argv := []string{"sh", "-c", killScript, "mljob-kill", h.workdir, id, strconv.Itoa(tenths)}
	if err := h.t.Exec(ctx, argv, nil, &out, &errOut); err != nil {
		if ee, ok := err.(*ExitError); ok && ee.Code == exitNotStarted {
			return fmt.Errorf("kill %s on %s: %w", id, h.name, ErrNotStarted)
		}
		return fmt.Errorf("kill %s on %s: %w%s", id, h.name, err, Detail(errOut.String()))
	}
	if !strings.Contains(out.String(), "gone") {
		return fmt.Errorf("kill %s on %s: processes survived SIGKILL", id, h.name)
	}
	return nil
}
