package outcomeview

import (
	"math"
	"strconv"

	"github.com/mljob/mljob/internal/run"
)

// costCell is cost column name of c; Present is false without a cost.
func costCell(name string, c *run.Cost, format string) Cell {
	if c == nil {
		return Cell{}
	}
	switch name {
	case "cpu":
		return durationCell(c.CPUSeconds(), format)
	case "wall":
		return durationCell(c.WallSeconds, format)
	case "gpu":
		return durationCell(c.GPUSeconds(), format)
	}
	if format == FormatTable {
		return Cell{V: FormatBytes(c.MaxRSSBytes), Present: true, Num: true}
	}
	return Cell{V: strconv.FormatInt(c.MaxRSSBytes, 10), Present: true, Num: true}
}

// FormatBytes writes n bytes for a person: 512 B, 3.1 MiB, 1.2 GiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + string("KMGTP"[i]) + "iB"
}

// appendCost appends c as the outcome's "cost" object (compact; AppendRaw
// indents it): seconds rounded to the millisecond.
func appendCost(dst []byte, c *run.Cost) ([]byte, error) {
	ms := func(v float64) float64 { return math.Round(v*1000) / 1000 }
	var err error
	dst = append(dst, `{"cpuSeconds":`...)
	if dst, err = AppendFloat(dst, ms(c.CPUSeconds())); err != nil {
		return nil, err
	}
	dst = append(dst, `,"gpuSeconds":`...)
	if dst, err = AppendFloat(dst, ms(c.GPUSeconds())); err != nil {
		return nil, err
	}
	dst = append(dst, `,"gpus":`...)
	dst = strconv.AppendInt(dst, int64(c.GPUs), 10)
	dst = append(dst, `,"peakRssBytes":`...)
	dst = strconv.AppendInt(dst, c.MaxRSSBytes, 10)
	dst = append(dst, `,"sysSeconds":`...)
	if dst, err = AppendFloat(dst, ms(c.SysSeconds)); err != nil {
		return nil, err
	}
	dst = append(dst, `,"userSeconds":`...)
	if dst, err = AppendFloat(dst, ms(c.UserSeconds)); err != nil {
		return nil, err
	}
	dst = append(dst, `,"wallSeconds":`...)
	if dst, err = AppendFloat(dst, ms(c.WallSeconds)); err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}
