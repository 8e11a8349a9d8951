//go:build !linux

package s3test

import "os/exec"

// setProcAttr does nothing: only Linux can tie the server's life to the test's.
func setProcAttr(cmd *exec.Cmd) {}

// lockFile does not lock: concurrent first builds may race, and the last rename wins.
func lockFile(path string) (func(), error) { return func() {}, nil }
