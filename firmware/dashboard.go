package firmware

import (
	_ "embed"
	"net/http"
)

//go:embed web/index.html
var dashboardHTML []byte

// Dashboard serves the live page at /: plain HTML, SVG and JavaScript embedded in the binary, reading
// /api/status every second and /api/history every ten.
func Dashboard() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(dashboardHTML)
	})
}

// WriteJSON writes v as indented JSON, or a 500 with the reason when it cannot be encoded.
func WriteJSON(w http.ResponseWriter, v any) { writeJSON(w, v) }
