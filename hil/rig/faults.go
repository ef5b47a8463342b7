package rig

import (
	"fmt"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/mqtt"
)

// Fault is one fault to inject (or clear, with On false).
type Fault struct {
	// Device: inverter (Modbus), meter, ev, load0..load2 (MQTT), pins (the pin server), pcc and
	// load0..load2 relays (Kind stuck), broker.
	Device string `json:"device"`
	// Kind: offline, slow (Value ms per reply), exception (Value is the code), busy (Value
	// requests answered with exception 6), drop (the inverter's connections close after Value
	// replies), garbage, stuck, down; trip (the inverter's grid-forming stage trips: a full
	// blackout of the island until the controller black-starts it).
	Kind  string  `json:"kind"`
	On    bool    `json:"on"`
	Value float64 `json:"value,omitempty"`
}

// Inject applies a fault.
func (r *Rig) Inject(f Fault) error {
	switch {
	case f.Device == "inverter" && f.Kind == "trip":
		if f.On {
			r.plant.TripForming() // restarts only on its controller's disconnect, then connect
		}
		return nil
	case f.Device == "inverter":
		return r.modbusFault(f)
	case f.Kind == "stuck":
		return r.pins.setStuck(f.Device, f.On)
	case f.Device == "pins" && f.Kind == "offline":
		return r.pinsOffline(f.On)
	case f.Device == "broker" && (f.Kind == "down" || f.Kind == "offline"):
		return r.brokerDown(f.On)
	case f.Kind == "offline" && (f.Device == "meter" || f.Device == "ev" || f.Device == "load0" || f.Device == "load1" || f.Device == "load2"):
		r.mq.setOffline(f.Device, f.On)
		return nil
	}
	return fmt.Errorf("rig: fault %q on %q: not supported (inverter: offline, slow, exception, busy, drop, garbage, trip; "+
		"meter, ev, load0-2: offline; pins: offline; pcc, load0-2: stuck; broker: down)", f.Kind, f.Device)
}

func (r *Rig) modbusFault(f Fault) error {
	if f.Kind == "drop" {
		cf := modbus.ConnFault{MaxClients: r.cfg.ModbusMaxClients}
		if f.On {
			if f.Value < 1 || f.Value > 1e6 {
				return fmt.Errorf("rig: drop fault: value %g replies out of range [1, 1e6]", f.Value)
			}
			cf.CloseAfter = int(f.Value)
		}
		r.modbus.SetConnFault(cf)
		return nil
	}
	var mf modbus.Fault
	if f.On {
		switch f.Kind {
		case "offline":
			mf.Silent = true
		case "slow":
			if f.Value <= 0 || f.Value > 60000 {
				return fmt.Errorf("rig: slow fault: value %g ms out of range (0, 60000]", f.Value)
			}
			mf.Delay = time.Duration(f.Value * float64(time.Millisecond))
		case "exception":
			if f.Value < 1 || f.Value > 11 {
				return fmt.Errorf("rig: exception fault: code %g out of range [1, 11]", f.Value)
			}
			mf.Exception = byte(f.Value)
		case "busy":
			if f.Value < 1 || f.Value > 1e6 {
				return fmt.Errorf("rig: busy fault: value %g requests out of range [1, 1e6]", f.Value)
			}
			mf.BusyTimes = int(f.Value)
		case "garbage":
			mf.Garbage = true
		default:
			return fmt.Errorf("rig: fault %q on inverter: accepted offline, slow, exception, busy, drop, garbage", f.Kind)
		}
	}
	r.modbus.SetFault(InverterUnit, mf)
	return nil
}

func (r *Rig) pinsOffline(off bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off == r.pinsDown {
		return nil
	}
	r.pinsDown = off
	if off {
		return r.pinSrv.Stop()
	}
	return r.pinSrv.Start(r.pinSrv.Addr())
}

// brokerDown stops the embedded broker, or starts it again on the same address.
func (r *Rig) brokerDown(down bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Broker != "" {
		return fmt.Errorf("rig: broker down: the broker %s is external; stop it yourself", r.cfg.Broker)
	}
	switch {
	case down && r.broker != nil:
		err := r.broker.Close()
		r.broker = nil
		return err
	case !down && r.broker == nil:
		var err error
		for try := 0; try < 50; try++ { // the port may linger for a moment after close
			var b *mqtt.Broker
			if b, err = mqtt.StartBroker(r.brokerAdr); err == nil {
				r.broker = b
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		return err
	}
	return nil
}
