package metadata

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Str returns the text of key: a string as it is, an integer in decimal
// (Zimbra's Metadata.get returns toString()). ok is false when key is
// missing or holds a map or list.
func (m Map) Str(key string) (s string, ok bool) { return str(m[key]) }

// Int returns key as an integer, read from an integer or from a decimal
// string as Zimbra's Metadata.getLong does.
func (m Map) Int(key string) (n int64, ok bool) { return integer(m[key]) }

// Bool returns key as a boolean: "1"/"true" or "0"/"false" (any case), or
// the integers 1 and 0, as Zimbra's Metadata.getBool accepts.
func (m Map) Bool(key string) (b bool, ok bool) { return boolean(m[key]) }

// Map returns the map under key.
func (m Map) Map(key string) (Map, bool) {
	v, ok := m[key].(Map)
	return v, ok
}

// List returns the list under key.
func (m Map) List(key string) (List, bool) {
	v, ok := m[key].(List)
	return v, ok
}

// Keys returns the keys of m in sorted order.
func (m Map) Keys() []string { return slices.Sorted(maps.Keys(m)) }

// Str returns element i as text (see Map.Str).
func (l List) Str(i int) (string, bool) { return str(l.at(i)) }

// Int returns element i as an integer (see Map.Int).
func (l List) Int(i int) (int64, bool) { return integer(l.at(i)) }

// Map returns element i when it is a map.
func (l List) Map(i int) (Map, bool) {
	v, ok := l.at(i).(Map)
	return v, ok
}

// Maps returns the elements that are maps, in order, and whether every
// element was one.
func (l List) Maps() ([]Map, bool) {
	out := make([]Map, 0, len(l))
	all := true
	for _, v := range l {
		if m, ok := v.(Map); ok {
			out = append(out, m)
		} else {
			all = false
		}
	}
	return out, all
}

func (l List) at(i int) Value {
	if i < 0 || i >= len(l) {
		return nil
	}
	return l[i]
}

func str(v Value) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

func integer(v Value) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case string:
		return parseJavaLong(v)
	}
	return 0, false
}

func boolean(v Value) (bool, bool) {
	s, ok := str(v)
	if !ok {
		return false, false
	}
	switch {
	case s == "1" || strings.EqualFold(s, "true"):
		return true, true
	case s == "0" || strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}
