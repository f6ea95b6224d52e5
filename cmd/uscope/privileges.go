package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// File capabilities (issue 19). A uscope binary given CAP_BPF and
// CAP_PERFMON with setcap lets every user who can run it read the memory
// of every process (arguments, return values, strings, TLS plaintext), so
// uscope refuses to run that way for a user who is not root unless
// USCOPE_ALLOW_CAPS=1 says that it was meant. README "Privileges".

// capsExempt are the commands that trace nothing.
var capsExempt = map[string]bool{"help": true, "version": true, "completion": true, "doctor": true, "man": true}

// checkFileCaps refuses a binary with file capabilities run by a user who
// is not root, unless USCOPE_ALLOW_CAPS=1.
func checkFileCaps(command string) error {
	return fileCapsRefusal(command, os.Getuid(), os.Getenv("USCOPE_ALLOW_CAPS"), hasFileCaps)
}

func fileCapsRefusal(command string, uid int, allow string, hasCaps func(path string) bool) error {
	if uid == 0 || allow == "1" || capsExempt[command] {
		return nil
	}
	const self = "/proc/self/exe"
	if !hasCaps(self) {
		return nil
	}
	exe, err := os.Readlink(self)
	if err != nil {
		exe = self
	}
	return usageError(fmt.Errorf("%s has file capabilities (setcap) and you are not root: through it anyone who can run it reads any process's memory; "+
		"run uscope as root, or set USCOPE_ALLOW_CAPS=1 if that is meant (see README, Privileges)", exe))
}

// hasFileCaps reports whether the file at path carries a
// security.capability extended attribute.
func hasFileCaps(path string) bool {
	_, err := unix.Getxattr(path, "security.capability", nil)
	return err == nil || errors.Is(err, unix.ERANGE)
}
