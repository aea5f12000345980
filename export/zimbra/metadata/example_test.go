package metadata_test

import (
	"fmt"

	"github.com/mailhaul/mailhaul/export/zimbra/metadata"
)

func ExampleDecode() {
	// A contact's metadata as a Zimbra tgz carries it: "Josée" counts 5
	// (UTF-16 units) though it takes 6 bytes.
	m, err := metadata.Decode("d3:fldd5:email14:jo@example.org9:firstName5:Joséee1:vi10ee")
	if err != nil {
		fmt.Println(err)
		return
	}
	fld, _ := m.Map("fld")
	first, _ := fld.Str("firstName")
	v, _ := m.Int("v")
	fmt.Println(first, v)
	fmt.Println(metadata.Encode(m))
	// Output:
	// Josée 10
	// d3:fldd5:email14:jo@example.org9:firstName5:Joséee1:vi10ee
}
