package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/mljob/mljob/internal/tpe"
)

// Space is a tpe sweep's search space: its ranges as the sampler's
// dimensions, in the order of Spec.Ranges. A lin or log range is a Float
// dimension, int an Int one, choice a Categorical one over its values.
func (s *Spec) Space() ([]tpe.Dim, error) {
	dims := make([]tpe.Dim, len(s.Ranges))
	for i, r := range s.Ranges {
		d := tpe.Dim{Name: r.Path.text}
		switch r.Kind {
		case Lin, Log:
			d.Kind, d.Low, d.High, d.Log = tpe.Float, r.Lo, r.Hi, r.Kind == Log
		case Int:
			d.Kind, d.Low, d.High = tpe.Int, float64(r.ILo), float64(r.IHi)
		case Choice:
			d.Kind, d.Choices = tpe.Categorical, len(r.Choices)
		}
		dims[i] = d
	}
	if _, err := tpe.New(dims, tpe.DefaultOptions()); err != nil {
		return nil, errf(ErrSyntax, "space: %v", err)
	}
	return dims, nil
}

// Sampler is the tpe sweep's sampler: Optuna 3.1's defaults, the spec's
// seed. As in Optuna 3.1 (constant_liar=False), trials in flight are left
// out of the model unless s.ConstantLiar (the sweep file's constantLiar:
// true): each trial draws from its own random stream, so parallel
// proposals differ without a lie. The constant liar (a running trial
// counted as the worst value) pushed proposals away from the good region
// on make bench-search's learning curves: with it 6 of 10 seeds reached
// the grid's best within a fifth of its steps, without it 9 (the same
// seeds, same day). maximize is the objective's goal.
func (s *Spec) Sampler(maximize bool) (*tpe.Sampler, error) {
	dims, err := s.Space()
	if err != nil {
		return nil, err
	}
	o := tpe.DefaultOptions()
	o.Seed, o.Maximize, o.ConstantLiar = s.Seed, maximize, s.ConstantLiar
	return tpe.New(dims, o)
}

// Trial turns a point the sampler proposed (one value per range: a
// number, or a choice's index) into the plan of one job, and returns the
// point as that job gets it: a float rounded to the digits a random draw
// keeps (and kept inside its bounds), so that what the sampler learns from
// is what the script ran with.
func (s *Spec) Trial(point []float64) (*Plan, []float64, error) {
	if len(point) != len(s.Ranges) {
		return nil, nil, fmt.Errorf("trial: %d values for %d ranges", len(point), len(s.Ranges))
	}
	vals := make([]json.RawMessage, len(point))
	kept := make([]float64, len(point))
	for i, r := range s.Ranges {
		x := point[i]
		switch r.Kind {
		case Choice:
			k := int(x)
			if k < 0 || k >= len(r.Choices) || float64(k) != x {
				return nil, nil, fmt.Errorf("trial: %s: choice %v out of range", r.Path, x)
			}
			vals[i], kept[i] = r.Choices[k], x
		case Int:
			v := min(max(math.Round(x), float64(r.ILo)), float64(r.IHi))
			vals[i], kept[i] = strconv.AppendInt(nil, int64(v), 10), v
		default:
			b := formatFloat(x)
			v, err := strconv.ParseFloat(string(b), 64)
			if err != nil {
				return nil, nil, fmt.Errorf("trial: %s: %w", r.Path, err)
			}
			if v < r.Lo || v > r.Hi { // rounding may step past a bound
				v = min(max(x, r.Lo), r.Hi)
				b = strconv.AppendFloat(nil, v, 'g', -1, 64)
			}
			vals[i], kept[i] = b, v
		}
	}
	return &Plan{Paths: s.Paths(), Points: [][]json.RawMessage{vals}, AllowNew: s.AllowNew}, kept, nil
}

// spaceRange is one range as a tpe sweep's space is stored.
type spaceRange struct {
	Path  string `json:"path"`
	Range string `json:"range"`
}

// SpaceJSON is the spec's ranges as JSON, [{"path":P,"range":"log:1e-4:1"}],
// which ParseSpace reads back.
func (s *Spec) SpaceJSON() ([]byte, error) {
	out := make([]spaceRange, len(s.Ranges))
	for i, r := range s.Ranges {
		out[i] = spaceRange{r.Path.text, r.text}
	}
	return json.Marshal(out)
}

// ParseSpace reads SpaceJSON's text back into a tpe spec's ranges.
func ParseSpace(data []byte) ([]Range, error) {
	var in []spaceRange
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("space: %w", err)
	}
	out := make([]Range, len(in))
	for i, r := range in {
		p, err := ParsePath(r.Path)
		if err != nil {
			return nil, fmt.Errorf("space: %w", err)
		}
		rg, err := parseRangeSpec(r.Range)
		if err != nil {
			return nil, fmt.Errorf("space %s: %w", r.Path, err)
		}
		rg.Path = p
		out[i] = rg
	}
	return out, nil
}
