package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFilesystem flushes the file system holding dir (syncfs(2)).
func syncFilesystem(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
