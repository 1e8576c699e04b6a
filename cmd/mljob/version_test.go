package main

import (
	"bytes"
	"encoding/json"
	"runtime/debug"
	"testing"

	"github.com/mljob/mljob/internal/render"
)

func TestMakeBuildInfo(t *testing.T) {
	vcs := func(rev, tm, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified},
		}}
	}
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  buildInfo
	}{
		{
			name:    "ldflags win over the VCS stamp",
			version: "1.2.3", commit: "abc", date: "2026-01-02T03:04:05Z",
			bi:   vcs("def", "2025-01-01T00:00:00Z", "true"),
			want: buildInfo{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8"},
		},
		{
			name: "plain go build: commit and date from the VCS stamp", version: "dev",
			bi:   vcs("def", "2025-01-01T00:00:00Z", "true"),
			want: buildInfo{Version: "dev", Commit: "def", Date: "2025-01-01T00:00:00Z", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name: "go install module@version", version: "dev",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			want: buildInfo{Version: "v0.4.0", GoVersion: "go1.26.8"},
		},
		{
			name: "-X main.version wins over the module version", version: "0.5.0",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			want: buildInfo{Version: "0.5.0", GoVersion: "go1.26.8"},
		},
		{
			name: "nothing known", version: "",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: buildInfo{Version: "dev", GoVersion: "go1.26.8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := makeBuildInfo(tt.version, tt.commit, tt.date, tt.bi)
			got.Platform = "" // the test machine's
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	t.Run("no build info", func(t *testing.T) {
		got := makeBuildInfo("1.0.0", "", "", nil)
		if got.Version != "1.0.0" || got.Commit != "" || got.GoVersion == "" || got.Platform == "" {
			t.Errorf("got %+v", got)
		}
	})
}

func TestRunVersion(t *testing.T) {
	info := buildInfo{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z", Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"}
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
			opts := &versionOptions{app: &app{io: ioStreams{Out: &out}}, output: tt.output, info: func() buildInfo { return info }}
			if err := runVersion(opts); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
			if tt.output == render.FormatJSON {
				var back buildInfo
				if err := json.Unmarshal(out.Bytes(), &back); err != nil || back != info {
					t.Errorf("round trip: %+v, %v", back, err)
				}
			}
		})
	}
	t.Run("unknown commit and date", func(t *testing.T) {
		var out bytes.Buffer
		opts := &versionOptions{app: &app{io: ioStreams{Out: &out}}, output: formatText, info: func() buildInfo {
			return buildInfo{Version: "dev", GoVersion: "go1.26.8", Platform: "darwin/amd64"}
		}}
		if err := runVersion(opts); err != nil {
			t.Fatal(err)
		}
		if want := "mljob dev\ncommit: unknown\ndate:   unknown\ngo:     go1.26.8 darwin/amd64\n"; out.String() != want {
			t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
		}
	})
}
