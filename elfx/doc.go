// Package elfx reads ELF objects without surprises: function and data
// symbols from .symtab and .dynsym (GNU IFUNCs and symbol versions included),
// separate debug files found by build-id or .gnu_debuglink, the mapping of
// virtual addresses to file offsets through the program headers, and
// address-to-function symbolization.
//
// A File maps the object into memory read-only and decodes only what a caller
// asks for, so opening a 30 MB library and listing its functions costs a few
// milliseconds. Every offset read from the file is bounds-checked: a damaged
// or hostile object yields an error, never a panic.
//
// The common path:
//
//	f, err := elfx.Open("/usr/lib/x86_64-linux-gnu/libc.so.6")
//	defer f.Close()
//	s, ok := f.Lookup("malloc")          // .symtab, .dynsym or the debug file
//	off, err := f.AddrToOffset(s.Addr)   // what a uprobe attaches to
//	fn, delta, ok := f.FuncAt(pc - bias) // symbolize an address
//
// API:
//
//   - [Open], [OpenBytes] with [WithDebugRoot] and [WithoutDebugFile]: a
//     [File]; Close unmaps it.
//   - Symbols: [File.Lookup], [File.LookupAddr], [File.Symbols],
//     [File.Functions], [File.FuncAt]; [Symbol] and its [Source].
//   - Addresses: [File.AddrToOffset], [File.DataAddrToOffset],
//     [File.OffsetToAddr], [File.InExecSegment], [File.Loads] ([Segment]),
//     [File.ReadAtAddr].
//   - Debug files: [File.BuildID], [File.DebugLink], [File.DebugFile],
//     [File.DebugFilePath].
//   - [Demangle], [IsMangled]: C++ (Itanium) names.
//   - Errors: [ErrNotELF], [ErrClosed], [*FormatError] (errors.Is/As).
package elfx
