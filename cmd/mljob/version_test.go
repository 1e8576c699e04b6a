package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mljob/mljob/internal/buildinfo"
	"github.com/mljob/mljob/internal/render"
)

func TestRunVersion(t *testing.T) {
	info := buildinfo.Info{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z", Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"}
	tests := []struct {
		output string
		want   string
	}{
		{output: formatText, want: "mljob 1.2.3\ncommit: abc (modified)\ndate:   2026-01-02T03:04:05Z\ngo:     go1.26.8 linux/arm64\n"},
		{output: render.FormatJSON, want: `{
  "version": "1.2.3",
  "commit": "abc",
  "date": "2026-01-02T03:04:05Z",
  "modified": true,
  "goVersion": "go1.26.8",
  "platform": "linux/arm64"
}
`},
	}
	for _, tt := range tests {
		t.Run(tt.output, func(t *testing.T) {
			var out bytes.Buffer
			opts := &versionOptions{app: &app{io: ioStreams{Out: &out}}, output: tt.output, info: func() buildinfo.Info { return info }}
			if err := runVersion(opts); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
			if tt.output == render.FormatJSON {
				var back buildinfo.Info
				if err := json.Unmarshal(out.Bytes(), &back); err != nil || back != info {
					t.Errorf("round trip: %+v, %v", back, err)
				}
			}
		})
	}
}
