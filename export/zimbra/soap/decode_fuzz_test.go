package soap

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The streaming SOAP decoder takes any answer without a panic, and what
// it decodes builds a folder tree and accounts without one.
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []string{
		`{"Header":{"context":{}},"Body":{"GetFolderResponse":{"folder":[{"id":"zid:1","l":"zid:11","folder":[{"id":"2","name":"Inbox","n":3}]}]}}}`,
		`{"Body":{"Fault":{"Reason":{"Text":"x"},"Detail":{"Error":{"Code":"service.AUTH_EXPIRED"}}}}}`,
		`{"Body":{"SearchDirectoryResponse":{"more":true,"searchTotal":2,"account":[{"name":"a","id":"1","a":[{"n":"displayName","_content":"A"}]}],"calresource":[{"name":"r"}]}}}`,
		`{"Body":[]}`, `[]`, `{"Body":{"GetFolderResponse":{"folder":[{"folder":[{"folder":[{}]}]}]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var tree struct {
			Folder []folderJSON `json:"folder"`
		}
		if _, _, err := decodeAnswer(json.NewDecoder(bytes.NewReader(b)), "GetFolderRequest", &tree); err == nil {
			for _, j := range tree.Folder {
				if f, err := j.tree(); err == nil {
					f.Walk(func(*Folder) error { return nil })
				}
			}
		}
		var page struct {
			Account  []accountJSON `json:"account"`
			Resource []accountJSON `json:"calresource"`
		}
		if _, _, err := decodeAnswer(json.NewDecoder(bytes.NewReader(b)), "SearchDirectoryRequest", &page); err == nil {
			for _, j := range append(page.Account, page.Resource...) {
				j.account(true)
			}
		}
	})
}
