package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one sub-command. run gets the arguments after the sub-command's name and returns the
// process exit status (0 success, 1 failure while running, 2 bad usage or input).
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// register adds a sub-command; called from init in the sub-command's own file.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("fractals: sub-command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fractals: unknown command %q (accepted: %s)\n", args[0], names())
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func names() string {
	var s string
	for i, n := range sortedNames() {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func sortedNames() []string {
	out := make([]string, 0, len(commands))
	for n := range commands {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// writeJSON prints v as the command's JSON result (indented for people when indent is set) and
// returns the exit status; a value that cannot be encoded is a failure named after the command.
func writeJSON(stdout, stderr io.Writer, who string, v any, indent bool) int {
	enc := json.NewEncoder(stdout)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "%s: writing output: %v\n", who, err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: fractals <command> [flags]")
	fmt.Fprintln(w, "commands:")
	for _, n := range sortedNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
