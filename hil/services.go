package hil

import (
	"math"

	"github.com/fractals-energy/fractals/internal/units"
)

// ServiceState is what the unit's own services have been told: the access point's switch and client
// limit, the storage node's replication, write and bandwidth settings. The plant's Wi-Fi and storage
// demand follow it from the next step on, as the real services' consumption would.
type ServiceState struct {
	WiFiOff           bool
	ClientLimit       int // most Wi-Fi clients associated; 0: no limit
	ReplicationPaused bool
	ReadOnly          bool
	BandwidthLimit    float64 // storage I/O in bytes per second; 0: unlimited
}

// The storage node's light daytime I/O is 8 % of its peak (see loadModel.demand); the rest is the
// nightly replication burst. Paused replication leaves that light use; read-only leaves its reads,
// taken here as half of it.
const (
	lightIOShare = 0.08
	readIOShare  = 0.04
)

// Services returns what the services have been told.
func (p *Plant) Services() ServiceState { p.mu.Lock(); defer p.mu.Unlock(); return p.services }

// SetWiFiEnabled switches the access point on or off.
func (p *Plant) SetWiFiEnabled(on bool) { p.mu.Lock(); defer p.mu.Unlock(); p.services.WiFiOff = !on }

// SetWiFiClientLimit sets the most clients the access point accepts (0: no limit).
func (p *Plant) SetWiFiClientLimit(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.services.ClientLimit = max(0, n)
}

// SetReplicationPaused pauses or resumes the storage node's replication.
func (p *Plant) SetReplicationPaused(paused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.services.ReplicationPaused = paused
}

// SetStorageReadOnly makes the storage node refuse writes (or take them again).
func (p *Plant) SetStorageReadOnly(ro bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.services.ReadOnly = ro
}

// SetStorageBandwidth limits the storage node's I/O in bytes per second (0: unlimited).
func (p *Plant) SetStorageBandwidth(bytesPerSecond float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.services.BandwidthLimit = math.Max(0, bytesPerSecond)
}

// degradeServices caps the Wi-Fi and storage demand at what the services, as told, can draw.
func (p *Plant) degradeServices(d *[NumLoads]units.Watts) {
	s, c := p.services, p.cfg.Loads
	switch {
	case s.WiFiOff:
		d[WiFi] = 0
	case s.ClientLimit > 0:
		d[WiFi] = min(d[WiFi], c.WiFiBase+units.Watts(s.ClientLimit)*c.WiFiPerClient)
	}
	io := math.Inf(1) // MB/s the node may still do
	if s.ReplicationPaused {
		io = lightIOShare * c.StoragePeakMBs
	}
	if s.ReadOnly {
		io = math.Min(io, readIOShare*c.StoragePeakMBs)
	}
	if s.BandwidthLimit > 0 {
		io = math.Min(io, s.BandwidthLimit/1e6)
	}
	if !math.IsInf(io, 1) {
		d[Storage] = min(d[Storage], c.StorageIdle+units.Watts(io)*c.StoragePerMBs)
	}
}
