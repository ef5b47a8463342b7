package config

import (
	"time"

	"github.com/fractals-energy/fractals/fractals"
	"github.com/fractals-energy/fractals/grid/ieee1547"
	"github.com/fractals-energy/fractals/internal/units"
)

// Protection is the unit file's `protection:` section: the IEEE 1547-2018 abnormal-performance
// category whose default trip settings apply, and any trip function, enter-service condition or
// switch supervision setting changed from them. Everything is refused outside the ranges the
// standard allows for the category, with file, line and field.
type Protection struct {
	Category int           `yaml:"category"` // 1, 2 or 3 (default 2)
	Tick     time.Duration `yaml:"tick"`     // protection tick, 20ms..1s (default 100ms)
	// Trip functions by name (ov2, ov1, uv1, uv2 in p.u.; of2, of1, uf1, uf2 in Hz).
	Trip          map[string]Trip `yaml:"trip"`
	EnterService  *EnterService   `yaml:"enter_service"`
	SwitchRetries int             `yaml:"switch_retries"` // re-drives before a relay fault (default 3)
	SwitchTimeout time.Duration   `yaml:"switch_timeout"` // feedback wait per drive (default 1s)
}

// Trip is one trip function's level and clearing time.
type Trip struct {
	Level    float64       `yaml:"level"`
	Clearing time.Duration `yaml:"clearing"`
}

// EnterService is the enter-service window, delay and ramp (IEEE 1547-2018 Table 4); zero fields keep
// the defaults.
type EnterService struct {
	VMin  float64       `yaml:"v_min"`
	VMax  float64       `yaml:"v_max"`
	FMin  float64       `yaml:"f_min"`
	FMax  float64       `yaml:"f_max"`
	Delay time.Duration `yaml:"delay"`
	Ramp  time.Duration `yaml:"ramp"`
}

var tripNames = []string{"ov2", "ov1", "uv1", "uv2", "of2", "of1", "uf1", "uf2"}

// ProtectionFor builds the controller's protection settings for a site of the given nominal
// frequency and reconnect delay from the section (nil: the category II defaults).
func ProtectionFor(p *Protection, nominal units.Hertz, reconnect time.Duration) fractals.ProtectionConfig {
	pc := fractals.DefaultProtectionConfig(nominal, reconnect)
	if p == nil {
		return pc
	}
	cat := ieee1547.Category(p.Category)
	if p.Category == 0 {
		cat = ieee1547.CategoryII
	}
	pc.Relay = ieee1547.DefaultSettingsAt(cat, float64(nominal))
	if p.Tick != 0 {
		pc.Tick, pc.Relay.Tick = p.Tick, p.Tick
	}
	set := map[string]*ieee1547.TripSetting{
		"ov2": &pc.Relay.Voltage.OV2, "ov1": &pc.Relay.Voltage.OV1, "uv1": &pc.Relay.Voltage.UV1, "uv2": &pc.Relay.Voltage.UV2,
		"of2": &pc.Relay.Frequency.OF2, "of1": &pc.Relay.Frequency.OF1, "uf1": &pc.Relay.Frequency.UF1, "uf2": &pc.Relay.Frequency.UF2,
	}
	for name, t := range p.Trip {
		if dst, ok := set[name]; ok {
			*dst = ieee1547.TripSetting{Level: t.Level, Clearing: t.Clearing}
		}
	}
	if e := p.EnterService; e != nil {
		es := &pc.EnterService
		for _, f := range []struct {
			dst *float64
			v   float64
		}{{&es.VMin, e.VMin}, {&es.VMax, e.VMax}, {&es.FMin, e.FMin}, {&es.FMax, e.FMax}} {
			if f.v != 0 {
				*f.dst = f.v
			}
		}
		if e.Delay != 0 {
			es.Delay = e.Delay
		}
		if e.Ramp != 0 {
			es.Ramp = e.Ramp
		}
	}
	if p.SwitchRetries != 0 {
		pc.SwitchRetries = p.SwitchRetries
	}
	if p.SwitchTimeout != 0 {
		pc.SwitchTimeout = p.SwitchTimeout
	}
	return pc
}

// protection checks the section against IEEE 1547-2018's ranges for its category, each error at the
// line of the field it is about.
func (v *validator) protection(p *Protection, s *Site) {
	if p == nil {
		return
	}
	if p.Category != 0 && (p.Category < 1 || p.Category > 3) {
		v.fail(p2("category"), "%d: accepted 1 (I), 2 (II), 3 (III)", p.Category)
		return
	}
	if p.Tick != 0 {
		if err := ieee1547.CheckTick(p.Tick); err != nil {
			v.fail(p2("tick"), "%v", err)
		}
	}
	for name := range p.Trip {
		if !contains(tripNames, name) {
			v.fail(p2("trip", name), "unknown trip function (accepted: ov2, ov1, uv1, uv2, of2, of1, uf1, uf2)")
		}
	}
	nominal, reconnect := units.Hertz(50), 300*time.Second
	if s != nil && s.NominalFrequency > 0 {
		nominal = units.Hertz(s.NominalFrequency)
	}
	if s != nil && s.ReconnectDelay != nil {
		reconnect = *s.ReconnectDelay
	}
	if nominal != 50 && nominal != 60 {
		return // the site check reports it
	}
	pc := ProtectionFor(p, nominal, reconnect)
	// Each trip function alone, so the error lands on its own line.
	for i, name := range tripNames {
		t, ok := p.Trip[name]
		if !ok {
			continue
		}
		ts := ieee1547.TripSetting{Level: t.Level, Clearing: t.Clearing}
		if i < 4 {
			if err := checkVoltageTrip(pc.Relay, i, ts); err != nil {
				v.fail(p2("trip", name), "%v", err)
			}
		} else if err := checkFrequencyTrip(pc.Relay, i-4, ts); err != nil {
			v.fail(p2("trip", name), "%v", err)
		}
	}
	if err := pc.EnterService.Validate(); err != nil {
		v.fail(p2("enter_service"), "%v", err)
	}
	if p.SwitchRetries != 0 && (p.SwitchRetries < 1 || p.SwitchRetries > 10) {
		v.fail(p2("switch_retries"), "%d outside 1..10", p.SwitchRetries)
	}
	if p.SwitchTimeout != 0 && (p.SwitchTimeout < 100*time.Millisecond || p.SwitchTimeout > time.Minute) {
		v.fail(p2("switch_timeout"), "%v outside 100ms..1m", p.SwitchTimeout)
	}
}

// checkVoltageTrip validates one voltage trip function (index in OV2, OV1, UV1, UV2) against the
// category's allowed range.
func checkVoltageTrip(s ieee1547.Settings, i int, t ieee1547.TripSetting) error {
	d := ieee1547.DefaultVoltageTrip(s.Category)
	fs := []*ieee1547.TripSetting{&d.OV2, &d.OV1, &d.UV1, &d.UV2}
	*fs[i] = t
	return d.Validate(s.Category)
}

// checkFrequencyTrip validates one frequency trip function (index in OF2, OF1, UF1, UF2).
func checkFrequencyTrip(s ieee1547.Settings, i int, t ieee1547.TripSetting) error {
	d := ieee1547.DefaultFrequencyTripAt(s.Nominal)
	fs := []*ieee1547.TripSetting{&d.OF2, &d.OF1, &d.UF1, &d.UF2}
	*fs[i] = t
	return d.ValidateAt(s.Nominal)
}

func p2(parts ...any) []any { return append([]any{"protection"}, parts...) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
