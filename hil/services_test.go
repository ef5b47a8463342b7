package hil

import (
	"testing"
	"time"

	"github.com/fractals-energy/fractals/internal/units"
)

// The Wi-Fi and storage demand follow what the services are told from the next step on: a client
// limit caps the Wi-Fi at its base plus the allowed clients, off draws nothing; paused replication
// leaves the storage node its light use, read-only its reads, a bandwidth limit its rate.
func TestServiceCommandsShapeDemand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Start = time.Date(2028, 6, 20, 2, 30, 0, 0, time.UTC) // the nightly replication burst, evening Wi-Fi tail
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Two steps: the meters may show the demand one step late (MeasurementLag).
	settle := func() { p.Advance(time.Second); p.Advance(time.Second) }
	settle()
	full := p.Load(Storage).Demand
	c := cfg.Loads
	lightIO := c.StorageIdle + c.StoragePerMBs*units.Watts(lightIOShare*c.StoragePeakMBs)
	readIO := c.StorageIdle + c.StoragePerMBs*units.Watts(readIOShare*c.StoragePeakMBs)
	if full <= lightIO {
		t.Fatalf("storage demand %v during the burst, want above its light use", full)
	}
	p.SetReplicationPaused(true)
	settle()
	if got, want := p.Load(Storage).Demand, lightIO; got > want+1e-9 {
		t.Fatalf("storage demand %v with replication paused, want at most %v", got, want)
	}
	p.SetStorageReadOnly(true)
	settle()
	if got, want := p.Load(Storage).Demand, readIO; got > want+1e-9 {
		t.Fatalf("storage demand %v read-only, want at most %v", got, want)
	}
	p.SetStorageBandwidth(1e6) // 1 MB/s
	settle()
	if got, want := p.Load(Storage).Demand, c.StorageIdle+c.StoragePerMBs; got > want+1e-9 {
		t.Fatalf("storage demand %v at 1 MB/s, want at most %v", got, want)
	}

	p.SetWiFiClientLimit(2)
	settle()
	if got, want := p.Load(WiFi).Demand, c.WiFiBase+2*c.WiFiPerClient; got > want+1e-9 || got <= 0 {
		t.Fatalf("Wi-Fi demand %v with 2 clients allowed, want in (0, %v]", got, want)
	}
	p.SetWiFiEnabled(false)
	settle()
	if got := p.Load(WiFi).Demand; got != 0 {
		t.Fatalf("Wi-Fi demand %v switched off, want 0", got)
	}
	p.SetWiFiEnabled(true)
	p.SetWiFiClientLimit(0)
	p.SetReplicationPaused(false)
	p.SetStorageReadOnly(false)
	p.SetStorageBandwidth(0)
	settle()
	if p.Load(WiFi).Demand < c.WiFiBase || p.Load(Storage).Demand <= lightIO {
		t.Fatalf("restored services draw %v (Wi-Fi) and %v (storage), want their full demand back",
			p.Load(WiFi).Demand, p.Load(Storage).Demand)
	}
	if s := p.Services(); s != (ServiceState{}) {
		t.Fatalf("services %+v after restoring, want the zero state", s)
	}
}
