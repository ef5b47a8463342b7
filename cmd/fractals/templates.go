package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fractals-energy/fractals/der/templates"
)

func init() {
	register(command{name: "templates", summary: "list the device templates a unit file can name with template: NAME [--json]", run: runTemplates})
}

// templateRow is what the listing shows of a template.
type templateRow struct {
	Name     string   `json:"name"`
	Maker    string   `json:"maker"`
	Model    string   `json:"model"`
	Protocol string   `json:"protocol"`
	Roles    []string `json:"roles"`
	Port     int      `json:"port,omitempty"`
	Defaults any      `json:"defaults,omitempty"` // the driver fields an entry naming it may leave out
	Controls []string `json:"controls"`
	Source   string   `json:"source"`
	Quirks   []string `json:"quirks,omitempty"`
}

func runTemplates(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("templates", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON (with sources and quirks) instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fractals templates: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ts, err := templates.All()
	if err != nil {
		fmt.Fprintf(stderr, "fractals templates: %v\n", err)
		return 1
	}
	rows := make([]templateRow, len(ts))
	for i, t := range ts {
		roles := make([]string, len(t.Roles))
		for k, r := range t.Roles {
			roles[k] = string(r)
		}
		var defaults map[string]any
		if err := t.Defaults.Decode(&defaults); err != nil && t.Defaults.Kind != 0 {
			fmt.Fprintf(stderr, "fractals templates: %s: defaults: %v\n", t.Name, err)
			return 1
		}
		rows[i] = templateRow{t.Name, t.Maker, t.Model, t.Protocol, roles, t.Port, defaults, t.Controls, t.Source, t.Quirks}
	}
	if *asJSON {
		return writeJSON(stdout, stderr, "fractals templates", rows, true)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPROTOCOL\tROLES\tCONTROLS\tMAKER\tMODEL")
	for _, r := range rows {
		controls := strings.Join(r.Controls, ",")
		if controls == "" {
			controls = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Protocol, strings.Join(r.Roles, ","), controls, r.Maker, r.Model)
	}
	if err := w.Flush(); err != nil {
		return 1
	}
	return 0
}
