package fractals

import "fmt"

// Redrive marks the relay commands the writer must send again in this cycle although they did not
// change: the relay's feedback disagrees with what it was told.
type Redrive struct {
	PCC   bool           `json:"pcc"`
	Loads [NumLoads]bool `json:"loads"`
}

// switchWatch supervises one relay: how many cycles its feedback has disagreed with the command, and
// whether that became a fault.
type switchWatch struct {
	Commanded bool `json:"commanded"`
	Known     bool `json:"known"`    // a command has been issued
	Mismatch  int  `json:"mismatch"` // consecutive cycles the feedback disagreed
	Fault     bool `json:"fault"`
}

// Supervision is the feedback supervision of the load relays (the PCC has its own in the island
// state machine, where a contactor that does not move changes what the unit must do).
type Supervision struct {
	Loads [NumLoads]switchWatch `json:"loads"`
}

// supervise compares each load relay's feedback with the command of the previous cycle: a
// disagreement is re-driven every cycle, and after SwitchRetries re-drives it is a fault event
// ("relay_fault") whose safe action is to go on re-driving at the writer's refresh period and to
// count the load as whatever the feedback says. Feedback that agrees again clears the fault.
func (p *plan) supervise(c *Commands) {
	c.Redrive.PCC = p.next.Island.Redrive
	retries := p.cfg.Protecting().SwitchRetries
	for k := range c.LoadOn {
		w := p.prev.Relays.Loads[k]
		fb := p.s.Loads[k].On
		switch {
		case !w.Known || !fb.Good() || w.Commanded != c.LoadOn[k]:
			w.Mismatch = 0 // nothing to compare, or a new command: give it a cycle
		case fb.Value == w.Commanded:
			if w.Fault {
				p.event("relay_fault_cleared", fmt.Sprintf("%s relay follows its command again", LoadKind(k)))
			}
			w.Mismatch, w.Fault = 0, false
		default:
			w.Mismatch++
			if w.Mismatch <= retries {
				c.Redrive.Loads[k] = true
			} else if !w.Fault {
				w.Fault = true
				p.event("relay_fault", fmt.Sprintf("%s relay reads %v, commanded %v, after %d re-drives: left to the refresh period",
					LoadKind(k), onOff(fb.Value), onOff(w.Commanded), retries))
			}
		}
		w.Commanded, w.Known = c.LoadOn[k], true
		p.next.Relays.Loads[k] = w
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
