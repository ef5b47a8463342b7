package auction

// ADMMOptions tunes the distributed method; the zero value picks the defaults.
type ADMMOptions struct {
	MaxIterations int
}

func solveDistributed(p Problem, opt ADMMOptions) (Solution, error) {
	return Solution{}, nil
}
