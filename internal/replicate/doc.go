// Package replicate is mljob replicate's logic: which runs to replicate
// (Sources: a sweep's best by its objective, or named jobs ranked alike),
// a configuration's job copied with new seeds (Specs, by the seed fields
// its script declares, SeedFields), the group queued (Queue), and a
// replicate group's outcomes summed up per configuration (Summarize:
// mean, standard deviation, the values, and whether the ranking by mean
// is the ranking the group was made from; GroupViews reads them). Only
// Queue, Sources and GroupViews read or write the queue, through
// internal/db; the rest does no I/O.
package replicate
