package fractals

import "fmt"

// EVMode is the operator's choice for the EV charger. The zero value is the controller's normal
// behaviour (surplus PV, the grid as the deadline comes close), so a state saved before the mode
// existed keeps charging as it did.
type EVMode uint8

const (
	EVByDeadline EVMode = iota // surplus PV, and from the grid when the deadline needs it
	EVOff                      // the charger gets no power
	EVNow                      // full power now, from PV and (connected) the grid, whatever the deadline
)

var evModeNames = [...]string{EVByDeadline: "deadline", EVOff: "off", EVNow: "now"}

// EVModeNames are the modes' names, in order, for validation messages and selectors.
func EVModeNames() []string { return append([]string(nil), evModeNames[:]...) }

func (m EVMode) String() string {
	if int(m) < len(evModeNames) {
		return evModeNames[m]
	}
	return fmt.Sprintf("ev_mode(%d)", m)
}

// ParseEVMode reads a mode name; an unknown one is an error naming the accepted ones.
func ParseEVMode(s string) (EVMode, error) {
	for i, n := range evModeNames {
		if s == n {
			return EVMode(i), nil
		}
	}
	return 0, fmt.Errorf("ev_mode %q: want one of %v", s, evModeNames)
}

// MarshalText and UnmarshalText keep the mode readable in the status and the saved state.
func (m EVMode) MarshalText() ([]byte, error) {
	if int(m) >= len(evModeNames) {
		return nil, fmt.Errorf("ev_mode %d: no such mode", m)
	}
	return []byte(m.String()), nil
}

func (m *EVMode) UnmarshalText(b []byte) error {
	v, err := ParseEVMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// RequestEVMode is the EV-mode command: the state with the operator's mode set, for the next Step.
func RequestEVMode(st State, mode EVMode) State {
	st.EVMode = mode
	return st
}
