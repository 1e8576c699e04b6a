// Package suggest offers the name a user probably meant: when a name
// matches none of the known ones (a project, a column), the one that
// differs only by case or by a typo or two.
package suggest

import (
	"sort"
	"strings"
)

// maxEdits is the farthest a candidate may be from the name and still be
// offered: two edits catch a typo and a slip, not another word.
const maxEdits = 2

// Nearest returns the candidate that is the same as s but for case, or else
// the one within two edits of s (the closest, the first on a tie), or "".
// Names are short, so the quadratic edit distance is cheap.
func Nearest(s string, candidates []string) string {
	best, bestD := "", maxEdits+1
	for _, c := range candidates {
		if strings.EqualFold(c, s) {
			return c
		}
		if d := EditDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in runes.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// UniqueSorted returns the distinct non-empty strings of s, sorted: the
// known names as a hint lists them.
func UniqueSorted(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
