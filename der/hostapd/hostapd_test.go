package hostapd

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus("state=ENABLED\nphy=phy0\nfreq=2412\nnum_sta_non_erp=0\nbss[0]=wlan0\nssid[0]=meshbox\nnum_sta[0]=3\n")
	if err != nil || st.State != "ENABLED" || st.Stations != 3 {
		t.Fatalf("%+v %v", st, err)
	}
	if st, err := ParseStatus("state=DISABLED\n"); err != nil || st.State != "DISABLED" {
		t.Fatalf("disabled: %+v %v", st, err)
	}
	for in, want := range map[string]string{
		"FAIL\n":                       "STATUS: FAIL",
		"state=ENABLED\nnum_sta[0]=-1": "line 2: num_sta[0]=\"-1\"",
		"state=ENABLED\n":              "no num_sta[0]",
		"hello":                        "line 1: \"hello\" is not key=value",
		"num_sta[0]=1":                 "no state line",
	} {
		if _, err := ParseStatus(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %s", in, err, want)
		}
	}
}

// FuzzParseStatus: any reply parses or fails with an error, never panics, never a negative count.
func FuzzParseStatus(f *testing.F) {
	f.Add("state=ENABLED\nnum_sta[0]=3\n")
	f.Add("state=DISABLED\n")
	f.Add("FAIL\n")
	f.Add("=\n=\n")
	f.Add("state=ENABLED\nnum_sta[0]=99999999999999999999\n")
	f.Fuzz(func(t *testing.T, reply string) {
		st, err := ParseStatus(reply)
		if err == nil && (st.Stations < 0 || st.State == "" && strings.Contains(reply, "state=x")) {
			t.Fatalf("%q: %+v", reply, st)
		}
	})
}
