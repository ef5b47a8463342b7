package grid

import (
	"math"
	"os"
	"testing"
)

func TestElectricalDistanceOnCase33bw(t *testing.T) {
	f, err := os.Open("testdata/case33bw.m")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ParseMATPOWER(f, "case33bw.m")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ElectricalDistance(c, []int{2, 3, 4, 19})
	if err != nil {
		t.Fatal(err)
	}
	r := func(from, to int) float64 {
		for _, br := range c.Branches {
			if br.From == from && br.To == to {
				return br.R
			}
		}
		t.Fatalf("no branch %d-%d", from, to)
		return 0
	}
	// 2→4 runs over 2-3 and 3-4; 4→19 goes back up to 2 and out over 2-19.
	if got, want := d[0][2], r(2, 3)+r(3, 4); math.Abs(got-want) > 1e-15 || d[2][0] != got {
		t.Fatalf("2→4 %g, want %g both ways", got, want)
	}
	if got, want := d[2][3], r(2, 3)+r(3, 4)+r(2, 19); math.Abs(got-want) > 1e-15 {
		t.Fatalf("4→19 %g, want %g", got, want)
	}
	if d[1][1] != 0 {
		t.Fatalf("a bus to itself: %g", d[1][1])
	}
	if _, err := ElectricalDistance(c, []int{2, 99}); err == nil {
		t.Fatal("bus 99 accepted")
	}
}
