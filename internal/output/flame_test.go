package output

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

var flameStacks = []Sampled{
	{Frames: []string{"main", "a", "b", "leaf"}, Count: 3},
	{Frames: []string{"main", "c", "leaf"}, Count: 1},
	{Frames: []string{"main", "a<int>&"}, Count: 2},
}

func TestFlameGraph(t *testing.T) {
	var buf bytes.Buffer
	if err := FlameGraph(&buf, "t", flameStacks); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	re := regexp.MustCompile(`<g class="frame" data-name="([^"]*)" data-samples="(\d+)" data-depth="(\d+)"><title>[^<]*</title><rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"`)
	type fr struct {
		n, d    int
		x, y, w float64
	}
	got := map[string]fr{}
	for _, m := range re.FindAllStringSubmatch(svg, -1) {
		n, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		x, _ := strconv.ParseFloat(m[4], 64)
		y, _ := strconv.ParseFloat(m[5], 64)
		w, _ := strconv.ParseFloat(m[6], 64)
		got[m[1]+"/"+m[3]] = fr{n, d, x, y, w}
	}
	want := map[string]int{"all/0": 6, "main/1": 6, "a/2": 3, "c/2": 1, "a&lt;int&gt;&amp;/2": 2, "b/3": 3, "leaf/4": 3, "leaf/3": 1}
	if len(got) != len(want) {
		t.Fatalf("frames %v, want %v\n%s", got, want, svg)
	}
	perSample := got["all/0"].w / 6
	for k, n := range want {
		f, ok := got[k]
		if !ok || f.n != n {
			t.Errorf("frame %s: %+v, want %d samples", k, f, n)
			continue
		}
		if d := f.w - float64(n)*perSample; d > 0.02 || d < -0.02 {
			t.Errorf("frame %s: width %.2f, want %.2f", k, f.w, float64(n)*perSample)
		}
	}
	// Children left to right in name order, each above its parent.
	a, a2, c := got["a/2"], got["a&lt;int&gt;&amp;/2"], got["c/2"]
	if !(a.x < a2.x && a2.x < c.x) || a.y >= got["main/1"].y || got["b/3"].y >= a.y {
		t.Errorf("layout: a %+v a<int>& %+v c %+v", a, a2, c)
	}
	if strings.Contains(svg, "<script") {
		t.Error("the SVG has a script")
	}
}

func TestPprof(t *testing.T) {
	var buf bytes.Buffer
	if err := Pprof(&buf, flameStacks, 1e7); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, s := range p.Sample {
		var names []string
		for i := len(s.Location) - 1; i >= 0; i-- {
			names = append(names, s.Location[i].Line[0].Function.Name)
		}
		got[strings.Join(names, ";")] += s.Value[0]
		if s.Value[1] != s.Value[0]*1e7 {
			t.Errorf("cpu value %d for %d samples", s.Value[1], s.Value[0])
		}
	}
	want := map[string]int64{"main;a;b;leaf": 3, "main;c;leaf": 1, "main;a<int>&": 2}
	if len(got) != len(want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d, want %d", k, got[k], n)
		}
	}
}
