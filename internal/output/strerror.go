package output

import (
	"errors"
	"syscall"
)

// Strerror is C's strerror(3) text of the errno under err, as bpftrace
// prints it ("No such file or directory": glibc's messages are Go's with a
// capital first letter); err's own text when it carries no errno.
func Strerror(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		return Capitalize(e.Error())
	}
	return err.Error()
}

// ErrnoText is C's strerror of e: "Success" for 0.
func ErrnoText(e syscall.Errno) string {
	if e == 0 {
		return "Success"
	}
	return Capitalize(e.Error())
}

// Capitalize gives a message of Go's the capital first letter of C's.
func Capitalize(m string) string {
	if m != "" && m[0] >= 'a' && m[0] <= 'z' {
		m = string(m[0]-'a'+'A') + m[1:]
	}
	return m
}
