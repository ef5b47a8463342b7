package hostapd

import (
	"path/filepath"

	"github.com/fractals-energy/fractals/der"
)

// The driver's registration: a unit file's `protocol: hostapd` entry is decoded into a Config.
func init() {
	der.Register("hostapd", der.Driver{Roles: []der.Role{der.RoleAccessPoint},
		NewConfig: func() der.DriverConfig { return &Config{} }})
}

// DefaultClientLimit is the access point's full client limit when the file does not say.
const DefaultClientLimit = 64

// maxUnixPath is the longest unix socket path Linux accepts (sun_path less its terminator).
const maxUnixPath = 107

// Config is a hostapd device's part of the unit file.
type Config struct {
	// ControlSocket is hostapd's control socket of the interface, e.g. /var/run/hostapd/wlan0.
	ControlSocket string `yaml:"control_socket"`
	// ClientLimit is the full client limit (0: DefaultClientLimit).
	ClientLimit int `yaml:"client_limit"`
}

// Check reports a socket path that is not absolute or too long and a client limit out of range.
func (c *Config) Check(_ []der.Role, report func(field, format string, args ...any)) {
	if !filepath.IsAbs(c.ControlSocket) || len(c.ControlSocket) > maxUnixPath {
		report("control_socket", "%q: want an absolute path of at most %d bytes, such as /var/run/hostapd/wlan0", c.ControlSocket, maxUnixPath)
	}
	if c.ClientLimit != 0 && (c.ClientLimit < 1 || c.ClientLimit > 2007) {
		report("client_limit", "%d outside 1..2007 (0: default %d)", c.ClientLimit, DefaultClientLimit)
	}
}

// Limit is the full client limit the file gives, or the default.
func (c *Config) Limit() int {
	if c.ClientLimit == 0 {
		return DefaultClientLimit
	}
	return c.ClientLimit
}

// Open builds the access point on its control socket (connected on first use, so a hostapd that
// starts after the daemon is found), with the control cycle as its reply timeout.
func (c *Config) Open(env der.Env) (der.Opened, error) {
	cl := New(c.ControlSocket, "", env.Cycle)
	return der.Opened{AccessPoint: &AP{C: cl, Limit: c.Limit()}, Closer: cl}, nil
}

var _ der.ClientLimited = (*Config)(nil)
