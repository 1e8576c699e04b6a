package tpe

import (
	"math"
	"math/rand/v2"
	"slices"
)

// defaultGamma is Optuna's default_gamma: how many of n observations form
// the "below" (good) group, min(ceil(0.1·n), 25).
func defaultGamma(n int) int {
	return min((n+9)/10, 25)
}

// defaultWeights is Optuna's default_weights: equal weights below 25
// observations, else a linear ramp from 1/n to 1 over the oldest n-25 and
// 1 for the newest 25 (observations in trial-number order).
func defaultWeights(n int) []float64 {
	w := make([]float64, n)
	if n < 25 {
		for i := range w {
			w[i] = 1
		}
		return w
	}
	ramp := n - 25
	for i := 0; i < ramp; i++ {
		// numpy.linspace(1/n, 1, num=ramp): the last point is exactly 1.
		if ramp == 1 {
			w[i] = 1 / float64(n)
			continue
		}
		w[i] = 1/float64(n) + (1-1/float64(n))*float64(i)/float64(ramp-1)
	}
	for i := ramp; i < n; i++ {
		w[i] = 1
	}
	return w
}

// mixtureWeights is the normalised weight of each observation's kernel,
// with the prior's kernel last (Optuna's _calculate_weights with
// consider_prior).
func mixtureWeights(n int, priorWeight float64) []float64 {
	return normalize(append(defaultWeights(n), priorWeight))
}

// normalize divides w by its sum in place and returns it.
func normalize(w []float64) []float64 {
	var sum float64
	for _, v := range w {
		sum += v
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// bounds is one numerical dimension in the space the kernels live in: log
// for log dimensions, widened by half a step for integers.
type bounds struct {
	low, high float64
	q         float64 // the step for a discrete (non-log Int) dimension; 0 otherwise
}

// dimBounds is Optuna's _calculate_parzen_bounds for a Float or Int dimension.
func dimBounds(d Dim) bounds {
	switch {
	case d.Kind == Int && d.Log:
		return bounds{low: math.Log(d.Low - 0.5), high: math.Log(d.High + 0.5)}
	case d.Kind == Int:
		return bounds{low: d.Low - 0.5, high: d.High + 0.5, q: 1}
	case d.Log:
		return bounds{low: math.Log(d.Low), high: math.Log(d.High)}
	}
	return bounds{low: d.Low, high: d.High}
}

// toInternal maps a parameter value to the kernels' space.
func toInternal(d Dim, v float64) float64 {
	if d.Kind != Categorical && d.Log {
		return math.Log(v)
	}
	return v
}

// fromInternal maps a kernel-space sample back to a parameter value:
// exp for log dimensions, then rounding to an integer and clipping for Int
// (Optuna's _transform_from_uniform).
func fromInternal(d Dim, x float64) float64 {
	if d.Log {
		x = math.Exp(x)
	}
	if d.Kind == Int {
		x = math.Min(math.Max(math.RoundToEven(x), d.Low), d.High)
	}
	return x
}

// numParzen is the univariate Parzen estimator of a Float or Int dimension:
// one truncated normal kernel per observation plus the prior's.
type numParzen struct {
	b       bounds
	weights []float64
	mus     []float64
	sigmas  []float64
	// logNorm[k] is log(weight_k) - log(mass of kernel k in [low, high]),
	// precomputed for the log density. Like Optuna 3.1 it has no
	// -log(sigma_k) term (optuna#5109; see the package doc).
	logNorm []float64
}

// newNumParzen is Optuna's _calculate_numerical_params (univariate,
// consider_prior) over observations already in kernel space.
func newNumParzen(b bounds, obs []float64, opts Options) *numParzen {
	n := len(obs)
	mus := append(slices.Clone(obs), 0.5*(b.low+b.high))
	sigmas := make([]float64, n+1)
	order := make([]int, n+1)
	for i := range order {
		order[i] = i
	}
	// ties keep observation order (a stable sort, cheaper as a tie-break)
	slices.SortFunc(order, func(i, j int) int {
		if c := cmpFloat(mus[i], mus[j]); c != 0 {
			return c
		}
		return i - j
	})
	// sorted mus with the bounds as both ends
	ext := make([]float64, n+3)
	ext[0], ext[n+2] = b.low, b.high
	for k, i := range order {
		ext[k+1] = mus[i]
	}
	sorted := make([]float64, n+1)
	for k := range sorted {
		sorted[k] = math.Max(ext[k+1]-ext[k], ext[k+2]-ext[k+1])
	}
	if !opts.Endpoints && len(ext) >= 4 {
		sorted[0] = ext[2] - ext[1]
		sorted[n] = ext[n+1] - ext[n]
	}
	for k, i := range order {
		sigmas[i] = sorted[k]
	}
	maxSigma := b.high - b.low
	minSigma := 1e-12
	if opts.MagicClip {
		minSigma = (b.high - b.low) / math.Min(100, 1+float64(len(mus)))
	}
	for i := range sigmas {
		sigmas[i] = math.Min(math.Max(sigmas[i], minSigma), maxSigma)
	}
	sigmas[n] = b.high - b.low
	p := &numParzen{b: b, weights: mixtureWeights(n, opts.PriorWeight), mus: mus, sigmas: sigmas}
	p.logNorm = make([]float64, n+1)
	for k := range mus {
		a, bb := (b.low-mus[k])/sigmas[k], (b.high-mus[k])/sigmas[k]
		p.logNorm[k] = math.Log(p.weights[k]) - logGaussMass(a, bb)
	}
	return p
}

// cmpFloat orders floats ascending (no NaN reaches here).
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sample draws size points from the mixture: a kernel by weight, then a
// point from its truncated normal by inverse CDF.
func (p *numParzen) sample(rng *rand.Rand, size int) []float64 {
	active := chooseN(rng, p.weights, size)
	out := make([]float64, size)
	for i, k := range active {
		mu, s := p.mus[k], p.sigmas[k]
		z := truncNormPPF(rng.Float64(), (p.b.low-mu)/s, (p.b.high-mu)/s)
		out[i] = math.Min(math.Max(mu+s*z, p.b.low), p.b.high)
	}
	return out
}

// logPDF is the mixture's log density at x (kernel space). For a discrete
// dimension it is the log of the mass of [x-q/2, x+q/2] ∩ [low, high].
// terms is scratch space of len(p.mus), reused across calls.
func (p *numParzen) logPDF(x float64, terms []float64) float64 {
	maxv := math.Inf(-1)
	for k, mu := range p.mus {
		s := p.sigmas[k]
		var v float64
		if p.b.q > 0 {
			lo := math.Max(x-p.b.q/2, p.b.low)
			hi := math.Min(x+p.b.q/2, p.b.high)
			v = p.logNorm[k] + logGaussMass((lo-mu)/s, (hi-mu)/s)
		} else {
			z := (x - mu) / s
			v = p.logNorm[k] - 0.5*z*z - logSqrt2Pi
		}
		terms[k] = v
		if v > maxv {
			maxv = v
		}
	}
	if math.IsInf(maxv, -1) {
		return maxv
	}
	var sum float64
	for _, v := range terms {
		// a term 40 nats below the largest adds < 1e-17 of it: skip its exp
		if d := v - maxv; d > -40 {
			sum += math.Exp(d)
		}
	}
	return math.Log(sum) + maxv
}

// catParzen is the univariate estimator of a categorical dimension: each
// observation is a kernel putting 1 + prior/(n+1) on its choice and
// prior/(n+1) on every choice, normalised; the prior's kernel is uniform.
type catParzen struct {
	weights []float64
	obs     []float64
	fill    float64   // prior/(n+1): every choice's share in an observation's kernel
	mixture []float64 // the mixture's probability of each choice
}

// newCatParzen is Optuna's _calculate_categorical_params (consider_prior).
func newCatParzen(choices int, obs []float64, opts Options) *catParzen {
	n := len(obs)
	p := &catParzen{weights: mixtureWeights(n, opts.PriorWeight), obs: obs,
		fill: opts.PriorWeight / float64(n+1), mixture: make([]float64, choices)}
	for k := 0; k <= n; k++ {
		row := p.kernel(k)
		for c := range row {
			p.mixture[c] += p.weights[k] * row[c]
		}
	}
	return p
}

// kernel is kernel k's probability of each choice (the prior's is last).
func (p *catParzen) kernel(k int) []float64 {
	row := make([]float64, len(p.mixture))
	for c := range row {
		row[c] = p.fill
	}
	if k < len(p.obs) {
		row[int(p.obs[k])]++
	}
	return normalize(row)
}

// sample draws size choices: a kernel by weight, then a choice from it.
func (p *catParzen) sample(rng *rand.Rand, size int) []float64 {
	active := chooseN(rng, p.weights, size)
	out := make([]float64, size)
	for i, k := range active {
		out[i] = float64(pick(p.kernel(k), rng.Float64()))
	}
	return out
}

// logPDF is the log of the mixture's probability of choice x.
func (p *catParzen) logPDF(x float64) float64 { return math.Log(p.mixture[int(x)]) }

// chooseN draws size indices with probabilities w (numpy's choice with p).
func chooseN(rng *rand.Rand, w []float64, size int) []int {
	out := make([]int, size)
	for i := range out {
		out[i] = pick(w, rng.Float64())
	}
	return out
}

// pick is the first index whose cumulative probability exceeds u; rounding
// that leaves the total under u picks the last index.
func pick(w []float64, u float64) int {
	var cum float64
	for i, v := range w {
		cum += v
		if u < cum {
			return i
		}
	}
	return len(w) - 1
}
