package sshd

import "testing"

func TestSmoke(t *testing.T) {
	e := newTestEnv(t)
	e.addCT(102, ctConf(102, "nesting=1,keyctl=1"), true)
	t.Log(e.run("id; hostname; ls / /etc/pve /etc/pve/lxc/; echo $PATH; pveversion; pct status 102; pct config 102", ""))
	t.Log(e.run("pct exec 102 -- bash -c 'id; hostname; ls -la / /usr/bin | head -50; cat /proc/1/attr/current; ls /etc/pve'", ""))
	t.Log(e.run("pct exec 102 -- nosuch; echo rc=$?; nosuch2", ""))
}
