package hil

import (
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// LoadKind names the switched load circuits of a unit, highest priority first.
type LoadKind int

const (
	// Critical is the household's essential circuit (fridge, lights, medical, communications).
	Critical LoadKind = iota
	// WiFi is the unit's own mesh access point; its power grows with its clients.
	WiFi
	// Storage is the unit's IGFS storage node; its power grows with its I/O.
	Storage
	// NumLoads is the number of switched load circuits.
	NumLoads
)

var loadNames = [NumLoads]string{"critical", "wifi", "storage"}

// String names the load.
func (k LoadKind) String() string {
	if k < 0 || k >= NumLoads {
		return "unknown"
	}
	return loadNames[k]
}

// LoadsConfig shapes the demand of the switched loads.
type LoadsConfig struct {
	CriticalBase     units.Watts // always-on base
	CriticalMorning  units.Watts // extra 06:00–08:30
	CriticalEvening  units.Watts // extra 18:00–22:30
	FridgeCompressor units.Watts
	FridgeDuty       float64 // fraction of each 40-minute cycle the compressor runs
	CriticalNoise    float64 // ± per-minute multiplicative noise

	WiFiBase      units.Watts // radio and CPU at idle
	WiFiPerClient units.Watts
	WiFiClients   int // peak associated clients in the evening

	StorageIdle    units.Watts
	StoragePerMBs  units.Watts // per MB/s of I/O
	StoragePeakMBs float64
}

// DefaultLoadsConfig is a modest household on the critical circuit plus the unit's own services.
func DefaultLoadsConfig() LoadsConfig {
	return LoadsConfig{CriticalBase: 140, CriticalMorning: 350, CriticalEvening: 600, FridgeCompressor: 90,
		FridgeDuty: 0.35, CriticalNoise: 0.15, WiFiBase: 7, WiFiPerClient: 0.4, WiFiClients: 40,
		StorageIdle: 9, StoragePerMBs: 0.12, StoragePeakMBs: 120}
}

// loadModel computes the demand of each load at a time of day, with seeded per-minute noise.
type loadModel struct {
	cfg       LoadsConfig
	critNoise *minuteNoise
	wifiNoise *minuteNoise
	ioNoise   *minuteNoise
}

func newLoadModel(cfg LoadsConfig, seed uint64) *loadModel {
	return &loadModel{cfg: cfg,
		critNoise: newMinuteNoise(seed, 0x10ad1, cfg.CriticalNoise),
		wifiNoise: newMinuteNoise(seed, 0x10ad2, 0.3),
		ioNoise:   newMinuteNoise(seed, 0x10ad3, 0.8)}
}

// demand fills d with each load's demand at elapsed seconds since the start, hour being the local
// hour of day (0..24).
func (m *loadModel) demand(d *[NumLoads]units.Watts, elapsed, hour float64) {
	c := m.cfg
	crit := float64(c.CriticalBase)
	crit += float64(c.CriticalMorning) * bump(hour, 6, 6.5, 8, 8.5)
	crit += float64(c.CriticalEvening) * bump(hour, 18, 18.5, 22, 22.5)
	if math.Mod(elapsed/60, 40) < 40*c.FridgeDuty {
		crit += float64(c.FridgeCompressor)
	}
	d[Critical] = units.Watts(crit * m.critNoise.at(elapsed))

	activity := 0.1 + 0.5*bump(hour, 7, 9, 17, 18) + 0.9*bump(hour, 17, 18, 23, 24)
	clients := math.Round(float64(c.WiFiClients) * math.Min(1, activity) * m.wifiNoise.at(elapsed))
	d[WiFi] = c.WiFiBase + units.Watts(clients)*c.WiFiPerClient

	// Light I/O all day, a nightly replication burst 02:00–03:00.
	io := c.StoragePeakMBs * (0.08 + 0.9*bump(hour, 2, 2.1, 2.9, 3))
	io *= math.Max(0, m.ioNoise.at(elapsed))
	d[Storage] = c.StorageIdle + units.Watts(io)*c.StoragePerMBs
}

// bump is 0 outside [a, d], 1 inside [b, c] and a smooth ramp in between.
func bump(x, a, b, c, d float64) float64 {
	return smoothstep(a, b, x) * (1 - smoothstep(c, d, x))
}

// EVConfig describes the electric vehicle that visits the unit every day.
type EVConfig struct {
	Enabled    bool
	ArriveHour float64         // local hour it plugs in (e.g. 18)
	DepartHour float64         // local hour it must be ready (e.g. 7, the next morning)
	Needed     units.WattHours // energy the driver asks for each session
	MaxPower   units.Watts
}

// DefaultEVConfig is a car plugged in from 18:00 that needs 10 kWh by 07:00 at up to 7.4 kW.
func DefaultEVConfig() EVConfig {
	return EVConfig{Enabled: true, ArriveHour: 18, DepartHour: 7, Needed: 10000, MaxPower: 7400}
}

// EVSession is one visit of the car.
type EVSession struct {
	Needed, Delivered units.WattHours
	DeadlineElapsed   float64 // seconds since the plant's start
	Met               bool
}
