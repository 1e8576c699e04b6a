//go:build unix

package db

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// writable reports whether this process may write the file at abs and
// create files (-wal, -shm) beside it.
func writable(abs string) bool {
	return unix.Access(abs, unix.W_OK) == nil && unix.Access(filepath.Dir(abs), unix.W_OK) == nil
}

// fileIdentity names the file at abs on this machine: its device and
// inode, which a rename keeps and a copy does not. ok is false when the
// system does not say.
func fileIdentity(abs string) (id string, ok bool) {
	fi, err := os.Stat(abs)
	if err != nil {
		return "", false
	}
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat {
		return "", false
	}
	return strconv.FormatUint(uint64(st.Dev), 10) + ":" + strconv.FormatUint(uint64(st.Ino), 10), true
}
