package storagenode

import (
	"net"
	"net/url"
	"strconv"

	"github.com/fractals-energy/fractals/der"
)

// The driver's registration: a unit file's `protocol: storagenode` entry is decoded into a Config.
func init() {
	der.Register("storagenode", der.Driver{Roles: []der.Role{der.RoleStorageNode},
		NewConfig: func() der.DriverConfig { return &Config{} }})
}

// Config is a storage node's part of the unit file.
type Config struct {
	URL string `yaml:"url"` // the node's HTTP API, http://host:port
}

// Check reports a URL that is not http(s)://host:port with a port in 1..65535.
func (c *Config) Check(_ []der.Role, report func(field, format string, args ...any)) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		report("url", "%q: want http://host:port", c.URL)
		return
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		report("url", "%q: want host:port", c.URL)
		return
	}
	if n, err := strconv.Atoi(port); err != nil {
		report("url", "%q: port %q is not a number", c.URL, port)
	} else if n < 1 || n > 65535 {
		report("url", "%q: port %d outside 1..65535", c.URL, n)
	}
}

// Open builds the node on its HTTP API.
func (c *Config) Open(der.Env) (der.Opened, error) {
	return der.Opened{StorageNode: &Node{BaseURL: c.URL}}, nil
}
