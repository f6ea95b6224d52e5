package output

import (
	"fmt"
	"hash/fnv"
	"html"
	"io"
	"sort"
	"strings"
)

// flameNode is one frame of the merged call tree.
type flameNode struct {
	name     string
	count    uint64 // samples of this frame and below (inclusive)
	children map[string]*flameNode
}

func (n *flameNode) child(name string) *flameNode {
	if n.children == nil {
		n.children = map[string]*flameNode{}
	}
	c := n.children[name]
	if c == nil {
		c = &flameNode{name: name}
		n.children[name] = c
	}
	return c
}

// sorted returns the children in name order, as flamegraph.pl draws them
// (the order of the folded lines, sorted).
func (n *flameNode) sorted() []*flameNode {
	out := make([]*flameNode, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Flame layout, in SVG user units.
const (
	flameWidth    = 1200.0
	flameFrameH   = 16.0
	flamePad      = 10.0
	flameTitleH   = 30.0
	flameMinWidth = 0.1 // narrower frames are left out, as flamegraph.pl does
	flameFontSize = 12.0
	flameCharW    = 0.59 * flameFontSize
)

// FlameGraph writes stacks as a flame graph SVG: the root ("all") at the
// bottom, each frame's width proportional to its samples, children left to
// right in name order, like Brendan Gregg's flamegraph.pl. Every frame is a
// <g class="frame"> holding a <title> ("name (N samples, P%)"), a <rect>
// and a <text> label cut to fit; data-name and data-samples repeat the
// frame's name and count for tools and tests. The SVG has no script and
// no external resources.
func FlameGraph(w io.Writer, title string, stacks []Sampled) error {
	root := &flameNode{name: "all"}
	depth := 0
	for _, s := range stacks {
		if s.Count == 0 {
			continue
		}
		root.count += s.Count
		n := root
		for _, f := range s.Frames {
			n = n.child(f)
			n.count += s.Count
		}
		depth = max(depth, len(s.Frames))
	}
	height := flameTitleH + float64(depth+1)*flameFrameH + 2*flamePad
	var sb strings.Builder
	fmt.Fprintf(&sb, `<?xml version="1.0" standalone="no"?>
<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Verdana, sans-serif" font-size="%.0f">
<rect x="0" y="0" width="100%%" height="100%%" fill="#f8f8f8"/>
<text x="%.1f" y="%.1f" text-anchor="middle" font-size="17">%s</text>
`, flameWidth, height, flameWidth, height, flameFontSize, flameWidth/2, flamePad+16, html.EscapeString(title))
	if root.count > 0 {
		scale := (flameWidth - 2*flamePad) / float64(root.count)
		bottom := height - flamePad - flameFrameH
		var draw func(n *flameNode, x float64, level int)
		draw = func(n *flameNode, x float64, level int) {
			wd := float64(n.count) * scale
			if wd < flameMinWidth {
				return
			}
			y := bottom - float64(level)*flameFrameH
			pct := 100 * float64(n.count) / float64(root.count)
			name := html.EscapeString(n.name)
			fmt.Fprintf(&sb, `<g class="frame" data-name="%s" data-samples="%d" data-depth="%d"><title>%s (%d samples, %.2f%%)</title>`,
				name, n.count, level, name, n.count, pct)
			fmt.Fprintf(&sb, `<rect x="%.2f" y="%.1f" width="%.2f" height="%.1f" rx="2" fill="%s"/>`, x, y, wd, flameFrameH-1, flameColor(n.name))
			if label := flameLabel(n.name, wd); label != "" {
				fmt.Fprintf(&sb, `<text x="%.2f" y="%.1f">%s</text>`, x+3, y+flameFrameH-4.5, html.EscapeString(label))
			}
			sb.WriteString("</g>\n")
			cx := x
			for _, c := range n.sorted() {
				draw(c, cx, level+1)
				cx += float64(c.count) * scale
			}
		}
		draw(root, flamePad, 0)
	}
	sb.WriteString("</svg>\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// flameLabel cuts name to fit a frame wd units wide ("" when not even
// two characters fit), ending it in ".." when cut, as flamegraph.pl does.
func flameLabel(name string, wd float64) string {
	fit := int((wd - 6) / flameCharW)
	if fit < 3 {
		return ""
	}
	r := []rune(name)
	if len(r) <= fit {
		return name
	}
	return string(r[:fit-2]) + ".."
}

// flameColor is a warm color picked from the name, stable across runs.
func flameColor(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	r := 205 + v%50
	g := (v >> 8) % 230
	b := (v >> 16) % 55
	return fmt.Sprintf("rgb(%d,%d,%d)", r, g, b)
}
