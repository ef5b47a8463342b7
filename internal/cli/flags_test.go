package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func newSet() *flag.FlagSet {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.Int("units", 1, "number of units, [1, 10000]")
	fs.Bool("json", false, "print JSON")
	return fs
}

func TestParseReportsBadValueInOneLine(t *testing.T) {
	var out bytes.Buffer
	ok, help := Parse(newSet(), []string{"--units", "many"}, 0, &out)
	if ok || help {
		t.Fatalf("ok=%v help=%v for a bad value", ok, help)
	}
	got := out.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, "--units accepts: number of units, [1, 10000]") {
		t.Fatalf("want one line naming --units and its range, got %q", got)
	}
}

func TestParseNamesTheFlagOfABadBooleanAndAMissingArgument(t *testing.T) {
	for _, args := range [][]string{{"--json=maybe"}, {"--units"}} {
		var out bytes.Buffer
		Parse(newSet(), args, 0, &out)
		if !strings.Contains(out.String(), "accepts:") {
			t.Errorf("%v: %q does not say what the flag accepts", args, out.String())
		}
	}
}

func TestParseReportsUnknownFlag(t *testing.T) {
	var out bytes.Buffer
	if ok, _ := Parse(newSet(), []string{"--nope"}, 0, &out); ok {
		t.Fatal("unknown flag accepted")
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "--json") || !strings.Contains(got, "nope") {
		t.Fatalf("want one line listing the accepted flags, got %q", got)
	}
}

func TestParseRejectsStrayArguments(t *testing.T) {
	var out bytes.Buffer
	if ok, _ := Parse(newSet(), []string{"--units", "2", "extra"}, 0, &out); ok {
		t.Fatal("stray argument accepted")
	}
	if !strings.Contains(out.String(), `unexpected argument "extra"`) {
		t.Fatalf("got %q", out.String())
	}
	out.Reset()
	if ok, _ := Parse(newSet(), []string{"case.m"}, 1, &out); !ok {
		t.Fatalf("one positional argument refused: %q", out.String())
	}
}

func TestParseHelp(t *testing.T) {
	var out bytes.Buffer
	ok, help := Parse(newSet(), []string{"-h"}, 0, &out)
	if ok || !help || !strings.Contains(out.String(), "-units") {
		t.Fatalf("help: ok=%v help=%v out=%q", ok, help, out.String())
	}
}

func TestErrorf(t *testing.T) {
	var out bytes.Buffer
	if code := Errorf(&out, newSet(), "--day %d out of range [1, 366]", 400); code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	if out.String() != "tool: --day 400 out of range [1, 366]\n" {
		t.Fatalf("got %q", out.String())
	}
}
