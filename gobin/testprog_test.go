package gobin

// testProg is the Go program the tests build in several ways. Every function
// the tests look at is marked noinline and called from main.
const testProg = `package main

import (
	"errors"
	"fmt"
	"os"
	"unsafe"
)

type Server struct{ n int }

//go:noinline
func (s *Server) handle(x int) int { s.n += x; return s.n }

//go:noinline
func (s Server) value(x int) int { return s.n + x }

type Pair struct{ A, B int }

type Mixed struct {
	F float64
	I int32
}

type Stack[T any] struct{ items []T }

//go:noinline
func (s *Stack[T]) Push(x T) { s.items = append(s.items, x) }

//go:noinline
func (s Stack[T]) Len(extra int) int { return len(s.items) + extra }

//go:noinline
func Adder[T any](x T) func(int) int {
	return func(n int) int { fmt.Sprint(x); return n + 1 }
}

//go:noinline
func Map[T any](xs []T, f func(T) T) []T {
	out := make([]T, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

//go:noinline
func widths(a int8, b int16, c int32, d int64, e uint8, f uint16, g uint32, h uint64, s string, sl []int, p Pair, ptr *Server, fn func(int) int) int {
	return int(a) + int(b) + int(c) + int(d) + int(e) + int(f) + int(g) + int(h) + len(s) + int(s[0]) + sl[0] + cap(sl) + p.A + p.B + ptr.n + fn(1)
}

//go:noinline
func mixed(a int8, s string, b int64) int64 { return int64(a) + int64(len(s)) + b }

//go:noinline
func many(a, b, c, d, e, f, g, h, i, j, k int, s string, z int8) (int, string) {
	return a + b + c + d + e + f + g + h + i + j + k + int(z), s
}

//go:noinline
func rewind(a, b, c, d, e, f, g, h int, s string, z int8) int {
	return a + b + c + d + e + f + g + h + len(s) + int(s[0]) + int(z)
}

//go:noinline
func floats(x float64, y float32, n int, c complex128, m Mixed) float64 {
	return x + float64(y) + float64(n) + real(c) + m.F + float64(m.I)
}

//go:noinline
func arrays(one [1]int, two [2]int, none [0]int, e struct{}, last uint16) int {
	return one[0] + two[0] + two[1] + len(none) + int(last)
}

//go:noinline
func kinds(err error, m map[string]int, ch chan int, up unsafe.Pointer, ok bool, u uintptr, i int, ui uint) (bool, error) {
	return ok && len(m) > 0 && cap(ch) >= 0 && up != nil && u > 0 && i+int(ui) > 0, err
}

//go:noinline
func blank(_ int, x int, _ string, unused float64) int { return x }

//go:noinline
func bigResults(a int) (r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 int) {
	return a, a, a, a, a, a, a, a, a, a
}

//go:noinline
func recurse(n int) int {
	var buf [64]byte
	buf[n%64] = byte(n)
	if n == 0 {
		return int(buf[0])
	}
	return recurse(n-1) + int(buf[n%64])
}

//go:noinline
func large(n int) int {
	var buf [1000]byte
	for i := range buf {
		buf[i] = byte(i + n)
	}
	return int(buf[n%1000]) + recurse(1)
}

//go:noinline
func huge() int {
	var buf [10000]byte
	for i := range buf {
		buf[i] = byte(i)
	}
	return int(buf[len(os.Args)])
}

//go:noinline
func leaf(x int) int { return x * 2 }

//go:noinline
func withDefer(x int) (r int) {
	defer func() {
		if recover() != nil {
			r = -1
		}
	}()
	if x < 0 {
		panic("negative")
	}
	return x
}

//go:noinline
func early(x int) int {
	if x > 100 {
		return x
	}
	if x > 10 {
		return x * 2
	}
	fmt.Println("small", x)
	return 0
}

func main() {
	s := &Server{}
	fmt.Println(s.handle(3), s.value(1))
	k := 7
	fmt.Println(Map([]int{1, 2}, func(x int) int { return x + k }))
	fmt.Println(Map([]string{"a"}, func(x string) string { return x + "!" }))
	st := &Stack[int]{}
	st.Push(4)
	fmt.Println(st.Len(1), Adder(2.5)(3))
	fmt.Println(widths(1, 2, 3, 4, 5, 6, 7, 8, "hi", []int{1}, Pair{1, 2}, s, func(x int) int { return x + k }))
	fmt.Println(mixed(1, "abc", 3))
	fmt.Println(many(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "s", 3))
	fmt.Println(rewind(1, 2, 3, 4, 5, 6, 7, 8, "s", 3))
	fmt.Println(floats(1.5, 2.5, 3, 4i+2, Mixed{1, 2}))
	fmt.Println(arrays([1]int{1}, [2]int{2, 3}, [0]int{}, struct{}{}, 9))
	fmt.Println(kinds(errors.New("e"), map[string]int{"a": 1}, make(chan int), unsafe.Pointer(s), true, 1, 2, 3))
	fmt.Println(blank(1, 2, "x", 3.5))
	fmt.Println(bigResults(1))
	fmt.Println(withDefer(1), withDefer(-1))
	fmt.Println(recurse(100), large(3), huge(), leaf(4), early(len(os.Args)), st.items)
}
`
