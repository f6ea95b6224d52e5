package resolve

// sortByName sorts idx so that keys[idx[i]] ascend; equal keys keep
// ascending idx values. It is a multikey quicksort (three-way radix
// quicksort), which looks at each byte of the long common prefixes of
// mangled C++ names once instead of in every comparison. keys is indexed by
// the values of idx.
func sortByName(idx []int32, keys []string) {
	mkqsort(idx, keys, 0, 0)
}

// byteAt returns s[d], or -1 past the end.
func byteAt(s string, d int) int {
	if d < len(s) {
		return int(s[d])
	}
	return -1
}

func mkqsort(a []int32, keys []string, d int, depth int) {
	for len(a) > 12 {
		if depth > 64 {
			// Pathological input: fall back to comparisons from here.
			insertionByName(a, keys, d)
			return
		}
		p := medianByte(a, keys, d)
		// Three-way partition on the byte at d: [lt | eq | gt].
		lt, i, gt := 0, 0, len(a)
		for i < gt {
			c := byteAt(keys[a[i]], d)
			switch {
			case c < p:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case c > p:
				gt--
				a[gt], a[i] = a[i], a[gt]
			default:
				i++
			}
		}
		mkqsort(a[:lt], keys, d, depth+1)
		mkqsort(a[gt:], keys, d, depth+1)
		if p < 0 {
			// All of a[lt:gt] are the same string: order by index.
			insertionByIndex(a[lt:gt])
			return
		}
		a = a[lt:gt]
		d++
	}
	insertionByName(a, keys, d)
}

func medianByte(a []int32, keys []string, d int) int {
	x := byteAt(keys[a[0]], d)
	y := byteAt(keys[a[len(a)/2]], d)
	z := byteAt(keys[a[len(a)-1]], d)
	if x > y {
		x, y = y, x
	}
	if y > z {
		y = z
	}
	if x > y {
		return x
	}
	return y
}

// insertionByName sorts a small slice whose keys agree on their first d
// bytes.
func insertionByName(a []int32, keys []string, d int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && lessFrom(a[j], a[j-1], keys, d); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func lessFrom(x, y int32, keys []string, d int) bool {
	kx, ky := keys[x], keys[y]
	if d > len(kx) {
		d = len(kx)
	}
	if d > len(ky) {
		d = len(ky)
	}
	if kx[d:] != ky[d:] {
		return kx[d:] < ky[d:]
	}
	return x < y
}

func insertionByIndex(a []int32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
