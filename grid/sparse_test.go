package grid

import (
	"errors"
	"math"
	"testing"
)

func fill(s *sparseLU, rows [][]float64) {
	s.clear()
	for i, r := range rows {
		for j, v := range r {
			s.set(i, j, v)
		}
	}
}

func TestSparseLUSolves(t *testing.T) {
	a := [][]float64{{4, 1, 0}, {1, 5, 2}, {0, 2, 6}}
	s := newSparseLU(3)
	fill(s, a)
	if err := s.factor(); err != nil {
		t.Fatal(err)
	}
	b := []float64{5, 8, 8} // A·[1 1 1]
	s.solve(b)
	for i, x := range b {
		if math.Abs(x-1) > 1e-14 {
			t.Errorf("x[%d] = %v, want 1", i, x)
		}
	}
}

func TestSparseLUFallsBackToPivoting(t *testing.T) {
	// a zero on the diagonal stops diagonal pivoting; the pivoted LU still solves the system
	a := [][]float64{{0, 2}, {3, 1}}
	s := newSparseLU(2)
	fill(s, a)
	if err := s.factor(); !errors.Is(err, errNeedPivoting) {
		t.Fatalf("factor: %v, want errNeedPivoting", err)
	}
	fill(s, a)
	if err := s.factorPivoting(); err != nil {
		t.Fatal(err)
	}
	b := []float64{2, 4} // A·[1 1]
	s.solve(b)
	if math.Abs(b[0]-1) > 1e-14 || math.Abs(b[1]-1) > 1e-14 {
		t.Errorf("x = %v, want [1 1]", b)
	}
	fill(s, [][]float64{{1, 2}, {2, 4}})
	if err := s.factorPivoting(); !errors.Is(err, errSingular) {
		t.Errorf("singular matrix: %v", err)
	}
}
