package report

import (
	"testing"

	"github.com/mljob/mljob/internal/db"
)

func TestRelativeHref(t *testing.T) {
	for _, tc := range []struct{ base, file, want string }{
		{"/r", "/data/artifacts/3/1/model.pt", "../data/artifacts/3/1/model.pt"},
		{"/data", "/data/artifacts/3/1/plots/a b#1.png", "artifacts/3/1/plots/a%20b%231.png"},
		{"/x", "/x/c:d.pt", "./c:d.pt"},
	} {
		got, err := relativeHref(tc.base, tc.file)
		if err != nil || got != tc.want {
			t.Errorf("relativeHref(%q, %q) = %q, %v; want %q", tc.base, tc.file, got, err, tc.want)
		}
	}
}

func TestCodeText(t *testing.T) {
	for _, tc := range []struct {
		code *db.Code
		want string
	}{
		{nil, "—"},
		{&db.Code{Repo: db.RepoGit, Commit: "0123456789ab"}, "0123456"},
		{&db.Code{Repo: db.RepoGit, Commit: "0123456789ab", Dirty: true}, "0123456*"},
		{&db.Code{Repo: db.RepoGit}, "no commit yet"},
		{&db.Code{Repo: db.RepoNone}, "not a git repo"},
		{&db.Code{Repo: db.RepoNoGit}, "git not found"},
		{&db.Code{Repo: db.RepoError}, "git failed"},
	} {
		if got := CodeText(tc.code); got != tc.want {
			t.Errorf("CodeText(%+v) = %q, want %q", tc.code, got, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
