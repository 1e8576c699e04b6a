package outcomeview

import (
	"testing"

	"github.com/mljob/mljob/internal/render"
)

// TestNeedsSweepNames: the names are read only for what shows them: the
// sweep column, or --best's configurations under a table.
func TestNeedsSweepNames(t *testing.T) {
	cols := func(names ...string) []*Column {
		c, err := ParseColumns(names)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name string
		l    Listing
		want bool
	}{
		{"plain table", Listing{Format: render.FormatTable}, false},
		{"best table", Listing{Format: render.FormatTable, Best: true}, true},
		{"best csv", Listing{Format: render.FormatCSV, Best: true}, false},
		{"sweep column", Listing{Format: render.FormatJSON, Columns: cols("job", "sweep")}, true},
		{"other columns, best", Listing{Format: render.FormatTable, Best: true, Columns: cols("job", "loss")}, false},
	} {
		if got := tc.l.NeedsSweepNames(); got != tc.want {
			t.Errorf("%s: NeedsSweepNames = %v, want %v", tc.name, got, tc.want)
		}
	}
}
