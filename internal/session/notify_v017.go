package session

import (
	"io"
	"os"
)

// notifyStream is where the attached notice goes: standard output, as
// bpftrace main prints it, or standard error when the variable says
// "stderr", as bpftrace 0.17 printed it (its v0.17.0 suite pipes standard
// output into JSON checkers, which must see only the program's output;
// bench/compat's runner asks for it on that suite).
func notifyStream(value string) io.Writer {
	if value == "stderr" {
		return os.Stderr
	}
	return os.Stdout
}
