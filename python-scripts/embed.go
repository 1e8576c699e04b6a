// Package pyscripts embeds the scripts and demo data that ship with mljob,
// so that a lone binary can still run the seed's jobs: when no scripts dir
// is given and ./python-scripts does not exist, mljob unpacks these beside
// its database and uses them.
package pyscripts

import "embed"

// FS holds the bundled scripts (*.py), the Job fields each declares
// (*.fields.yaml, which submit checks jobs against) and data files (data/*).
//
//go:embed *.py *.fields.yaml data/*.csv
var FS embed.FS
