package soap

import (
	"encoding/json"
	"testing"
)

// Both JSON shapes of an account's attributes read alike; the blocked
// password never becomes a hash.
func TestAccountJSONForms(t *testing.T) {
	for _, in := range []string{
		`{"name":"ann@example.test","_attrs":{"zimbraId":"id-1","zimbraMailAlias":["a@example.test","b@example.test"],"displayName":"Ann","userPassword":"VALUE-BLOCKED"}}`,
		`{"name":"ann@example.test","a":[{"n":"zimbraId","_content":"id-1"},{"n":"zimbraMailAlias","_content":"a@example.test"},{"n":"zimbraMailAlias","_content":"b@example.test"},{"n":"displayName","_content":"Ann"},{"n":"userPassword","_content":"VALUE-BLOCKED"}]}`,
	} {
		var j accountJSON
		if err := json.Unmarshal([]byte(in), &j); err != nil {
			t.Fatal(err)
		}
		a := j.account(true)
		if a.ID != "id-1" || a.Attr("displayName") != "Ann" || len(a.Attrs["zimbraMailAlias"]) != 2 || a.PasswordHash != "" || a.Attrs["userPassword"] != nil {
			t.Errorf("%s:\n%+v", in, a)
		}
	}
}
