package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uscope/uscope/internal/testutil"
)

// otlpProfiles is the file exporter's JSON of OTLP profiles: only the
// fields the test reads.
type otlpProfiles struct {
	ResourceProfiles []struct {
		ScopeProfiles []struct {
			Profiles []struct {
				SampleType struct {
					Type int `json:"typeStrindex"`
					Unit int `json:"unitStrindex"`
				} `json:"sampleType"`
				PeriodType struct {
					Type int `json:"typeStrindex"`
					Unit int `json:"unitStrindex"`
				} `json:"periodType"`
				Period  string `json:"period"`
				Samples []struct {
					Stack  int      `json:"stackIndex"`
					Attrs  []int    `json:"attributeIndices"`
					Values []string `json:"values"`
				} `json:"samples"`
			} `json:"profiles"`
		} `json:"scopeProfiles"`
	} `json:"resourceProfiles"`
	Dictionary struct {
		Locations []struct {
			Lines []struct {
				Function int `json:"functionIndex"`
			} `json:"lines"`
		} `json:"locationTable"`
		Functions []struct {
			Name int `json:"nameStrindex"`
		} `json:"functionTable"`
		Strings []string `json:"stringTable"`
		Attrs   []struct {
			Key   int `json:"keyStrindex"`
			Value struct {
				String string `json:"stringValue"`
			} `json:"value"`
		} `json:"attributeTable"`
		Stacks []struct {
			Locations []int `json:"locationIndices"`
		} `json:"stackTable"`
	} `json:"dictionary"`
}

// profileRow is one sample as a folded line's parts.
type profileRow struct {
	sampleType, periodType string
	period                 string
	attrs                  map[string]string
	frames                 []string // root first
	value                  int
}

// collectorProfiles reads the profiles the collector wrote so far.
func collectorProfiles(t *testing.T, c *collector) []profileRow {
	t.Helper()
	var out []profileRow
	c.lines(func(l []byte) {
		var b otlpProfiles
		if json.Unmarshal(l, &b) != nil || len(b.ResourceProfiles) == 0 {
			return
		}
		d := b.Dictionary
		str := func(i int) string {
			if i < len(d.Strings) {
				return d.Strings[i]
			}
			return fmt.Sprintf("bad string %d", i)
		}
		for _, rp := range b.ResourceProfiles {
			for _, sp := range rp.ScopeProfiles {
				for _, p := range sp.Profiles {
					for _, s := range p.Samples {
						r := profileRow{sampleType: str(p.SampleType.Type) + "/" + str(p.SampleType.Unit),
							periodType: str(p.PeriodType.Type) + "/" + str(p.PeriodType.Unit), period: p.Period, attrs: map[string]string{}}
						for _, a := range s.Attrs {
							r.attrs[str(d.Attrs[a].Key)] = d.Attrs[a].Value.String
						}
						locs := d.Stacks[s.Stack].Locations
						for i := len(locs) - 1; i >= 0; i-- { // leaf first in OTLP
							fn := d.Locations[locs[i]].Lines[0].Function
							r.frames = append(r.frames, str(d.Functions[fn].Name))
						}
						r.value, _ = strconv.Atoi(s.Values[0])
						out = append(out, r)
					}
				}
			}
		}
	})
	return out
}

// TestOTLPProfiles: `uscope stack` and `uscope profile` with --otlp send
// their stacks as OTLP profiles (over HTTP/protobuf and gRPC) to a real
// Collector with its profiles feature gate on, and its file exporter
// writes them: stack's profile has the N calls of work under main, with
// comm and pid as sample attributes; profile's samples equal, stack by
// stack, the folded file the same run wrote, with the sampling period.
func TestOTLPProfiles(t *testing.T) {
	testutil.RequireRoot(t)
	col := startCollectorWith(t, true)
	const n = 7
	bin := fleetwork(t)
	out := runOK(t, "stack", "--otlp", "http://"+col.http, "-c", fmt.Sprintf("%s %d", bin, n), bin+":work")
	if !strings.Contains(out, "work") {
		t.Fatalf("stack printed no stack:\n%s", out)
	}
	var rows []profileRow
	waitFor(t, "stack's profile in the collector's file", func() (bool, string) {
		rows = collectorProfiles(t, col)
		return len(rows) > 0, col.log.String()
	})
	if len(rows) != 1 {
		t.Fatalf("stack: %d samples, want 1: %+v", len(rows), rows)
	}
	r := rows[0]
	if r.value != n || r.sampleType != "stacks/count" || r.attrs["comm"] != "fleetwork" || r.attrs["pid"] == "" {
		t.Errorf("stack's sample: %+v, want %d stacks/count with comm fleetwork and a pid", r, n)
	}
	if l := len(r.frames); l < 2 || r.frames[l-1] != "work" || r.frames[l-2] != "main" {
		t.Errorf("stack's frames %q, want ...;main;work", r.frames)
	}

	hot := testutil.BuildC(t, "hot", hotC, "-O0", "-fno-omit-frame-pointer")
	folded := filepath.Join(t.TempDir(), "hot.folded")
	runOK(t, "profile", "-F", "499", "--otlp", "grpc://"+col.grpc, "-c", hot, "-o", folded)
	b, err := os.ReadFile(folded)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		i := strings.LastIndexByte(l, ' ')
		v, _ := strconv.Atoi(l[i+1:])
		want[l[:i]] += v
	}
	var got map[string]int
	waitFor(t, "profile's samples in the collector's file", func() (bool, string) {
		got = map[string]int{}
		for _, r := range collectorProfiles(t, col)[1:] {
			if r.periodType != "cpu/nanoseconds" || r.period != strconv.Itoa(int(1e9)/499) {
				t.Fatalf("profile's period %s %s, want cpu/nanoseconds %d", r.periodType, r.period, int(1e9)/499)
			}
			got[r.attrs["comm"]+";"+strings.Join(r.frames, ";")] += r.value
		}
		return len(got) > 0, col.log.String()
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("OTLP profile samples:\n%v\nwant the folded file's:\n%v", got, want)
	}
	if !strings.Contains(string(b), "main;hot_a;spin") {
		t.Errorf("the profile has no main;hot_a;spin:\n%s", b)
	}
}
