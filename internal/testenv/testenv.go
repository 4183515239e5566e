// Package testenv holds the helpers tests use to find shared data and to decide
// whether a missing dependency is a skip (on a developer's machine) or a failure (in CI).
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI, where a missing dependency is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need skips the test with reason when ok is false, or fails it under CI=true.
func Need(t testing.TB, reason string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("missing dependency (CI=true makes this a failure): %s", reason)
	}
	t.Skipf("skipped: %s", reason)
}

// Slow skips a slow end-to-end test (a browser, a demo end to end, a crash, a large
// data set) under go test -short, saying what makes it slow; without -short, as CI runs,
// it runs. docs/HACKING.md lists what -short leaves out.
func Slow(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("slow end-to-end test (%s): skipped under -short; go test without -short runs it, as CI does", what)
	}
}

// Size returns full, or short under go test -short: a test that checks a statistical
// property or runs a simulation uses fewer repetitions (or a smaller data set) in a
// developer's quick run and the full count without -short, as CI runs it. The assertions
// stay the same; the -short size is one the test was seen to pass with, since the inputs
// are seeded.
func Size(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// SharedDataset returns ../shared/datasets/<name> beside the repository root,
// skipping (or failing under CI) when it is absent.
func SharedDataset(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(RepoRoot(t)), "shared", "datasets", name)
	_, err := os.Stat(p)
	Need(t, "shared dataset "+p+" not found", err == nil)
	return p
}
