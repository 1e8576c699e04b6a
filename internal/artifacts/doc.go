// Package artifacts brings a run's files home: the globs a job names
// (CheckGlob refuses one that could leave the run dir), the size cap
// (ParseSize, DefaultCap), and the two steps over a host's existing
// connection: List (artifacts.py on the host matches the globs and the
// run's artifacts/ dir, never through a symlink, and hashes each file with
// SHA-256) and Fetch (the files streamed through one session, each written
// to a temporary name at home and renamed only when its SHA-256 matches the
// one listed). It knows nothing of the queue: internal/dispatch records the
// listing and each file fetched.
package artifacts
