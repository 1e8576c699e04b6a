// Package replicate is mljob replicate's arithmetic: a configuration's job
// copied with new seeds (Specs, by the seed fields its script declares,
// SeedFields), and a replicate group's outcomes summed up per
// configuration (Summarize: mean, standard deviation, the values, and
// whether the ranking by mean is the ranking the group was made from).
// No I/O.
package replicate
