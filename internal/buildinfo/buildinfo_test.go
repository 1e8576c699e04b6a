package buildinfo

import (
	"bytes"
	"runtime/debug"
	"testing"
)

func TestMake(t *testing.T) {
	vcs := func(rev, tm, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified},
		}}
	}
	tests := []struct {
		name                  string
		version, commit, date string
		bi                    *debug.BuildInfo
		want                  Info
	}{
		{
			name:    "ldflags win over the VCS stamp",
			version: "1.2.3", commit: "abc", date: "2026-01-02T03:04:05Z",
			bi:   vcs("def", "2025-01-01T00:00:00Z", "true"),
			want: Info{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8"},
		},
		{
			name: "plain go build: commit and date from the VCS stamp", version: "dev",
			bi:   vcs("def", "2025-01-01T00:00:00Z", "true"),
			want: Info{Version: "dev", Commit: "def", Date: "2025-01-01T00:00:00Z", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name: "go install module@version", version: "dev",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			want: Info{Version: "v0.4.0", GoVersion: "go1.26.8"},
		},
		{
			name: "-X main.version wins over the module version", version: "0.5.0",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			want: Info{Version: "0.5.0", GoVersion: "go1.26.8"},
		},
		{
			name: "nothing known", version: "",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: Info{Version: "dev", GoVersion: "go1.26.8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Make(tt.version, tt.commit, tt.date, tt.bi)
			got.Platform = "" // the test machine's
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	t.Run("no build info", func(t *testing.T) {
		got := Make("1.0.0", "", "", nil)
		if got.Version != "1.0.0" || got.Commit != "" || got.GoVersion == "" || got.Platform == "" {
			t.Errorf("got %+v", got)
		}
	})
}

func TestWriteText(t *testing.T) {
	tests := []struct {
		name string
		info Info
		want string
	}{
		{
			name: "release build, modified tree",
			info: Info{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z", Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"},
			want: "mljob 1.2.3\ncommit: abc (modified)\ndate:   2026-01-02T03:04:05Z\ngo:     go1.26.8 linux/arm64\n",
		},
		{
			name: "unknown commit and date",
			info: Info{Version: "dev", GoVersion: "go1.26.8", Platform: "darwin/amd64"},
			want: "mljob dev\ncommit: unknown\ndate:   unknown\ngo:     go1.26.8 darwin/amd64\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := tt.info.WriteText(&out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tt.want)
			}
		})
	}
}
