// Package templates holds known devices as data: one YAML file per device (maker, model, protocol,
// the roles it can play, defaults such as its Modbus unit id, its quirks, the controls that work,
// and for register-map devices the register map), embedded in the binary. A unit file selects one
// with `template: NAME`; `fractals templates` lists them. Each names the public document its
// registers come from.
package templates
