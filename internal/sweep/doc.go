// Package sweep turns one base job into many: a grid (the Cartesian product
// of lists of values) and random draws (from ranges, with a seed), each
// setting fields named by dotted paths into the job JSON.
//
// A path is a dotted list of object keys and array indices
// ("hiddenLayers.0.dropout"; a key holding a dot is written with a
// backslash, "a\.b"). Values are JSON where they parse as JSON, else
// strings: 0.1 is a number, adam the string "adam", "0.1" (quoted) the
// string "0.1".
//
// Grid and random combine as a product: the N random points are drawn
// first, and each is crossed with every grid point, so a sweep has
// N × (product of the grid's list lengths) jobs (N is 1 without random).
// With several base jobs, every base gets the same points.
//
// Jobs are made by editing the base job's text: the bytes of each value a
// path names are replaced, everything else (key order, whitespace, fields
// mljob does not know) is kept, because the stored spec is what users see
// and what the script gets. The package does no I/O.
package sweep
