package main

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes a worker process die with the test binary, so that a
// test killed half way leaves no worker behind to take a later test's
// messages.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
