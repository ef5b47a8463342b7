package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is one scenario file.
type Scenario struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	Day         int           `yaml:"day"`      // day of year, 1..366 (default 172)
	Start       time.Duration `yaml:"start"`    // time of day the run starts (default 0)
	Duration    time.Duration `yaml:"duration"` // simulated time, 1m..96h
	SoC         float64       `yaml:"soc"`      // initial state of charge (default 0.5)
	PVKW        float64       `yaml:"pv_kw"`    // PV DC rating (default 5)
	BatteryKWh  float64       `yaml:"battery_kwh"`
	EVKWh       float64       `yaml:"ev_kwh"` // energy the EV asks for; 0: no EV
	Seed        uint64        `yaml:"seed"`
	// Step is the plant step and control cycle (each cycle one protection tick), 20ms..1s (default 1 s).
	Step time.Duration `yaml:"step"`
	// Category is the unit's IEEE 1547 abnormal-performance category: 2 or 3 (default 2).
	Category int `yaml:"category"`
	// Units is how many units share the feeder (default 1); with more, the grid events are at the
	// feeder head and the community islands together (hil.Community).
	Units int `yaml:"units"`
	// Feeder is a MATPOWER case for the community's feeder, relative to the scenario file (empty: no
	// power flow). BatteriesKWh, when given, is each unit's battery (one per unit).
	Feeder       string    `yaml:"feeder"`
	BatteriesKWh []float64 `yaml:"batteries_kwh"`
	// Curtailment is how surplus PV is curtailed in an island: setpoint (default) or frequency.
	Curtailment string      `yaml:"curtailment"`
	Events      []Event     `yaml:"events"`
	Assertions  []Assertion `yaml:"assertions"`
}

// Event is a plant event at a time since the run's start.
type Event struct {
	At    time.Duration `yaml:"at"`
	Kind  string        `yaml:"kind"`
	Until time.Duration `yaml:"until"` // pcc_stuck: when the contactor frees again (0: never); excursion: its end
	// Voltage (p.u.) and Frequency (Hz) the utility holds during an excursion.
	Voltage   float64 `yaml:"voltage"`
	Frequency float64 `yaml:"frequency"`
	// QualityFactor is the RLC load an unintentional island leaves on the dead section (IEEE 1547.1
	// uses 1.0), matched to the unit's export.
	QualityFactor float64 `yaml:"quality_factor"`
}

// Event kinds.
const (
	GridLoss   = "grid_loss"
	GridReturn = "grid_return"
	PCCStuck   = "pcc_stuck" // the PCC contactor does not move when commanded
	// Excursion: the utility holds voltage and frequency (50 or 60 Hz systems alike) from at to until.
	Excursion = "utility_excursion"
	// UnintentionalIsland: the utility's breaker upstream opens and leaves the unit, PCC closed, on
	// a section whose RLC load (quality_factor) matches its export; a grid loss the breaker status
	// input does not show. grid_return ends it.
	UnintentionalIsland = "unintentional_island"
)

var eventKinds = []string{GridLoss, GridReturn, PCCStuck, Excursion, UnintentionalIsland}

// IsLoss is true for the events that take the utility away.
func (e Event) IsLoss() bool { return e.Kind == GridLoss || e.Kind == UnintentionalIsland }

// Assertion is one check on the run.
type Assertion struct {
	Kind     string        `yaml:"kind"`
	Max      *float64      `yaml:"max"`
	Min      *float64      `yaml:"min"`
	Within   time.Duration `yaml:"within"`
	Sequence []string      `yaml:"sequence"`
}

// Assertion kinds, with the fields they take.
var assertionKinds = map[string]string{
	"detection_time":    "within",  // from each grid loss to the PCC commanded open
	"cessation_time":    "within",  // from each grid loss until the unit no longer energises the utility's side
	"critical_unserved": "max",     // Wh
	"soc":               "min",     // lowest state of charge reached
	"frequency":         "min,max", // Hz, outside the first 2 s after each grid event
	"phases":            "sequence",
	"reconnect_delay":   "min", // seconds from grid return to the PCC closing, at least
	"pcc_operations":    "max", // commanded PCC changes
	"relay_chatter":     "max", // load relay changes per hour, at most
	"pv_curtailed":      "min", // Wh of PV curtailed, at least
	"frequency_rise":    "min", // Hz: the highest frequency while islanded minus nominal, at least
	"droop_sharing":     "max", // community: worst deviation of a unit's share of the island's imbalance from its rating's share
}

// Phases the sequence assertion may name.
var phaseNames = []string{"connected", "opening", "islanded", "synchronising", "closing", "stuck_closed", "blackout",
	"open_transition_cease", "open_transition_close"}

// Error is a problem in a scenario file: where and what.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg) }

const maxFileBytes = 1 << 20

// ReadFile opens, parses and checks the scenario file at path.
func ReadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	defer f.Close()
	s, err := Read(path, f)
	if err == nil && s.Feeder != "" && !filepath.IsAbs(s.Feeder) {
		s.Feeder = filepath.Join(filepath.Dir(path), s.Feeder)
	}
	return s, err
}

// Read parses and checks a scenario file.
func Read(name string, r io.Reader) (*Scenario, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scenario: %s: %w", name, err)
	}
	if len(data) > maxFileBytes {
		return nil, &Error{name, 1, "(file)", fmt.Sprintf("larger than %d bytes", maxFileBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &Error{name, 1, "(file)", "want a mapping with name, duration, events and assertions"}
	}
	s := Scenario{Day: 172, SoC: 0.5, PVKW: 5, BatteryKWh: 10, Seed: 1}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, yamlError(name, err)
	}
	c := checker{file: name, root: root.Content[0]}
	c.check(&s)
	if c.err != nil {
		return nil, c.err
	}
	return &s, nil
}

func yamlError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0] // the first problem, with its line
	}
	line := 1
	if i := strings.Index(msg, "line "); i >= 0 {
		var n int
		if _, e := fmt.Sscanf(msg[i:], "line %d", &n); e == nil && n > 0 {
			line = n
		}
	}
	if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
		msg = msg[i+2:]
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	return &Error{name, line, "(yaml)", msg}
}

type checker struct {
	file string
	root *yaml.Node
	err  error
}

// line finds the line of a field path ("events", 2, "at"), falling back to the closest parent.
func (c *checker) line(path ...any) int {
	n := c.root
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						next = n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return n.Line
}

func fieldName(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

// fail keeps the first problem in file order is not needed: the first found is reported.
func (c *checker) fail(path []any, format string, args ...any) {
	if c.err == nil {
		c.err = &Error{c.file, c.line(path...), fieldName(path), fmt.Sprintf(format, args...)}
	}
}

func at(parts ...any) []any { return parts }

func (c *checker) check(s *Scenario) {
	if strings.TrimSpace(s.Name) == "" {
		c.fail(at("name"), "missing")
	}
	if s.Day < 1 || s.Day > 366 {
		c.fail(at("day"), "%d outside 1..366", s.Day)
	}
	if s.Start < 0 || s.Start >= 24*time.Hour {
		c.fail(at("start"), "%v outside 0..24h", s.Start)
	}
	if s.Duration < time.Minute || s.Duration > 96*time.Hour {
		c.fail(at("duration"), "%v outside 1m..96h", s.Duration)
	}
	c.rangeCheck(at("soc"), s.SoC, 0.05, 0.95)
	c.rangeCheck(at("pv_kw"), s.PVKW, 0, 100)
	c.rangeCheck(at("battery_kwh"), s.BatteryKWh, 1, 1000)
	c.rangeCheck(at("ev_kwh"), s.EVKWh, 0, 200)
	if s.Step != 0 && (s.Step < 20*time.Millisecond || s.Step > time.Second) {
		c.fail(at("step"), "%v outside 20ms..1s", s.Step)
	} else if s.Step != 0 && s.Duration/s.Step > 2_000_000 {
		c.fail(at("step"), "%v makes %d steps over %v, more than 2000000", s.Step, s.Duration/s.Step, s.Duration)
	}
	if s.Units < 0 || s.Units > 20 {
		c.fail(at("units"), "%d outside 1..20", s.Units)
	}
	if len(s.BatteriesKWh) > 0 && len(s.BatteriesKWh) != max(s.Units, 1) {
		c.fail(at("batteries_kwh"), "%d batteries for %d units", len(s.BatteriesKWh), max(s.Units, 1))
	}
	for i, b := range s.BatteriesKWh {
		c.rangeCheck(at("batteries_kwh", i), b, 1, 1000)
	}
	if s.Curtailment != "" && s.Curtailment != "setpoint" && s.Curtailment != "frequency" {
		c.fail(at("curtailment"), "%q: accepted setpoint or frequency", s.Curtailment)
	}
	if s.Category != 0 && s.Category != 2 && s.Category != 3 {
		c.fail(at("category"), "%d: accepted 2 or 3", s.Category)
	}
	c.events(s)
	if len(s.Assertions) == 0 {
		c.fail(at("assertions"), "missing: a scenario without assertions proves nothing")
	}
	for i := range s.Assertions {
		c.assertion(i, &s.Assertions[i])
	}
}

func (c *checker) rangeCheck(path []any, v, lo, hi float64) {
	if math.IsNaN(v) || v < lo || v > hi {
		c.fail(path, "%g outside %g..%g", v, lo, hi)
	}
}

// events checks kinds and times: inside the run, in time order, losses and returns alternating.
func (c *checker) events(s *Scenario) {
	up := true
	var last time.Duration
	for i, e := range s.Events {
		if !slices.Contains(eventKinds, e.Kind) {
			c.fail(at("events", i, "kind"), "%q: accepted %s", e.Kind, strings.Join(eventKinds, ", "))
			continue
		}
		if e.At < 0 || e.At >= s.Duration {
			c.fail(at("events", i, "at"), "%v outside the run 0..%v", e.At, s.Duration)
		}
		if e.At < last {
			c.fail(at("events", i, "at"), "%v before the previous event at %v", e.At, last)
		}
		last = e.At
		switch e.Kind {
		case GridLoss, UnintentionalIsland:
			if !up {
				c.fail(at("events", i, "kind"), "%s while the grid is already lost", e.Kind)
			}
			up = false
			if e.Kind == UnintentionalIsland {
				c.rangeCheck(at("events", i, "quality_factor"), e.QualityFactor, 0.1, 10)
			}
		case GridReturn:
			if up {
				c.fail(at("events", i, "kind"), "grid_return while the grid is up")
			}
			up = true
		case PCCStuck:
			if e.Until != 0 && e.Until <= e.At {
				c.fail(at("events", i, "until"), "%v not after at %v", e.Until, e.At)
			}
		case Excursion:
			if e.Until <= e.At || e.Until > s.Duration {
				c.fail(at("events", i, "until"), "%v: want after at %v and inside the run", e.Until, e.At)
			}
			c.rangeCheck(at("events", i, "voltage"), e.Voltage, 0, 1.5)
			c.rangeCheck(at("events", i, "frequency"), e.Frequency, 40, 70)
		}
		if e.Kind != PCCStuck && e.Kind != Excursion && e.Until != 0 {
			c.fail(at("events", i, "until"), "only pcc_stuck and utility_excursion take until")
		}
		if e.Kind != UnintentionalIsland && e.QualityFactor != 0 {
			c.fail(at("events", i, "quality_factor"), "only unintentional_island takes quality_factor")
		}
		if e.Kind != Excursion && (e.Voltage != 0 || e.Frequency != 0) {
			c.fail(at("events", i), "only utility_excursion takes voltage and frequency")
		}
	}
}

func (c *checker) assertion(i int, a *Assertion) {
	fields, ok := assertionKinds[a.Kind]
	if !ok {
		kinds := make([]string, 0, len(assertionKinds))
		for k := range assertionKinds {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		c.fail(at("assertions", i, "kind"), "%q: accepted %s", a.Kind, strings.Join(kinds, ", "))
		return
	}
	has := map[string]bool{"max": a.Max != nil, "min": a.Min != nil, "within": a.Within != 0, "sequence": len(a.Sequence) > 0}
	for _, f := range strings.Split(fields, ",") {
		if !has[f] {
			c.fail(at("assertions", i), "%s needs %s", a.Kind, fields)
		}
		delete(has, f)
	}
	for f, set := range has {
		if set {
			c.fail(at("assertions", i, f), "%s takes only %s", a.Kind, fields)
		}
	}
	for _, v := range []*float64{a.Max, a.Min} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			c.fail(at("assertions", i), "not a number")
		}
	}
	if a.Within < 0 {
		c.fail(at("assertions", i, "within"), "%v negative", a.Within)
	}
	for j, ph := range a.Sequence {
		if !slices.Contains(phaseNames, ph) {
			c.fail(at("assertions", i, "sequence", j), "%q: accepted %s", ph, strings.Join(phaseNames, ", "))
		}
	}
}
