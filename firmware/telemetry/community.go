package telemetry

import (
	"github.com/fractals-energy/fractals/firmware"
)

// communityFigures are the mesh, payment and market figures of a unit, under the names the InfluxDB
// schema and the MQTT state use (README). Each group is present only when the unit has it: mesh
// with a mesh node, ledger with a channels section, market while a commitment is set. They are
// read off the control loop (the reporters' goroutines): the mesh and ledger answer through their
// own loops.
type communityFigures struct {
	mesh, ledger, market map[string]any
}

func figuresOf(d *firmware.Daemon, st *firmware.Status) communityFigures {
	var f communityFigures
	if d != nil {
		if ms, ok := d.MeshView(); ok {
			f.mesh = meshFields(ms)
		}
		if lt, ok := d.LedgerTotals(); ok {
			f.ledger = map[string]any{"channels": int64(lt.Channels), "sent": int64(lt.Sent), "received": int64(lt.Received),
				"pending_chain_actions": int64(lt.Pending)}
		}
	}
	if s := st.State.Schedule; !s.End.IsZero() {
		f.market = map[string]any{"interval": s.Start.Unix(), "net_exchange_w": float64(s.NetExchange), "ev_w": float64(s.EV)}
	}
	return f
}

// meshFields sums the node's peers and takes the router's counters; drops are the messages the
// router refused (rejected) or let expire in store-and-forward.
func meshFields(ms firmware.MeshStatus) map[string]any {
	var connected, msgsIn, msgsOut, bytesIn, bytesOut uint64
	for _, p := range ms.Peers {
		if p.Connected {
			connected++
		}
		msgsIn, msgsOut, bytesIn, bytesOut = msgsIn+p.MsgsIn, msgsOut+p.MsgsOut, bytesIn+p.BytesIn, bytesOut+p.BytesOut
	}
	c := ms.Counters
	return map[string]any{"peers": int64(len(ms.Peers)), "peers_connected": int64(connected),
		"msgs_in": int64(msgsIn), "msgs_out": int64(msgsOut), "bytes_in": int64(bytesIn), "bytes_out": int64(bytesOut),
		"delivered": int64(c.Delivered), "relayed": int64(c.Relayed), "duplicates": int64(c.Duplicates),
		"rejected": int64(c.Rejected), "expired": int64(c.Expired), "queued": int64(c.Queued),
		"drops": int64(c.Rejected + c.Expired)}
}
