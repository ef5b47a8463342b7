package config

import (
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/der/hostapd"
	"github.com/fractals-energy/fractals/der/storagenode"
)

// A registered driver's fields are decoded into its own config and checked by it, each error at
// the file, line and field it concerns; a field it does not know, or one of another driver's, is
// refused as yaml refuses an unknown common field.
func TestDriverOwnsItsFields(t *testing.T) {
	u, err := Parse("u.yaml", strings.NewReader(`name: u
devices:
  - name: wifi
    protocol: hostapd
    roles: [access_point]
    control_socket: /run/hostapd/wlan0
    client_limit: 16
  - {name: igfs, protocol: storagenode, roles: [storage_node], url: "http://127.0.0.1:7480"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := u.Devices[0].Driver.(*hostapd.Config); !ok || c.ControlSocket != "/run/hostapd/wlan0" || c.Limit() != 16 {
		t.Errorf("hostapd config %#v", u.Devices[0].Driver)
	}
	if c, ok := u.Devices[1].Driver.(*storagenode.Config); !ok || c.URL != "http://127.0.0.1:7480" {
		t.Errorf("storagenode config %#v", u.Devices[1].Driver)
	}
	for _, c := range []struct{ file, want string }{
		{"name: u\ndevices:\n  - name: w\n    protocol: hostapd\n    roles: [access_point]\n    control_socket: /run/h\n    client_limit: 9000\n",
			"u.yaml:7: devices[0].client_limit: 9000 outside 1..2007"},
		{"name: u\ndevices:\n  - name: w\n    protocol: hostapd\n    roles: [access_point]\n    control_socket: /run/h\n    client_limit: many\n",
			"u.yaml:7: (yaml): cannot unmarshal !!str `many` into int"},
		{"name: u\ndevices:\n  - name: w\n    protocol: hostapd\n    roles: [access_point]\n    control_socket: /run/h\n    url: http://x:1\n",
			"u.yaml:7: (yaml): field url not found in a hostapd device"},
		{"name: u\ndevices:\n  - name: s\n    protocol: storagenode\n    roles: [storage_node]\n    url: ftp://x\n",
			"u.yaml:6: devices[0].url: \"ftp://x\": want http://host:port"},
		{"name: u\ndevices:\n  - name: s\n    protocol: storagenode\n    roles: [pv]\n    url: http://x:1\n",
			"u.yaml:5: devices[0].roles[0]: \"pv\": a storagenode device may be storage_node"},
	} {
		_, err := Parse("u.yaml", strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v\nwant %s", c.file, err, c.want)
		}
	}
}
