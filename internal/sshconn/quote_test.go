package sshconn_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/mljob/mljob/internal/sshconn"
)

// shells are the interpreters a quoted command must survive: dash is
// Debian's /bin/sh, bash is the usual login shell on the hosts.
var shells = []string{"/bin/sh", "bash"}

// RoundTrip runs printf '%s\0' with words quoted by QuoteCommand through
// shell and returns the words the shell saw.
func RoundTrip(tb testing.TB, shell string, words []string) []string {
	tb.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		tb.Skipf("no %s: %v", shell, err)
	}
	script := `printf '%s\0' ` + sshconn.QuoteCommand(words)
	out, err := exec.Command(path, "-c", script).Output()
	if err != nil {
		tb.Fatalf("%s -c %.200q: %v", shell, script, err)
	}
	got := strings.Split(string(out), "\x00")
	// printf ends every word with NUL, so the last field is empty.
	if len(got) == 0 || got[len(got)-1] != "" {
		tb.Fatalf("%s: output %.200q does not end in NUL", shell, out)
	}
	return got[:len(got)-1]
}

var hostile = []struct {
	name string
	word string
}{
	{"empty", ""},
	{"plain", "train.py"},
	{"single quote", "it's"},
	{"only quotes", "'''"},
	{"double quote", `say "hi"`},
	{"command substitution", "$(touch /tmp/pwned)"},
	{"backticks", "`id`"},
	{"variable", "$HOME ${PATH} $1 $@ $*"},
	{"newline", "a\nb\n"},
	{"carriage return and tab", "a\r\tb"},
	{"backslashes", `\ \\ \' \n`},
	{"unicode", "héllo wörld ✓ 训练"},
	{"invalid utf8", "\xff\xfe"},
	{"glob", "*.py ? [a-z]"},
	{"tilde", "~"},
	{"tilde user", "~root/x"},
	{"leading dash", "-rf"},
	{"leading equals", "=ls"},
	{"semicolon and pipes", "a; b | c && d || e & f"},
	{"redirects", "> /dev/null < /etc/passwd 2>&1"},
	{"braces and history", "{a,b} !! !$"},
	{"json", `{"projectName": "wine_data", "lr": 0.01, "note": "it's $5"}`},
	{"spaces", "  leading and trailing  "},
	{"control bytes", "\x01\x1b[31m\x7f"},
	{"100 KB", strings.Repeat("ab $(c) `d` *\n\\", 100<<10/15)},
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, shell := range shells {
		for _, tc := range hostile {
			t.Run(shell+"/"+tc.name, func(t *testing.T) {
				got := RoundTrip(t, shell, []string{tc.word})
				if len(got) != 1 || got[0] != tc.word {
					t.Fatalf("round trip of %.80q gave %.80q", tc.word, got)
				}
			})
		}
	}
}

func TestQuoteCommandRoundTrip(t *testing.T) {
	var all []string
	for _, tc := range hostile {
		all = append(all, tc.word)
	}
	tests := []struct {
		name  string
		words []string
	}{
		{"one word", []string{"x"}},
		{"empty words keep their place", []string{"", "a", "", "b", ""}},
		{"every hostile word", all},
	}
	for _, shell := range shells {
		for _, tc := range tests {
			t.Run(shell+"/"+tc.name, func(t *testing.T) {
				got := RoundTrip(t, shell, tc.words)
				if len(got) != len(tc.words) {
					t.Fatalf("got %d words, want %d", len(got), len(tc.words))
				}
				for i := range got {
					if got[i] != tc.words[i] {
						t.Errorf("word %d: got %.80q, want %.80q", i, got[i], tc.words[i])
					}
				}
			})
		}
	}
}

func TestQuoteForm(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "''"},
		{"train.py", "train.py"},
		{"--lr=0.01", "--lr=0.01"},
		{"user@host:/a/b,c+d%e", "user@host:/a/b,c+d%e"},
		{"it's", `'it'\''s'`},
		{"a b", "'a b'"},
		{"~", "'~'"},
		{"=ls", "'=ls'"},
		{"$x", "'$x'"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := sshconn.Quote(tc.in); got != tc.want {
				t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	if got, want := sshconn.QuoteCommand([]string{"echo", "a b", ""}), "echo 'a b' ''"; got != want {
		t.Errorf("QuoteCommand = %s, want %s", got, want)
	}
}

func FuzzQuote(f *testing.F) {
	for _, tc := range hostile {
		if len(tc.word) < 1000 {
			f.Add(tc.word)
		}
	}
	f.Fuzz(func(t *testing.T, word string) {
		if strings.IndexByte(word, 0) >= 0 {
			t.Skip("argv cannot hold NUL bytes")
		}
		if len(word) > 32<<10 {
			t.Skip("longer than a single argv string may safely be once quoted")
		}
		got := RoundTrip(t, "/bin/sh", []string{word})
		if len(got) != 1 || !bytes.Equal([]byte(got[0]), []byte(word)) {
			t.Fatalf("round trip of %q gave %q", word, got)
		}
	})
}
