package config

// The drivers register themselves (der.Register) when imported: adding one is its package and
// one line here.
import (
	_ "github.com/fractals-energy/fractals/der/gpio"
	_ "github.com/fractals-energy/fractals/der/hostapd"
	_ "github.com/fractals-energy/fractals/der/mqtt"
	_ "github.com/fractals-energy/fractals/der/regmap"
	_ "github.com/fractals-energy/fractals/der/storagenode"
	_ "github.com/fractals-energy/fractals/der/sunspec"
)
