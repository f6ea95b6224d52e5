// Package testutil holds helpers shared by uscope's tests: privilege checks
// that turn into failures in CI, and builders for the C and Go programs that
// integration tests trace.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true), where a test that would
// skip for lack of privileges or tools must fail instead.
func InCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test, or fails it in CI.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true: cannot skip: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips (fails in CI) unless the test runs as root, which BPF,
// uprobes and /proc of other users' processes need.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root for BPF and uprobes")
	}
}

// RequireTool returns the path of an external program the test needs, and
// skips (fails in CI) when it is not installed.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "%s is not installed (.ci/run installs it)", name)
	}
	return p
}

// RequireFile skips (fails in CI) when path does not exist.
func RequireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		skipOrFail(t, "%s is missing (.ci/run installs it): %v", path, err)
	}
}

// BuildC compiles a C source text with gcc into a binary in a temporary
// directory and returns its path. Extra gcc flags follow the source.
func BuildC(t testing.TB, name, src string, flags ...string) string {
	t.Helper()
	gcc := RequireTool(t, "gcc")
	dir := t.TempDir()
	cfile := filepath.Join(dir, name+".c")
	if err := os.WriteFile(cfile, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append([]string{"-o", out, cfile}, flags...)
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, b)
	}
	return out
}

// BuildGo builds a Go main package whose source is src into a binary in a
// temporary directory. env adds variables (CGO_ENABLED=0, GOFLAGS...); flags
// are passed to go build (-ldflags=-s -w, -buildmode=pie ...).
func BuildGo(t testing.TB, name, src string, env []string, flags ...string) string {
	t.Helper()
	goTool := RequireTool(t, "go")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+name+"\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := append([]string{"build", "-o", out}, flags...)
	args = append(args, ".")
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=", "GOWORK=off"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, b)
	}
	return out
}
