package sshd

import (
	"os"
	"testing"
)

func TestSmoke(t *testing.T) {
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	script, _ := os.ReadFile("../../docker/scripts/phoenix_hypervisor_feature_install_docker.sh")
	r := e.run("pct exec 102 -- env PHOENIX_RETRY_DELAY=0 bash -s -- --network-target 1.1.1.1", string(script))
	t.Log(r.exit, r.stdout[len(r.stdout)-300:])
	t.Log(e.run("pct exec 102 -- bash -s -- --network-target 1.1.1.1", string(script)))
	t.Log(e.waitEvents(2))
}
