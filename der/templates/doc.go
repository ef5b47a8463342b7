// Package templates holds known devices as data: one YAML file per device (maker, model, protocol,
// the roles it can play, its Modbus TCP port, its quirks, the controls that work, defaults of its
// driver's fields such as the unit id or MQTT preset, and for register-map devices the register
// map), embedded in the binary. Defaults and the register map stay YAML nodes (Template.Fields):
// firmware/config merges them into an entry that says `template: NAME` before the entry's driver
// decodes it. `fractals templates` lists them. Each names the public document its registers come
// from.
package templates
