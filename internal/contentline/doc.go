// Package contentline reads and writes the content lines of vCard (RFC
// 6350, RFC 2426, vCard 2.1) and iCalendar (RFC 5545) objects without
// decoding them into structures: it unfolds and folds lines, splits a
// property into group, name, parameters and value, and reads parameters,
// always as slices of the bytes the source had, so that a caller that
// changes one line can write every other byte back as it was.
//
// go-vcard and go-ical parse into maps and re-encode: they upper-case
// names, drop parameter order and quoting, undo escapes and refold every
// line, and their line readers are unexported. Exporting an object
// byte for byte, or touching one parameter of it before an upload, needs
// the lossless view this package gives.
//
// Case rules: property and parameter names compare case-insensitively
// (Property.Is, Param.Is); values are returned as written.
package contentline
