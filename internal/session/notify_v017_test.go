package session

import (
	"os"
	"testing"
)

func TestNotifyStream(t *testing.T) {
	if notifyStream("1") != os.Stdout || notifyStream("") != os.Stdout {
		t.Error("main's runner (any value): the notice goes to standard output")
	}
	if notifyStream("stderr") != os.Stderr {
		t.Error(`"stderr": the notice goes to standard error, as bpftrace 0.17 printed it`)
	}
}
