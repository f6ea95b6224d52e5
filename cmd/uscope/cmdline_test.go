package main

import (
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  bool
	}{
		{"ls /", []string{"ls", "/"}, false},
		{`python3 -c "import gc; gc.collect()"`, []string{"python3", "-c", "import gc; gc.collect()"}, false},
		{`sh -c 'echo "hi there"'`, []string{"sh", "-c", `echo "hi there"`}, false},
		{`a\ b "c\"d" ''`, []string{"a b", `c"d`, ""}, false},
		{"  spaced\targs  ", []string{"spaced", "args"}, false},
		{`"open`, nil, true},
		{`'open`, nil, true},
		{"   ", nil, true},
	}
	for _, tc := range cases {
		got, err := splitCommand(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzSplitCommand(f *testing.F) {
	f.Add(`python3 -c "import gc; gc.collect()"`)
	f.Add(`a\ b 'c' "d\"e"`)
	f.Fuzz(func(t *testing.T, s string) {
		splitCommand(s)
	})
}
