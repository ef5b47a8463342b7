package grid

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// minimumDegreeOrder orders the non-slack buses so that eliminating them in turn creates little fill:
// at each step it takes the bus with the fewest remaining neighbours and joins those neighbours into a
// clique (the classic minimum-degree heuristic). Ties go to the lower index, so the order is
// deterministic.
func minimumDegreeOrder(nw *network, typ []BusType) []int {
	adj := make([]map[int]bool, nw.n)
	alive := make([]bool, nw.n)
	left := 0
	for i := range adj {
		adj[i] = map[int]bool{}
		if typ[i] != Ref {
			alive[i] = true
			left++
		}
	}
	for _, b := range nw.br {
		if alive[b.f] && alive[b.t] {
			adj[b.f][b.t] = true
			adj[b.t][b.f] = true
		}
	}
	order := make([]int, 0, left)
	for ; left > 0; left-- {
		best := -1
		for i := range adj {
			if alive[i] && (best < 0 || len(adj[i]) < len(adj[best])) {
				best = i
			}
		}
		order = append(order, best)
		alive[best] = false
		for a := range adj[best] {
			delete(adj[a], best)
			for b := range adj[best] {
				if a != b {
					adj[a][b] = true
				}
			}
		}
		adj[best] = nil
	}
	return order
}

// sparseLU factors a square matrix stored densely but mostly zero. Elimination visits only the non-zero
// entries of each pivot row and column, so with a fill-reducing order the cost is a few passes over the
// storage rather than n³/3 operations. It pivots on the diagonal, which suits power-flow Jacobians
// (their 2×2 bus blocks are dominant); if a pivot is too small it refactors with gonum's partially
// pivoted LU instead.
type sparseLU struct {
	n      int
	a      []float64 // row-major n×n, factored in place (unit lower L below the diagonal, U on and above)
	nzCols []int
	nzRows []int
	dense  *mat.LU // set when the diagonal-pivot factorisation was abandoned
}

var errSingular = errors.New("singular Jacobian (is a part of the network without a voltage reference?)")

func newSparseLU(n int) *sparseLU {
	return &sparseLU{n: n, a: make([]float64, n*n), nzCols: make([]int, 0, n), nzRows: make([]int, 0, n)}
}

func (s *sparseLU) clear() {
	clear(s.a)
	s.dense = nil
}

func (s *sparseLU) set(i, j int, v float64) { s.a[i*s.n+j] += v }

// pivotTolerance is how small a diagonal pivot may get, relative to the largest entry of its row,
// before the factorisation gives up diagonal pivoting.
const pivotTolerance = 1e-8

// errNeedPivoting says the diagonal-pivot factorisation met a small pivot and has spoiled the matrix:
// the caller refills it and calls factorPivoting.
var errNeedPivoting = errors.New("grid: diagonal pivot too small")

// factor factors the matrix in place with diagonal pivots. It returns errNeedPivoting when a pivot is
// too small (then the matrix must be refilled and factored with factorPivoting).
func (s *sparseLU) factor() error {
	n, a := s.n, s.a
	for k := 0; k < n; k++ {
		row := a[k*n : (k+1)*n]
		s.nzCols = s.nzCols[:0]
		rowMax := 0.0
		for j := k + 1; j < n; j++ {
			if row[j] != 0 {
				s.nzCols = append(s.nzCols, j)
				rowMax = math.Max(rowMax, math.Abs(row[j]))
			}
		}
		piv := row[k]
		if math.Abs(piv) <= pivotTolerance*rowMax || piv == 0 {
			return errNeedPivoting
		}
		for i := k + 1; i < n; i++ {
			lik := a[i*n+k]
			if lik == 0 {
				continue
			}
			lik /= piv
			a[i*n+k] = lik
			ri := a[i*n : (i+1)*n]
			for _, j := range s.nzCols {
				ri[j] -= lik * row[j]
			}
		}
	}
	return nil
}

// factorPivoting factors the matrix with gonum's partially pivoted LU.
func (s *sparseLU) factorPivoting() error {
	m := mat.NewDense(s.n, s.n, append([]float64(nil), s.a...))
	var lu mat.LU
	lu.Factorize(m)
	if lu.Det() == 0 || math.IsNaN(lu.Cond()) || lu.Cond() > 1e16 {
		return errSingular
	}
	s.dense = &lu
	return nil
}

// solve overwrites b with the solution of A·x = b.
func (s *sparseLU) solve(b []float64) {
	if s.dense != nil {
		x := mat.NewVecDense(s.n, nil)
		if err := s.dense.SolveVecTo(x, false, mat.NewVecDense(s.n, b)); err == nil {
			copy(b, x.RawVector().Data)
		}
		return
	}
	n, a := s.n, s.a
	for i := 1; i < n; i++ {
		sum := b[i]
		ri := a[i*n : i*n+i]
		for j, l := range ri {
			if l != 0 {
				sum -= l * b[j]
			}
		}
		b[i] = sum
	}
	for i := n - 1; i >= 0; i-- {
		sum := b[i]
		ri := a[i*n : (i+1)*n]
		for j := i + 1; j < n; j++ {
			if ri[j] != 0 {
				sum -= ri[j] * b[j]
			}
		}
		b[i] = sum / ri[i]
	}
}
