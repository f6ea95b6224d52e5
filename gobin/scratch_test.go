package gobin

import (
	"testing"
)

func TestScratchDup(t *testing.T) {
	b := openBinary(t, testBinary(t, "pie"))
	fs, _ := b.Functions()
	seen := map[string]int{}
	for _, f := range fs {
		seen[f.Name]++
	}
	for n, c := range seen {
		if c > 1 {
			t.Log(n, c)
		}
	}
}
