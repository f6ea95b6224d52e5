// Package gobin inspects Go executables for tracing: build information, the
// function table in .gopclntab (also in stripped and PIE binaries), the
// machine code of functions with the addresses where entry and return probes
// belong, the offset of the goroutine id in runtime.g, and where the
// register-based calling convention (ABIInternal) places each parameter.
//
// Every parser in this package treats its input as hostile: a damaged binary
// yields an error, never a panic.
//
// Addresses are link-time virtual addresses, as in the ELF symbol table.
// FileOffset maps them to offsets in the file, which is what uprobes need.
//
// The common path, on a stripped binary as on any other:
//
//	b, err := gobin.OpenFile("/usr/local/bin/server")
//	defer b.Close()
//	fn, ok := b.FuncByName("main.(*Server).handle")
//	entry, moved, err := b.PrologueEnd(fn) // entry probe after the stack check
//	rets, err := b.RetSites(fn)            // return probes, one per RET
//	params, err := b.Params(fn.Name)       // where ABIInternal puts each argument
//
// API:
//
//   - [OpenFile] (close with [Binary.Close]), [Open] (an *elf.File the
//     caller keeps): a [Binary] with build info, [Binary.GoVersionAtLeast].
//   - Functions from .gopclntab: [Binary.Functions], [Binary.FuncByName],
//     [Binary.FuncAt], [Binary.Code], [Binary.FileOffset]; [Func].
//   - Machine code: [Binary.PrologueEnd], [Binary.RetSites],
//     [Binary.JumpsOut] pick the decoder from the architecture table (package
//     arch) and return [ErrUnsupportedArch] where there is none;
//     [PrologueEndAMD64], [RetSitesAMD64], [JumpsOutAMD64] take raw amd64 code.
//   - Parameters and types from DWARF: [Binary.Params] ([Param], [Piece],
//     registers named as in the architecture table), [Binary.ParamType]
//     ([Type], [Field]), [Binary.GoidOffset].
//   - Errors: [ErrNotGo], [ErrNoDWARF], [ErrUnsupportedArch] (errors.Is).
package gobin
