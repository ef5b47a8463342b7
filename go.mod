module github.com/fractals-energy/fractals

go 1.25
