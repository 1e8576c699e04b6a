// Package fieldcheck reads a script's field declaration — the
// `<script stem>.fields.yaml` beside the script, such as nn.fields.yaml for
// nn.py — and checks jobs against it. A job field the declaration does not
// name is a warning (the script ignores it: a typo trains at the default),
// with the declared name it is nearest to; a value of the wrong type, out
// of its declared range or not one of its choices is a refusal naming the
// field's path, the value and what is allowed. The format is documented in
// python-scripts/README.md ("Field files").
//
// The package reads the declaration file and nothing else; it checks JSON
// in place (no decoding per job), so a 100,000-job sweep is checked in a
// fraction of a second. Tally folds the warnings of many jobs into each
// distinct problem once, with the number of jobs that had it.
package fieldcheck
