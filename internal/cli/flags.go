package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Exit statuses shared by every command.
const (
	ExitOK      = 0
	ExitFailure = 1 // something failed while running
	ExitUsage   = 2 // bad flag, value, argument or input
)

// flagName finds the flag a flag-package error is about.
var flagName = regexp.MustCompile(`(?:flag -|for -|argument: -|defined: -)([A-Za-z0-9_.-]+)`)

// Parse parses args into fs and reports the first problem as one line on stderr: the command, what was
// wrong, and, where the flag is known, what it accepts (its usage text). It returns false on any
// problem, including stray positional arguments when maxArgs is reached (maxArgs < 0: any number).
// -h and --help print the flags and also return false, with help set to true.
func Parse(fs *flag.FlagSet, args []string, maxArgs int, stderr io.Writer) (ok, help bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		return false, true
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), describe(fs, err))
		return false, false
	}
	if maxArgs >= 0 && fs.NArg() > maxArgs {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(maxArgs))
		return false, false
	}
	return true, false
}

func describe(fs *flag.FlagSet, err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	m := flagName.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	if f := fs.Lookup(m[1]); f != nil {
		return fmt.Sprintf("%s (--%s accepts: %s)", msg, f.Name, f.Usage)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
	return fmt.Sprintf("%s (accepted flags: %s)", msg, strings.Join(names, ", "))
}

// Errorf prints one line for a bad value found after parsing and returns ExitUsage.
func Errorf(stderr io.Writer, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	return ExitUsage
}
