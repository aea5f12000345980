package imapconn

import (
	"reflect"
	"testing"
)

func TestFields(t *testing.T) {
	got := Fields(`12 FETCH (UID 7 X-GM-LABELS ("\\Inbox" Work "a \"b\"") BODY[HEADER.FIELDS (Message-ID)] "" FLAGS ())`)
	want := []Field{{Text: "12"}, {Text: "FETCH"}, {List: []Field{
		{Text: "UID"}, {Text: "7"}, {Text: "X-GM-LABELS"},
		{List: []Field{{Text: `\Inbox`, Quoted: true}, {Text: "Work"}, {Text: `a "b"`, Quoted: true}}},
		{Text: "BODY[HEADER.FIELDS (Message-ID)]"}, {Text: "", Quoted: true}, {Text: "FLAGS"}, {List: []Field{}},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Fields =\n%+v\nwant\n%+v", got, want)
	}
}
