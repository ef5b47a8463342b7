package rig

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"

	"github.com/fractals-energy/fractals/hil"
)

// Pin names on the rig's pin server. Coils are outputs of the daemon; feedback contacts and the
// grid-present input are its inputs. All are active high.
const (
	PinPCCCoil     = "PCC_COIL"
	PinPCCFeedback = "PCC_FB"
	PinGridOK      = "GRID_OK"
)

// LoadCoil and LoadFeedback name load k's relay pins.
func LoadCoil(k hil.LoadKind) string     { return fmt.Sprintf("LOAD%d_COIL", k) }
func LoadFeedback(k hil.LoadKind) string { return fmt.Sprintf("LOAD%d_FB", k) }

// pins is the rig's GPIO side: relays whose contacts switch the plant, and a grid-present input.
type pins struct {
	plant *hil.Plant

	mu    sync.Mutex
	coils map[string]gpio.Level
	stuck map[string]bool // relay name ("pcc", "load1") -> contacts frozen
}

func newPins(p *hil.Plant) *pins {
	ps := &pins{plant: p, coils: map[string]gpio.Level{}, stuck: map[string]bool{}}
	// Coils start as the plant's relays are, so connecting a daemon changes nothing by itself.
	ps.coils[PinPCCCoil] = gpio.Level(p.Grid().PCCClosed)
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		ps.coils[LoadCoil(k)] = gpio.Level(p.Load(k).On)
	}
	return ps
}

// names lists every pin.
func (ps *pins) names() []string {
	out := []string{PinPCCCoil, PinPCCFeedback, PinGridOK}
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		out = append(out, LoadCoil(k), LoadFeedback(k))
	}
	return out
}

// HasPin implements gpio.PinBank.
func (ps *pins) HasPin(name string) bool {
	for _, n := range ps.names() {
		if n == name {
			return true
		}
	}
	return false
}

// ReadPin implements gpio.PinBank: coils read back as driven, feedback contacts as the plant is.
func (ps *pins) ReadPin(name string) (gpio.Level, error) {
	switch name {
	case PinPCCFeedback:
		return gpio.Level(ps.plant.Grid().PCCClosed), nil
	case PinGridOK:
		return gpio.Level(ps.plant.Grid().Present), nil
	}
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		if name == LoadFeedback(k) {
			return gpio.Level(ps.plant.Load(k).On), nil
		}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if l, ok := ps.coils[name]; ok {
		return l, nil
	}
	return gpio.Low, fmt.Errorf("rig: no pin %s", name)
}

// WritePin implements gpio.PinBank: a coil moves its relay's contacts unless they are stuck.
func (ps *pins) WritePin(name string, l gpio.Level) error {
	ps.mu.Lock()
	if _, ok := ps.coils[name]; !ok {
		ps.mu.Unlock()
		return fmt.Errorf("rig: pin %s is an input", name)
	}
	ps.coils[name] = l
	relay := relayOf(name)
	stuck := ps.stuck[relay]
	ps.mu.Unlock()
	if stuck {
		return nil // the coil is energised but the contacts do not move
	}
	if name == PinPCCCoil {
		ps.plant.SetPCC(bool(l))
		return nil
	}
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		if name == LoadCoil(k) {
			ps.plant.SetLoad(k, bool(l))
		}
	}
	return nil
}

// relayOf names the relay a coil belongs to.
func relayOf(coil string) string {
	if coil == PinPCCCoil {
		return "pcc"
	}
	for k := hil.LoadKind(0); k < hil.NumLoads; k++ {
		if coil == LoadCoil(k) {
			return fmt.Sprintf("load%d", k)
		}
	}
	return ""
}

// setStuck freezes (or frees) a relay's contacts.
func (ps *pins) setStuck(relay string, stuck bool) error {
	if relay != "pcc" && relay != "load0" && relay != "load1" && relay != "load2" {
		return fmt.Errorf("rig: no relay %q (pcc, load0, load1, load2)", relay)
	}
	ps.mu.Lock()
	ps.stuck[relay] = stuck
	coils := map[string]gpio.Level{}
	for name, l := range ps.coils {
		coils[name] = l
	}
	ps.mu.Unlock()
	if !stuck {
		// Freed contacts follow the coil as it is energised now.
		for name, l := range coils {
			if relayOf(name) == relay {
				return ps.WritePin(name, l)
			}
		}
	}
	return nil
}
