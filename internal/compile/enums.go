package compile

import "github.com/uscope/uscope/internal/lang"

// EnumType is a C enum the program defines: a value of its type prints as
// the name of its enumerator (when it has one) in text output and in
// printf's %s, and as its number in %d and in JSON, as in bpftrace.
type EnumType struct {
	Name  string           // "enum Foo", or "enum" for an anonymous one
	Names map[int64]string // value -> enumerator
}

// enum is what the program's enumerators are: their value and type.
type enumerator struct {
	value int64
	typ   *Type
}

// enumTypes records the program's enums: each a type ("enum Foo" in casts)
// and its enumerators, names usable wherever an expression is.
func (c *compiler) enumTypes(defs []*lang.EnumDef) {
	c.enums = map[string]*Type{}
	c.enumerators = map[string]enumerator{}
	for _, d := range defs {
		et := &EnumType{Name: "enum", Names: map[int64]string{}}
		if d.Name != "" {
			et.Name = "enum " + d.Name
			if _, dup := c.enums[et.Name]; dup {
				c.report(c.prog.Errorf(d, len(et.Name), "", "%s is defined twice", et.Name))
				continue
			}
		}
		t := &Type{Kind: KindInt, Size: 8, Signed: true, Enum: et}
		if d.Name != "" {
			c.enums[et.Name] = t
		}
		for _, v := range d.Values {
			if _, dup := c.enumerators[v.Name]; dup {
				c.report(c.prog.Errorf(d, len(et.Name), "", "enumerator %s is defined twice", v.Name))
				continue
			}
			if _, ok := et.Names[v.Value]; !ok {
				et.Names[v.Value] = v.Name
			}
			c.enumerators[v.Name] = enumerator{v.Value, t}
		}
	}
}
