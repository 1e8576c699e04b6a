// Package bench holds the dispatch benchmark harness run by `make bench`:
// a test behind the "bench" build tag (go test -tags bench -run TestCompare
// ./bench/) that starts loopback sshd hosts, runs mljob, GNU parallel
// (plain and with -M) and the floor program (bench/floor) on the same job
// list in alternation, checks that each ran every job exactly once, and
// writes the figures into BENCHMARKS.md between its generated-section
// markers. TestProgress (`make bench-progress`) measures the progress-line
// path on the same hosts (dispatch wall with and without progress lines,
// a run printing a million lines, the latency from a printed line to its
// row) and writes its own section. `make bench-search` adds the pruning
// and tpe sections: TestSearchTPECurves runs the learning curves as a
// method: tpe sweep with asha, TestSearchWineTPE the example tpe sweep of
// nn.py against the example sweep and the baselines; TestReplicateDemo
// (`make bench-replicate`) replicates the demo's best jobs;
// TestLeaseOverhead (`make bench-leases`) times leases on against off. None is part
// of `make test`: their figures are ratios taken on one machine in one
// run, never pass/fail timings in a unit test.
package bench
