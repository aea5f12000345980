package main

import (
	"strings"
	"testing"
)

func TestDAVOptionsMapCollectionAndPlaintext(t *testing.T) {
	t.Setenv(passwordEnv, "pw")
	f := &importDAVFlags{url: "http://127.0.0.1:5232/", user: "u", schedule: "auto", bulk: "auto", allowPlaintext: true,
		mapCollection: []string{"Friends=/u/freunde/", "Work=Arbeit=2"}}
	opt, err := davOptions(f)
	if err != nil {
		t.Fatal(err)
	}
	if !opt.AllowPlaintext || opt.MapCollection["Friends"] != "/u/freunde/" || opt.MapCollection["Work"] != "Arbeit=2" || len(opt.MapCollection) != 2 {
		t.Errorf("options %+v", opt)
	}
	for _, bad := range [][]string{{"Friends"}, {"=x"}, {"Friends="}, {"A=x", "A=y"}} {
		f.mapCollection = bad
		if _, err := davOptions(f); err == nil || !strings.Contains(err.Error(), "--map-collection") {
			t.Errorf("--map-collection %q: error %v", bad, err)
		}
	}
}
