package resolve

import (
	"slices"
	"testing"
)

func TestSuggest(t *testing.T) {
	names := []string{"malloc", "calloc", "realloc", "free", "mallopt", "malloc_usable_size", "strlen", "strnlen"}
	for _, tc := range []struct {
		want string
		got  []string
	}{
		{"mallok", []string{"malloc", "calloc", "mallopt"}},
		{"*MALLOC*", []string{"malloc", "malloc_usable_size", "calloc"}}, // containing it first, then near it
		{"strln", []string{"strlen", "strnlen"}},
		{"xyzzy", nil},
		{"*", nil},
		{"fre", []string{"free"}},
	} {
		if got := Suggest(tc.want, names); !slices.Equal(got, tc.got) {
			t.Errorf("Suggest(%q) = %q, want %q", tc.want, got, tc.got)
		}
	}
}
