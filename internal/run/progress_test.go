package run

import (
	"strings"
	"testing"
)

func TestProgressScanner(t *testing.T) {
	long := `{"step":1,"x":"` + strings.Repeat("y", MaxProgressLine) + `"}`
	longJunk := strings.Repeat("z", 3*MaxProgressLine)
	tests := []struct {
		name   string
		stdout string
		from   int
		want   string
		end    int // before Finish
	}{
		{name: "candidates among other lines", stdout: "a\n{\"step\":1}\n{\"loss\":2}\nstep\n {\"step\":2}\n{\"step\":3,\"s\":\"x\"}\n",
			want: "{\"step\":1}\n{\"step\":3,\"s\":\"x\"}\n"},
		{name: "from a line's start", stdout: "{\"step\":1}\n{\"step\":2}\n", from: 11, want: "{\"step\":2}\n"},
		{name: "a last line without a newline waits for Finish", stdout: "{\"step\":1}\n{\"step\":2}", want: "{\"step\":1}\n{\"step\":2}\n", end: 11},
		{name: "a long candidate is cut", stdout: "x\n" + long + "\n{\"step\":9}\n", want: long[:MaxProgressLine+1] + "\n{\"step\":9}\n"},
		{name: "step past the cut: not a candidate", stdout: `{"x":"` + strings.Repeat("y", MaxProgressLine) + `","step":1}` + "\n", want: ""},
		{name: "long junk", stdout: longJunk + "\n{\"step\":1}\n", want: "{\"step\":1}\n"},
		{name: "CRLF lines keep their CR", stdout: "{\"step\":1}\r\n", want: "{\"step\":1}\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, piece := range []int{1, 7, 4096, len(tt.stdout) + 1} {
				s := NewProgressScanner(int64(tt.from))
				var got []byte
				in := tt.stdout[tt.from:]
				for i := 0; i < len(in); i += piece {
					got = s.Feed(got, []byte(in[i:min(i+piece, len(in))]))
				}
				wantEnd := tt.end
				if wantEnd == 0 {
					wantEnd = len(tt.stdout)
				}
				if s.End() != int64(wantEnd) {
					t.Errorf("pieces of %d: end %d, want %d", piece, s.End(), wantEnd)
				}
				got = s.Finish(got)
				if string(got) != tt.want || s.End() != int64(len(tt.stdout)) {
					t.Errorf("pieces of %d: got %q (end %d), want %q (end %d)", piece, clip(got), s.End(), clip([]byte(tt.want)), len(tt.stdout))
				}
			}
		})
	}
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}
