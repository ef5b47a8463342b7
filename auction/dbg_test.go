package auction
import ("testing";"math/rand/v2";"fmt")
func TestDbg(t *testing.T){
	rng := rand.New(rand.NewPCG(7, 8))
	p := randomProblem(rng, 1000, 24, true)
	sol, err := Solve(p, Central, ADMMOptions{})
	fmt.Println(sol.Welfare, sol.Iterations, sol.Prices, err, sol.MaxImbalanceW)
}
