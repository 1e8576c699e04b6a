package sshconn

import "strings"

// Quote returns s as one POSIX shell word. Words made only of characters
// that no shell treats specially stay bare, so logged commands stay
// readable; anything else is single-quoted, with each single quote written
// as the four characters quote, backslash, quote, quote. The empty string
// becomes a pair of single quotes.
//
// The result is safe for sh, dash and bash alike because inside single
// quotes no character is special, newlines included. (alessio/shellescape)
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isSafeWord(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteCommand quotes each word of argv with Quote and joins them with
// spaces, giving a command line a remote shell splits back into argv.
func QuoteCommand(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = Quote(a)
	}
	return strings.Join(words, " ")
}

// isSafeWord reports whether s consists only of [A-Za-z0-9_./=:@%+,-] and
// does not start with '='. The remote command runs under the user's login
// shell, which may be zsh, where a word starting with '=' is expanded to a
// command's path.
func isSafeWord(s string) bool {
	if s[0] == '=' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_./=:@%+,-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
