package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const good = `name: t
duration: 2h
events:
  - {at: 1h, kind: grid_loss}
  - at: 90m
    kind: grid_return
assertions:
  - {kind: detection_time, within: 2s}
  - kind: phases
    sequence: [connected, opening]
`

func TestReadsTheSuite(t *testing.T) {
	files, err := filepath.Glob("../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Read(f, r); err != nil {
			t.Error(err)
		}
		r.Close()
	}
}

func TestBadFilesGetFileLineField(t *testing.T) {
	cases := []struct{ from, to, want string }{
		{"duration: 2h", "duration: 2s", "t.yaml:2: duration: 2s outside 1m..96h"},
		{"kind: grid_return", "kind: grid_retrun", "t.yaml:6: events[1].kind: \"grid_retrun\": accepted"},
		{"at: 90m", "at: 30m", "t.yaml:5: events[1].at: 30m0s before the previous event at 1h0m0s"},
		{"{kind: detection_time, within: 2s}", "{kind: detection_time}", "t.yaml:8: assertions[0]: detection_time needs within"},
		{"[connected, opening]", "[connected, opned]", "t.yaml:10: assertions[1].sequence[1]: \"opned\""},
		{"name: t", "name: t\nbogus: 1", "t.yaml:2: (yaml): field bogus not found"},
		{"duration: 2h", "duration: [", "t.yaml:3: (yaml)"},
		{"{kind: detection_time, within: 2s}", "{kind: soc, max: 1}", "t.yaml:8: assertions[0]: soc needs min"},
		{"duration: 2h", "duration: 2h\nstep: 5ms", "t.yaml:3: step: 5ms outside 20ms..1s"},
		{"duration: 2h", "duration: 2h\ncategory: 1", "t.yaml:3: category: 1: accepted 2 or 3"},
		{"{at: 1h, kind: grid_loss}", "{at: 1h, kind: unintentional_island}", "t.yaml:4: events[0].quality_factor: 0 outside 0.1..10"},
		{"{at: 1h, kind: grid_loss}", "{at: 1h, kind: grid_loss, quality_factor: 1}", "t.yaml:4: events[0].quality_factor: only unintentional_island takes quality_factor"},
		{"{kind: detection_time, within: 2s}", "{kind: cessation_time, max: 2}", "t.yaml:8: assertions[0]: cessation_time needs within"},
		{"duration: 2h", "duration: 2h\ncurtailment: droop", "t.yaml:3: curtailment: \"droop\": accepted setpoint or frequency"},
	}
	for _, c := range cases {
		_, err := Read("t.yaml", strings.NewReader(strings.Replace(good, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q -> %q: got %v, want %s", c.from, c.to, err, c.want)
		}
	}
	if _, err := Read("t.yaml", strings.NewReader(good)); err != nil {
		t.Fatal(err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(good)
	files, _ := filepath.Glob("../scenarios/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("name: x\nduration: 1h\nassertions: [{kind: soc, min: .nan}]\n")
	f.Add("- a\n- b\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Read("f.yaml", strings.NewReader(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml:") {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		if s.Duration <= 0 || len(s.Assertions) == 0 {
			t.Fatalf("accepted an unrunnable scenario: %+v", s)
		}
	})
}
