// Package regmap drives Modbus devices that do not speak SunSpec: hybrid inverters and meters whose
// makers publish their own register maps. A Map, usually read from a template, names each point
// (the same names as der/mqtt: pv.power, battery.soc, meter.voltage ...) with its table (holding
// or input), data type (u16, s16, u32, s32, float32 in either word order, strings), scale, offset,
// bit field and enum labels, and each writable set-point with its limits. A Device polls the points
// through der/modbus, with its back-off, and reports stale values as SunSpec devices do; Inverter
// adapts a Device to der.PVInverter, der.Battery and der.Meter. Readings outside the physics of
// their unit are refused as der.ErrImplausible. It is the `regmap` driver of the unit file
// (driver.go, der.Register): DriverConfig (the modbus Target, registers, pv_rated_w) checks that the
// map has the points each role needs and claims the registers its set-points write.
package regmap
