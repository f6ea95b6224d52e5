package export

import (
	"bufio"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/lang"
	"github.com/uscope/uscope/internal/output"
	"github.com/uscope/uscope/internal/session"
)

func parse(t *testing.T, src string) *lang.Program {
	t.Helper()
	p, err := lang.Parse("test", src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func reader(sn session.Snapshot) session.Reader {
	return func() (session.Snapshot, bool) { return sn, true }
}

func str(s string) output.Value { return output.StringValue(s, false) }

// expose returns the exposition (Prometheus text format) of e, as
// /metrics serves it.
func expose(t *testing.T, e *Exporter) string {
	t.Helper()
	var sb strings.Builder
	fams, err := gather(e.Points())
	if err != nil {
		t.Fatal(err)
	}
	tw := &textWriter{w: bufio.NewWriter(&sb)}
	for _, f := range fams {
		tw.family(f)
	}
	tw.w.Flush()
	return sb.String()
}

func TestKeyNames(t *testing.T) {
	p := parse(t, `uprobe:x:f { @calls[comm, func] = count(); @a[arg0 + 1, pid] = sum(1); $k = 1; @b[$k] = count();
		@c[pid] = count(); }
		uprobe:x:g { @c[tid] = count(); @s[ustack()] = count(); @l[le] = count(); }`)
	got := KeyNames(p)
	want := map[string]string{"@calls": "comm,func", "@a": "key0,pid", "@b": "k", "@c": "key0", "@s": "ustack", "@l": "key0"}
	for m, w := range want {
		if g := strings.Join(got[m], ","); g != w {
			t.Errorf("%s: labels %q, want %q", m, g, w)
		}
	}
}

func TestPrometheusMapping(t *testing.T) {
	p := parse(t, `uprobe:x:f { @calls[comm, func] = count(); @lat = hist(arg0); @lin[pid] = lhist(arg0, 0, 100, 10);
		@st = stats(arg0); @mx = max(arg0); @av = avg(arg0); @name = "str"; }`)
	h := make([]uint64, output.Log2Buckets)
	// values 0, 1, 2, 3, 5 (one each): buckets [0], [1], [2,4) x2, [4,8)
	h[output.Log2Bucket(0)]++
	h[output.Log2Bucket(1)]++
	h[output.Log2Bucket(2)]++
	h[output.Log2Bucket(3)]++
	h[output.Log2Bucket(5)]++
	l := make([]uint64, output.LinearBuckets(0, 100, 10))
	l[output.LinearBucket(15, 0, 100, 10)] = 3
	l[output.LinearBucket(150, 0, 100, 10)] = 1
	sn := session.Snapshot{
		Lost: 7,
		Full: map[string]uint64{"@calls": 2},
		Maps: []*output.Map{
			{Name: "@calls", Kind: output.AggCount, Entries: []output.Entry{{Key: []output.Value{str("app"), str("work")}, Value: output.IntValue(42, 8)}}},
			{Name: "@lat", Kind: output.AggHist, Entries: []output.Entry{{Buckets: h}}},
			{Name: "@lin", Kind: output.AggLHist, LHistMin: 0, LHistMax: 100, LHistStep: 10,
				Entries: []output.Entry{{Key: []output.Value{output.IntValue(9, 4)}, Buckets: l}}},
			{Name: "@st", Kind: output.AggStats, Entries: []output.Entry{{Count: 4, Sum: 10}}},
			{Name: "@mx", Kind: output.AggMax, Entries: []output.Entry{{Value: output.IntValue(-3, 8)}}},
			{Name: "@av", Kind: output.AggAvg, Entries: []output.Entry{{Count: 4, Sum: 10}}},
			{Name: "@name", Kind: output.AggValue, Entries: []output.Entry{{Value: str("x")}}},
		},
	}
	e := New(0)
	e.Add("", p, reader(sn), nil)
	text := expose(t, e)
	for _, want := range []string{
		`uscope_calls_total{comm="app",func="work"} 42`,
		`uscope_lost_events_total 7`,
		`uscope_map_full_updates_total{map="calls"} 2`,
		`uscope_lat_bucket{le="-1"} 0`,
		`uscope_lat_bucket{le="0"} 1`,
		`uscope_lat_bucket{le="1"} 2`,
		`uscope_lat_bucket{le="3"} 4`,
		`uscope_lat_bucket{le="7"} 5`,
		`uscope_lat_bucket{le="+Inf"} 5`,
		`uscope_lat_count 5`,
		`uscope_lin_bucket{pid="9",le="-1"} 0`,
		`uscope_lin_bucket{pid="9",le="19"} 3`,
		`uscope_lin_bucket{pid="9",le="99"} 3`,
		`uscope_lin_bucket{pid="9",le="+Inf"} 4`,
		`uscope_st_count 4`,
		`uscope_st_sum 10`,
		`uscope_st_avg 2.5`,
		`uscope_mx -3`,
		`uscope_av 2.5`,
		`uscope_series_dropped{map="calls"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if strings.Contains(text, "uscope_name") {
		t.Errorf("a map of strings was exported:\n%s", text)
	}
}

func TestMaxSeries(t *testing.T) {
	p := parse(t, `uprobe:x:f { @c[pid] = count(); }`)
	entries := func(pids ...int64) []output.Entry {
		var es []output.Entry
		for _, pid := range pids {
			es = append(es, output.Entry{Key: []output.Value{output.IntValue(pid, 4)}, Value: output.IntValue(1, 8)})
		}
		return es
	}
	sn := session.Snapshot{Maps: []*output.Map{{Name: "@c", Kind: output.AggCount, Entries: entries(5, 3, 4)}}}
	e := New(2)
	e.Add("prog", p, func() (session.Snapshot, bool) { return sn, true }, map[string]string{"container": "abc"})
	text := expose(t, e)
	for _, want := range []string{`uscope_c_total{container="abc",pid="3",program="prog"} 1`, `uscope_c_total{container="abc",pid="4",program="prog"} 1`,
		`uscope_series_dropped{map="c",program="prog"} 1`} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if strings.Contains(text, `pid="5"`) {
		t.Errorf("third series exported beyond --max-series 2:\n%s", text)
	}
	// A series already exported stays; a new, smaller key does not push it out.
	sn.Maps[0].Entries = entries(1, 3, 4)
	text = expose(t, e)
	if !strings.Contains(text, `pid="3"`) || !strings.Contains(text, `pid="4"`) || strings.Contains(text, `pid="1"`) {
		t.Errorf("admitted series were not kept:\n%s", text)
	}
	// When one goes away, the new key gets its place.
	sn.Maps[0].Entries = entries(1, 4)
	text = expose(t, e)
	if !strings.Contains(text, `pid="1"`) || !strings.Contains(text, `series_dropped{map="c",program="prog"} 0`) {
		t.Errorf("a freed place was not reused:\n%s", text)
	}
}
