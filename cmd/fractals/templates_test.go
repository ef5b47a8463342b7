package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestTemplatesListsEveryTemplate(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"templates"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 13 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(out.String(), "huawei-sun2000 ") {
		t.Fatalf("listing:\n%s", out.String())
	}
	out.Reset()
	if code := dispatch([]string{"templates", "--json"}, nil, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d: %s", code, errb.String())
	}
	var rows []templateRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != len(lines)-1 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for _, r := range rows {
		if r.Source == "" {
			t.Errorf("%s: no source", r.Name)
		}
	}
	if code := dispatch([]string{"templates", "extra"}, nil, &out, &errb); code != 2 {
		t.Errorf("extra argument: exit %d", code)
	}
}
