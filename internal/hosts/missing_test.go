package hosts

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestMissingError(t *testing.T) {
	cause := &fs.PathError{Op: "stat", Path: "lab.yaml", Err: fs.ErrNotExist}
	tests := []struct {
		origin, want string
	}{
		{origin: "MLJOB_HOSTS", want: "hosts file lab.yaml (from MLJOB_HOSTS) does not exist"},
		{origin: "", want: "hosts file lab.yaml does not exist"},
	}
	for _, tt := range tests {
		err := &MissingError{Path: "lab.yaml", Origin: tt.origin, Err: cause}
		if err.Error() != tt.want {
			t.Errorf("Error() = %q, want %q", err.Error(), tt.want)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Error("errors.Is(err, fs.ErrNotExist) = false")
		}
	}
	hint := (&MissingError{Path: "lab.yaml"}).Hint()
	example := "    hosts:\n      - name: gpu1            # any name; shown in tables\n"
	if !strings.HasPrefix(hint, "write it, e.g.\n\n"+example) || !strings.HasSuffix(hint, "  or name no hosts file at all to run on this machine") {
		t.Errorf("hint lacks the indented example:\n%s", hint)
	}
}

// TestExample: the example shown must be a hosts file mljob accepts.
func TestExample(t *testing.T) {
	f, err := DefaultResolver().Parse(context.Background(), "example.yaml", []byte(Example))
	if err != nil {
		t.Fatalf("the example hosts file does not parse: %v", err)
	}
	if len(f.Hosts) != 1 || f.Hosts[0].Name != "gpu1" || f.Hosts[0].Slots != 1 {
		t.Errorf("example parsed as %+v", f.Hosts)
	}
}
