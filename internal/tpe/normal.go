package tpe

import "math"

// The standard normal helpers below are what a univariate TPE needs from a
// truncated normal: its log density, the log of its mass over an interval
// and its inverse CDF. They are written to stay finite far into the tails,
// because magic clip lets a kernel be as narrow as 1/100 of the range, so a
// point 100 standard deviations away is an ordinary case.

const (
	logSqrt2Pi = 0.91893853320467274178 // log(sqrt(2π))
	sqrt2      = math.Sqrt2
)

// normLogPDF is the log density of the standard normal at x.
func normLogPDF(x float64) float64 { return -0.5*x*x - logSqrt2Pi }

// ndtr is the standard normal CDF.
func ndtr(x float64) float64 { return 0.5 * math.Erfc(-x/sqrt2) }

// logNdtr is log(ndtr(x)), accurate for very negative x where ndtr
// underflows (an asymptotic series, as scipy and Optuna's _truncnorm do).
func logNdtr(x float64) float64 {
	switch {
	case x > 6:
		return -ndtr(-x) // log(1-ε) ≈ -ε
	case x > -20:
		return math.Log(ndtr(x))
	}
	// log Φ(x) = log φ(x) - log(-x) + log(1 - 1/x² + 3/x⁴ - 15/x⁶ + …)
	x2 := 1 / (x * x)
	series, term := 1.0, 1.0
	for k := 1; k <= 10; k++ {
		term *= -float64(2*k-1) * x2
		series += term
	}
	return normLogPDF(x) - math.Log(-x) + math.Log(series)
}

// logDiff is log(exp(a) - exp(b)) for a ≥ b.
func logDiff(a, b float64) float64 {
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(-math.Exp(b-a))
}

// logGaussMass is log(Φ(b) - Φ(a)) for a ≤ b, computed on the side of the
// mean where it does not cancel (Optuna's _log_gauss_mass).
func logGaussMass(a, b float64) float64 {
	switch {
	case b <= 0:
		return logDiff(logNdtr(b), logNdtr(a))
	case a > 0:
		return logDiff(logNdtr(-a), logNdtr(-b))
	default:
		return math.Log1p(-ndtr(a) - ndtr(-b))
	}
}

// ndtri is the inverse of the standard normal CDF: Acklam's rational
// approximation (relative error 1.15e-9) refined by one Halley step, which
// brings it to full double precision; it stays finite down to p ≈ 1e-300
// where math.Erfinv(1-2p) would round to ±Inf.
func ndtri(p float64) float64 {
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	}
	const pLow = 0.02425
	var x float64
	switch {
	case p < pLow:
		q := math.Sqrt(-2 * math.Log(p))
		x = (((((ackC[0]*q+ackC[1])*q+ackC[2])*q+ackC[3])*q+ackC[4])*q + ackC[5]) /
			((((ackD[0]*q+ackD[1])*q+ackD[2])*q+ackD[3])*q + 1)
	case p <= 1-pLow:
		q := p - 0.5
		r := q * q
		x = (((((ackA[0]*r+ackA[1])*r+ackA[2])*r+ackA[3])*r+ackA[4])*r + ackA[5]) * q /
			(((((ackB[0]*r+ackB[1])*r+ackB[2])*r+ackB[3])*r+ackB[4])*r + 1)
	default:
		q := math.Sqrt(-2 * math.Log1p(-p))
		x = -(((((ackC[0]*q+ackC[1])*q+ackC[2])*q+ackC[3])*q+ackC[4])*q + ackC[5]) /
			((((ackD[0]*q+ackD[1])*q+ackD[2])*q+ackD[3])*q + 1)
	}
	// Halley step on Φ(x) - p; in the upper half work on the complement so
	// the error term does not cancel.
	var e float64
	if x < 0 {
		e = ndtr(x) - p
	} else {
		e = (1 - p) - ndtr(-x)
	}
	u := e * math.Sqrt(2*math.Pi) * math.Exp(0.5*x*x)
	return x - u/(1+0.5*x*u)
}

var (
	ackA = [6]float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	ackB = [5]float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	ackC = [6]float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	ackD = [4]float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
)

// truncNormPPF maps a uniform q in [0, 1) to the standard normal truncated to
// [a, b]. It inverts on the side of the mean that holds the interval (as
// Optuna's ppf does) so a far tail keeps its precision.
func truncNormPPF(q, a, b float64) float64 {
	var x float64
	if a < 0 && b <= -a {
		// Mostly left of 0 or centred: Φ(x) = Φ(a) + q·(Φ(b) - Φ(a)).
		x = ndtri(ndtr(a) + q*(ndtr(b)-ndtr(a)))
	} else {
		// Mostly right: use the mirror image, Φ(-x) = Φ(-b) + (1-q)·mass.
		x = -ndtri(ndtr(-b) + (1-q)*(ndtr(-a)-ndtr(-b)))
	}
	return math.Min(math.Max(x, a), b)
}
