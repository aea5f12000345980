// Package nopanic runs third-party parsers that panic on some malformed
// input (go-ical, go-vcard), turning the panic into an error: one hostile
// or broken item must not bring down an export or an import.
package nopanic

import "fmt"

// Run calls f and returns its error, or an error saying f panicked.
func Run(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser panic: %v", r)
		}
	}()
	return f()
}
