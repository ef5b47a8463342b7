package config

import (
	"net/url"
	"path/filepath"
)

// The unit's own services as devices: the Wi-Fi access point (hostapd's control socket) and the
// IGFS storage node (its HTTP API).
func init() {
	roles["hostapd"] = map[string]bool{"access_point": true}
	roles["storagenode"] = map[string]bool{"storage_node": true}
}

// maxUnixPath is the longest unix socket path Linux accepts (sun_path less its terminator).
const maxUnixPath = 107

func (v *validator) serviceDevice(i int, d *Device) {
	switch d.Protocol {
	case "hostapd":
		if !filepath.IsAbs(d.ControlSocket) || len(d.ControlSocket) > maxUnixPath {
			v.fail(p("devices", i, "control_socket"), "%q: want an absolute path of at most %d bytes, such as /var/run/hostapd/wlan0", d.ControlSocket, maxUnixPath)
		}
		if d.ClientLimit != 0 && (d.ClientLimit < 1 || d.ClientLimit > 2007) {
			v.fail(p("devices", i, "client_limit"), "%d outside 1..2007 (0: default 64)", d.ClientLimit)
		}
		if d.URL != "" {
			v.fail(p("devices", i, "url"), "for a storagenode device")
		}
	case "storagenode":
		u, err := url.Parse(d.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			v.fail(p("devices", i, "url"), "%q: want http://host:port", d.URL)
		} else if err := hostPort(u.Host); err != nil {
			v.fail(p("devices", i, "url"), "%q: %v", d.URL, err)
		}
		if d.ControlSocket != "" || d.ClientLimit != 0 {
			v.fail(p("devices", i, "control_socket"), "control_socket and client_limit are for a hostapd device")
		}
	}
}
