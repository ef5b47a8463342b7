package firmware

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/fractals-energy/fractals/hil/scenario"
)

// CampaignRun is one randomised outage of a campaign and what it measured.
type CampaignRun struct {
	Day         int     `json:"day"`
	OutageHour  float64 `json:"outage_hour"`
	OutageHours float64 `json:"outage_hours"`
	SoC         float64 `json:"soc"`
	EVKWh       float64 `json:"ev_kwh"`
	Pass        bool    `json:"pass"`
	// EnergyLimited: the battery reached its floor, so critical energy unserved is what stored plus
	// produced energy could not cover, not a control failure.
	EnergyLimited    bool     `json:"energy_limited"`
	Failed           []string `json:"failed,omitempty"`
	DetectionSeconds float64  `json:"detection_s"`
	FrequencyNadir   float64  `json:"frequency_nadir_hz"`
	CriticalUnserved float64  `json:"critical_unserved_wh"`
	ServicesUnserved float64  `json:"services_unserved_wh"`
}

// Distribution summarises one measure over the runs.
type Distribution struct {
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// CampaignResult is a randomised campaign: how many runs passed and the distributions of detection
// time, frequency nadir and unserved energy per tier.
type CampaignResult struct {
	N                int           `json:"n"`
	Seed             uint64        `json:"seed"`
	Passed           int           `json:"passed"`
	EnergyLimited    int           `json:"energy_limited"` // runs whose battery reached its floor
	Detection        Distribution  `json:"detection_s"`
	FrequencyNadir   Distribution  `json:"frequency_nadir_hz"`
	CriticalUnserved Distribution  `json:"critical_unserved_wh"`
	ServicesUnserved Distribution  `json:"services_unserved_wh"`
	Runs             []CampaignRun `json:"runs"`
	WallSeconds      float64       `json:"wall_seconds"`
}

// campaignScenario draws run i of a campaign: the day (season and weather through the plant's seeded
// clouds), the outage's start and length, the state of charge and the EV's request.
func campaignScenario(seed uint64, i int) (*scenario.Scenario, CampaignRun) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	run := CampaignRun{Day: 1 + rng.IntN(365), OutageHour: math.Round(rng.Float64()*24*4) / 4,
		OutageHours: math.Round((0.25+rng.Float64()*11.75)*4) / 4, SoC: math.Round((0.3+rng.Float64()*0.6)*100) / 100}
	if rng.IntN(3) == 0 {
		run.EVKWh = float64(10 + rng.IntN(31))
	}
	lead := 30 * time.Minute
	start := time.Duration(run.OutageHour*float64(time.Hour)) - lead
	if start < 0 {
		start += 24 * time.Hour
	}
	out := time.Duration(run.OutageHours * float64(time.Hour))
	s := &scenario.Scenario{Name: fmt.Sprintf("campaign %d run %d", seed, i), Day: run.Day, Start: start,
		Duration: lead + out + 30*time.Minute, SoC: run.SoC, PVKW: 5, BatteryKWh: 10, EVKWh: run.EVKWh, Seed: seed*1000 + uint64(i),
		Events: []scenario.Event{{At: lead, Kind: scenario.GridLoss}, {At: lead + out, Kind: scenario.GridReturn}}}
	two, zero, fLo, fHi := 2*time.Second, 0.0, 48.75, 51.0
	s.Assertions = []scenario.Assertion{
		{Kind: "detection_time", Within: two},
		{Kind: "critical_unserved", Max: &zero},
		{Kind: "frequency", Min: &fLo, Max: &fHi},
		{Kind: "phases", Sequence: []string{"connected", "opening", "islanded", "synchronising", "closing", "connected"}},
	}
	return s, run
}

// RunCampaign runs n randomised outages (in parallel, each deterministic from seed and its index).
func RunCampaign(ctx context.Context, n int, seed uint64) (CampaignResult, error) {
	if n < 1 || n > 10000 {
		return CampaignResult{}, fmt.Errorf("--n %d out of range [1, 10000]", n)
	}
	wall := time.Now()
	runs := make([]CampaignRun, n)
	errs := make([]error, n)
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(n, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				runs[i], errs[i] = campaignRun(ctx, seed, i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	res := CampaignResult{N: n, Seed: seed, Runs: runs}
	var det, nadir, crit, serv []float64
	for i, r := range runs {
		if errs[i] != nil {
			return CampaignResult{}, fmt.Errorf("run %d: %w", i, errs[i])
		}
		if r.Pass {
			res.Passed++
		}
		if r.EnergyLimited {
			res.EnergyLimited++
		}
		det, nadir = append(det, r.DetectionSeconds), append(nadir, r.FrequencyNadir)
		crit, serv = append(crit, r.CriticalUnserved), append(serv, r.ServicesUnserved)
	}
	res.Detection, res.FrequencyNadir = distribution(det), distribution(nadir)
	res.CriticalUnserved, res.ServicesUnserved = distribution(crit), distribution(serv)
	res.WallSeconds = time.Since(wall).Seconds()
	return res, nil
}

func campaignRun(ctx context.Context, seed uint64, i int) (CampaignRun, error) {
	s, run := campaignScenario(seed, i)
	r, err := RunScenario(ctx, s)
	if err != nil {
		return run, err
	}
	run.Pass = true
	run.EnergyLimited = r.SoCLow <= r.SoCFloor+0.005
	for _, v := range r.Verdicts {
		if v.Kind == "critical_unserved" && run.EnergyLimited {
			continue // reported in the distribution, not a failure
		}
		run.Pass = run.Pass && v.Pass
		switch v.Kind {
		case "detection_time":
			run.DetectionSeconds = v.Value
		case "frequency":
			run.FrequencyNadir = v.Value
		}
		if !v.Pass {
			run.Failed = append(run.Failed, v.Kind+": "+v.Measured)
		}
	}
	run.CriticalUnserved, run.ServicesUnserved = r.Energy.CriticalUnserved, r.Energy.ServicesUnserved
	return run, nil
}

func distribution(xs []float64) Distribution {
	if len(xs) == 0 {
		return Distribution{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 { return s[min(len(s)-1, int(p*float64(len(s))))] }
	mean := 0.0
	for _, x := range s {
		mean += x
	}
	return Distribution{Min: s[0], P50: q(0.5), P95: q(0.95), Max: s[len(s)-1], Mean: mean / float64(len(s))}
}
