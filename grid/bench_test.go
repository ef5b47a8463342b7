package grid

import (
	"bytes"
	"testing"
)

// BenchmarkPowerFlow times the power flow on case33bw (radial: the sweep) and case118 (meshed:
// Newton-Raphson), with the case already parsed (solve) and end to end from the file's bytes
// (parse_solve), the figure to compare with MATPOWER's runpf (about 50 ms and 60 ms).
func BenchmarkPowerFlow(b *testing.B) {
	for _, name := range []string{"case33bw", "case118"} {
		src := []byte(readTestFile(b, name))
		b.Run(name+"/solve", func(b *testing.B) {
			c, err := ParseMATPOWER(bytes.NewReader(src), name)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Solve(c, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parse_solve", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := ParseMATPOWER(bytes.NewReader(src), name)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Solve(c, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/nr", func(b *testing.B) {
			c, err := ParseMATPOWER(bytes.NewReader(src), name)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := Solve(c, Options{Method: NewtonRaphson}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
