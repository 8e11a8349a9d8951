//go:build !linux

package storage

import "syscall"

// syncFilesystem flushes every file system (sync(2)); only Linux has syncfs.
func syncFilesystem(dir string) error {
	syscall.Sync()
	return nil
}
