package grid

// BusType is the MATPOWER bus type: what the power flow holds fixed at the bus.
type BusType int

// Bus types as numbered in the MATPOWER case format.
const (
	PQ       BusType = 1 // load bus: P and Q injections given
	PV       BusType = 2 // generator bus: P injection and voltage magnitude given
	Ref      BusType = 3 // slack bus: voltage magnitude and angle given
	Isolated BusType = 4 // out of service: left out of the power flow
)

func (t BusType) String() string {
	switch t {
	case PQ:
		return "PQ"
	case PV:
		return "PV"
	case Ref:
		return "REF"
	case Isolated:
		return "ISOLATED"
	}
	return "unknown"
}

// Bus is one row of the MATPOWER bus matrix, in physical units (MW, MVAr, kV, degrees).
type Bus struct {
	ID     int
	Type   BusType
	Pd, Qd float64 // load, MW and MVAr
	Gs, Bs float64 // shunt conductance and susceptance, MW and MVAr demanded/injected at 1 p.u. voltage
	Area   int
	Vm     float64 // voltage magnitude, p.u. (initial guess for PQ buses)
	Va     float64 // voltage angle, degrees (initial guess)
	BaseKV float64
	Zone   int
	Vmax   float64
	Vmin   float64
	Name   string // from mpc.bus_name when the case has one
	Line   int    // line of the case file the row came from
}

// Gen is one row of the MATPOWER gen matrix.
type Gen struct {
	Bus        int
	Pg, Qg     float64 // MW, MVAr
	Qmax, Qmin float64 // MVAr
	Vg         float64 // voltage set-point, p.u.
	MBase      float64
	InService  bool
	Pmax, Pmin float64
	Line       int
}

// Branch is one in-service row of the MATPOWER branch matrix (lines and transformers).
type Branch struct {
	From, To  int
	R, X, B   float64 // series resistance and reactance, total line charging susceptance; p.u. on BaseMVA
	RateA     float64 // MVA; 0 means unlimited
	Ratio     float64 // off-nominal tap ratio on the from side; 0 in the file means a line (1)
	ShiftDeg  float64 // phase shift, degrees
	AngMinDeg float64
	AngMaxDeg float64
	Line      int
}

// Tap returns the effective tap magnitude: MATPOWER writes 0 for lines, which means 1.
func (br Branch) Tap() float64 {
	if br.Ratio == 0 {
		return 1
	}
	return br.Ratio
}

// Case is a network as read from a MATPOWER case file: out-of-service branches are already left out
// and any unit conversions the file asks for are applied, so every quantity is in MW, MVAr and p.u.
type Case struct {
	Name     string
	BaseMVA  float64
	Buses    []Bus
	Gens     []Gen
	Branches []Branch
	// DroppedBranches counts the out-of-service branches (status 0) that were left out.
	DroppedBranches int
}

// BusIndex maps bus IDs to their position in c.Buses.
func (c *Case) BusIndex() map[int]int {
	idx := make(map[int]int, len(c.Buses))
	for i, b := range c.Buses {
		idx[b.ID] = i
	}
	return idx
}

// Clone returns a deep copy of c, so callers can change loads or topology without touching the original.
func (c *Case) Clone() *Case {
	out := *c
	out.Buses = append([]Bus(nil), c.Buses...)
	out.Gens = append([]Gen(nil), c.Gens...)
	out.Branches = append([]Branch(nil), c.Branches...)
	return &out
}
