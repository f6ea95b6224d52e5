package resolve

import (
	"strings"

	"github.com/ianlancetaylor/demangle"
	"github.com/uscope/uscope/elfx"
)

// Glob is a pattern in which '*' matches any run of characters (also none)
// and every other character matches itself.
type Glob struct {
	pattern string
	parts   []string // pattern split at '*'
}

// CompileGlob prepares pattern for matching.
func CompileGlob(pattern string) Glob {
	return Glob{pattern: pattern, parts: strings.Split(pattern, "*")}
}

// String returns the pattern.
func (g Glob) String() string { return g.pattern }

// Literal reports whether the pattern has no '*'.
func (g Glob) Literal() bool { return len(g.parts) == 1 }

// IsGlob reports whether s contains a wildcard.
func IsGlob(s string) bool { return strings.ContainsRune(s, '*') }

// Match reports whether s matches the whole pattern.
func (g Glob) Match(s string) bool {
	if len(g.parts) == 1 {
		return s == g.pattern
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, p := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// nameMatcher matches symbol names, mangled or demangled, against a glob,
// demangling only the names that can possibly match: identifiers in a
// demangled C++ or Rust name appear verbatim in the mangled one, so a name
// that lacks one of the pattern's identifiers cannot match once demangled.
type nameMatcher struct {
	g Glob
	// prefix is prepended to every name before matching (the "uprobe:PATH:"
	// of a list line); it is not part of the name.
	prefix string
	// required are identifier runs of the pattern that a mangled name must
	// contain for its demangled form to have a chance.
	required []string
	// params is false when the pattern has no '(' : then a demangled name
	// also matches without its parameter list ("ns::f" matches
	// "ns::f(int)").
	params bool
}

func newNameMatcher(g Glob, prefix string) *nameMatcher {
	m := &nameMatcher{g: g, prefix: prefix, params: strings.ContainsRune(g.pattern, '(')}
	for _, part := range g.parts {
		for _, run := range identRuns(part) {
			if generatedWord(run) || strings.Contains(prefix, run) {
				continue
			}
			m.required = append(m.required, run)
		}
	}
	return m
}

// identRuns returns the maximal runs of [A-Za-z0-9_] in s that are not all
// digits.
func identRuns(s string) []string {
	var out []string
	start := -1
	digits := true
	flush := func(end int) {
		if start >= 0 && !digits {
			out = append(out, s[start:end])
		}
		start, digits = -1, true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ident := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !ident {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
		}
		if c < '0' || c > '9' {
			digits = false
		}
	}
	flush(len(s))
	return out
}

// generatedWords are words a demangler writes that need not appear in the
// mangled name: builtin types, std:: abbreviations, operator and special
// names, Rust primitive types.
var generatedWords = []string{
	"std", "allocator", "basic_string", "char_traits", "basic_istream", "basic_ostream",
	"basic_iostream", "string", "istream", "ostream", "iostream", "__cxx11",
	"unsigned", "signed", "char", "short", "int", "long", "float", "double", "bool",
	"void", "wchar_t", "char8_t", "char16_t", "char32_t", "__int128", "__float128",
	"_Float16", "_Float32", "_Float64", "_Float128", "_Float32x", "_Float64x", "decimal32",
	"decimal64", "decimal128", "half", "_Accum", "_Fract", "_Sat", "nullptr_t",
	"const", "volatile", "restrict", "__restrict", "operator", "new", "delete",
	"sizeof", "alignof", "typeid", "noexcept", "throw", "decltype", "auto", "nullptr",
	"true", "false", "this", "template", "typename", "requires", "co_await",
	"vtable", "VTT", "typeinfo", "name", "for", "fn", "construction", "in", "guard",
	"variable", "reference", "temporary", "thunk", "to", "virtual", "non",
	"covariant", "return", "TLS", "init", "function", "wrapper", "transaction",
	"clone", "hidden", "alias", "java", "resource", "global", "constructors",
	"destructors", "keyed", "module", "initializer", "parameter", "object",
	"literal", "lambda", "unnamed", "type", "anonymous", "namespace", "abi",
	"enable_if", "mut", "dyn", "unsafe", "extern", "str", "usize", "isize",
	"u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
	"f32", "f64", "closure", "shim", "impl", "as", "vector", "ellipsis", "__va_list_tag",
}

// generatedWord reports whether run could come from a word the demangler
// generates (a substring of one of generatedWords).
func generatedWord(run string) bool {
	for _, w := range generatedWords {
		if strings.Contains(w, run) {
			return true
		}
	}
	return false
}

// mayMatchDemangled reports whether the demangled form of mangled can match.
func (m *nameMatcher) mayMatchDemangled(mangled string) bool {
	if !elfx.IsMangled(mangled) {
		return false
	}
	for _, r := range m.required {
		if !strings.Contains(mangled, r) {
			return false
		}
	}
	return true
}

// match reports whether name (mangled) matches, and returns its demangled
// form when it had to be computed ("" otherwise).
func (m *nameMatcher) match(name string) (ok bool, demangled string) {
	if m.g.Match(m.prefix + name) {
		return true, ""
	}
	if !m.mayMatchDemangled(name) {
		return false, ""
	}
	d := elfx.Demangle(name)
	if d == name {
		return false, ""
	}
	if m.g.Match(m.prefix + d) {
		return true, d
	}
	if !m.params {
		if np := demangleNoParams(name); np != "" && np != d && m.g.Match(m.prefix+np) {
			return true, d
		}
	}
	return false, d
}

// demangleNoParams demangles without the parameter list.
func demangleNoParams(name string) (out string) {
	defer func() {
		if recover() != nil {
			out = ""
		}
	}()
	base := name
	if i := strings.IndexByte(name, '@'); i > 0 {
		base = name[:i]
	}
	s, err := demangle.ToString(base, demangle.NoParams)
	if err != nil {
		return ""
	}
	return s
}
