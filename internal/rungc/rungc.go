// Package rungc removes a finished run's dir from its host: one constant
// sh program, run with the run dir as its cwd (engine.Engine's
// ExecInRun), its arguments quoted by the transport, that removes the dir
// only when it is the one the queue recorded for that run: its base name
// is the run id, its parent is runs/ under the host's workdir.
package rungc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/mljob/mljob/internal/engine"
)

// RunDirExec is what Remove needs of a host: ExecInRun runs argv there
// with run dir id ($workdir/runs/<id>) as its cwd, and fails with
// engine.ErrNotStarted when that dir is missing.
type RunDirExec interface {
	ExecInRun(ctx context.Context, id string, argv []string, stdout io.Writer) error
}

// program removes the run dir of $2 when $1 (the run dir the queue
// recorded) names it: $1's base name is $2, and it resolves to
// $3/runs/$2, $3 being the host's workdir, and to the cwd, which
// ExecInRun made that same dir. A run dir that is a symlink is refused:
// what it points at is not the run's. It exits 3, saying why, when it
// refuses.
const program = `dir=$1 id=$2 wd=$3
refuse() { echo "refused: $*" >&2; exit 3; }
case $id in ''|.|..|*/*) refuse "bad run id";; esac
case $dir in "~/"*) dir=$HOME/${dir#"~/"};; esac
case $wd in "~") wd=$HOME;; "~/"*) wd=$HOME/${wd#"~/"};; esac
dir=${dir%/}
[ "${dir##*/}" = "$id" ] || refuse "the run dir's name is not the run id"
parent=${dir%/*}
[ "${parent##*/}" = runs ] || refuse "the run dir is not in runs/"
[ -L "$dir" ] || [ -L "$wd/runs/$id" ] && refuse "the run dir is a symlink"
here=$(pwd -P) && there=$(cd -- "$dir" && pwd -P) && own=$(cd -- "$wd/runs/$id" && pwd -P) ||
	refuse "cannot resolve the run dir"
[ "$here" = "$there" ] && [ "$there" = "$own" ] || refuse "the recorded run dir is not runs/$id under the host's workdir"
cd -- "$wd/runs" && rm -rf -- "./$id"
`

// idRE is the shape of a run id (pyexec.RunID): nothing a shell or a path
// could read otherwise.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ErrRefused is a run dir the program would not remove: the record does
// not name the run's dir under the host's workdir.
var ErrRefused = errors.New("not removed")

// Remove removes run dir dir (as the queue recorded it) of run id on the
// host whose workdir is workdir (as its entry gives it, ~ expanded there).
// gone is true when it was already gone; that counts as removed.
func Remove(ctx context.Context, x RunDirExec, workdir, id, dir string) (gone bool, err error) {
	if !idRE.MatchString(id) || strings.Contains(id, "..") {
		return false, fmt.Errorf("run id %q: %w (not a plain name)", id, ErrRefused)
	}
	err = x.ExecInRun(ctx, id, []string{"sh", "-c", program, "mljob-gc", dir, id, workdir}, io.Discard)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, engine.ErrNotStarted):
		return true, nil
	case strings.Contains(err.Error(), "refused: "):
		return false, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return false, err
}
