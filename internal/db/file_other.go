//go:build !unix

package db

import "os"

// writable reports whether this process may write the file at abs. Without
// access(2) the mode bits are the best guess.
func writable(abs string) bool {
	fi, err := os.Stat(abs)
	return err == nil && fi.Mode().Perm()&0o200 != 0
}

// fileIdentity is not known here: copies are not detected.
func fileIdentity(string) (string, bool) { return "", false }
