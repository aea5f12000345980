package format

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"

	"github.com/mailhaul/mailhaul/internal/safetar"
)

// Extract writes every entry of r as a file below dir, as tar would but
// through an os.Root, so that no entry, however named, can write outside
// dir. Item data files get the item's received time as their mtime.
// Existing files are not overwritten. What it writes is private mail:
// files 0600, the directories it creates 0700.
func Extract(ctx context.Context, r *Reader, dir string) error {
	if err := os.MkdirAll(dir, PrivateDir); err != nil {
		return fmt.Errorf("format: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("format: %w", err)
	}
	defer root.Close()
	if err := writeRooted(root, manifestName, r.ManifestRaw(), time.Time{}); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case e.Item != nil:
			if err := writeRooted(root, e.MetaName, e.Meta, time.Time{}); err != nil {
				return err
			}
			if err := writeRootedFrom(root, e.Name, e.Body, e.Item.Received); err != nil {
				return err
			}
		default:
			if err := writeRooted(root, e.Name, e.Meta, time.Time{}); err != nil {
				return err
			}
		}
	}
}

func writeRooted(root *os.Root, name string, data []byte, mod time.Time) error {
	return writeRootedFrom(root, name, bytes.NewReader(data), mod)
}

func writeRootedFrom(root *os.Root, name string, body io.Reader, mod time.Time) error {
	if err := safetar.CheckName(name); err != nil {
		return &Error{Entry: name, Err: err}
	}
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, PrivateDir); err != nil {
			return fmt.Errorf("format: extract %s: %w", name, err)
		}
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, PrivateFile)
	if err != nil {
		return fmt.Errorf("format: extract %s: %w", name, err)
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(name) // a partial or unverified file must not look extracted
	}
	if err == nil && !mod.IsZero() {
		err = root.Chtimes(name, mod, mod)
	}
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			err = fmt.Errorf("format: extract %s: %w", name, err)
		}
		return err
	}
	return nil
}
