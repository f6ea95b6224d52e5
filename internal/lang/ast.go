// Package lang holds uscope's probe language: its lexer, parser, abstract
// syntax tree and error reporting. The language follows bpftrace's syntax for
// userspace probes; bcc's `trace` and `argdist` specs are translated into the
// same tree, so that one compiler serves every front end.
package lang

import "fmt"

// Pos is a position in a source text. Line and Col are 1-based; Col counts
// bytes. Offset is the 0-based byte offset.
type Pos struct {
	Line, Col, Offset int
}

// String returns the position as "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// IsValid reports whether the position was set.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Node is any node of the tree.
type Node interface {
	Position() Pos
}

// Program is a parsed program: a list of probes.
type Program struct {
	// File names the source for messages ("stdin" for a one-liner, as bpftrace names it).
	File string
	// Source is the whole text, kept for error carets.
	Source string
	Probes []*Probe
	// Config holds the settings of a config = { ... } block, in order.
	Config []*ConfigItem
	// Structs are the C structs and unions the program defines.
	Structs []*StructDef
	// Enums are the C enums the program defines.
	Enums []*EnumDef
	// MapDecls are the maps declared with let @m = hash(N).
	MapDecls []*MapDecl
	// Macros are the macros the program defines, expanded where called.
	Macros []*MacroDef
	// Directives are its #define and #include lines, in order (uscope
	// has no C preprocessor: a #define gives an integer constant, an
	// #include the constants of a system header uscope knows).
	Directives []*Directive
}

// Directive is a line #define NAME VALUE or #include <HEADER>.
type Directive struct {
	Pos Pos
	// Include is the header of an #include, as written (<errno.h>).
	Include string
	// Name and Value are a #define's; Value is an integer.
	Name  string
	Value int64
}

// MacroDef is macro NAME(PARAMS) { BODY }. A parameter is an expression
// (x: substituted where it is used), a variable ($a) or a map (@b), which
// the call must pass as such.
type MacroDef struct {
	Pos    Pos
	Name   string
	Params []string // "x", "$a", "@b"
	Body   *BlockExpr
}

// Position implements Node.
func (d *MacroDef) Position() Pos { return d.Pos }

// BlockExpr is { statements; value }: the statements run, then the value,
// if any (the last expression, without ';'), is the block's.
type BlockExpr struct {
	Pos   Pos
	Stmts []Stmt
	Value Expr // nil: a block of statements only
}

// MapDecl declares a map's kind and size: let @m = lruhash(100).
type MapDecl struct {
	Pos  Pos
	Name string // without '@'
	Kind string // hash, lruhash, percpuhash, percpulruhash, percpuarray
	Size int
}

// Position implements Node.
func (d *MapDecl) Position() Pos   { return d.Pos }
func (d *Directive) Position() Pos { return d.Pos }

// Position implements Node.
func (c *ConfigItem) Position() Pos { return c.Pos }

// ConfigItem is one key = value of a config block.
type ConfigItem struct {
	Pos   Pos
	Key   string // as written: stack_mode, BPFTRACE_STACK_MODE
	Value string // a number, a word or a string's text
	// Len is how many bytes the item spans, from its key to its value's end.
	Len int
}

// Probe is one probe block: attach points sharing a predicate and body.
type Probe struct {
	Pos    Pos
	Points []*AttachPoint
	// Pred is the predicate between slashes, or nil.
	Pred Expr
	Body *Block
	// Trace is set when the probe was translated from a bcc trace spec:
	// its printf calls print as bcc trace rows (PID TID COMM FUNC -).
	Trace *TraceInfo
}

// TraceInfo describes a probe that came from a bcc trace spec.
type TraceInfo struct {
	// Spec is the spec as written.
	Spec string
	// Label is the FUNC column bcc prints (the function or probe name).
	Label string
}

// Position implements Node.
func (p *Probe) Position() Pos { return p.Pos }

// Attach point kinds, in canonical long form.
const (
	KindBegin     = "BEGIN"
	KindEnd       = "END"
	KindUprobe    = "uprobe"
	KindUretprobe = "uretprobe"
	KindUSDT      = "usdt"
	KindInterval  = "interval"
	KindProfile   = "profile" // profile:hz:N, profile:us:N (profile.go)
	// KindBench is bench:NAME, run in a loop and timed by --mode bench.
	KindBench = "bench"
	// KindSelf is self:signal:SIGUSR1, run when uscope gets the signal
	// (Func holds the signal's name).
	KindSelf = "self"
)

// AttachPoint is one attach point of a probe, already split into its parts.
//
//	uprobe:TARGET:FUNC[+OFF]      Kind=uprobe, Target, Func, Offset/HasOffset
//	uprobe:TARGET:0xADDR          Kind=uprobe, Target, Addr/HasAddr
//	uprobe:TARGET:cpp:FUNC        Kind=uprobe, Lang="cpp" (FUNC is a demangled C++ name)
//	uretprobe:TARGET:FUNC         Kind=uretprobe
//	usdt:TARGET:[PROVIDER:]NAME   Kind=usdt, Target, Provider (may be ""), Func=NAME
//	interval:s:N / interval:ms:N  Kind=interval, IntervalNanos
//	BEGIN, END                    Kind=BEGIN / END
//	bench:NAME                    Kind=bench, Func=NAME (--mode bench)
//
// Short forms (u, ur, U, i) are expanded to the long kind. Target may be empty
// (with -p, the process's executable), contain '*', or be a library short
// name; resolving it is the compiler's job, not the parser's.
type AttachPoint struct {
	Pos Pos
	// Raw is the attach point as written.
	Raw      string
	Kind     string
	Target   string
	Provider string
	Func     string
	// Lang is "cpp" when the function was written cpp:NAME (or c++:NAME),
	// asking to match demangled C++ names; "" otherwise.
	Lang      string
	Offset    uint64
	HasOffset bool
	Addr      uint64
	HasAddr   bool
	// Line is the source line of a line probe (HasLine):
	// KIND:TARGET:FILE:LINE (File set) or KIND:TARGET:FUNC:LINE (Func
	// set, LINE counted from the line of the function's name, which is
	// line 0, as perf probe counts); -1 for LINE written '*'.
	Line    int
	HasLine bool
	File    string
	// IntervalNanos is the period of an interval probe, and of a profile
	// probe given in time units.
	IntervalNanos uint64
	// ProfileHz is the frequency of a profile:hz:N probe.
	ProfileHz uint64
}

// Position implements Node.
func (a *AttachPoint) Position() Pos { return a.Pos }

// Block is a braced list of statements.
type Block struct {
	Pos   Pos
	Stmts []Stmt
}

// Position implements Node.
func (b *Block) Position() Pos { return b.Pos }

// Stmt is a statement.
type Stmt interface {
	Node
	stmt()
}

// ExprStmt is an expression evaluated for its effect, usually a call.
type ExprStmt struct {
	X Expr
}

// AssignStmt assigns to a scratch variable ($x) or a map element (@m[k]).
// Op is "=" or a compound operator ("+=", "-=", "*=", "/=", "%=", "&=",
// "|=", "^=", "<<=", ">>=").
type AssignStmt struct {
	Pos Pos
	Op  string
	LHS Expr // *Var or *MapExpr
	RHS Expr
}

// IfStmt is if/else. Else is nil, a *Block, or an *IfStmt (else if).
type IfStmt struct {
	Pos  Pos
	Cond Expr
	Then *Block
	Else Stmt
}

// WhileStmt is a bounded loop (the verifier must prove it terminates).
type WhileStmt struct {
	Pos  Pos
	Cond Expr
	Body *Block
}

// UnrollStmt repeats its body Count times (bpftrace's unroll(N)).
type UnrollStmt struct {
	Pos   Pos
	Count Expr
	Body  *Block
}

// ReturnStmt ends the probe's execution.
type ReturnStmt struct {
	Pos Pos
}

// LetStmt declares a variable: let $x; let $x = v; let $x: type = v.
type LetStmt struct {
	Pos  Pos
	Var  *Var
	Type *TypeName // nil without a type
	Init Expr      // nil without a value
}

// BreakStmt leaves the innermost loop; ContinueStmt starts its next round.
type BreakStmt struct{ Pos Pos }

// ContinueStmt starts the innermost loop's next round.
type ContinueStmt struct{ Pos Pos }

// ForStmt is for ($v : lo..hi) { ... } (Map nil) or for ($kv : @m) { ... }.
type ForStmt struct {
	Pos    Pos
	Var    *Var
	Lo, Hi Expr
	Map    *MapExpr
	Body   *Block
}

func (*ExprStmt) stmt()     {}
func (*AssignStmt) stmt()   {}
func (*IfStmt) stmt()       {}
func (*WhileStmt) stmt()    {}
func (*UnrollStmt) stmt()   {}
func (*ReturnStmt) stmt()   {}
func (*LetStmt) stmt()      {}
func (*BreakStmt) stmt()    {}
func (*ContinueStmt) stmt() {}
func (*ForStmt) stmt()      {}
func (*Block) stmt()        {}

// Position implements Node.
func (s *ExprStmt) Position() Pos { return s.X.Position() }

// Position implements Node.
func (s *AssignStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *IfStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *WhileStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *UnrollStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *ReturnStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *LetStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *BreakStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *ContinueStmt) Position() Pos { return s.Pos }

// Position implements Node.
func (s *ForStmt) Position() Pos { return s.Pos }

// Expr is an expression.
type Expr interface {
	Node
	expr()
}

// IntLit is an integer literal: decimal, 0x hex or 0 octal, with optional
// '_' separators (1_000). Character literals ('a') are IntLit too.
type IntLit struct {
	Pos   Pos
	Value uint64
	Text  string
}

// StrLit is a string literal, escapes already decoded.
type StrLit struct {
	Pos   Pos
	Value string
}

// Var is a scratch variable $name.
type Var struct {
	Pos  Pos
	Name string // without '$'
}

// Positional is a positional parameter $1, $2 ... (from the command line);
// N is 0 for $#, the number of them.
type Positional struct {
	Pos Pos
	N   int
}

// MapExpr is @name or @name[keys...]. The bare @ is a map named "".
type MapExpr struct {
	Pos  Pos
	Name string // without '@'
	Keys []Expr // nil when written without brackets
}

// Ident is a bare identifier: a builtin variable (pid, tid, comm, arg0,
// retval, nsecs, ...) or the special "args".
type Ident struct {
	Pos  Pos
	Name string
}

// Call is a function call: printf, str, count, hist, delete, ...
type Call struct {
	Pos  Pos
	Name string
	Args []Expr
}

// Unary is a prefix operator: "-", "!", "~", "*" (dereference), "&" (address of).
type Unary struct {
	Pos Pos
	Op  string
	X   Expr
}

// IncDec is ++/-- on a variable or map element, prefix or postfix.
type IncDec struct {
	Pos  Pos
	Op   string // "++" or "--"
	X    Expr
	Post bool
}

// Binary is an infix operator: + - * / % & | ^ << >> == != < <= > >= && ||.
type Binary struct {
	Pos Pos // position of the operator
	Op  string
	X   Expr
	Y   Expr
}

// Ternary is cond ? then : else; Then is nil for cond ?: else, whose value
// is cond's when it is not zero.
type Ternary struct {
	Pos  Pos
	Cond Expr
	Then Expr
	Else Expr
}

// TypeName is a type as written in a cast: a base name (int8 ... uint64,
// int, char, bool, void, or a struct name) and a pointer depth.
//
// The parser normalizes Name: C's combinations fold into one word (unsigned
// long long -> ulong, unsigned int -> uint, unsigned char -> uchar, short
// int -> short, signed -> int), kernel and stdint spellings become the
// language's (u32, __u32, uint32_t -> uint32), qualifiers (const, volatile)
// are dropped, and struct/union/enum keep their keyword ("struct foo").
// Other names (size_t, pid_t, a typedef) are kept as written.
type TypeName struct {
	Pos  Pos
	Name string
	Ptr  int
	// Array is the length of an array cast, (int8[8])x; -1 for (int8[])x,
	// whose length comes from the value's size; 0 otherwise.
	Array int
	// Typeof is the expression of typeof(EXPR), whose type this is (with
	// Ptr more pointers); Name is empty then.
	Typeof Expr
}

// Cast is (type)expr.
type Cast struct {
	Pos  Pos
	Type TypeName
	X    Expr
}

// Field is X.Name or X->Name (args.path, args->path). On a tuple, Name is
// the element's decimal index ($t.0). Pos is the position of '.' or '->'.
type Field struct {
	Pos   Pos
	X     Expr
	Name  string
	Arrow bool
}

// Index is X[I] on a pointer or array value (not a map: maps are MapExpr).
type Index struct {
	Pos   Pos
	X     Expr
	Index Expr
}

// Tuple is (a, b, ...) with at least two elements.
type Tuple struct {
	Pos   Pos
	Elems []Expr
	// Names are the field names of a record, (a=1, b="x"); nil for a
	// tuple.
	Names []string
}

func (*IntLit) expr()     {}
func (*StrLit) expr()     {}
func (*Var) expr()        {}
func (*Positional) expr() {}
func (*MapExpr) expr()    {}
func (*Ident) expr()      {}
func (*Call) expr()       {}
func (*Unary) expr()      {}
func (*IncDec) expr()     {}
func (*Binary) expr()     {}
func (*Ternary) expr()    {}
func (*Cast) expr()       {}
func (*Field) expr()      {}
func (*Index) expr()      {}
func (*Tuple) expr()      {}
func (*BlockExpr) expr()  {}

// Position implements Node.
func (e *IntLit) Position() Pos { return e.Pos }

// Position implements Node.
func (e *StrLit) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Var) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Positional) Position() Pos { return e.Pos }

// Position implements Node.
func (e *MapExpr) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Ident) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Call) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Unary) Position() Pos { return e.Pos }

// Position implements Node.
func (e *IncDec) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Binary) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Ternary) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Cast) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Field) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Index) Position() Pos { return e.Pos }

// Position implements Node.
func (e *Tuple) Position() Pos { return e.Pos }

// Position implements Node.
func (e *BlockExpr) Position() Pos { return e.Pos }

// StructDef is a C struct or union defined in the program:
// struct Foo { int a; char name[16]; struct Bar *next; }.
type StructDef struct {
	Pos    Pos
	Name   string // "" for an anonymous struct defined inside another
	Union  bool
	Fields []*FieldDef
	// Packed is __attribute__((packed)): members without padding.
	Packed bool
}

// Position implements Node.
func (d *StructDef) Position() Pos { return d.Pos }

// EnumDef is a C enum defined in the program: enum Foo { A, B = 5, C }.
// Each enumerator's value is as C gives it (the previous one's plus one
// when it has no '= N').
type EnumDef struct {
	Pos    Pos
	Name   string // "" for an anonymous enum
	Values []EnumValue
}

// EnumValue is one enumerator of an EnumDef.
type EnumValue struct {
	Pos   Pos
	Name  string
	Value int64
}

// Position implements Node.
func (d *EnumDef) Position() Pos { return d.Pos }

// FieldDef is one member of a StructDef.
type FieldDef struct {
	Pos  Pos
	Name string
	Type CType
}

// CType is a C type as a member declares it: a base (a type name as casts
// normalize it, "struct Foo", or an anonymous struct in place), pointers,
// array dimensions (outermost first) and a bit-field width.
type CType struct {
	Pos    Pos
	Name   string
	Inline *StructDef
	Ptr    int
	Array  []int
	Bits   int
}

// Position implements Node.
func (f *FieldDef) Position() Pos { return f.Pos }
