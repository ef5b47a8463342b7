package grid

import "fmt"

// ElectricalDistance is the series resistance (p.u. on BaseMVA) of the path between every pair of the
// given buses of a radial network: the part of the feeder a trade between them loads. A market charges
// it per kWh so that it prefers trades between near neighbours, which lose less and move voltages
// less. Buses are case bus IDs; the result is indexed like buses.
func ElectricalDistance(c *Case, buses []int) ([][]float64, error) {
	idx := c.BusIndex()
	adj := make(map[int][]edge, len(c.Buses))
	for _, br := range c.Branches {
		adj[br.From] = append(adj[br.From], edge{br.To, br.R})
		adj[br.To] = append(adj[br.To], edge{br.From, br.R})
	}
	out := make([][]float64, len(buses))
	for i, from := range buses {
		if _, ok := idx[from]; !ok {
			return nil, fmt.Errorf("grid: bus %d is not in case %s", from, c.Name)
		}
		dist := resistanceFrom(from, adj)
		out[i] = make([]float64, len(buses))
		for j, to := range buses {
			d, ok := dist[to]
			if !ok {
				return nil, fmt.Errorf("grid: bus %d is not connected to bus %d in case %s", to, from, c.Name)
			}
			out[i][j] = d
		}
	}
	return out, nil
}

type edge struct {
	to int
	r  float64
}

// resistanceFrom walks the network from bus and sums the resistance along the first path found to
// each bus: on a radial feeder there is only one.
func resistanceFrom(bus int, adj map[int][]edge) map[int]float64 {
	dist := map[int]float64{bus: 0}
	stack := []int{bus}
	for len(stack) > 0 {
		b := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range adj[b] {
			if _, seen := dist[e.to]; !seen {
				dist[e.to] = dist[b] + e.r
				stack = append(stack, e.to)
			}
		}
	}
	return dist
}
